"""Helpers of the notebook-01 checks kept out of nb01.py (which stays under the module size limit)."""
from __future__ import annotations

import traceback


def raising_function(fn, *args) -> str | None:
    """The name of the innermost function that raised ``NotImplementedError`` when ``fn(*args)`` ran, if
    it is not ``fn`` itself; None otherwise (no error, another error, or ``fn``'s own stub line)."""
    try:
        fn(*args)
    except NotImplementedError as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        name = frames[-1].name if frames else None
        own = getattr(fn, "__name__", None)
        learners = getattr(fn, "__globals__", None) or {}     # only a function of the learner's own namespace
        return name if name and name != own and callable(learners.get(name)) else None
    except Exception:
        return None
    return None


def stub_message(name: str) -> str:
    """The problem line when an earlier exercise's function is still a stub."""
    exercise = {"my_cosine_similarity": " (exercise 1)"}.get(name, "")
    return (f"{name}{exercise}, which your function calls, still raises NotImplementedError: "
            f"solve it first (your own function may be fine).")


def search_call_hint(problem: str) -> str:
    """The hint when exercise 3's function failed: a 1-D query handed to a function written for rows gets named."""
    hint = "fn(query, corpus, k) should return an array of k row indices."
    if "AxisError" in problem or "for array of dimension 1" in problem:
        hint = ("the query is one vector, shape (D,); a function written for rows, such as my_cosine_similarity, "
                "needs it as one row, query[None, :] (shape (1, D)). " + hint)
    return hint
