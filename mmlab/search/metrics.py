"""Retrieval metrics and rank fusion: recall@k, nDCG@k, MRR@k, reciprocal rank fusion, and a
paired bootstrap to tell a real difference between two rankings from noise.

Every metric takes the ids a search returned, (Q, n) integers best first with -1 as
padding (the contract of every backend in ``mmlab.search``), and returns plain numbers.
"""
from __future__ import annotations

import numbers
from collections.abc import Collection, Sequence

import numpy as np

from .._validate import as_array, check_float, check_int, check_same_length, describe, resolve_seed
from .result import SearchResult

__all__ = ["best_fusion", "keep_or_adopt", "mrr_at_k", "ndcg_at_k", "ndcg_per_query", "paired_bootstrap",
           "recall_at_k", "reciprocal_rank_fusion"]


def _id_matrix(ids, name: str) -> np.ndarray:
    """(Q, n) int64 ids from array-like ``ids`` (one (n,) row is Q = 1); -1 is padding."""
    arr = np.atleast_2d(as_array(ids, name, ndim=(1, 2), dtype=None))
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name}: expected integer ids, got dtype {arr.dtype}")
    if (arr < -1).any():
        raise ValueError(f"{name}: expected ids >= 0 (or -1 for padding), got {int(arr.min())}")
    return arr.astype(np.int64, copy=False)


def _top_columns(found_ids, k: int) -> tuple[np.ndarray, int]:
    found = _id_matrix(found_ids, "found_ids")
    k = check_int(k, "k", low=1)
    if found.shape[1] < k:
        raise ValueError(f"found_ids: expected at least k={k} columns, got shape {found.shape}")
    return found[:, :k], k


def _relevant_sets(relevant, n_queries: int) -> list[set[int]]:
    """One set of relevant ids per query; each query needs at least one."""
    if isinstance(relevant, (str, bytes, dict)) or not isinstance(relevant, (Sequence, np.ndarray)):
        raise TypeError(f"relevant: expected a sequence with one set/list of ids per query, got {describe(relevant)}")
    if len(relevant) != n_queries:
        raise ValueError(f"relevant: expected one entry per query ({n_queries}), got {len(relevant)}")
    sets = []
    for i, rel in enumerate(relevant):
        if isinstance(rel, (str, bytes, dict)) or not hasattr(rel, "__iter__"):
            raise TypeError(f"relevant[{i}]: expected a set or list of integer ids, got {describe(rel)}")
        ids = set()
        for x in rel:
            if isinstance(x, bool) or not isinstance(x, numbers.Integral):
                raise TypeError(f"relevant[{i}]: expected integer ids, got {describe(x)}")
            ids.add(int(x))
        if not ids:
            raise ValueError(f"relevant[{i}]: expected at least one relevant id, got none "
                             "(nDCG and MRR are undefined for a query with nothing to find)")
        sets.append(ids)
    return sets


def recall_at_k(found_ids, true_ids, k: int) -> float:
    """The fraction of the true k nearest neighbours that a search found, averaged over queries.

    Args:
        found_ids: (Q, >=k) int ids returned by the search under test (-1 = no result).
        true_ids: (Q, >=k) int ids of the exact search (the ground truth).
        k: how many of each row to compare.
    Returns:
        Mean over queries of |found[:k] & true[:k]| / k, a float in [0, 1].
    """
    found = np.atleast_2d(as_array(found_ids, "found_ids", ndim=(1, 2), dtype=None))
    true = np.atleast_2d(as_array(true_ids, "true_ids", ndim=(1, 2), dtype=None))
    for arr, name in ((found, "found_ids"), (true, "true_ids")):
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name}: expected integer ids, got dtype {arr.dtype}")
    check_same_length(found, true, "found_ids", "true_ids")
    k = check_int(k, "k", low=1)
    for arr, name in ((found, "found_ids"), (true, "true_ids")):
        if arr.shape[1] < k:
            raise ValueError(f"{name}: expected at least k={k} columns, got shape {arr.shape}")
    found, true = found[:, :k], true[:, :k]
    hits = sum(len(np.intersect1d(f[f >= 0], t)) for f, t in zip(found, true))
    return float(hits / (k * found.shape[0]))


def _first_hits(row: np.ndarray, rel: set[int]) -> np.ndarray:
    """(k,) bool: position i holds a relevant id not already seen earlier in the row."""
    seen: set[int] = set()
    hits = np.zeros(row.shape[0], bool)
    for i, x in enumerate(row.tolist()):
        if x in rel and x not in seen:  # a repeated id earns nothing twice
            hits[i] = True
        seen.add(x)
    return hits


