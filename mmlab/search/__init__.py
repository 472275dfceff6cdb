"""Vector search: exact top-k, FAISS indexes, a Milvus Lite store, and retrieval metrics.

Every backend returns the same contract: scores (Q, k) float32 and ids (Q, k) int64,
best first, padded with NaN / -1, and takes the same setting names (``M``,
``ef_construction``, ``ef_search``, ``nlist``, ``nprobe``).

Modules: ``exact`` (the readable reference), ``faiss_index`` (FAISS by name),
``milvus`` (``MilvusStore``: filters, BM25, hybrid search; ``milvus_uri``: a Lite file or
``$MMLAB_MILVUS_URI``), ``metrics`` (recall, nDCG, MRR, reciprocal rank fusion, a paired bootstrap, choosing and
adopting a fusion), ``result``
(``SearchResult(scores, ids)``, the shape of every search-like result).
"""
from __future__ import annotations

from .exact import METRICS, exact_topk
from .faiss_index import INDEX_KINDS, FaissIndex, build_index
from .filters import filter_tokens
from .metrics import (
    best_fusion,
    keep_or_adopt,
    mrr_at_k,
    ndcg_at_k,
    ndcg_per_query,
    paired_bootstrap,
    recall_at_k,
    reciprocal_rank_fusion,
)
from .milvus import MilvusStore, filter_expression, milvus_uri
from .result import SearchResult

__all__ = [
    "INDEX_KINDS",
    "METRICS",
    "FaissIndex",
    "MilvusStore",
    "SearchResult",
    "best_fusion",
    "build_index",
    "exact_topk",
    "filter_expression",
    "filter_tokens",
    "keep_or_adopt",
    "milvus_uri",
    "mrr_at_k",
    "ndcg_at_k",
    "ndcg_per_query",
    "paired_bootstrap",
    "recall_at_k",
    "reciprocal_rank_fusion",
]
