"""Exercise checks for notebook 06, multimodal RAG (re-exported by mmlab.checks)."""
from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ._feedback import EMPTY_MESSAGE, CheckResult, call_learner, is_empty, report
from ._nb06_cases import choose_slip, metric_slip, problem_hint, rrf_variant, with_extra_sets
from ._nb06_evidence import nb06_read_evidence

__all__: list[str] = ["nb06_choose_fusion", "nb06_citation_filter", "nb06_keep_or_adopt", "nb06_ndcg",
                     "nb06_read_evidence", "nb06_rrf"]


# --------------------------------------------------------------------------- the helper called instead of written

def _code_of(fn) -> Any:
    import inspect

    return getattr(inspect.unwrap(fn), "__code__", None)


def _call_watching(fn, helpers: dict[str, Callable], *args, seen: list[str] | None = None,
                   objects: dict[str, Any] | None = None, **kwargs):
    """Call the learner's function while watching for calls of ``helpers`` (name -> function).

    Returns:
        (value, problem, name of the first helper the learner's code called or None). A profile
        hook sees every Python call however the helper was imported (``mm.search.ndcg_at_k``,
        ``from mmlab.search import ndcg_at_k``, an alias), so writing it is the only way through.
        ``seen``, when given, receives the name of every helper called (first call first).
        ``objects`` (name -> object) are watched too: a call of any builtin method bound to one of
        them (``mm.rag.CITATION.sub``, also through ``re.sub(CITATION, ...)``) counts as using it.
    """
    codes = {}
    for name, helper in helpers.items():
        for f in (helper, getattr(helper, "__wrapped__", None)):
            code = _code_of(f) if f is not None else None
            if code is not None:
                codes[code] = name
    seen = [] if seen is None else seen

    def watch(frame, event, arg):
        if event == "call" and frame.f_code in codes and codes[frame.f_code] not in seen:
            seen.append(codes[frame.f_code])
        elif event == "c_call" and objects:
            owner = getattr(arg, "__self__", None)
            for name, obj in objects.items():
                if owner is obj and name not in seen:
                    seen.append(name)

    previous = sys.getprofile()
    sys.setprofile(watch)
    try:
        value, problem = call_learner(fn, *args, **kwargs)
    finally:
        sys.setprofile(previous)
    return value, problem, (seen[0] if seen else None)


def _helper_problem(name: str, what: str) -> CheckResult:
    return report(False, "", f"your function calls {name}: this exercise asks you to write {what} yourself.",
                  "write the loop from the definition in the text; the helper is for the cells after this one.")


# --------------------------------------------------------------------------- exercise: nDCG@k by hand

# (found ids best first, relevant ids, k): more relevant than k, a miss at the top, none found,
# a hit only at the last position, padding.
_NDCG_CASES = [
    ([3, 7, 1, 9, 4], {7, 9}, 5),
    ([1, 2, 3, 4], {1, 2, 3, 4, 5, 6, 7, 8}, 3),
    ([5, 6, 7], {1}, 3),
    ([0, 8, 2, 6, 4, 10], {10, 11}, 6),
    ([2, -1, -1], {2, 5}, 3),
    ([4, 1, 8, 3, 9, 2], {3, 2, 4}, 3),  # a list longer than k: relevant ids beyond position k do not count
    ([2], {2, 5}, 3),  # an unpadded list shorter than k: the ideal still has min(k, |R|) positions
    ([0, 3, -1], {0, 3}, 3),  # review 39: id 0 is a document ("if x and x in relevant" skips it)
]


def _ndcg(found, rel, k, start=2, ideal_cap=True, normalise=True, cut=True, ideal_found: bool | str = False,
          ideal_len=False, packed=False, cut_at=None, ideal_k=False, skip0=False) -> float:
    top = found[:k + cut_at] if cut_at is not None else found[:k] if cut else found   # cut_at: an off-by-one cut
    hits = [i for i, x in enumerate(top) if x in rel and not (skip0 and x == 0)]   # skip0: "if x and x in rel"
    if packed:  # positions ignored: the hits counted as if they were the top ones
        hits = list(range(len(hits)))
    dcg = sum(1 / math.log2(i + start) for i in hits)
    n_ideal = k if ideal_k else min(k, len(rel)) if ideal_cap else len(rel)   # ideal_k: k, however many are relevant
    if ideal_found:  # the ideal ranking of the items found, not of everything relevant
        n_ideal = sum(x in rel for x in top)
    if ideal_len:  # the ideal capped by the length of the list found, too
        n_ideal = min(k, len(rel), len(found))
    ideal = sum(1 / math.log2(i + start) for i in range(n_ideal))
    return (dcg / ideal if ideal or ideal_found != "guarded" else 0.0) if normalise else dcg   # guarded: 0 / 0 = 0