def ndcg_per_query(found_ids, relevant, k: int) -> np.ndarray:
    """nDCG@k of each query (binary relevance): the values ``ndcg_at_k`` averages.

    Args:
        found_ids: (Q, >=k) int ids, best first, -1 = padding (never relevant).
        relevant: Q sets (or lists) of relevant ids, each non-empty.
        k: how many positions of each row count.
    Returns:
        (Q,) float64, each DCG@k / ideal DCG@k in [0, 1] (for ``paired_bootstrap``).
    """
    found, k = _top_columns(found_ids, k)
    sets = _relevant_sets(relevant, found.shape[0])
    discount = 1.0 / np.log2(np.arange(k) + 2.0)  # (k,)
    out = np.empty(found.shape[0])
    for q, (row, rel) in enumerate(zip(found, sets)):
        dcg = float(discount[_first_hits(row, rel)].sum())
        ideal = float(discount[: min(k, len(rel))].sum())
        out[q] = dcg / ideal
    return out


def ndcg_at_k(found_ids, relevant, k: int) -> float:
    """Normalised discounted cumulative gain at k with binary relevance, averaged over queries.

    DCG = sum over the first k positions i (from 0) holding a relevant id of 1 / log2(i + 2);
    it is divided by the DCG of the ideal ranking (all relevant ids first, at most k of them).

    Args:
        found_ids: (Q, >=k) int ids, best first, -1 = padding (never relevant).
        relevant: Q sets (or lists) of relevant ids, each non-empty.
        k: how many positions of each row count.
    Returns:
        Mean over queries of DCG@k / ideal DCG@k, a float in [0, 1].
    """
    return float(ndcg_per_query(found_ids, relevant, k).mean())


def mrr_at_k(found_ids, relevant, k: int) -> float:
    """Mean reciprocal rank at k: 1 / (position of the first relevant id, from 1), 0 if none in the top k.

    Args:
        found_ids: (Q, >=k) int ids, best first, -1 = padding.
        relevant: Q sets (or lists) of relevant ids, each non-empty.
        k: how many positions of each row count.
    Returns:
        The mean over queries, a float in [0, 1].
    """
    found, k = _top_columns(found_ids, k)
    sets = _relevant_sets(relevant, found.shape[0])
    total = 0.0
    for row, rel in zip(found, sets):
        hits = _first_hits(row, rel)
        if hits.any():
            total += 1.0 / (int(np.argmax(hits)) + 1)
    return total / found.shape[0]


def reciprocal_rank_fusion(rankings, rrf_k: float = 60, *, limit: int | None = None) -> SearchResult:
    """Fuse several rankings of the same queries: score(id) = sum over rankings of 1 / (rrf_k + rank).

    The rank of an id in a ranking counts from 1; an id missing from a ranking adds nothing;
    -1 padding is ignored and an id repeated within one row counts at its first (best) rank.
    Ties in the fused score are broken by the lower id (scores equal to 1e-12).

    Args:
        rankings: a non-empty list of (Q, n_i) int id arrays, best first (n_i may differ).
        rrf_k: the RRF constant (60 in Cormack et al. 2009 and in Milvus's ``RRFRanker``), >= 0;
            the same name as in ``MilvusStore.hybrid_search``. (``k`` is top-k everywhere else.)
        limit: keep at most this many fused ids per query (None keeps them all).
    Returns:
        ``SearchResult(scores, ids)``, like every search: scores (Q, m) float32 fused scores,
        NaN where ids is -1; ids (Q, m) int64, best first, padded with -1, where m is the
        largest number of distinct ids of any query (or ``limit``).

    Example:
        >>> fused = reciprocal_rank_fusion([np.array([[3, 1]]), np.array([[1, 2]])], rrf_k=60)
        >>> fused.ids.tolist()  # 1 is ranked by both: 1/62 + 1/61
        [[1, 3, 2]]
    """
    if isinstance(rankings, np.ndarray) or not isinstance(rankings, (list, tuple)) or not rankings:
        raise TypeError(f"rankings: expected a non-empty list of (Q, n) integer id arrays, got {describe(rankings)}")
    mats = [_id_matrix(r, f"rankings[{i}]") for i, r in enumerate(rankings)]
    for i, m in enumerate(mats[1:], start=1):
        if m.shape[0] != mats[0].shape[0]:
            raise ValueError(f"rankings[{i}]: expected {mats[0].shape[0]} query rows like rankings[0], "
                             f"got {m.shape[0]}")
    rrf_k = check_float(rrf_k, "rrf_k", low=0.0)
    if limit is not None:
        limit = check_int(limit, "limit", low=1)
    fused: list[tuple[np.ndarray, np.ndarray]] = []
    for q in range(mats[0].shape[0]):
        ids_parts, score_parts = [], []
        for m in mats:
            row = m[q]
            uniq, first = np.unique(row, return_index=True)  # first = best position of each id
            keep = uniq >= 0
            ids_parts.append(uniq[keep])
            score_parts.append(1.0 / (rrf_k + first[keep] + 1.0))
        all_ids = np.concatenate(ids_parts)
        ids, inverse = np.unique(all_ids, return_inverse=True)
        scores = np.bincount(inverse, weights=np.concatenate(score_parts), minlength=ids.size)
        order = np.lexsort((ids, -np.round(scores, 12)))  # last key first: score, then lower id
        fused.append((ids[order][:limit], scores[order][:limit]))
    width = max(1, max(ids.size for ids, _ in fused))
    out_ids = np.full((len(fused), width), -1, np.int64)
    out_scores = np.full((len(fused), width), np.nan, np.float32)
    for q, (ids, scores) in enumerate(fused):
        out_ids[q, : ids.size] = ids
        out_scores[q, : ids.size] = scores
    return SearchResult(out_scores, out_ids)


