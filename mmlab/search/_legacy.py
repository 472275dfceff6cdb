"""Vector search: exact top-k, recall, FAISS indexes by name, and a Milvus Lite store.

Exact search is a matrix product plus a partial sort, done block by block over the
corpus so the (Q, N) score matrix never exists whole. It is the ground truth that the
approximate indexes (HNSW, IVF, PQ, ...) are measured against with ``recall_at_k``.

``MilvusStore`` wraps ``pymilvus.MilvusClient``: a local path ending in ``.db`` is an
embedded Milvus Lite database (one process per file), an ``http://host:19530`` URI is
a Milvus server; the code that uses the store is the same.
"""
from __future__ import annotations

import contextlib
import numbers
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import _threads
from .._validate import (
    as_array,
    check_choice,
    check_int,
    check_same_dim,
    check_same_length,
    check_str_list,
    describe,
)

# FAISS runs its loops with OpenMP; mmlab/__init__.py sets passive OpenMP waits before
# torch or FAISS load (idle spinning threads made small PQ k-means 50x slower on a busy
# machine). If torch was imported before mmlab, its runtime still spins and competes with
# FAISS's (k-means measured 4x slower), so FAISS builds then run on one thread
# (mmlab.TORCH_SPINS, see _faiss_threads).

__all__ = [
    "INDEX_KINDS",
    "METRICS",
    "FaissIndex",
    "MilvusStore",
    "build_index",
    "exact_topk",
    "filter_expression",
]

METRICS = ("cosine", "ip", "l2")

# The (Q, block) score buffer holds about this many floats when block_size is None.
# 2**23 floats = 32 MiB: big enough that each BLAS call has real work (few Python
# iterations, good SGEMM efficiency, fewer thread hand-offs on a busy machine), and
# still far below the (Q, N) matrix for large corpora. Measured in benchmarks/bench_search.py.
_BUFFER_FLOATS = 2**23
_MIN_BLOCK = 1024
# The first block only seeds the running top-k: a small one keeps the full partial sort
# it needs cheap; later blocks double up to the block size (see _block_bounds).
_FIRST_BLOCK = 1024


# --------------------------------------------------------------------------- exact search


# Searches with at most this many queries, or less work than this (2 Q N d FLOPs), run
# on one BLAS thread: they are memory-bound or tiny, so a second thread adds little, and
# on a busy machine each hand-off between threads can wait for a whole scheduler time
# slice (measured here: N = 10,000, Q = 1 took 20 ms on two threads, 0.9 ms on one).
_ONE_THREAD_MAX_QUERIES = 4
_ONE_THREAD_MAX_FLOPS = 1e9
_blas_controller = None


def _blas_threads(n_queries: int, flops: float):
    """A context that limits BLAS to one thread for small searches (no-op otherwise)."""
    global _blas_controller
    if n_queries > _ONE_THREAD_MAX_QUERIES and flops > _ONE_THREAD_MAX_FLOPS:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import ThreadpoolController  # a dependency of scikit-learn
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    if _blas_controller is None:
        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")