def _first_failing_case(**kwargs) -> int | None:
    for i, (f, r, k) in enumerate(_NDCG_CASES):
        try:
            _ndcg(f, r, k, **kwargs)
        except ZeroDivisionError:
            return i
    return None


def _zero_division(case: int) -> CheckResult:
    """The learner's nDCG divided by zero on case ``case``: say which slip does that there."""
    if _first_failing_case(start=1) == case:
        return report(False, "", "your first position is discounted by log2(1) = 0 (a division by zero).",
                      "with positions i = 0, 1, 2, ... the discount is 1 / log2(i + 2): the top position counts 1.")
    if _first_failing_case(ideal_found=True) == case:
        return report(False, "", "a division by zero on a query whose top k holds no relevant item: your ideal DCG "
                                 "puts only the relevant items that were *found* at the top.",
                      "the ideal ranking holds min(k, number relevant) relevant items, found or not.")
    return report(False, "", "your function divides by zero on one of the cases.",
                  "divide by the ideal DCG, which is > 0 because every query has at least one relevant item.")


def nb06_ndcg(my_ndcg) -> CheckResult:
    """Write nDCG@k for one query: ``my_ndcg(found_ids, relevant, k) -> float``."""
    from sklearn.metrics import dcg_score, ndcg_score

    from ..search import metrics, ndcg_at_k

    helpers = {"mm.search.ndcg_at_k": metrics.ndcg_at_k, "mm.search.ndcg_per_query": metrics.ndcg_per_query,
               "sklearn's ndcg_score": ndcg_score, "sklearn's dcg_score": dcg_score}
    got: list[float] = []
    for found, rel, k in _NDCG_CASES:
        found_arg, rel_arg = list(found), set(rel)
        value, problem, helper = _call_watching(my_ndcg, helpers, found_arg, rel_arg, k)
        if helper:
            return _helper_problem(helper, "nDCG")
        if found_arg != list(found) or rel_arg != set(rel):
            return report(False, "", "your function changed `found_ids` or `relevant`, the arguments it was given.",
                          "read them; count in a new variable, e.g. hits = [x in relevant for x in found_ids[:k]].")
        if problem and "ZeroDivisionError" in problem:
            return _zero_division(len(got))
        if problem:
            return report(False, "", problem, "the function gets (found_ids list, relevant set, k) and returns a float.")
        try:
            got.append(float(value))
        except (TypeError, ValueError):
            return report(False, "", f"expected a number, got a {type(value).__name__}.", "return one float per query.")
    want = [ndcg_at_k(np.array([list(found) + [-1] * (k - len(found))]), [rel], k) for found, rel, k in _NDCG_CASES]
    if np.allclose(got, want, atol=1e-9):
        return report(True, "Your nDCG@k matches the definition (mm.search.ndcg_at_k's values) on every case.")
    variants: list[tuple[dict[str, Any], str, str]] = [
        (dict(normalise=False), "you returned the DCG itself: it grows with the number of relevant items found, so "
                                "queries are not comparable.", "divide by the DCG of the ideal ranking."),
        (dict(ideal_cap=False), "your ideal DCG counts every relevant item, even beyond position k.",
         "the ideal ranking also has only k positions: min(k, number relevant) hits at the top."),
        (dict(start=1), "your first position is discounted by log2(1) = 0 (a division by zero or infinity).",
         "with positions i = 0, 1, 2, ... the discount is 1 / log2(i + 2): the top position counts 1."),
        (dict(cut=False), "relevant ids found after position k count in your DCG.",
         "only the first k ids of the ranking count: found_ids[:k]."),
        (dict(ideal_found="guarded"), "your ideal DCG puts only the relevant items that were *found* at the top, so a "
                                      "ranking that misses relevant items can still score 1.",
         "the ideal ranking holds min(k, number relevant) relevant items, found or not."),
        (dict(ideal_len=True), "your ideal DCG is capped by the length of the list found, so a short list that "
                               "misses relevant items can still score 1.",
         "the ideal ranking has min(k, number relevant) positions, however short the list found is."),
        (dict(packed=True), "your DCG ignores where the hits are: it counts them as if they filled the top "
                            "positions, so a hit at position 9 counts like one at position 0.",
         "discount each hit by its own position i in found_ids: 1 / log2(i + 2)."),
        (dict(cut_at=-1), "your DCG stops one position early: found_ids[:k - 1] has only k - 1 ids.",
         "the first k ids are found_ids[:k]."),
        (dict(cut_at=+1), "your DCG counts one position too many: found_ids[:k + 1] has k + 1 ids, so a hit at "
                          "position k counts (and a perfect ranking can score above 1).",
         "the first k ids are found_ids[:k], positions 0 to k - 1."),
        (dict(ideal_k=True), "your ideal DCG has k relevant items even when the query has fewer, so a perfect "
                             "ranking of 2 relevant items scores below 1.",
         "the ideal ranking holds min(k, number relevant) relevant items."),
        (dict(skip0=True), "your DCG skips document 0 (`if x and x in relevant`, or `x > 0`?): 0 is an id like any "
                           "other; only -1 is padding.", "test membership alone: x in relevant (-1 is never relevant)."),
        # (the log base cancels in DCG / ideal DCG, so log or log10 give the same nDCG: not a mistake)
    ]
    for kwargs, problem, hint in variants:
        try:
            alt = [_ndcg(f, r, k, **kwargs) for f, r, k in _NDCG_CASES]
        except ZeroDivisionError:
            alt = [math.inf] * len(_NDCG_CASES)
        if np.allclose(got, alt, atol=1e-9, equal_nan=True):
            return report(False, "", problem, hint)
    if any(not math.isfinite(g) for g in got):
        return report(False, "", "a value is not a finite number (a division by zero?).",
                      "divide by the ideal DCG, which is > 0 because every query has a relevant item.")
    if any(g > 1 + 1e-9 or g < 0 for g in got):
        return report(False, "", f"a value outside [0, 1] ({max(got):.3f}): nDCG is a fraction of the ideal.",
                      "check the ideal DCG: all relevant items first, at most k of them.")
    if got[2] != 0 or got[4] == 0:
        return report(False, "", "a query with no relevant item in its top k must score 0, and one with a hit must not.",
                      "count a position only when its id is in the relevant set (and -1 is padding, never relevant).")
    for decimals in range(1, 6):  # a rounded answer: say to how many decimals
        if np.allclose(got, np.round(want, decimals), rtol=0, atol=1e-9):
            return report(False, "", f"your values are the right ones rounded to {decimals} decimals.",
                          "return the unrounded value.")
    if np.allclose(got, want, atol=5.1e-4):
        return report(False, "", "your values are within 0.0005 of the right ones but not equal: rounded or cut "
                                 "short somewhere.", "return the unrounded value, computed in full precision.")
    return report(False, "", f"your values {np.round(got, 3).tolist()} differ from the expected ones on small cases.",
                  "check both parts: DCG = sum over the first k positions i (from 0) holding a relevant id of "
                  "1 / log2(i + 2); the ideal DCG = that sum with min(k, number relevant) hits at the top, found or not.")


