"""Exercise checks: each prints a clear pass message, or what is wrong and a hint.

A check never reveals the solution. It returns ``True``/``False`` so tests can use it,
but the learner reads the printed message. Notebook sections below add their checks.
"""
from __future__ import annotations

import numpy as np

__all__ = ["report"]


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


def _as_numpy(x):
    """Best-effort conversion of a learner's answer to numpy (None if impossible)."""
    if x is None or x is Ellipsis:
        return None
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        return None
    return arr


def _shape_problem(answer, expected_shape: tuple) -> str | None:
    """A message if ``answer`` is missing or has the wrong shape, else None."""
    if answer is None or answer is Ellipsis:
        return "your answer is still empty (None or ...): fill in the cell above and run it."
    arr = _as_numpy(answer)
    if arr is None:
        return f"expected an array of numbers, got a {type(answer).__name__}."
    if arr.shape != tuple(expected_shape):
        return f"expected shape {tuple(expected_shape)}, got {arr.shape}."
    if not np.isfinite(arr).all():
        return "your answer contains NaN or inf values."
    return None


# ----- Notebook checks are added below, one section per notebook. -----
