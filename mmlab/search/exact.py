"""Exact top-k search: the ground truth every approximate index is measured against.

A matrix product plus a partial sort, one block of the corpus at a time, so the (Q, N)
score matrix never exists whole. Written to be read: ``exact_topk`` fits on one screen.
"""
from __future__ import annotations

import contextlib

import numpy as np

from .. import _threads
from .._validate import as_array, check_choice, check_int, check_same_dim
from ..embeddings import l2_normalize

__all__ = ["METRICS", "exact_topk"]

METRICS = ("cosine", "ip", "l2")

# Scores per block: Q * block is about this many floats (16 MiB), so each matrix product
# has real work and the buffer stays small next to (Q, N) for a large corpus.
_BLOCK_FLOATS = 2**22
_FIRST_BLOCK = 1024
# Searches of this few queries run on one BLAS thread (memory-bound matrix-vector work; on a busy
# 2-core machine each hand-off between threads can wait a whole scheduler slice). Measured
# (N = 10,000, d = 384, interleaved runs): Q = 1 the same either way, Q = 16 5.6 ms on one thread
# and 2.9 ms on two, so larger batches keep BLAS's threads.
_ONE_THREAD_MAX_QUERIES = 4


def _keep_topk(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k highest scores of each row, ties at the k-th going to the lowest ids.

    Args:
        scores: (Q, M) float32; ids: (Q, M) int64, increasing along each row.
    Returns:
        (Q, min(k, M)) scores and ids, still in increasing-id order (not sorted by score).
    """
    if scores.shape[1] <= k:  # nothing to drop yet
        return scores, ids
    kth = np.partition(scores, -k, axis=1)[:, -k, None]  # (Q, 1): the k-th largest
    keep = scores >= kth
    extra = keep.sum(axis=1) - k  # > 0 where several scores tie with the k-th
    for row in np.flatnonzero(extra):  # rare: drop the highest-id ties
        tied = np.flatnonzero(scores[row] == kth[row])
        keep[row, tied[tied.size - extra[row]:]] = False
    cols = np.nonzero(keep)[1].reshape(-1, k)  # row-major: exactly k per row, in id order
    return np.take_along_axis(scores, cols, axis=1), np.take_along_axis(ids, cols, axis=1)


def _merge_block(best_scores: np.ndarray, best_ids: np.ndarray, scores: np.ndarray,
                 start: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The running top-k after one more block of (Q, b) scores whose ids start at ``start``.

    Once a row holds k results, only the block's scores above its k-th best can enter
    (a tie loses: its id is higher), and there are few of those: they are gathered into a
    small (Q, k + most per row) array instead of selecting over the whole block.
    """
    n_queries = scores.shape[0]
    if best_scores.shape[1] < k:  # the first block(s): keep the k best of everything so far
        ids = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        if best_scores.shape[1]:
            scores, ids = np.hstack([best_scores, scores]), np.hstack([best_ids, ids])
        return _keep_topk(scores, ids, k)
    rows, cols = np.nonzero(scores > best_scores.min(axis=1, keepdims=True))  # row-major: ids increase
    if rows.size == 0:
        return best_scores, best_ids
    counts = np.bincount(rows, minlength=n_queries)  # (Q,) candidates per row
    cand_scores = np.full((n_queries, k + counts.max()), -np.inf, np.float32)
    cand_ids = np.full(cand_scores.shape, np.iinfo(np.int64).max, np.int64)  # padding: never kept
    cand_scores[:, :k], cand_ids[:, :k] = best_scores, best_ids  # the running best first: lower ids
    slot = k + np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)  # place within each row
    cand_scores[rows, slot] = scores[rows, cols]
    cand_ids[rows, slot] = start + cols
    return _keep_topk(cand_scores, cand_ids, k)