# --------------------------------------------------------------------------- exercise: reciprocal rank fusion

_RRF_RANKINGS = [[4, 2, 9, 7], [2, 8, 0, 4], [9, 2, 5, 1, 4, 11, 12, 13, 14, 15, 16]]  # 12 ids; id 0 is an id
_RRF_CONSTANTS = (60, 2)  # the default, and a small one where a hard-coded 60 shows


_rrf_variant = rrf_variant


def nb06_rrf(my_rrf) -> CheckResult:
    """Write RRF for one query: ``my_rrf(rankings, rrf_k=60) -> dict {id: fused score}``."""
    from ..search import metrics, reciprocal_rank_fusion
    from ._nb06_cases import missing_hint, rrf_state_problem

    results = {}
    for c in _RRF_CONSTANTS:
        rankings = [list(r) for r in _RRF_RANKINGS]
        scores, problem, helper = _call_watching(my_rrf, {"mm.search.reciprocal_rank_fusion":
                                                          metrics.reciprocal_rank_fusion}, rankings, c)
        if helper:
            return _helper_problem(helper, "the fusion loop")
        if problem:
            return report(False, "", problem, "the function gets (rankings, rrf_k): a list of id lists, best first.")
        if rankings != _RRF_RANKINGS:
            return report(False, "", "your function changed the rankings it was given.",
                          "read them; do not sort them in place.")
        if not isinstance(scores, dict):
            return report(False, "", f"expected a dict {{id: score}}, got a {type(scores).__name__}.",
                          "collect the scores in a dict, e.g. scores = {} and scores[i] = scores.get(i, 0) + ...")
        want_scores, ids = reciprocal_rank_fusion([np.array([r]) for r in _RRF_RANKINGS], rrf_k=c)
        expected = {int(i): float(v) for i, v in zip(ids[0], want_scores[0]) if i >= 0}
        if set(scores) != set(expected):
            missing = sorted(set(expected) - set(scores))
            if missing:
                return report(False, "", f"ids {missing} are missing: every id in any ranking gets a score.",
                              missing_hint(missing, scores))
            return report(False, "", f"unexpected ids {sorted(set(scores) - set(expected))}.",
                          "score only ids that appear.")
        try:
            results[c] = ({int(i): float(v) for i, v in scores.items()}, expected)
        except (TypeError, ValueError):
            return report(False, "", "the scores in your dict are not numbers.", "each value is a float: the fused score.")

    def same(kwargs) -> bool:
        return all(all(abs(got[i] - _rrf_variant(_RRF_RANKINGS, c, **kwargs)[i]) < 1e-9 for i in got)
                   for c, (got, _) in results.items())

    if all(all(abs(got[i] - want[i]) < 1e-6 for i in want) for got, want in results.values()):
        return report(True, "Your RRF matches mm.search.reciprocal_rank_fusion: sum over rankings of 1 / (rrf_k + rank).")
    if state := rrf_state_problem(my_rrf, _RRF_RANKINGS):
        return report(False, "", *state)
    got60, want60 = results[60]
    if all(abs(got60[i] - want60[i]) < 1e-6 for i in want60):
        return report(False, "", "right with rrf_k = 60 but not with rrf_k = 2: your function ignores its rrf_k argument.",
                      "use the argument, 1 / (rrf_k + rank), not the number 60.")
    mistakes = [
        (dict(start=0), "your ranks start at 0; RRF counts the best position as rank 1.",
         "enumerate(ranking, start=1), or add 1 to the position."),
        (dict(combine="max"), "you kept each id's best single score; RRF adds the contributions of all rankings.",
         "scores[i] = scores.get(i, 0) + 1 / (rrf_k + rank)."),
        (dict(combine="last"), "you overwrite each id's score (scores[i] = ...), so only its last ranking counts; RRF "
                               "adds the contributions of all rankings.", "scores[i] = scores.get(i, 0) + 1 / (rrf_k + rank)."),
        (dict(combine="mean"), "you divided by the number of rankings: RRF adds the contributions, it does not "
                               "average them.",
         "return the sum: scores[i] = scores.get(i, 0) + 1 / (rrf_k + rank), with no division after."),
        (dict(constant=False), "you left out the constant rrf_k: 1 / rank lets the top position dominate.",
         "use 1 / (rrf_k + rank), with rrf_k given as the second argument."),
        (dict(global_rank=True), "your rank keeps counting from one ranking to the next; each ranking starts again at 1.",
         "enumerate each ranking on its own, inside the loop over rankings."),
    ]
    for kwargs, problem, hint in mistakes:
        if same(kwargs):
            return report(False, "", problem, hint)
    for decimals in range(1, 7):  # a rounded answer: say to how many decimals (as exercise 1's check does)
        if all(all(abs(got[i] - round(want[i], decimals)) < 1e-9 for i in want) for got, want in results.values()):
            return report(False, "", f"your scores are the right ones rounded to {decimals} decimals; fused scores "
                                     "are small (1 / 61 = 0.0164), so rounding changes them and can tie them.",
                          "return the unrounded sums.")
    return report(False, "", "some fused scores differ from sum over rankings of 1 / (rrf_k + rank).",
                  "for each ranking, for each (rank from 1, id): scores[id] += 1 / (rrf_k + rank).")


