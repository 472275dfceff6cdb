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
from .result import SearchResult

__all__ = ["METRICS", "SearchResult", "exact_topk"]

METRICS = ("cosine", "ip", "l2")

# Rows per block: Q * block is about this many scores (16 MiB of float32), so every matrix
# product has real work and the buffer stays small next to (Q, N) for a large corpus.
_BLOCK_SCORES = 2**22
# Up to this many queries the product is matrix-vector work, bound by reading the corpus from
# memory: BLAS runs it on one thread. On a busy 2-core machine a hand-off between two threads can
# wait a whole scheduler slice: measured in notebook 05, one query against 2,500-10,000 rows took
# 3-7 ms on two threads (0.1-0.2 ms on one). The price on an idle machine: a corpus that fits in
# the cache is read by one core instead of two (N = 10,000: 0.17 ms instead of 0.09). From Q = 16
# on, two threads win (5.6 ms on one, 2.9 on two at N = 10,000).
_ONE_THREAD_MAX_QUERIES = 4
# Columns per group in _k_best_columns; default blocks are a multiple of it.
_GROUP = 16


def exact_topk(queries, corpus, k: int, metric: str = "cosine", block_size: int | None = None) -> SearchResult:
    """The exact k nearest corpus rows of each query, by brute force over blocks of the corpus.

    Args:
        queries: (Q, D) array-like (or one (D,) vector, treated as Q = 1).
        corpus: (N, D) array-like; float32 is used as is, other dtypes are converted per block.
        k: neighbours per query, 1 <= k <= N.
        metric: "cosine" or "ip" (similarity, higher is better; equal when both sides are
            L2-normalised) or "l2" (squared Euclidean distance, lower is better).
        block_size: corpus rows per block; None: about 2**22 / Q rows.
    Returns:
        A ``SearchResult``: scores (Q, k) float32, best first (descending similarity,
        ascending l2 distance), and ids (Q, k) int64 row indices into ``corpus``; equal scores
        are ordered by lower id, so the answer never depends on the block size.
    """
    metric = check_choice(metric, "metric", METRICS)
    q = np.atleast_2d(as_array(queries, "queries", ndim=(1, 2)))       # (Q, D) float32, finite
    corpus = as_array(corpus, "corpus", ndim=2, dtype=None, finite=False)  # checked block by block
    if np.issubdtype(corpus.dtype, np.bool_):
        raise TypeError(f"corpus: expected numeric values, got dtype {corpus.dtype}")
    check_same_dim(q, corpus, "queries", "corpus")
    n = corpus.shape[0]
    k = check_int(k, "k", low=1, high=n)
    block = max(1024, _BLOCK_SCORES // len(q)) // _GROUP * _GROUP if block_size is None else check_int(
        block_size, "block_size", low=1)
    if metric == "cosine":
        q = l2_normalize(q, name="queries")

    top_scores, top_ids = [], []                     # each block's k best, in no particular order
    few = len(q) <= _ONE_THREAD_MAX_QUERIES
    with _threads.single_threaded(torch=False) if few else contextlib.nullcontext():
        for start in range(0, n, block):
            scores = _block_scores(q, corpus[start:start + block], start, metric)  # (Q, b): one matrix product
            cols = _k_best_columns(scores, k)                                        # (Q, min(k, b))
            top_scores.append(np.take_along_axis(scores, cols, axis=1))
            top_ids.append(start + cols)
    scores, ids = np.hstack(top_scores), np.hstack(top_ids)
    order = np.lexsort((ids, -scores), axis=1)[:, :k]  # sort by score, then by lower id (last key first)
    scores, ids = np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)
    if metric == "l2":
        scores = np.maximum(-scores, 0.0)              # back to squared distances; rounding can dip below 0
    return SearchResult(scores.astype(np.float32), ids.astype(np.int64))