def _default_block(n_queries: int, n_corpus: int) -> int:
    return int(min(n_corpus, max(_MIN_BLOCK, _BUFFER_FLOATS // max(n_queries, 1))))


def _block_bounds(n: int, k: int, block: int, grow: bool = True) -> list[tuple[int, int]]:
    """(start, stop) of each corpus block: a small first block, then doubling up to ``block``.

    Each block's candidates are the scores above the k-th best seen so far; a block as
    large as everything before it holds about k of them per query, so growing the
    blocks geometrically keeps the candidate work small from the start. With a few
    queries that work is small anyway, and fewer, larger blocks win (``grow=False``).
    """
    bounds, start = [], 0
    size = max(k, min(block, _FIRST_BLOCK)) if grow else max(k, block)
    while start < n:
        stop = min(n, start + size)
        bounds.append((start, stop))
        start = stop
        size = max(k, min(block, 2 * start))
    return bounds


def _select_topk(vals: np.ndarray, ids: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of each row, ties broken by lower id; the columns must be in increasing-id order.

    Args:
        vals: (R, M) float32 scores (higher is better), M >= k, all finite or -inf padding.
        ids: (R, M) int64 ids in increasing order along each row, or None for ids = column index.
        k: how many to keep.
    Returns:
        (R, k) scores and (R, k) ids, in increasing-id order (not sorted by score).
    """
    n_rows, m = vals.shape
    if m == k:
        kept_vals = vals.copy()
        kept_ids = np.broadcast_to(np.arange(m), vals.shape).copy() if ids is None else ids.copy()
        return kept_vals, kept_ids
    kth = np.partition(vals, m - k, axis=1)[:, m - k]  # (R,) k-th largest
    above = vals > kth[:, None]  # (R, M)
    ties = vals == kth[:, None]  # (R, M)
    need = k - above.sum(axis=1)  # (R,) how many of the ties each row keeps
    n_ties = ties.sum(axis=1)
    keep = above | ties
    crowded = np.flatnonzero(n_ties > need)
    if crowded.size:  # more tied scores than free places: the lowest ids (leftmost) win
        rank = np.cumsum(ties[crowded], axis=1)
        keep[crowded] = above[crowded] | (ties[crowded] & (rank <= need[crowded, None]))
    cols = (np.flatnonzero(keep) % m).reshape(n_rows, k)  # row-major: exactly k per row, in order
    kept_vals = np.take_along_axis(vals, cols, axis=1)
    kept_ids = cols if ids is None else np.take_along_axis(ids, cols, axis=1)
    return kept_vals, kept_ids.astype(np.int64, copy=False)


def _raise_non_finite(corpus_block: np.ndarray, start: int) -> None:
    """A score came out NaN/inf (queries are checked up front): say which corpus row, or overflow."""
    bad_rows = np.flatnonzero(~np.isfinite(corpus_block).all(axis=1))
    if bad_rows.size:
        raise ValueError(
            f"corpus: expected finite values, got NaN/inf in row {start + int(bad_rows[0])}"
            f"{f' and {bad_rows.size - 1} more in the same block' if bad_rows.size > 1 else ''}"
        )
    raise ValueError(
        "corpus: the scores overflowed float32 (values too large); rescale or normalise the vectors"
    )


def _check_no_overflow(row_values: np.ndarray, start: int) -> None:
    """Finite corpus rows whose norms overflow float32 (|x| near 3e38) would give NaN scores."""
    if not np.isfinite(row_values).all():
        row = start + int(np.flatnonzero(~np.isfinite(row_values))[0])
        raise ValueError(f"corpus: expected values whose squared norm fits in float32 (about 3e38), got row {row} "
                         "that overflows; rescale the vectors (e.g. L2-normalise them)")


def _scan_blocks(corpus: np.ndarray, q: np.ndarray, k: int, block: int, metric: str):
    """The block loop of ``exact_topk``: the running top-k (values, ids), in increasing-id order."""
    n_queries, n = q.shape[0], corpus.shape[0]
    q_sq = np.einsum("ij,ij->i", q, q)[:, None] if metric == "l2" else None  # (Q, 1)
    needs_cast = corpus.dtype != np.float32 or not corpus.flags.c_contiguous
    cast_buf = np.empty((min(block, n), corpus.shape[1]), np.float32) if needs_cast else None
    # With Q > 1 the product gets one extra query row of ones: its scores are the row sums
    # of the block, non-finite exactly when a row holds NaN/inf. That checks the corpus for
    # the price of one more output row instead of another pass over the (Q, block) scores.
    extra = 1 if n_queries > 1 else 0
    q_ext = np.vstack([q, np.ones((1, q.shape[1]), np.float32)]) if extra else q
    flat_buf = np.empty((n_queries + extra) * min(block, n), np.float32)  # the one (Q, block) buffer
    mask_buf = np.empty(n_queries * min(block, n), np.bool_)
    top_vals = top_ids = thresh = None
    for start, stop in _block_bounds(n, k, block, grow=n_queries > _ONE_THREAD_MAX_QUERIES):
        b = stop - start
        chunk = corpus[start:stop]
        if needs_cast:
            np.copyto(cast_buf[:b], chunk, casting="unsafe")
            chunk = cast_buf[:b]
        out = flat_buf[: (n_queries + extra) * b].reshape(n_queries + extra, b)  # contiguous view
        if extra:
            np.matmul(q_ext, chunk.T, out=out)  # (Q + 1, D) @ (D, b): one SGEMM
            if not np.isfinite(out[-1]).all() and not np.isfinite(chunk).all():
                _raise_non_finite(chunk, start)
        else:
            np.matmul(chunk, q[0], out=out[0])  # matrix-vector: one pass over the block
            if not np.isfinite(out[0].max()):  # NaN and +inf propagate through max
                _raise_non_finite(chunk, start)
        scores = out[:n_queries]  # (Q, b)
        if metric == "cosine":
            norms = np.sqrt(np.einsum("ij,ij->i", chunk, chunk))  # (b,)
            if (norms == 0).any():
                raise ValueError(
                    f"corpus: cosine similarity needs non-zero vectors, got an all-zero row at "
                    f"index {start + int(np.flatnonzero(norms == 0)[0])}; use metric='ip' or drop it"
                )
            _check_no_overflow(norms, start)
            scores *= 1.0 / norms
        elif metric == "l2":
            c_sq = np.einsum("ij,ij->i", chunk, chunk)  # (b,)
            _check_no_overflow(c_sq, start)
            scores *= 2.0
            scores -= q_sq
            scores -= c_sq  # now -||q - c||^2, so larger is better for every metric

        if top_vals is None:  # seed the running top-k from the first block
            top_vals, top_ids = _select_topk(scores, None, k)
            thresh = top_vals.min(axis=1)  # (Q,) running k-th best
            continue
        mask = mask_buf[: scores.size].reshape(scores.shape)
        np.greater(scores, thresh[:, None], out=mask)  # NaN compares False: never a candidate
        hits = np.flatnonzero(mask)  # row-major: grouped by query, ids increasing
        if hits.size == 0:
            continue
        rows, cols = np.divmod(hits, b)
        firsts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        urows = rows[firsts]  # (R,) queries with at least one new candidate
        counts = np.diff(np.r_[firsts, hits.size])
        width = k + int(counts.max())
        # Each affected query: its current top-k (lower ids) then its new candidates.
        vals = np.full((urows.size, width), -np.inf, np.float32)
        ids = np.full((urows.size, width), np.iinfo(np.int64).max, np.int64)
        vals[:, :k] = top_vals[urows]
        ids[:, :k] = top_ids[urows]
        slot = k + np.arange(hits.size) - np.repeat(firsts, counts)
        row_of = np.repeat(np.arange(urows.size), counts)
        vals[row_of, slot] = scores.ravel()[hits]
        ids[row_of, slot] = cols + start
        new_vals, new_ids = _select_topk(vals, ids, k)
        top_vals[urows], top_ids[urows] = new_vals, new_ids
        thresh[urows] = new_vals.min(axis=1)
    return top_vals, top_ids


def exact_topk(queries, corpus, k: int, metric: str = "cosine", block_size: int | None = None):
    """The exact k nearest corpus rows of each query, by brute force in blocks.

    Scores for one block of the corpus at a time go into a preallocated (Q, block)
    float32 buffer (a BLAS matrix product); only the scores that beat each query's
    running k-th best are looked at further, so the (Q, N) matrix never exists and
    the partial sort costs little next to the product. Ties are broken by lower id.

    Args:
        queries: (Q, D) array-like (or one (D,) vector, treated as Q = 1).
        corpus: (N, D) array-like; float32 is used as is (no copy), other dtypes are
            converted one block at a time.
        k: how many neighbours per query, 1 <= k <= N.
        metric: "cosine" (cosine similarity, higher is better), "ip" (inner product,
            higher is better; equals cosine when both sides are L2-normalised, and skips
            the norm computation) or "l2" (squared Euclidean distance, lower is better).
        block_size: corpus rows per block; None picks one from Q (about 2**23 / Q rows,
            at least 1024, measured in benchmarks/bench_search.py).
    Returns:
        scores: (Q, k) float32, best first (descending for cosine/ip, ascending squared
            distances for l2).
        ids: (Q, k) int64 row indices into ``corpus``, in the same order.
    """
    metric = check_choice(metric, "metric", METRICS)
    q = np.atleast_2d(as_array(queries, "queries", ndim=(1, 2)))  # (Q, D)
    # The corpus may be large: no full-size finite check or float32 copy up front; both
    # happen block by block (non-finite values show up as non-finite scores).
    corpus = as_array(corpus, "corpus", ndim=2, dtype=None, finite=False)  # (N, D)
    if not (np.issubdtype(corpus.dtype, np.floating) or np.issubdtype(corpus.dtype, np.integer)):
        raise TypeError(f"corpus: expected numeric values, got dtype {corpus.dtype}")
    check_same_dim(q, corpus, "queries", "corpus")
    n_queries, n = q.shape[0], corpus.shape[0]
    k = check_int(k, "k", low=1, high=n)
    if block_size is None:
        block = _default_block(n_queries, n)
    else:
        block = check_int(block_size, "block_size", low=1)
    block = max(block, k)  # the first block must hold k candidates

    if metric == "cosine":
        qn = np.linalg.norm(q, axis=1, keepdims=True)
        if (qn == 0).any():
            raise ValueError(
                f"queries: cosine similarity needs non-zero vectors, got {int((qn == 0).sum())} all-zero row(s)"
            )
        q = (q / qn).astype(np.float32)
    q = np.ascontiguousarray(q, dtype=np.float32)
    with _blas_threads(n_queries, 2.0 * n_queries * n * q.shape[1]):
        top_vals, top_ids = _scan_blocks(corpus, q, k, block, metric)

    # Kept in increasing-id order, so a stable sort on score breaks ties by lower id.
    order = np.argsort(-top_vals, axis=1, kind="stable")
    scores = np.take_along_axis(top_vals, order, axis=1)
    ids = np.take_along_axis(top_ids, order, axis=1)
    if not np.isfinite(scores).all():  # e.g. -inf scores from -inf corpus entries, caught at the end
        raise ValueError("corpus: expected finite values, got NaN/inf (non-finite scores in the top k)")
    if metric == "l2":
        scores = np.maximum(-scores, 0.0)  # back to squared distances; rounding can dip below 0
    return scores.astype(np.float32, copy=False), ids


# --------------------------------------------------------------------------- FAISS indexes

#: Index kinds by name -> the parameters each accepts at build time (and their defaults).
INDEX_KINDS: dict[str, dict[str, object]] = {
    "flat": {},
    "hnsw": {"M": 32, "ef_construction": 40},
    "ivf": {"nlist": None},
    "pq": {"m": None, "nbits": None},
    "ivfpq": {"nlist": None, "m": None, "nbits": None},
    "sq8": {},
}

# k-means wants >= 39 training points per centroid (FAISS warns below that).
_POINTS_PER_CENTROID = 39
_POINTS_PER_CENTROID_TRAIN = 64


@contextlib.contextmanager
def _faiss_threads(n_threads: int | None):
    """Run FAISS with ``n_threads`` OpenMP threads inside the block (None: leave it)."""
    import faiss

    if n_threads is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n_threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _auto_nlist(n: int) -> int:
    return int(max(1, min(round(4 * np.sqrt(n)), n // _POINTS_PER_CENTROID)))


def _auto_nbits(n: int) -> int:
    return int(max(1, min(8, np.floor(np.log2(max(n // _POINTS_PER_CENTROID, 2))))))


def _auto_m(dim: int) -> int:
    # About 8 dimensions per sub-quantiser: for 384-d that is 48 one-byte codes per vector.
    divisors = [m for m in range(1, dim + 1) if dim % m == 0]
    return min(divisors, key=lambda m: abs(m - dim / 8))


@dataclass
class FaissIndex:
    """A built FAISS index and what it cost.

    Attributes:
        kind: one of INDEX_KINDS ("flat", "hnsw", "ivf", "pq", "ivfpq", "sq8").
        metric: "cosine", "ip" or "l2" (cosine = inner product on L2-normalised vectors).
        index: the ``faiss.Index`` itself.
        params: the build parameters actually used (defaults filled in).
        build_seconds: wall time of training + adding the vectors.
        bytes_per_vector: serialised index size / number of vectors (codes plus graph,
            centroids and codebooks: what it costs on disk and, roughly, in RAM).
        code_bytes: bytes of the stored code of one vector (4 * dim for flat).
    """

    kind: str
    metric: str
    index: object
    params: dict = field(default_factory=dict)
    build_seconds: float = 0.0
    bytes_per_vector: float = 0.0
    code_bytes: int = 0

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def search(self, queries, k: int, *, nprobe: int | None = None, ef_search: int | None = None):
        """The (approximate) k nearest neighbours of each query.

        Args:
            queries: (Q, D) array-like (or one (D,) vector).
            k: neighbours per query, 1 <= k <= ntotal.
            nprobe: IVF kinds only: how many inverted lists to visit (default 1, FAISS's).
            ef_search: HNSW only: the size of the candidate list while searching (default 16).
        Returns:
            scores: (Q, k) float32, best first (similarities for cosine/ip, squared
                distances for l2, as in ``exact_topk``).
            ids: (Q, k) int64 row ids; -1 where the index found fewer than k vectors.
        """
        import faiss

        q = np.atleast_2d(as_array(queries, "queries", ndim=(1, 2)))
        if q.shape[1] != self.dim:
            raise ValueError(f"queries: expected dimension {self.dim} (the index's), got shape {q.shape}")
        k = check_int(k, "k", low=1, high=self.ntotal)
        if self.metric == "cosine":
            q = _normalize_rows(q, "queries")
        params = None
        if nprobe is not None:
            if self.kind not in ("ivf", "ivfpq"):
                raise ValueError(f"nprobe: only IVF indexes ('ivf', 'ivfpq') use it, this one is {self.kind!r}")
            nlist = faiss.extract_index_ivf(self.index).nlist
            params = faiss.SearchParametersIVF(nprobe=check_int(nprobe, "nprobe", low=1, high=nlist))
        if ef_search is not None:
            if self.kind != "hnsw":
                raise ValueError(f"ef_search: only the 'hnsw' index uses it, this one is {self.kind!r}")
            params = faiss.SearchParametersHNSW(efSearch=check_int(ef_search, "ef_search", low=1))
        with _faiss_threads(1 if _threads.TORCH_SPINS else None):
            scores, ids = self.index.search(np.ascontiguousarray(q, dtype=np.float32), k, params=params)
        return scores.astype(np.float32, copy=False), ids.astype(np.int64, copy=False)


def _normalize_rows(x: np.ndarray, name: str) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{name}: cosine similarity needs non-zero vectors, got {int((norms == 0).sum())} all-zero row(s)")
    return (x / norms).astype(np.float32)


def build_index(kind: str, vectors, *, metric: str = "cosine", seed: int | None = None,
                train_size: int | None = None, **params) -> FaissIndex:
    """Build a FAISS index by name, train it if it needs training, add the vectors, and size it.

    Args:
        kind: "flat" (exact), "hnsw" (graph), "ivf" (inverted lists of full vectors), "pq"
            (product-quantised codes, scanned exhaustively), "ivfpq" (inverted lists of PQ
            codes) or "sq8" (one byte per dimension).
        vectors: (N, D) array-like; row i gets id i.
        metric: "cosine" (vectors are L2-normalised first), "ip" or "l2".
        seed: seeds k-means training (IVF centroids, PQ codebooks) and its sample; None
            means ``mmlab.SEED``.
        train_size: how many vectors (a seeded random sample) train the k-means of IVF and
            PQ; None means 64 per centroid of the largest k-means, at least 10,000 (FAISS
            warns below 39 per centroid; more costs time and adds little). All vectors are
            added either way.
        **params: build parameters of the kind (see ``INDEX_KINDS``): hnsw ``M``,
            ``ef_construction``; ivf ``nlist``; pq ``m`` (sub-quantisers, must divide D),
            ``nbits`` (bits per code, <= 8 here); ivfpq all three. None picks a default
            from N and D that k-means has enough points for.
    Returns:
        A ``FaissIndex`` with the index, the parameters used, build time and bytes per vector.
    """
    import faiss

    from .. import SEED

    kind = check_choice(kind, "kind", INDEX_KINDS)
    metric = check_choice(metric, "metric", METRICS)
    x = as_array(vectors, "vectors", ndim=2)  # (N, D) float32
    n, dim = x.shape
    seed = SEED if seed is None else check_int(seed, "seed", low=0)
    unknown = sorted(set(params) - set(INDEX_KINDS[kind]))
    if unknown:
        raise TypeError(
            f"{kind} index: unknown parameter(s) {unknown}; it accepts {sorted(INDEX_KINDS[kind]) or 'none'}"
        )
    used = {**INDEX_KINDS[kind], **{key: v for key, v in params.items() if v is not None}}
    if "nlist" in used:
        used["nlist"] = _auto_nlist(n) if used["nlist"] is None else check_int(used["nlist"], "nlist", low=1, high=n)
    if "m" in used:
        used["m"] = _auto_m(dim) if used["m"] is None else check_int(used["m"], "m", low=1, high=dim)
        if dim % used["m"]:
            raise ValueError(f"m: expected a divisor of the dimension {dim}, got {used['m']}")
        used["nbits"] = _auto_nbits(n) if used["nbits"] is None else check_int(used["nbits"], "nbits", low=1, high=8)
        if n < 2 ** used["nbits"]:
            raise ValueError(f"nbits: {used['nbits']} bits need at least {2 ** used['nbits']} training vectors, got {n}")
    if kind == "hnsw":
        used["M"] = check_int(used["M"], "M", low=2)
        used["ef_construction"] = check_int(used["ef_construction"], "ef_construction", low=1)

    if metric == "cosine":
        x = _normalize_rows(x, "vectors")
    faiss_metric = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    spec = {
        "flat": "Flat",
        "hnsw": f"HNSW{used.get('M')}",
        "ivf": f"IVF{used.get('nlist')},Flat",
        "pq": f"PQ{used.get('m')}x{used.get('nbits')}",
        "ivfpq": f"IVF{used.get('nlist')},PQ{used.get('m')}x{used.get('nbits')}",
        "sq8": "SQ8",
    }[kind]
    index = faiss.index_factory(dim, spec, faiss_metric)
    if kind == "hnsw":
        index.hnsw.efConstruction = used["ef_construction"]
    if kind in ("ivf", "ivfpq"):
        faiss.extract_index_ivf(index).cp.seed = seed
    if kind in ("pq", "ivfpq"):
        pq_index = index if kind == "pq" else faiss.downcast_index(faiss.extract_index_ivf(index))
        pq_index.pq.cp.seed = seed
        # Polysemous training (re-ordering codes for Hamming filtering) costs ~50x the
        # k-means itself and nothing here uses it.
        pq_index.do_polysemous_training = False

    centroids = max(used.get("nlist", 0), 2 ** used.get("nbits", 0) if "nbits" in used else 0)
    if train_size is None:
        train_size = max(10_000, _POINTS_PER_CENTROID_TRAIN * centroids)
    else:
        train_size = check_int(train_size, "train_size", low=max(1, centroids))
    start = time.perf_counter()
    with _faiss_threads(1 if _threads.TORCH_SPINS else None):
        if not index.is_trained:
            sample = x
            if train_size < n:
                rows = np.sort(np.random.default_rng(seed).choice(n, size=train_size, replace=False))
                sample = x[rows]
            index.train(sample)
        index.add(x)
    build_seconds = time.perf_counter() - start

    size = int(faiss.serialize_index(index).size)
    if kind == "hnsw":
        code_bytes = 4 * dim  # the graph stores full vectors (plus M..2M links each)
    elif kind in ("ivf", "ivfpq"):
        code_bytes = int(faiss.extract_index_ivf(index).code_size)
    else:
        code_bytes = int(index.code_size)
    return FaissIndex(kind=kind, metric=metric, index=index, params=used, build_seconds=build_seconds,
                      bytes_per_vector=size / n, code_bytes=code_bytes)


# --------------------------------------------------------------------------- Milvus filters

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# The escapes both Milvus Lite and the Milvus server understand inside a "..." literal.
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _literal(value, where: str) -> str:
    """One Python value as a Milvus expression literal; strings are quoted and escaped."""
    if isinstance(value, str):
        return '"' + "".join(_STRING_ESCAPES.get(ch, ch) for ch in value) + '"'
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        if not np.isfinite(float(value)):
            raise ValueError(f"{where}: expected a finite number, got {value}")
        return repr(float(value))
    raise TypeError(f"{where}: expected a str, int, float or bool (or a list of them), got {describe(value)}")


def filter_expression(where: Mapping | None, fields: Sequence[str] | None = None) -> str:
    """Turn ``{"field": value, ...}`` into a Milvus boolean expression, quoting every value.

    A scalar means equality, a list/tuple means membership; several keys are joined with
    ``and``. Values are never pasted in raw, so ``'x" or id > 0 or "'`` matches only a
    field holding exactly that text.

    Args:
        where: a mapping from field name to a value or a non-empty list of values; None
            or {} means no filter.
        fields: if given, the field names that exist (others are rejected).
    Returns:
        The expression, e.g. ``group in ["Food & Drink", "Animals & Nature"]``; "" for no filter.
    """
    if where is None:
        return ""
    if not isinstance(where, Mapping):
        raise TypeError(f"where: expected a filter dict like {{'group': 'Food & Drink'}}, got {describe(where)}")
    parts = []
    for key, value in where.items():
        if not isinstance(key, str):
            raise TypeError(f"where: expected field names as strings, got the key {describe(key)}")
        if not _IDENTIFIER.match(key):
            raise ValueError(f"where: {key!r} is not a valid field name (letters, digits and _, not starting with a digit)")
        if fields is not None and key not in fields:
            raise ValueError(f"where: unknown field {key!r}; this collection can filter on {list(fields)}")
        if isinstance(value, (list, tuple, np.ndarray)):
            values = list(value)
            if not values:
                raise ValueError(f"where[{key!r}]: expected a non-empty list of values, got an empty list (it would match nothing)")
            literals = ", ".join(_literal(v, f"where[{key!r}][{i}]") for i, v in enumerate(values))
            parts.append(f"{key} in [{literals}]")
        elif isinstance(value, (set, frozenset, dict)):
            raise TypeError(f"where[{key!r}]: expected a value or a list of values, got {describe(value)}")
        else:
            parts.append(f"{key} == {_literal(value, f'where[{key!r}]')}")
    return " and ".join(parts)


# --------------------------------------------------------------------------- Milvus store

_OPEN_LOCK = threading.Lock()
_OPEN_COUNT: dict[str, int] = {}  # embedded database path -> open MilvusStore objects in this process
_STARTED_HERE: set[str] = set()  # embedded servers this module started (and so may stop)
_LOCAL_METRICS = {"cosine": "COSINE", "ip": "IP", "l2": "L2"}
_INDEX_TYPES = ("FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8", "HNSW_SQ", "AUTOINDEX")
_INSERT_BATCH = 4096


def _embedded_servers() -> dict:
    try:
        from milvus_lite.server_manager import server_manager_instance
    except ImportError:  # pragma: no cover - milvus-lite is a dependency
        return {}
    return getattr(server_manager_instance, "_servers", {})


def _in_use_elsewhere(path: str) -> bool:
    """Whether another process holds Milvus Lite's advisory lock on ``path``."""
    lock = os.path.join(path, "LOCK")
    if not os.path.exists(lock):
        return False
    try:
        import fcntl
    except ImportError:  # Windows: Milvus Lite locks with msvcrt; let it report
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _busy_message(path: str) -> str:
    return (
        f"uri: the Milvus Lite database {path!r} is already open in another process. Milvus Lite "
        "allows one process per database file: close it there (store.close(), or restart that "
        "notebook's kernel), use another file, or run a Milvus server and connect to it with "
        "uri='http://localhost:19530' from every process."
    )


class MilvusStore:
    """A collection of vectors plus metadata in Milvus (embedded Milvus Lite file or a server).

    The URI decides where the data lives: a path ending in ``.db`` is a Milvus Lite
    database directory on this machine (one process at a time), ``http://host:19530`` is a
    Milvus standalone or cluster server. Every method is the same for both.

    Args:
        uri: "path/to/file.db" (its folder must exist) or "http://host:port".
        collection: the collection's name.
        dim: vector dimension; required to create a collection, checked against an existing one.
        metric: "cosine", "ip" or "l2"; None means the existing collection's metric (or cosine).
        fields: metadata fields (VARCHAR) for a new collection; None means
            ("name", "group", "subgroup", "modality"), or the existing collection's.
        overwrite: drop an existing collection of that name first.
        max_length: the longest metadata string a new collection accepts.
    """

    DEFAULT_FIELDS = ("name", "group", "subgroup", "modality")

    def __init__(self, uri: str, collection: str = "items", *, dim: int | None = None,
                 metric: str | None = None, fields: Sequence[str] | None = None,
                 overwrite: bool = False, max_length: int = 512) -> None:
        if not isinstance(uri, (str, os.PathLike)):
            raise TypeError(f"uri: expected a path ending in .db or an http(s):// address, got {describe(uri)}")
        uri = os.fspath(uri)
        if not isinstance(collection, str) or not _IDENTIFIER.match(collection):
            raise ValueError(f"collection: expected a name of letters, digits and _, got {collection!r}")
        if metric is not None:
            metric = check_choice(metric, "metric", METRICS)
        if dim is not None:
            dim = check_int(dim, "dim", low=1)
        if fields is not None:
            fields = check_str_list(fields, "fields", allow_empty=True)
            for f in fields:
                if not _IDENTIFIER.match(f) or f in ("id", "vector"):
                    raise ValueError(f"fields: {f!r} cannot be a metadata field name (letters, digits, _; not id/vector)")
        self.max_length = check_int(max_length, "max_length", low=1, high=65535)
        self.uri = uri
        self.collection = collection
        self.local = uri.endswith(".db")
        if not self.local and not re.match(r"^(https?|tcp|grpcs?)://", uri):
            raise ValueError(f"uri: expected a path ending in .db (Milvus Lite) or a server address like "
                             f"'http://localhost:19530', got {uri!r}")
        self._path = os.path.abspath(uri) if self.local else None
        self._client = None
        self._connect()
        try:
            self._open_collection(dim, metric, fields, overwrite)
        except BaseException:
            self.close()
            raise

    # -- connection ---------------------------------------------------------------
    def _connect(self) -> None:
        from pymilvus import MilvusClient

        if self.local:
            path = self._path
            if not os.path.isdir(os.path.dirname(path)):
                raise ValueError(f"uri: the folder {os.path.dirname(path)!r} does not exist; create it first")
            if os.path.isfile(path):
                raise ValueError(
                    f"uri: {path!r} is a file; Milvus Lite 3 keeps a database in a folder named *.db "
                    "(a file of that name may come from milvus-lite 2.x): pick another name"
                )
            with _OPEN_LOCK:
                open_here = _OPEN_COUNT.get(path, 0) > 0 or path in _embedded_servers()
                if not open_here and _in_use_elsewhere(path):
                    raise RuntimeError(_busy_message(path))
                try:
                    self._client = MilvusClient(uri=path)
                except Exception as exc:
                    if _in_use_elsewhere(path):
                        raise RuntimeError(_busy_message(path)) from None
                    raise RuntimeError(f"uri: could not open the Milvus Lite database {path!r}: {exc}") from exc
                if not open_here:
                    _STARTED_HERE.add(path)
                _OPEN_COUNT[path] = _OPEN_COUNT.get(path, 0) + 1
        else:
            try:
                self._client = MilvusClient(uri=self.uri)
            except Exception as exc:
                raise ConnectionError(f"uri: could not connect to the Milvus server at {self.uri!r}: {exc}") from exc

    def close(self) -> None:
        """Disconnect; for a Milvus Lite file, the last store to close releases it for other processes."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.close()
        finally:
            if self.local:
                with _OPEN_LOCK:
                    left = _OPEN_COUNT.get(self._path, 1) - 1
                    if left > 0:
                        _OPEN_COUNT[self._path] = left
                    else:
                        _OPEN_COUNT.pop(self._path, None)
                        if self._path in _STARTED_HERE:
                            _STARTED_HERE.discard(self._path)
                            from milvus_lite.server_manager import (
                                server_manager_instance,
                            )

                            server_manager_instance.release_server(self._path)  # flushes and unlocks

    def __enter__(self) -> MilvusStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._client is None else f"{self.count()} rows"
        return f"MilvusStore({self.uri!r}, collection={self.collection!r}, dim={self.dim}, metric={self.metric!r}, {state})"

    @property
    def client(self):
        """The underlying ``pymilvus.MilvusClient`` (for anything this class does not wrap)."""
        if self._client is None:
            raise RuntimeError("this MilvusStore is closed; open a new one with the same uri")
        return self._client

    # -- schema ---------------------------------------------------------------------
    def _open_collection(self, dim, metric, fields, overwrite: bool) -> None:
        client = self.client
        name = self.collection
        if overwrite and client.has_collection(name):
            client.drop_collection(name)
        if client.has_collection(name):
            info = client.describe_collection(name)
            by_name = {f["name"]: f for f in info["fields"]}
            have_dim = int(by_name["vector"]["params"]["dim"])
            if dim is not None and dim != have_dim:
                raise ValueError(f"dim: the existing collection {name!r} holds {have_dim}-d vectors, got dim={dim}")
            have_fields = [f for f in by_name if f not in ("id", "vector")]
            if fields is not None and list(fields) != have_fields:
                raise ValueError(f"fields: the existing collection {name!r} has {have_fields}, got {list(fields)}")
            index = client.describe_index(name, "vector")
            have_metric = str(index.get("metric_type", "COSINE")).lower()
            if metric is not None and metric != have_metric:
                raise ValueError(f"metric: the existing collection {name!r} uses {have_metric!r}, got {metric!r}")
            self.dim, self.metric, self.fields = have_dim, have_metric, tuple(have_fields)
            self.index_type = str(index.get("index_type", "FLAT"))
            client.load_collection(name)
            return
        if dim is None:
            raise ValueError(f"dim: the collection {name!r} does not exist yet; give dim= to create it")
        from pymilvus import DataType

        self.dim, self.metric = dim, metric or "cosine"
        self.fields = tuple(self.DEFAULT_FIELDS if fields is None else fields)
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        for f in self.fields:
            schema.add_field(f, DataType.VARCHAR, max_length=self.max_length)
        client.create_collection(name, schema=schema, index_params=self._index_params("FLAT", {}))
        self.index_type = "FLAT"

    def _index_params(self, index_type: str, params: dict):
        index_params = self.client.prepare_index_params()
        index_params.add_index(field_name="vector", index_name="vector", index_type=index_type,
                               metric_type=_LOCAL_METRICS[self.metric], params=params)
        return index_params

    def create_index(self, index_type: str = "HNSW", **params) -> None:
        """Replace the vector index, e.g. ``create_index("HNSW", M=16, efConstruction=64)``.

        Args:
            index_type: "FLAT" (exact), "HNSW", "IVF_FLAT" (``nlist=``), "IVF_SQ8", "HNSW_SQ"
                or "AUTOINDEX".
            **params: the index's build parameters, passed to Milvus as they are.
        """
        index_type = check_choice(index_type, "index_type", _INDEX_TYPES)
        client, name = self.client, self.collection
        client.flush(name)  # rows still in the write buffer would be searched by brute force
        client.release_collection(name)
        for existing in client.list_indexes(name):
            client.drop_index(name, existing)
        client.create_index(name, self._index_params(index_type, params))
        client.load_collection(name)
        self.index_type = index_type

    # -- rows -------------------------------------------------------------------------
    def _rows(self, ids, vectors, metadata) -> list[dict]:
        id_arr = as_array(ids, "ids", ndim=1, dtype=None)
        if not np.issubdtype(id_arr.dtype, np.integer):
            raise TypeError(f"ids: expected integer ids, got dtype {id_arr.dtype}")
        if len(np.unique(id_arr)) != len(id_arr):
            raise ValueError("ids: expected unique ids, got duplicates")
        vecs = as_array(vectors, "vectors", ndim=2)  # (N, D) float32
        if vecs.shape[1] != self.dim:
            raise ValueError(f"vectors: expected dimension {self.dim} (the collection's), got shape {vecs.shape}")
        check_same_length(id_arr, vecs, "ids", "vectors")
        if self.metric == "cosine":
            _normalize_rows(vecs, "vectors")  # only to reject zero vectors with a clear message
        metadata = {} if metadata is None else metadata
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata: expected a dict of field -> list of str, got {describe(metadata)}")
        columns = {}
        for key, values in metadata.items():
            if not isinstance(key, str):
                raise TypeError(f"metadata: expected field names as strings, got the key {describe(key)}")
            if key not in self.fields:
                raise ValueError(f"metadata: unknown field {key!r}; this collection has {list(self.fields)}")
            values = check_str_list(values, f"metadata[{key!r}]", allow_empty=True)
            check_same_length(values, id_arr, f"metadata[{key!r}]", "ids")
            longest = max((len(v.encode()) for v in values), default=0)
            if longest > self.max_length:
                raise ValueError(f"metadata[{key!r}]: values may be at most {self.max_length} bytes, got one of {longest}")
            columns[key] = values
        n = len(id_arr)
        blank = [""] * n  # metadata fields not given are stored as ""
        cols = [columns.get(f, blank) for f in self.fields]
        return [
            {"id": int(id_arr[i]), "vector": vecs[i], **{f: col[i] for f, col in zip(self.fields, cols)}}
            for i in range(n)
        ]

    def insert(self, ids, vectors, metadata: Mapping[str, Sequence[str]] | None = None) -> int:
        """Add rows. Ids must be new (use ``upsert`` to replace).

        Args:
            ids: (N,) int ids (the primary key).
            vectors: (N, dim) array-like.
            metadata: field -> (N,) list of str, e.g. {"name": [...], "group": [...]}; fields
                left out are stored as "".
        Returns:
            The number of rows inserted.
        """
        rows = self._rows(ids, vectors, metadata)
        existing = []
        for start in range(0, len(rows), 16384):
            existing += self.get([r["id"] for r in rows[start:start + 16384]], output_fields=[])
        if existing:
            raise ValueError(f"ids: {len(existing)} id(s) already exist (first {existing[0]['id']}); use upsert to replace rows")
        return self._write(self.client.insert, rows)

    def upsert(self, ids, vectors, metadata: Mapping[str, Sequence[str]] | None = None) -> int:
        """Insert rows, replacing any with the same id. Same arguments as ``insert``."""
        return self._write(self.client.upsert, self._rows(ids, vectors, metadata))

    def _write(self, method, rows: list[dict]) -> int:
        done = 0
        for start in range(0, len(rows), _INSERT_BATCH):
            result = method(self.collection, rows[start:start + _INSERT_BATCH])
            done += int(result.get("insert_count", result.get("upsert_count", 0)))
        return done

    def delete(self, ids=None, *, where: Mapping | None = None) -> int:
        """Delete rows by id or by a metadata filter (exactly one of the two).

        Returns:
            How many rows were deleted.
        """
        if (ids is None) == (where is None):
            raise ValueError("delete: give exactly one of ids=[...] or where={...}")
        before = self.count()
        if ids is not None:
            id_arr = as_array(ids, "ids", ndim=1, dtype=None, allow_empty=True)
            if id_arr.size and not np.issubdtype(id_arr.dtype, np.integer):
                raise TypeError(f"ids: expected integer ids, got dtype {id_arr.dtype}")
            if id_arr.size:
                self.client.delete(self.collection, ids=[int(i) for i in id_arr])
        else:
            expr = filter_expression(where, self.fields)
            if not expr:
                raise ValueError("where: expected a non-empty filter; to delete everything use overwrite=True when opening")
            self.client.delete(self.collection, filter=expr)
        return before - self.count()

    def count(self) -> int:
        """The number of rows in the collection."""
        result = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(result[0]["count(*)"])

    def get(self, ids, output_fields: Sequence[str] | None = None) -> list[dict]:
        """The rows with these ids (missing ids are skipped), as dicts of id and metadata."""
        id_arr = as_array(ids, "ids", ndim=1, dtype=None, allow_empty=True)
        if id_arr.size == 0:
            return []
        if not np.issubdtype(id_arr.dtype, np.integer):
            raise TypeError(f"ids: expected integer ids, got dtype {id_arr.dtype}")
        fields = self._output_fields(output_fields)
        rows = self.client.get(self.collection, ids=[int(i) for i in id_arr], output_fields=fields)
        return [dict(r) for r in rows]

    def _output_fields(self, output_fields) -> list[str]:
        if output_fields is None:
            return list(self.fields)
        output_fields = check_str_list(output_fields, "output_fields", allow_empty=True)
        for f in output_fields:
            if f not in self.fields and f != "vector":
                raise ValueError(f"output_fields: unknown field {f!r}; this collection has {list(self.fields)}")
        return output_fields

    # -- search -----------------------------------------------------------------------
    def search(self, queries, k: int = 10, *, where: Mapping | None = None,
               params: Mapping | None = None, output_fields: Sequence[str] | None = None) -> list[list[dict]]:
        """The k most similar rows of each query, optionally only among rows matching a filter.

        Args:
            queries: (Q, dim) array-like (or one (dim,) vector).
            k: results per query (fewer if fewer rows match).
            where: metadata filter as a dict, e.g. {"group": "Food & Drink"} or
                {"group": ["Food & Drink", "Activities"]}; see ``filter_expression``.
            params: index search parameters, e.g. {"ef": 64} (HNSW) or {"nprobe": 8} (IVF).
            output_fields: metadata to return (default: all fields).
        Returns:
            One list per query of dicts {"id", "score", <fields>}, best first; "score" is the
            similarity for cosine/ip and the (squared) distance for l2, as Milvus reports it.
        """
        q = np.atleast_2d(as_array(queries, "queries", ndim=(1, 2)))
        if q.shape[1] != self.dim:
            raise ValueError(f"queries: expected dimension {self.dim} (the collection's), got shape {q.shape}")
        k = check_int(k, "k", low=1, high=16384)
        expr = filter_expression(where, self.fields)
        fields = self._output_fields(output_fields)
        if params is not None and not isinstance(params, Mapping):
            raise TypeError(f"params: expected a dict such as {{'ef': 64}}, got {describe(params)}")
        search_params = {"metric_type": _LOCAL_METRICS[self.metric], "params": dict(params or {})}
        result = self.client.search(self.collection, data=q, limit=k, filter=expr,
                                    output_fields=fields, search_params=search_params)
        return [
            [{"id": int(hit["id"]), "score": float(hit["distance"]), **dict(hit.get("entity", {}))} for hit in hits]
            for hits in result
        ]

    def search_ids(self, queries, k: int = 10, *, where: Mapping | None = None,
                   params: Mapping | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Like ``search`` but as arrays: scores (Q, k) float32 and ids (Q, k) int64 (-1 / NaN padding)."""
        hits = self.search(queries, k, where=where, params=params, output_fields=[])
        scores = np.full((len(hits), k), np.nan, np.float32)
        ids = np.full((len(hits), k), -1, np.int64)
        for i, row in enumerate(hits):
            ids[i, : len(row)] = [h["id"] for h in row]
            scores[i, : len(row)] = [h["score"] for h in row]
        return scores, ids
