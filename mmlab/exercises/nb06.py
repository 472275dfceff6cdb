"""Exercise checks for notebook 06, multimodal RAG (re-exported by mmlab.checks)."""
from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from ._feedback import EMPTY_MESSAGE, CheckResult, call_learner, is_empty, report

__all__: list[str] = ["nb06_citation_filter", "nb06_ndcg", "nb06_rrf"]


# --------------------------------------------------------------------------- exercise: nDCG@k by hand

# (found ids best first, relevant ids, k): more relevant than k, a miss at the top, none found,
# a hit only at the last position, padding.
_NDCG_CASES = [
    ([3, 7, 1, 9, 4], {7, 9}, 5),
    ([1, 2, 3, 4], {1, 2, 3, 4, 5, 6, 7, 8}, 3),
    ([5, 6, 7], {1}, 3),
    ([0, 8, 2, 6, 4, 10], {10, 11}, 6),
    ([2, -1, -1], {2, 5}, 3),
]


def _ndcg(found, rel, k, start=2, ideal_cap=True, normalise=True) -> float:
    dcg = sum(1 / math.log2(i + start) for i, x in enumerate(found[:k]) if x in rel)
    n_ideal = min(k, len(rel)) if ideal_cap else len(rel)
    ideal = sum(1 / math.log2(i + start) for i in range(n_ideal))
    return dcg / ideal if normalise else dcg


def nb06_ndcg(my_ndcg) -> CheckResult:
    """Write nDCG@k for one query: ``my_ndcg(found_ids, relevant, k) -> float``."""
    from ..search import ndcg_at_k

    got = []
    for found, rel, k in _NDCG_CASES:
        value, problem = call_learner(my_ndcg, list(found), set(rel), k)
        if problem:
            return report(False, "", problem, "the function gets (found_ids list, relevant set, k) and returns a float.")
        try:
            got.append(float(value))
        except (TypeError, ValueError):
            return report(False, "", f"expected a number, got a {type(value).__name__}.", "return one float per query.")
    want = [ndcg_at_k(np.array([found]), [rel], k) for found, rel, k in _NDCG_CASES]
    if np.allclose(got, want, atol=1e-9):
        return report(True, "Your nDCG@k matches mm.search.ndcg_at_k (and sklearn's ndcg_score on binary labels).")
    variants: list[tuple[dict[str, Any], str, str]] = [
        (dict(normalise=False), "you returned the DCG itself: it grows with the number of relevant items found, so "
                                "queries are not comparable.", "divide by the DCG of the ideal ranking."),
        (dict(ideal_cap=False), "your ideal DCG counts every relevant item, even beyond position k.",
         "the ideal ranking also has only k positions: min(k, number relevant) hits at the top."),
        (dict(start=1), "your first position is discounted by log2(1) = 0 (a division by zero or infinity).",
         "with positions i = 0, 1, 2, ... the discount is 1 / log2(i + 2): the top position counts 1."),
        # (the log base cancels in DCG / ideal DCG, so log or log10 give the same nDCG: not a mistake)
    ]
    for kwargs, problem, hint in variants:
        try:
            alt = [_ndcg(f, r, k, **kwargs) for f, r, k in _NDCG_CASES]
        except ZeroDivisionError:
            alt = [math.inf] * len(_NDCG_CASES)
        if np.allclose(got, alt, atol=1e-9, equal_nan=True):
            return report(False, "", problem, hint)
    if any(g > 1 + 1e-9 or g < 0 for g in got):
        return report(False, "", f"a value outside [0, 1] ({max(got):.3f}): nDCG is a fraction of the ideal.",
                      "check the ideal DCG: all relevant items first, at most k of them.")
    if got[2] != 0 or got[4] == 0:
        return report(False, "", "a query with no relevant item in its top k must score 0, and one with a hit must not.",
                      "count a position only when its id is in the relevant set (and -1 is padding, never relevant).")
    return report(False, "", f"your values {np.round(got, 3).tolist()} differ from the expected ones on small cases.",
                  "DCG = sum over the first k positions i (from 0) holding a relevant id of 1 / log2(i + 2).")


# --------------------------------------------------------------------------- exercise: reciprocal rank fusion

_RRF_RANKINGS = [[4, 2, 9, 7], [2, 8, 4], [9, 2, 5, 1, 4]]