def _block_scores(q: np.ndarray, chunk: np.ndarray, start: int, metric: str) -> np.ndarray:
    """(Q, b) scores of one corpus block, higher is better; refuses NaN/inf and overflow."""
    scores = q @ chunk.T  # the one BLAS call
    finite = True
    if metric == "cosine":
        norms = np.sqrt(np.einsum("ij,ij->i", chunk, chunk))  # (b,)
        if (norms == 0).any():
            raise ValueError(f"corpus: cosine similarity needs non-zero vectors, got an all-zero row at index "
                             f"{start + int(np.flatnonzero(norms == 0)[0])}; use metric='ip' or drop it")
        finite = bool(np.isfinite(norms).all())  # an overflowing norm would turn scores into 0
        scores /= norms
    elif metric == "l2":  # -||q - c||^2 = 2 q.c - ||q||^2 - ||c||^2
        scores = 2 * scores - np.einsum("ij,ij->i", q, q)[:, None] - np.einsum("ij,ij->i", chunk, chunk)
    # One sum is cheaper than an elementwise check; NaN and inf survive it (a huge finite sum
    # only sends us to the exact check).
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf in the sum is expected here
        total = scores.sum()
    if not finite or (not np.isfinite(total) and not np.isfinite(scores).all()):
        bad = np.flatnonzero(~np.isfinite(chunk).all(axis=1))
        if bad.size:
            raise ValueError(f"corpus: expected finite values, got NaN/inf in row {start + int(bad[0])}")
        raise ValueError("corpus: expected values whose scores fit in float32 (about 3e38), got an overflow; "
                         "rescale the vectors (e.g. L2-normalise them)")
    return scores


def exact_topk(queries, corpus, k: int, metric: str = "cosine",
               block_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The exact k nearest corpus rows of each query, by brute force over blocks of the corpus.

    Args:
        queries: (Q, D) array-like (or one (D,) vector, treated as Q = 1).
        corpus: (N, D) array-like; float32 is used as is, other dtypes are converted per block.
        k: neighbours per query, 1 <= k <= N.
        metric: "cosine" or "ip" (similarity, higher is better; equal when both sides are
            L2-normalised) or "l2" (squared Euclidean distance, lower is better).
        block_size: corpus rows per block; None: about 2**22 / Q rows.
    Returns:
        scores: (Q, k) float32, best first (descending similarity, ascending l2 distance).
        ids: (Q, k) int64 row indices into ``corpus``; equal scores are ordered by lower id.
    """
    metric = check_choice(metric, "metric", METRICS)
    q = np.atleast_2d(as_array(queries, "queries", ndim=(1, 2)))  # (Q, D) float32, finite
    corpus = as_array(corpus, "corpus", ndim=2, dtype=None, finite=False)  # checked per block
    if np.issubdtype(corpus.dtype, np.bool_):
        raise TypeError(f"corpus: expected numeric values, got dtype {corpus.dtype}")
    check_same_dim(q, corpus, "queries", "corpus")
    n_queries, n = q.shape[0], corpus.shape[0]
    k = check_int(k, "k", low=1, high=n)
    block = max(1024, _BLOCK_FLOATS // n_queries) if block_size is None else check_int(block_size, "block_size", low=1)
    if metric == "cosine":
        q = l2_normalize(q, name="queries")
    small = n_queries <= _ONE_THREAD_MAX_QUERIES
    best_scores = np.empty((n_queries, 0), np.float32)
    best_ids = np.empty((n_queries, 0), np.int64)
    with _threads.single_threaded(torch=False) if small else contextlib.nullcontext():
        # The first block only seeds each row's k-th best (a full selection over it): keep it small.
        start, size = 0, min(block, max(k, _FIRST_BLOCK))
        while start < n:
            chunk = np.asarray(corpus[start:start + size], dtype=np.float32)  # copies only other dtypes
            scores = _block_scores(q, chunk, start, metric)  # (Q, b)
            best_scores, best_ids = _merge_block(best_scores, best_ids, scores, start, k)
            start, size = start + size, block
    order = np.lexsort((best_ids, -best_scores), axis=1)  # last key first: score, then lower id
    scores, ids = np.take_along_axis(best_scores, order, axis=1), np.take_along_axis(best_ids, order, axis=1)
    if metric == "l2":
        scores = np.maximum(-scores, 0.0)  # back to squared distances; rounding can dip below 0
    return scores.astype(np.float32), ids
