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
        return name if name and name != own and name != "<lambda>" else None
    except Exception:
        return None
    return None


def stub_message(name: str) -> str:
    """The problem line when an earlier exercise's function is still a stub."""
    exercise = {"my_cosine_similarity": " (exercise 1)"}.get(name, "")
    return (f"{name}{exercise}, which your function calls, still raises NotImplementedError: "
            f"solve it first (your own function may be fine).")
