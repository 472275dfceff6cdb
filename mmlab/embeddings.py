"""Vectors and how to compare them: L2 normalisation and cosine similarity.

Both accept numpy arrays, torch tensors or nested lists and return numpy float32.
"""
from __future__ import annotations

import numpy as np

from ._validate import as_array, check_same_dim

__all__ = ["l2_normalize", "cosine_similarity"]

# Vectors shorter than this are treated as zero: normalising them would only amplify noise.
_ZERO_NORM = 1e-12


def l2_normalize(x, *, name: str = "x") -> np.ndarray:
    """Scale each row to unit Euclidean length.

    Args:
        x: (N, D) or (D,) array-like of finite numbers; no row may be all zeros.
        name: the argument's name used in error messages.
    Returns:
        Same shape as ``x``, float32, each row with L2 norm 1.
    """
    arr = as_array(x, name, ndim=(1, 2))
    norms = np.linalg.norm(arr, axis=-1, keepdims=True)  # (N, 1) or (1,)
    if (norms < _ZERO_NORM).any():
        rows = np.flatnonzero(norms.ravel() < _ZERO_NORM)
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