def paired_bootstrap(a, b, *, n_resamples: int = 2000, confidence: float = 0.95,
                     seed: int | None = None) -> tuple[float, float, float]:
    """Is ranking A better than ranking B on these queries? The mean paired difference and its interval.

    Both were measured on the same Q queries (e.g. ``ndcg_per_query`` of each), so the
    difference is taken per query and the queries are resampled with replacement: the
    percentile interval of the mean difference over ``n_resamples`` resamples. An interval
    that excludes 0 says the gap is larger than what the choice of queries alone produces.

    Args:
        a, b: (Q,) per-query values of the two systems, same queries in the same order.
        n_resamples: bootstrap resamples, >= 100.
        confidence: the interval's coverage, in (0, 1).
        seed: the resampling seed (``None`` uses ``mmlab.SEED``), so the interval is reproducible.
    Returns:
        (mean of a - b, lower bound, upper bound).
    """
    a = as_array(a, "a", ndim=1, dtype=np.float64)
    b = as_array(b, "b", ndim=1, dtype=np.float64)
    check_same_length(a, b, "a", "b")
    n_resamples = check_int(n_resamples, "n_resamples", low=100)
    confidence = check_float(confidence, "confidence", low=0.0, low_inclusive=False)
    if confidence >= 1:
        raise ValueError(f"confidence: expected a number < 1 (e.g. 0.95), got {confidence}")
    diff = a - b
    rng = np.random.default_rng(resolve_seed(seed))
    means = diff[rng.integers(0, diff.size, size=(n_resamples, diff.size))].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(diff.mean()), float(low), float(high)


def best_fusion(runs, relevant, options, k: int = 10):
    """Choose a fusion on the queries given: the option whose RRF ranking has the best mean nDCG@k.

    Args:
        runs: {view name: (Q, n) int id array}, each view's ranking of the same Q queries.
        relevant: Q sets of relevant ids.
        options: candidate fusions, each (tuple of view names, rrf_k); a single view fused
            alone keeps its own order.
        k: the nDCG cut-off.
    Returns:
        The best option, as given; on a tie the earlier one in ``options``.
    """
    if not isinstance(runs, dict) or not runs:
        raise TypeError(f"runs: expected a dict {{view: (Q, n) ids}}, got {describe(runs)}")
    if isinstance(options, (str, bytes)) or not isinstance(options, Sequence) or not options:
        raise TypeError(f"options: expected a non-empty list of (views, rrf_k), got {describe(options)}")
    best, best_value = None, -np.inf
    for i, option in enumerate(options):
        if not (isinstance(option, tuple) and len(option) == 2 and isinstance(option[0], tuple) and option[0]):
            raise TypeError(f"options[{i}]: expected (tuple of view names, rrf_k), got {describe(option)}")
        views, rrf_k = option
        missing = [v for v in views if v not in runs]
        if missing:
            raise ValueError(f"options[{i}]: views {missing} are not in runs (it has {sorted(runs)})")
        fused = reciprocal_rank_fusion([runs[v] for v in views], rrf_k=rrf_k, limit=k).ids
        if fused.shape[1] < k:  # fewer distinct ids than k: pad so nDCG@k is defined
            fused = np.hstack([fused, np.full((fused.shape[0], k - fused.shape[1]), -1, np.int64)])
        value = ndcg_at_k(fused, relevant, k)
        if value > best_value + 1e-12:
            best, best_value = option, value
    return best


#: A fusion option: (view names, rrf_k), e.g. (("bm25", "text"), 5).
FusionOption = tuple[Sequence[str], float]
#: One held-out query set: ({view: (Q, n) int ids}, Q sets of relevant ids).
HeldOutSet = tuple[dict[str, np.ndarray], Sequence[Collection[int]]]