def _k_best_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """Columns of the k highest scores of each row, in no particular order; equal scores: lower column.

    On a wide block, a partition of every score would cost as much as the matrix product. So
    the columns are first dealt into g groups of 16 (columns j, j + g, ..., j + 15 g): the k best
    scores lie in the k groups with the highest maxima (each of those maxima beats anything in
    the other groups), and only the 16 k columns of those groups (plus the few columns left over
    by the dealing) are partitioned. Rows where a tie at the k-th best makes the choice ambiguous
    are redone over the whole row.
    """
    n_rows, width = scores.shape
    if width < 4 * _GROUP * k:
        return _partition_columns(scores, k)
    g = width // _GROUP
    group_max = scores[:, :g * _GROUP].reshape(n_rows, _GROUP, g).max(axis=1)      # (Q, g)
    groups = np.argpartition(group_max, -k, axis=1)[:, -k:]                        # (Q, k)
    dealt = (groups[:, None, :] + g * np.arange(_GROUP)[:, None]).reshape(n_rows, -1)
    left_over = np.broadcast_to(np.arange(g * _GROUP, width), (n_rows, width - g * _GROUP))
    cols = np.hstack([dealt, left_over])                                           # (Q, 16 k + left over)
    cand = np.take_along_axis(scores, cols, axis=1)
    best = np.argpartition(cand, -k, axis=1)[:, -k:]
    kept = np.take_along_axis(cand, best, axis=1)
    kth = kept.min(axis=1, keepdims=True)                                          # the k-th best of each row
    # A group left out holds nothing better than the k-th best, but its max may tie with it, and the
    # partition may keep any of several candidates equal to it: rows with such a tie are redone in full.
    tied = ((group_max == kth).sum(axis=1) > (np.take_along_axis(group_max, groups, axis=1) == kth).sum(axis=1)) | (
        (cand == kth).sum(axis=1) > (kept == kth).sum(axis=1))
    cols = np.take_along_axis(cols, best, axis=1)
    for row in np.flatnonzero(tied):
        cols[row] = _partition_columns(scores[row:row + 1], k)[0]
    return cols


def _partition_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """``_k_best_columns`` by one ``np.argpartition`` over the whole row.

    argpartition finds the k highest in O(b), but among scores equal to the k-th it keeps an
    arbitrary few. Rows where it left out such a tie (rare with real data) are redone with a
    stable full sort, so the result does not depend on how the corpus was cut into blocks.
    """
    if scores.shape[1] <= k:
        return np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    cols = np.argpartition(scores, -k, axis=1)[:, -k:]                    # (Q, k), unordered
    kept = np.take_along_axis(scores, cols, axis=1)
    kth = kept.min(axis=1, keepdims=True)                                 # the k-th best of each row
    left_out = (scores == kth).sum(axis=1) > (kept == kth).sum(axis=1)   # a tie with the k-th was dropped
    for row in np.flatnonzero(left_out):
        cols[row] = np.argsort(-scores[row], kind="stable")[:k]
    return cols


def _block_scores(q: np.ndarray, chunk, start: int, metric: str) -> np.ndarray:
    """(Q, b) scores of corpus rows ``start:start + b``, higher is better; refuses NaN/inf and overflow."""
    chunk = np.asarray(chunk, dtype=np.float32)       # copies only other dtypes
    scores = q @ chunk.T                              # the one BLAS call
    finite = True
    if metric == "cosine":
        norms = np.sqrt(np.einsum("ij,ij->i", chunk, chunk))  # (b,)
        if (norms == 0).any():
            raise ValueError(f"corpus: cosine similarity needs non-zero vectors, got an all-zero row at index "
                             f"{start + int(np.flatnonzero(norms == 0)[0])}; use metric='ip' or drop it")
        finite = bool(np.isfinite(norms).all())       # an overflowing norm would turn scores into 0
        scores /= norms
    elif metric == "l2":                              # -||q - c||^2 = 2 q.c - ||q||^2 - ||c||^2
        scores = 2 * scores - np.einsum("ij,ij->i", q, q)[:, None] - np.einsum("ij,ij->i", chunk, chunk)
    # One sum is cheaper than an elementwise check, and NaN and inf survive it.
    with np.errstate(invalid="ignore", over="ignore"):
        total = scores.sum()
    if not finite or (not np.isfinite(total) and not np.isfinite(scores).all()):
        bad = np.flatnonzero(~np.isfinite(chunk).all(axis=1))
        if bad.size:
            raise ValueError(f"corpus: expected finite values, got NaN/inf in row {start + int(bad[0])}")
        raise ValueError("corpus: expected values whose scores fit in float32 (about 3e38), got an overflow; "
                         "rescale the vectors (e.g. L2-normalise them)")
    return scores