# --------------------------------------------------------------------------- exercise: the citation filter

def nb06_citation_filter(my_filter) -> CheckResult:
    """The allow-list: ``my_filter(text, allowed_ids)`` keeps the allowed ids of each citation, drops the rest."""
    from ..rag import prompts
    from ._nb06_cases import FILTER_CASES, citation_problem

    for text, allowed in FILTER_CASES:
        out, problem, helper = _call_watching(my_filter, {"mm.rag.filter_output": prompts.filter_output},
                                              text, list(allowed))
        if helper:
            return _helper_problem(helper, "the filter")
        if problem:
            return report(False, "", problem, "the function gets (text, allowed_ids) and returns the filtered text.")
        if is_empty(out):
            return report(False, "", EMPTY_MESSAGE)
        if not isinstance(out, str):
            return report(False, "", f"expected the filtered text (a str), got a {type(out).__name__}.",
                          "return the whole text with each citation decided, not the ids you keep.")
        trouble = citation_problem(text, allowed, out)
        if trouble:
            return report(False, "", *trouble)
    return report(True, "Your filter keeps the retrieved ids of each citation (either case), drops the others, "
                  "and leaves the rest of the text as written.")


# --------------------------------------------------------------------------- exercise: choose the fusion on train queries

#: The fusions to choose from: (views, rrf_k).
FUSION_OPTIONS = [(("text",), 60)] + [(views, c) for views in [("bm25", "text"), ("text", "image"),
                                                                  ("bm25", "text", "image")] for c in (5, 20, 60)]
