"""Measures of two modalities' clouds: retrieval recall between them, the gap between their centres, centring."""
from __future__ import annotations

import numpy as np

from .._validate import as_array, check_int, describe

__all__ = ["centre", "modality_gap", "retrieval_recall"]

def retrieval_recall(queries, corpus, targets=None, ks=(1, 5, 10)) -> dict[int, float]:
    """Cross-modal retrieval recall@k: how often the right item is among the k most similar.

    Args:
        queries: (Q, D) embeddings, L2-normalised (e.g. text).
        corpus: (N, D) embeddings, L2-normalised (e.g. images).
        targets: (Q,) index of each query's right corpus item; ``None`` means query i <-> item i.
        ks: the cut-offs, each in [1, N].
    Returns:
        ``{k: fraction of queries whose target ranks in the top k}``; chance is k / N.
    """
    q = as_array(queries, "queries")
    c = as_array(corpus, "corpus")
    if q.shape[1] != c.shape[1]:
        raise ValueError(f"queries and corpus: expected the same dimension, got {q.shape[1]} and {c.shape[1]}")
    if targets is None:
        if len(q) != len(c):
            raise ValueError(f"targets: None pairs query i with item i, which needs len(queries) == len(corpus), "
                             f"got {len(q)} and {len(c)}")
        targets = np.arange(len(q))
    t = np.asarray(targets)
    if t.shape != (len(q),) or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"targets: expected ({len(q)},) integer indices, got {describe(t)}")
    if ((t < 0) | (t >= len(c))).any():
        raise ValueError(f"targets: expected indices in [0, {len(c) - 1}]")
    if isinstance(ks, (str, bytes)) or not hasattr(ks, "__iter__"):
        raise TypeError(f"ks: expected a sequence of ints such as (1, 5, 10), got {describe(ks)}")
    ks = [check_int(k, "ks", low=1, high=len(c)) for k in ks]
    sims = q @ c.T  # (Q, N)
    true = sims[np.arange(len(q)), t][:, None]  # (Q, 1)
    rank = (sims > true).sum(axis=1)  # 0 = best; ties count in the query's favour
    return {k: float((rank < k).mean()) for k in ks}


def modality_gap(a, b) -> float:
    """The distance between the centres of two clouds of embeddings: ``||mean(a) - mean(b)||``.

    Args:
        a: (N, D) embeddings of one modality (e.g. images), L2-normalised.
        b: (M, D) embeddings of the other (e.g. texts).
    Returns:
        The gap, a float (0 when the two clouds share their centre).
    """
    a = as_array(a, "a")
    b = as_array(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b: expected the same dimension, got {a.shape[1]} and {b.shape[1]}")
    return float(np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)))


def centre(z) -> np.ndarray:
    """Move one modality's cloud to the origin and put it back on the unit sphere.

    Args:
        z: (N, D) embeddings of ONE modality, N >= 2.
    Returns:
        (N, D) float32: ``z - z.mean(axis=0)``, each row L2-normalised; the input is not changed.
    """
    from ..embeddings import l2_normalize

    z = as_array(z, "z")
    if len(z) < 2:
        raise ValueError(f"z: expected at least 2 rows (a single row centred is all zeros), got {len(z)}")
    return l2_normalize(z - z.mean(axis=0), name="z").astype(np.float32)
