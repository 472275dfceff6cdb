"""FAISS indexes by name: Flat, HNSW, IVF, PQ, IVF-PQ and SQ8, with one search contract.

``build_index("hnsw", vectors, M=32, ef_construction=40)`` builds and sizes an index;
``index.search(queries, k, ef_search=64)`` returns scores (Q, k) float32 and ids (Q, k)
int64, best first, padded with NaN / -1, exactly like ``exact_topk`` and ``MilvusStore``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _threads
from .._validate import as_array, check_choice, check_int, resolve_seed
from ..embeddings import l2_normalize
from .exact import METRICS, SearchResult

__all__ = ["INDEX_KINDS", "FaissIndex", "build_index"]


def _faiss() -> Any:
    """The faiss module, imported on first use (typed Any: its SWIG type stubs are incomplete)."""
    import faiss

    return faiss

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
    index: Any
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

    def search(self, queries, k: int, *, ef_search: int | None = None,
               nprobe: int | None = None) -> SearchResult:
        """The (approximate) k nearest neighbours of each query.

        Args:
            queries: (Q, D) array-like (or one (D,) vector).
            k: neighbours per query, 1 <= k <= ntotal.
            nprobe: IVF kinds only: how many inverted lists to visit (default 1, FAISS's).
            ef_search: HNSW only: the size of the candidate list while searching (default 16).
        Returns:
            A ``SearchResult``, unpacked as ``scores, ids``:
            scores: (Q, k) float32, best first (similarities for cosine/ip, squared
                distances for l2, as in ``exact_topk``).
            ids: (Q, k) int64 row ids; -1 (and score NaN) where the index found fewer than k
                vectors (e.g. IVF with a small ``nprobe`` visiting lists with fewer than k rows).
        """
        faiss = _faiss()
        q = np.atleast_2d(as_array(queries, "queries", ndim=(1, 2)))
        if q.shape[1] != self.dim:
            raise ValueError(f"queries: expected dimension {self.dim} (the index's), got shape {q.shape}")
        k = check_int(k, "k", low=1, high=self.ntotal)
        if self.metric == "cosine":
            q = l2_normalize(q, name="queries")
        params = None
        if nprobe is not None:
            if self.kind not in ("ivf", "ivfpq"):
                raise ValueError(f"nprobe: expected an IVF index ('ivf', 'ivfpq') to use it, this one is {self.kind!r}")
            nlist = faiss.extract_index_ivf(self.index).nlist
            params = faiss.SearchParametersIVF(nprobe=check_int(nprobe, "nprobe", low=1, high=nlist))
        if ef_search is not None:
            if self.kind != "hnsw":
                raise ValueError(f"ef_search: expected an 'hnsw' index to use it, this one is {self.kind!r}")
            params = faiss.SearchParametersHNSW(efSearch=check_int(ef_search, "ef_search", low=1))
        with _threads.faiss_threads():
            scores, ids = self.index.search(np.ascontiguousarray(q, dtype=np.float32), k, params=params)
        scores = scores.astype(np.float32, copy=False)
        ids = ids.astype(np.int64, copy=False)
        scores[ids < 0] = np.nan  # FAISS fills missing places with -3.4e38 (or +3.4e38 for l2)
        return SearchResult(scores, ids)


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
    faiss = _faiss()
    kind = check_choice(kind, "kind", INDEX_KINDS)
    metric = check_choice(metric, "metric", METRICS)
    x = as_array(vectors, "vectors", ndim=2)  # (N, D) float32
    n, dim = x.shape
    seed = resolve_seed(seed)
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
        x = l2_normalize(x, name="vectors")
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
    with _threads.faiss_threads():
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
