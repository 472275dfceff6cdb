"""Vectors and how to compare them: L2 normalisation, cosine similarity and softmax.

These are the only copies in the package; every other module calls them.
All accept numpy arrays, torch tensors or nested lists and return numpy float32.
"""
from __future__ import annotations

import numpy as np

from ._validate import as_array, check_same_dim

__all__ = ["cosine_similarity", "l2_normalize", "softmax"]

# Vectors shorter than this are treated as zero: normalising them would only amplify noise.
ZERO_NORM = 1e-12


def l2_normalize(x, *, name: str = "x", present=None) -> np.ndarray:
    """Scale each row to unit Euclidean length.

    Args:
        x: (N, D) or (D,) array-like of finite numbers; no (present) row may be all zeros.
        name: the argument's name used in error messages.
        present: optional (N,) bool mask; rows where it is False are returned as zeros
            (a missing modality) and are exempt from the zero-row check.
    Returns:
        Same shape as ``x``, float32, each (present) row with L2 norm 1.
    """
    arr = as_array(x, name, ndim=(1, 2))
    if present is not None:
        mask = np.asarray(present, dtype=bool).reshape(-1)  # (N,)
        if arr.ndim != 2 or mask.shape[0] != arr.shape[0]:
            raise ValueError(f"present: expected a bool mask with one entry per row of {name} "
                             f"({arr.shape[0] if arr.ndim == 2 else 1}), got shape {np.shape(present)}")
        out = np.zeros_like(arr, dtype=np.float32)
        if mask.any():
            out[mask] = l2_normalize(arr[mask], name=f"{name} (present rows)")
        return out
    # float64: squaring a float32 above ~1e19 overflows to inf and the row would become 0.
    norms = np.linalg.norm(arr.astype(np.float64), axis=-1, keepdims=True)  # (N, 1) or (1,)
    if (norms < ZERO_NORM).any():
        rows = np.flatnonzero(norms.ravel() < ZERO_NORM)
        raise ValueError(
            f"{name}: expected vectors with non-zero length, got {rows.size} all-zero row(s) "
            f"(first at index {int(rows[0])}); a zero vector has no direction to normalise"
        )
    return (arr / norms).astype(np.float32)


def cosine_similarity(a, b) -> np.ndarray:
    """Cosine similarity between every row of ``a`` and every row of ``b``.

    Args:
        a: (N, D) array-like, or a single vector (D,) which is treated as (1, D).
        b: (M, D) array-like, or a single vector (D,) which is treated as (1, D).
    Returns:
        (N, M) float32 in [-1, 1]; entry [i, j] is cos(a[i], b[j]).
    """
    a = np.atleast_2d(as_array(a, "a", ndim=(1, 2)))  # (N, D)
    b = np.atleast_2d(as_array(b, "b", ndim=(1, 2)))  # (M, D)
    check_same_dim(a, b, "a", "b")
    sim = l2_normalize(a, name="a") @ l2_normalize(b, name="b").T  # (N, M)
    return np.clip(sim, -1.0, 1.0)


def softmax(logits, axis: int = -1, *, name: str = "logits") -> np.ndarray:
    """Numerically stable softmax: exponentiate and normalise along ``axis``.

    Args:
        logits: array-like of finite numbers, any rank >= 1.
        axis: the axis that sums to one.
        name: the argument's name used in error messages.
    Returns:
        float32 array of the same shape, non-negative, summing to 1 along ``axis``.
    """
    z = as_array(logits, name, ndim=None).astype(np.float64)
    if z.ndim == 0:
        raise ValueError(f"{name}: expected an array with at least one axis, got a scalar")
    z = z - z.max(axis=axis, keepdims=True)  # the largest logit becomes 0: exp never overflows
    e = np.exp(z)
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)