def nb06_rrf(my_rrf) -> CheckResult:
    """Write RRF for one query: ``my_rrf(rankings, k=60) -> dict {id: fused score}``."""
    from ..search import reciprocal_rank_fusion

    rankings = [list(r) for r in _RRF_RANKINGS]
    scores, problem = call_learner(my_rrf, rankings, 60)
    if problem:
        return report(False, "", problem, "the function gets (rankings, k): a list of id lists, best first.")
    if rankings != _RRF_RANKINGS:
        return report(False, "", "your function changed the rankings it was given.", "read them; do not sort them in place.")
    if not isinstance(scores, dict):
        return report(False, "", f"expected a dict {{id: score}}, got a {type(scores).__name__}.",
                      "collect the scores in a dict, e.g. scores = {} and scores[i] = scores.get(i, 0) + ...")
    ids, want = reciprocal_rank_fusion([np.array([r]) for r in _RRF_RANKINGS], k=60)
    expected = {int(i): float(s) for i, s in zip(ids[0], want[0]) if i >= 0}
    if set(scores) != set(expected):
        missing = sorted(set(expected) - set(scores))
        if missing:
            return report(False, "", f"ids {missing} are missing: every id in any ranking gets a score.",
                          "loop over every ranking and every id in it.")
        return report(False, "", f"unexpected ids {sorted(set(scores) - set(expected))}.", "score only ids that appear.")
    got = {int(i): float(s) for i, s in scores.items()}
    if all(abs(got[i] - expected[i]) < 1e-6 for i in expected):
        return report(True, "Your RRF matches mm.search.reciprocal_rank_fusion: sum over rankings of 1 / (k + rank).")
    from_zero: dict[int, float] = {}
    max_only: dict[int, float] = {}
    for r in _RRF_RANKINGS:
        for rank, i in enumerate(r):
            from_zero[i] = from_zero.get(i, 0.0) + 1 / (60 + rank)
            max_only[i] = max(max_only.get(i, 0.0), 1 / (60 + rank + 1))
    if all(abs(got[i] - from_zero[i]) < 1e-9 for i in expected):
        return report(False, "", "your ranks start at 0; RRF counts the best position as rank 1.",
                      "enumerate(ranking, start=1), or add 1 to the position.")
    if all(abs(got[i] - max_only[i]) < 1e-9 for i in expected):
        return report(False, "", "you kept each id's best single score; RRF adds the contributions of all rankings.",
                      "scores[i] = scores.get(i, 0) + 1 / (k + rank).")
    if all(abs(got[i] - sum(1 / (1 + r.index(i)) for r in _RRF_RANKINGS if i in r)) < 1e-9 for i in expected):
        return report(False, "", "you left out the constant k: 1 / rank lets the top position dominate.",
                      "use 1 / (k + rank), with k = 60 given as the second argument.")
    return report(False, "", "some fused scores differ from sum over rankings of 1 / (k + rank).",
                  "for each ranking, for each (rank from 1, id): scores[id] += 1 / (k + rank).")


# --------------------------------------------------------------------------- exercise: the citation filter

_CITE = re.compile(r"\[([0-9A-Fa-f]{2,6}(?:-[0-9A-Fa-f]{2,6})*)\]")
_FILTER_CASES = [
    ("Tea [2615] or mate [1F9C9], see [1F37].", ["2615", "1F9C9", "1F375"]),
    ("Try a teacup [1f375] or the cat [1F408-200D-2B1B] [1F408].", ["1F375", "1F408"]),
    ("Nothing cited here.", ["2615"]),
    ("[2615] [2615] and [99999] twice [99999].", ["2615"]),
]


def _kept(text: str, allowed: list[str]) -> list[str]:
    ok = {a.upper() for a in allowed}
    return [m.upper() for m in _CITE.findall(text) if m.upper() in ok]


def nb06_citation_filter(my_filter) -> CheckResult:
    """Write the citation filter: ``my_filter(text, allowed_ids) -> text`` without citations of other ids."""
    for text, allowed in _FILTER_CASES:
        out, problem = call_learner(my_filter, text, list(allowed))
        if problem:
            return report(False, "", problem, "the function gets (text, allowed_ids) and returns the filtered text.")
        if is_empty(out):
            return report(False, "", EMPTY_MESSAGE)
        if not isinstance(out, str):
            return report(False, "", f"expected the filtered text (a str), got a {type(out).__name__}.",
                          "return the text with the disallowed citations removed.")
        found = [m.upper() for m in _CITE.findall(out)]
        want = _kept(text, allowed)
        bad = [c for c in found if c not in {a.upper() for a in allowed}]
        if bad:
            hint = ("compare whole ids: '1F37' is a prefix of '1F375' but not the same document; match the id "
                    "between the brackets and look it up in a set." if "1F37" in bad else
                    "a ZWJ sequence id such as 1F408-200D-2B1B contains hyphens: match the whole bracketed id."
                    if any("-" in c for c in bad) else "remove every bracketed id that is not in allowed_ids.")
            return report(False, "", f"{bad} survived the filter in {text!r}, though not retrieved.", hint)
        if len(found) < len(want):
            lost = sorted(set(want) - set(found)) or want
            hint = ("compare ids case-insensitively: the model may write [1f375] for 1F375."
                    if any(w.lower() in text for w in lost) else
                    "keep every occurrence of an allowed citation; only disallowed ones go.")
            return report(False, "", f"allowed citations {lost} were removed from {text!r}.", hint)
        rest = re.sub(r"\s+", " ", _CITE.sub("", out)).strip(" .")
        want_rest = re.sub(r"\s+", " ", _CITE.sub("", text)).strip(" .")
        if rest != want_rest:
            return report(False, "", f"the words around the citations changed: {out!r}.",
                          "only the disallowed [ID] citations go; keep the rest of the text.")
    return report(True, "Your filter keeps exactly the retrieved ids (whole ids, any case) and drops the rest.")