def _option(option, name: str) -> tuple[tuple[str, ...], float]:
    """(views, rrf_k) of a fusion option, its views as a tuple; ``name`` is the argument's name in errors."""
    if not (isinstance(option, (tuple, list)) and len(option) == 2 and isinstance(option[0], (tuple, list))
            and option[0] and all(isinstance(v, str) for v in option[0])):
        raise TypeError(f"{name}: expected an option (tuple of view names, rrf_k), e.g. (('text',), 60), "
                        f"got {describe(option)}")
    return tuple(option[0]), check_float(option[1], f"{name}[1] (rrf_k)", low=0.0)


def keep_or_adopt(chosen: FusionOption, default: FusionOption, held_out: Sequence[HeldOutSet],
                  k: int = 10) -> FusionOption:
    """Keep the default fusion or adopt the chosen one: adopt only if it wins on every held-out set, by a paired interval.

    ``chosen`` was picked on training queries (e.g. by ``best_fusion``); the held-out query sets
    never choose among options, they only decide between keeping ``default`` and adopting
    ``chosen``. On each set both options are fused (RRF, each with its own views and rrf_k) and
    scored per query by nDCG@k, and ``paired_bootstrap(chosen's values, default's values)`` (its
    defaults: 2000 resamples, 95 %, seeded) gives the mean difference and its interval. A mean
    above 0 can be noise; a lower bound above 0 says the gain is larger than what the choice of
    queries alone produces. An interval of exactly [0, 0] (the same nDCG on every query) is no gain.

    Args:
        chosen: the option chosen on training queries, (tuple of view names, rrf_k).
        default: the option in use, e.g. ``(("text",), 60)``.
        held_out: a non-empty list of (runs, relevant) pairs, one per held-out query set: runs
            {view: (Q, n) int ids, best first, padded with -1}, holding every view of both
            options; relevant: Q sets of relevant ids (Q may differ between sets).
        k: the nDCG cut-off.
    Returns:
        ``chosen`` (as given) if on **every** held-out set the interval's lower bound is > 0;
        otherwise ``default`` (as given), also when the two options are equal.

    Example:
        ``keep_or_adopt(best_fusion(train_runs, train_rel, options), (("text",), 60),
        [(test_runs, test_rel), (question_runs, question_rel)])``: the training choice, or dense text.
    """
    options = [_option(chosen, "chosen"), _option(default, "default")]
    k = check_int(k, "k", low=1)
    if isinstance(held_out, (str, bytes, dict)) or not isinstance(held_out, Sequence) or not held_out:
        raise ValueError(f"held_out: expected a non-empty list of (runs, relevant) pairs, one per held-out "
                         f"query set, got {describe(held_out)}")
    sets = []
    for i, pair in enumerate(held_out):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], dict)):
            raise TypeError(f"held_out[{i}]: expected a (runs, relevant) pair with runs a dict "
                            f"{{view: (Q, n) ids}}, got {describe(pair)}")
        runs, relevant = pair
        for (views, _), name in zip(options, ("chosen", "default")):
            missing = [v for v in views if v not in runs]
            if missing:
                raise ValueError(f"held_out[{i}]: {name}'s views {missing} are not in its runs (it has {sorted(runs)})")
        if isinstance(relevant, (str, bytes, dict)) or not isinstance(relevant, (Sequence, np.ndarray)):
            raise TypeError(f"held_out[{i}]: expected relevant as a sequence of Q sets of ids, got {describe(relevant)}")
        used = {v: _id_matrix(runs[v], f"held_out[{i}] runs[{v!r}]") for views, _ in options for v in views}
        for v, ids in used.items():
            if ids.shape[0] != len(relevant):
                raise ValueError(f"held_out[{i}]: runs[{v!r}] has {ids.shape[0]} query rows but relevant has "
                                 f"{len(relevant)} entries: expected one set of relevant ids per query row")
        sets.append((used, relevant))
    if options[0] == options[1]:
        return default
    for used, relevant in sets:
        per_query = []
        for views, rrf_k in options:
            fused = reciprocal_rank_fusion([used[v] for v in views], rrf_k=rrf_k, limit=k).ids
            if fused.shape[1] < k:  # fewer distinct ids than k: pad so nDCG@k is defined
                fused = np.hstack([fused, np.full((fused.shape[0], k - fused.shape[1]), -1, np.int64)])
            per_query.append(ndcg_per_query(fused, relevant, k))
        if paired_bootstrap(per_query[0], per_query[1])[1] <= 0:
            return default
    return chosen