_FUSION_SEED = 23


def _fusion_data(seed: int = _FUSION_SEED):
    """Synthetic runs of three views for 400 queries: a good dense view, a keyword view whose quality
    and coverage vary from query to query, and a weak image view that is sometimes right; and
    five subsets of queries (the sets a selection is run on) whose best fusions differ."""
    rng = np.random.default_rng(seed)
    n_docs, n_q = 80, 400
    runs = {v: np.full((n_q, 20), -1, np.int64) for v in ("bm25", "text", "image")}
    relevant = []
    for q in range(n_q):
        rel = rng.choice(n_docs, size=int(rng.integers(2, 6)), replace=False)
        relevant.append({int(r) for r in rel})
        others = np.setdiff1d(np.arange(n_docs), rel)
        kind = q % 4  # what this query is like: keywords strong / weak / absent; the picture helps
        for view, hit_rate, depth, width in (
                ("text", 0.75, 14, 20),
                # kind 2: an empty keyword list (all padding), as 30 % of the real BM25 lists are
                ("bm25", (0.95, 0.4, 0.0, 0.6)[kind], 4, (0, int(rng.integers(3, 15)))[kind != 2]),
                ("image", (0.2, 0.2, 0.3, 0.85)[kind], (20, 20, 20, 3)[kind], 20)):
            ranking = list(rng.permutation(others)[:width])
            for r in rel:
                if rng.random() < hit_rate and ranking:
                    ranking.insert(int(rng.integers(0, min(depth, len(ranking)) + 1)), int(r))
            runs[view][q, :min(20, len(ranking))] = ranking[:20]
    # the sets are drawn from the queries where equal fused scores cannot matter (see _tie_free), so a
    # correct selection passes whatever its own RRF does with ties
    kinds = np.arange(n_q) % 4
    free = _tie_free(runs, relevant, [(tuple(v), c) for v, c in FUSION_OPTIONS])
    subsets = [np.sort(rng.choice(n_q, size=40, replace=False, p=w[kinds] * free / (w[kinds] * free).sum()))
               for w in (np.array([4.0, 1, 1, 1]), np.array([1.0, 4, 1, 1]), np.array([1.0, 1, 4, 1]),
                         np.array([1.0, 1, 1, 4]), np.ones(4))]
    return runs, relevant, subsets


def _subset(runs, relevant, rows):
    return {v: r[rows] for v, r in runs.items()}, [relevant[i] for i in rows]


def _rrf_counting_padding(rankings, c: int, *, padding: bool = True, start: int = 1) -> np.ndarray:
    """RRF written by hand that lets the padding id -1 collect scores like a document (``padding``),
    or that counts ranks from ``start``."""
    rows = []
    for q in range(rankings[0].shape[0]):
        score: dict[int, float] = {}
        for r in rankings:
            for rank, d in enumerate(r[q].tolist()):
                if d < 0 and not padding:
                    continue
                score[d] = score.get(d, 0.0) + 1.0 / (c + rank + start)
        rows.append(sorted(score, key=lambda d: (-score[d], d))[:10])
    width = max(len(r) for r in rows)
    return np.array([r + [-2] * (width - len(r)) for r in rows], np.int64)


