"""Tests of the notebook-06 exercise checks: the solution passes, stubs and typical mistakes fail helpfully."""
import math
import re

import pytest

from mmlab import checks


def solution_ndcg(found_ids, relevant, k):
    dcg = sum(1 / math.log2(i + 2) for i, x in enumerate(found_ids[:k]) if x in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal


def solution_rrf(rankings, k=60):
    scores = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking, start=1):
            scores[i] = scores.get(i, 0.0) + 1 / (k + rank)
    return scores


def solution_filter(text, allowed_ids):
    allowed = {a.upper() for a in allowed_ids}
    return re.sub(r"\[([0-9A-Fa-f-]+)\]", lambda m: m.group(0) if m.group(1).upper() in allowed else "", text)


def stub(*args):
    raise NotImplementedError()


@pytest.mark.parametrize("check, solution", [
    (checks.nb06_ndcg, solution_ndcg), (checks.nb06_rrf, solution_rrf),
    (checks.nb06_citation_filter, solution_filter),
])
def test_solutions_pass(check, solution, capsys):
    assert check(solution).passed is True
    assert "Correct" in capsys.readouterr().out


def _ndcg_variant(log=math.log2, start=2, cap=True, norm=True):
    def f(found, rel, k):
        dcg = sum(1 / log(i + start) for i, x in enumerate(found[:k]) if x in rel)
        ideal = sum(1 / log(i + start) for i in range(min(k, len(rel)) if cap else len(rel)))
        return dcg / ideal if norm else dcg
    return f


@pytest.mark.parametrize("answer, message", [
    (..., "still empty"),
    (stub, "NotImplementedError"),
    (_ndcg_variant(norm=False), "DCG itself"),
    (_ndcg_variant(cap=False), "even beyond position k"),
    (_ndcg_variant(start=1), "division by zero"),
    (lambda f, r, k: "0.5", "must score 0"),
    (lambda f, r, k: solution_ndcg(f, r, k) * 0.9, "differ"),
])
def test_ndcg_mistakes(answer, message, capsys):
    assert checks.nb06_ndcg(answer).passed is False
    assert message in capsys.readouterr().out


def _rrf_from_zero(rankings, k=60):
    scores = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking):
            scores[i] = scores.get(i, 0.0) + 1 / (k + rank)
    return scores


def _rrf_max(rankings, k=60):
    scores = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking, start=1):
            scores[i] = max(scores.get(i, 0.0), 1 / (k + rank))
    return scores


def _rrf_no_k(rankings, k=60):
    return solution_rrf(rankings, k=0)


@pytest.mark.parametrize("answer, message", [
    (..., "still empty"),
    (stub, "NotImplementedError"),
    (_rrf_from_zero, "start at 0"),
    (_rrf_max, "best single score"),
    (_rrf_no_k, "constant k"),
    (lambda r, k=60: sorted(solution_rrf(r, k), key=solution_rrf(r, k).get, reverse=True), "expected a dict"),
    (lambda r, k=60: {i: 1.0 for i in r[0]}, "missing"),
    (lambda r, k=60: [x.sort() for x in r] and {}, "changed the rankings"),
])
def test_rrf_mistakes(answer, message, capsys):
    assert checks.nb06_rrf(answer).passed is False
    assert message in capsys.readouterr().out


@pytest.mark.parametrize("answer, message", [
    (..., "still empty"),
    (stub, "NotImplementedError"),
    (lambda t, a: t, "survived the filter"),                                        # no filtering at all
    (lambda t, a: re.sub(r"\[([0-9A-F-]+)\]", lambda m: m.group(0) if any(m.group(1) in x for x in a) else "", t),
     "prefix"),                                                                   # substring match
    (lambda t, a: re.sub(r"\[([0-9A-Fa-f-]+)\]", lambda m: m.group(0) if m.group(1) in a else "", t),
     "case-insensitively"),                                                       # case-sensitive
    (lambda t, a: re.sub(r"\[[^\]]*\]", "", t), "were removed"),                  # removes every citation
    (lambda t, a: re.sub(r"\[([0-9A-Fa-f]+)\]", lambda m: m.group(0) if m.group(1).upper() in a else "", t),
     "hyphens"),                                                                  # ZWJ ids not matched whole
    (lambda t, a: solution_filter(t, a).upper(), "words around"),
    (lambda t, a: ["2615"], "expected the filtered text"),
])
def test_citation_filter_mistakes(answer, message, capsys):
    assert checks.nb06_citation_filter(answer).passed is False
    assert message in capsys.readouterr().out


def test_ndcg_in_any_log_base_passes(capsys):
    """The base cancels in DCG / ideal DCG, so it must not be flagged."""
    assert checks.nb06_ndcg(_ndcg_variant(log=math.log)).passed is True
