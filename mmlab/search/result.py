"""``SearchResult``: the one shape of every search-like result in mmlab.

A search (exact, FAISS, Milvus), a fusion (``reciprocal_rank_fusion``) and a reranking
(``mmlab.rag.rerank``) all answer the same question: which items, how good, best first. They
return ``SearchResult(scores, ids)``: a named tuple, so ``result.scores`` / ``result.ids`` read
well and ``scores, ids = result`` unpacks in the same order everywhere (scores first).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["SearchResult"]


class SearchResult(NamedTuple):
    """Scores and ids, best first.

    Attributes:
        scores: (Q, k) float32 (or (k,) for one query), higher is better for similarities and
            fused or reranker scores; NaN where ``ids`` is -1.
        ids: (Q, k) int64 (or (k,)), the items in the same order; -1 pads a row with fewer results.
    """

    scores: np.ndarray
    ids: np.ndarray