def _tie_free(runs, relevant, options) -> np.ndarray:
    """Per query: True when no option's fused top 10 holds a relevant and a non-relevant document with equal
    RRF scores, so that no tie-break (lower id first, higher id first, insertion order) moves its nDCG@10."""
    ok = np.ones(len(relevant), bool)
    for q, rel in enumerate(relevant):
        for views, c in options:
            score: dict[int, float] = {}
            for v in views:
                for rank, d in enumerate(runs[v][q].tolist(), start=1):
                    if d >= 0:
                        score[d] = score.get(d, 0.0) + 1.0 / (c + rank)
            level = {d: round(x, 9) for d, x in score.items()}  # equal up to float summation order
            cut = sorted(level.values(), reverse=True)[:10][-1] if level else 0.0   # {}: an empty list
            mixed = {lv for d, lv in level.items() if lv >= cut and d in rel} & \
                    {lv for d, lv in level.items() if lv >= cut and d not in rel}
            ok[q] &= not mixed
    return ok


def _choose_variant(runs, relevant, options, how: str):
    """What a typical wrong selection returns."""
    from ..search import mrr_at_k, ndcg_at_k, reciprocal_rank_fusion

    values = []
    for views, rrf_k in options:
        chosen = tuple(runs) if how == "all_views" else views
        c = 60 if how == "ignore_rrf_k" else rrf_k
        if how == "pad_to_id":  # padding replaced by a real id (np.where(r < 0, 0, r)) before fusing
            fused = reciprocal_rank_fusion([np.where(runs[v] < 0, 0, runs[v]) for v in chosen], rrf_k=c).ids
        elif how == "padding":  # a hand-written RRF in which -1 (padding) is scored like a document
            fused = _rrf_counting_padding([runs[v] for v in chosen], c)
        elif how == "rank0":  # a hand-written RRF whose ranks start at 0
            fused = _rrf_counting_padding([runs[v] for v in chosen], c, padding=False, start=0)
        else:
            fused = reciprocal_rank_fusion([runs[v] for v in chosen], rrf_k=c).ids
        width = max(fused.shape[1], 10)
        fused = np.hstack([fused, np.full((fused.shape[0], width - fused.shape[1]), -1, np.int64)])
        if how == "mrr":
            values.append(mrr_at_k(fused, relevant, 10))
        elif how == "recall":
            values.append(float(np.mean([len(set(row[:10].tolist()) & rel) / len(rel)
                                         for row, rel in zip(fused, relevant)])))
        elif how == "ndcg_all":
            values.append(ndcg_at_k(fused, relevant, fused.shape[1]))
        else:
            values.append(ndcg_at_k(fused, relevant, 10))
    if how == "argmin":
        pick = int(np.argmin(values))
    elif how == "ties_last":  # `>=` in the loop: the last of equal options wins
        pick = len(values) - 1 - int(np.argmax(values[::-1]))
    else:
        pick = int(np.argmax(values))
    return options[pick]


