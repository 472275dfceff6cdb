"""The building blocks of exercise checks: messages, shape problems, calling learner code."""
from __future__ import annotations

import numpy as np


def report(ok: bool, success: str, problem: str = "", hint: str = "") -> bool:
    """Print a pass message, or the problem and a hint; return ``ok``.

    Args:
        ok: whether the learner's answer is right.
        success: what to say when it is.
        problem: what is wrong, when it is not.
        hint: a nudge that does not give the answer away.
    Returns:
        ``ok``, so tests can assert on it.
    """
    if ok:
        print(f"✅ Correct! {success}")
    else:
        print(f"❌ Not yet: {problem}")
        if hint:
            print(f"   Hint: {hint}")
    return bool(ok)


def is_empty(answer) -> bool:
    """True for the placeholders a student copy starts with (None or ...)."""
    return answer is None or answer is Ellipsis


EMPTY_MESSAGE = "your answer is still empty (None or ...): fill in the exercise cell above and run it."


def as_numpy(x):
    """Best-effort conversion of a learner's answer to a float numpy array (None if impossible)."""
    if is_empty(x):
        return None
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        return None


def shape_problem(answer, expected_shape: tuple) -> str | None:
    """A message if ``answer`` is empty, not numeric, mis-shaped or not finite; else None."""
    if is_empty(answer):
        return EMPTY_MESSAGE
    arr = as_numpy(answer)
    if arr is None:
        return f"expected an array of numbers, got a {type(answer).__name__}."
    if arr.shape != tuple(expected_shape):
        return f"expected shape {tuple(expected_shape)}, got {arr.shape}."
    if not np.isfinite(arr).all():
        return "your answer contains NaN or inf values."
    return None


def call_learner(fn, *args, **kwargs):
    """Call a learner's function; return ``(result, None)`` or ``(None, problem message)``.

    A stub that still raises ``NotImplementedError`` and any other exception become
    a readable message instead of a traceback inside the check.
    """
    if is_empty(fn):
        return None, EMPTY_MESSAGE
    if not callable(fn):
        return None, f"expected a function, got a {type(fn).__name__}."
    try:
        return fn(*args, **kwargs), None
    except NotImplementedError:
        return None, "your function still raises NotImplementedError: replace that line with your code."
    except Exception as exc:  # the learner's code failed: say how, not where inside the check
        return None, f"calling your function raised {type(exc).__name__}: {exc}"