def nb06_choose_fusion(choose_fusion) -> CheckResult:
    """Choose a fusion from the queries given: ``choose_fusion(runs, relevant, options) -> one of options``."""
    from ..search import best_fusion, metrics

    runs, relevant, subsets = with_extra_sets(*_fusion_data())
    called: list[str] = []  # helpers the learner's code called
    library: dict[str, Callable] = {"mm.search.best_fusion": metrics.best_fusion,
               "mm.search.reciprocal_rank_fusion": metrics.reciprocal_rank_fusion}
    options = [(tuple(v), c) for v, c in FUSION_OPTIONS]
    answers, wants, parts = [], [], []
    for rows in subsets:
        part_runs, part_rel = _subset(runs, relevant, rows)
        given = {v: r.copy() for v, r in part_runs.items()}
        value, problem, _ = _call_watching(choose_fusion, library, given,
                                           [set(r) for r in part_rel], list(options), seen=called)
        changed = [v for v in part_runs if not np.array_equal(given[v], part_runs[v])]
        if changed and not problem:
            return report(False, "", f"your function changed the runs it was given ({', '.join(changed)}); in the "
                                     "notebook that rewrites train_runs, which later cells reuse.",
                          "leave the arrays passed in as they are: build new ones (np.where(...) returns a copy) "
                          "or work on a copy.")
        if "mm.search.best_fusion" in called:
            return _helper_problem("mm.search.best_fusion", "the selection")
        if problem:
            return report(False, "", problem, problem_hint(problem))
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], (tuple, list)):
            value = (tuple(value[0]), value[1])
        if value not in options:
            if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], tuple):
                return report(False, "", f"{value!r} is not one of the options passed in, so it was not chosen "
                                         "from them.", "loop over the options argument and return the best of them.")
            return report(False, "", f"expected one of the options, e.g. {options[1]}, got {value!r}.",
                          "return the (views, rrf_k) option itself, not its score or its position in the list.")
        answers.append(value)
        wants.append(best_fusion(part_runs, part_rel, options))
        parts.append((part_runs, part_rel))
    # one more set: two options whose fusions are the same ranking (one view: rrf_k cannot change its order),
    # so their nDCG@10 is exactly equal; the exercise asks for the earlier of equals
    probe = [(("image",), 60), (("text",), 20), (("text",), 60)]
    # on the third set (many empty keyword lists) text alone clearly beats the image view
    probe_answer, problem, _ = _call_watching(choose_fusion, library, {v: r.copy() for v, r in parts[2][0].items()},
                                              [set(r) for r in parts[2][1]], list(probe), seen=called)
    if isinstance(probe_answer, list) and len(probe_answer) == 2 and isinstance(probe_answer[0], (tuple, list)):
        probe_answer = (tuple(probe_answer[0]), probe_answer[1])
    if answers == wants and not problem and probe_answer not in probe:
        return report(False, "", f"with the options {probe} your function returns {probe_answer!r}, which is not one "
                                 "of the options passed in.", "loop over the options argument (not the notebook's "
                                 "OPTIONS) and return one of them.")
    if answers == wants and probe_answer == probe[2]:
        return report(False, "", "on a tie you keep the later option (>= instead of >); the exercise asks for the "
                                 "earlier one.", "replace the best only when an option is strictly better (>).")
    if answers == wants and (problem or probe_answer != probe[1]):
        return report(False, "", f"with the options {probe} your function returns {probe_answer!r}"
                                 f"{' (' + problem + ')' if problem else ''}; the two text-only options fuse to "
                                 "the same ranking, so the earlier, " + repr(probe[1]) + ", is the answer.",
                      "keep the first option with the highest mean nDCG@10.")
    def call(r, rel, opts):
        value = _call_watching(choose_fusion, library, {v: x.copy() for v, x in r.items()}, [set(x) for x in rel],
                               list(opts))[0]
        return (tuple(value[0]), value[1]) if isinstance(value, list) and len(value) == 2 else value
    if answers == wants and (slip := metric_slip(call)):   # 1 to 15 relevant per query; a near-tie
        return report(False, "", *slip)
    if answers == wants:
        return report(True, f"Your selection picks the best fusion of whatever queries it is given ({len(set(wants))} "
                            f"different choices on {len(wants)} sets of queries): a choice made by the data passed in.")
    if slip := choose_slip(call, runs, relevant, np.arange(len(relevant)) % 4, _tie_free(runs, relevant, options),
                           parts, answers, options):
        return report(False, "", *slip)
    if len(set(answers)) == 1:
        return report(False, "", f"you return {answers[0]} for all {len(answers)} sets of queries, whose best fusions "
                                 f"differ: for example, a choice read off a table, or scores that do not follow the "
                                 f"queries passed in.",
                      "measure every option on the queries given (not on a table read above, and never on "
                      "the test queries) and return the best.")
    mistakes = [
        ("argmin", "you return the option with the lowest score.", "keep the highest mean nDCG@10."),
        ("ignore_rrf_k", "your fusion ignores each option's rrf_k (options differing only in rrf_k look the same).",
         "fuse with the option's own rrf_k."),
        ("all_views", "you fuse every view for every option instead of the option's views.",
         "fuse only runs[v] for v in the option's views."),
        ("mrr", "you compare options by MRR (the first hit only); the exercise asks for nDCG@10.",
         "score each option by the mean nDCG@10 over the queries."),
        ("padding", "your fusion counts the padding id -1 as a document: it collects RRF score and takes a "
                    "top-10 slot when a view returned fewer than 20 ids.",
         "skip ids < 0 when you fuse (-1 pads the shorter rankings; it is no document)."),
        ("pad_to_id", "you map the padding id -1 to a real document id: an empty keyword list then puts that "
                      "document at rank 1 of the view.",
         "drop ids < 0 (or leave them: mm.search.reciprocal_rank_fusion skips -1); never turn them into a real id."),
        ("ties_last", "on a tie you keep the later option (>= instead of >); the exercise asks for the earlier one.",
         "replace the best only when an option is strictly better (>)."),
        ("rank0", "your RRF counts ranks from 0; RRF gives the best position rank 1: 1 / (rrf_k + 1).",
         "enumerate(ranking, start=1), or add 1 to the position."),
        ("recall", "you compare options by recall@10, which ignores where in the top 10 the hits are.",
         "score each option by the mean nDCG@10 over the queries."),
        ("ndcg_all", "you score more than the top 10 of each fused ranking (nDCG@20, or all of it); the exercise "
                     "asks for nDCG at 10.",
         "cut each fused ranking at 10 (k=10)."),
    ]
    if "mm.search.reciprocal_rank_fusion" in called:  # the library's RRF skips the padding: not that slip
        mistakes = [m for m in mistakes if m[0] != "padding"]
    matching = [(how, problem, hint) for how, problem, hint in mistakes
                if all(_choose_variant(r, rel, options, how) == a for (r, rel), a in zip(parts, answers))]
    if len(matching) > 1 and "padding" in [m[0] for m in matching]:  # a hand-written RRF that scores -1: the
        matching = [m for m in matching if m[0] == "padding"]  # likeliest slip (exercise 2's loop does not skip it)
    if len(matching) > 1:  # on these queries two slips give the same choices: name both
        return report(False, "", " Or: ".join(m[1] for m in matching), " / ".join(m[2] for m in matching))
    if matching:
        return report(False, "", matching[0][1], matching[0][2])
    return report(False, "", f"on some sets of queries your choice is not the best option ({sum(a != w for a, w in zip(answers, wants))} "
                             f"of {len(answers)}).",
                  "for each option: fuse its views with its rrf_k (RRF, limit 10), mean nDCG@10; return the best "
                  "(the first of equals).")


# --------------------------------------------------------------------------- exercise 3b: keep the default or adopt the choice

def _adopt_answer(value, chosen, default) -> tuple[object, tuple[str, str] | None]:
    """(the learner's answer as an option, or a problem and hint when it is not chosen or default)."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], (tuple, list)):
        value = (tuple(value[0]), value[1])
    if value == chosen or value == default:
        return value, None
    back = "return the option itself, chosen or default, a (views, rrf_k) pair the notebook fuses with."
    if value is None:
        return None, ("your function returns None: is a `return` missing?", back)
    if isinstance(value, (bool, np.bool_)):
        return None, (f"you return {value}: the question is which option to use, not whether.", back)
    if isinstance(value, str):
        return None, (f"you return the name {value!r}, not the option.", back)
    if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
        return None, (f"you return the views {value!r} without their rrf_k.", back)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], tuple):
        return None, (f"{value!r} is neither chosen {chosen!r} nor default {default!r}.",
                      "return one of the two options passed in, as given.")
    return None, (f"expected chosen or default, got {type(value).__name__} {value!r:.60}.", back)


def nb06_keep_or_adopt(keep_or_adopt) -> CheckResult:
    """Decide on held-out sets: ``keep_or_adopt(chosen, default, held_out) -> chosen or default`` (cases in _nb06_adopt)."""
    from ..search import metrics
    from ._nb06_adopt import adopt_probes, adopt_slip

    probes, answers, wants = adopt_probes(), [], []
    called: list[str] = []   # the helpers the learner's code called
    for _, chosen, default, held_out, _ in probes:
        given = [({v: r.copy() for v, r in runs.items()}, [set(x) for x in rel]) for runs, rel in held_out]
        value, problem, _ = _call_watching(keep_or_adopt, {"mm.search.keep_or_adopt": metrics.keep_or_adopt},
                                           chosen, default, given, seen=called)
        if called:
            return _helper_problem("mm.search.keep_or_adopt", "the decision")
        if problem:
            return report(False, "", problem, problem_hint(problem) if "expected at least k=" in problem else
                          "the function gets (chosen, default, held_out): held_out is a list of (runs, relevant) "
                          "pairs, one per held-out query set; loop over it.")
        if any(not np.array_equal(g[v], r[v]) for (g, _), (r, _) in zip(given, held_out) for v in r):
            return report(False, "", "your function changed the runs it was given; in the notebook that rewrites "
                                     "the test runs, which later cells reuse.", "leave the arrays passed in as they are.")
        value, trouble = _adopt_answer(value, chosen, default)
        if trouble:
            return report(False, "", *trouble)
        answers.append(value)
        wants.append(metrics.keep_or_adopt(chosen, default, held_out))
    if answers == wants:
        adopted = sum(w == c != d for w, (_, c, d, _, _) in zip(wants, probes))
        return report(True, f"Your rule adopts the chosen option only where its paired interval is above 0 on every "
                            f"held-out set (adopted in {adopted} of {len(probes)} cases, the default kept in the others).")
    return report(False, "", *adopt_slip(answers, probes, wants))
