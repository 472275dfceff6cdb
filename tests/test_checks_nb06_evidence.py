"""Tests of notebook 06's exercise 5 check: reading the paired evidence on the unseen questions."""
import numpy as np
import pytest
from scipy.stats import binomtest

from mmlab import checks
from mmlab.exercises import _nb06_evidence as ev

Q = 20


def rows(**hit_sets):
    return {name: np.isin(np.arange(Q), sorted(hit)) for name, hit in hit_sets.items()}


# Per-question hits with the counts notebook 06 printed on the unseen questions: closed-book 7, first layout 1,
# new layout 11, choosing 5, extractive 12; paired: closed-book vs first layout 6 against 0, choosing vs first
# layout 5 against 1, extractive vs choosing 7 against 0, extractive vs closed-book 6 against 1, new layout vs
# first layout 10 against 0, extractive vs new layout 3 against 2.
STORED = rows(**{"closed-book": {0, 1, 2, 3, 4, 5, 6},
                 "grounded, writes": {0},
                 "grounded, writes, new layout": {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13},
                 "grounded, chooses 1 of 5": {1, 2, 7, 8, 10},
                 "extractive top 1, no model": {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
                 "ceiling: relevant in top 5": set(range(17))})
RIGHT = {"a": "supported", "b": "not shown", "c": "not shown", "d": "not shown", "e": "contradicted"}


def test_the_stored_counts_are_the_printed_ones():
    evidence = ev._evidence(STORED)
    printed = {("closed-book", "grounded, writes"): (6, 0, 0.031, 0.125),
               ("grounded, chooses 1 of 5", "grounded, writes"): (5, 1, 0.219, 0.438),
               ("extractive top 1, no model", "grounded, chooses 1 of 5"): (7, 0, 0.016, 0.078),
               ("extractive top 1, no model", "closed-book"): (6, 1, 0.125, 0.375),
               ("grounded, writes, new layout", "grounded, writes"): (10, 0, 0.002, 0.012),
               ("extractive top 1, no model", "grounded, writes, new layout"): (3, 2, 1.0, 1.0)}
    for pair, (x, y, p, p_holm) in printed.items():
        got = evidence[pair]
        assert got[:2] == (x, y)
        assert round(got[2], 3) == p and round(got[3], 3) == p_holm


@pytest.mark.parametrize("x, y", [(0, 0), (1, 0), (6, 0), (5, 1), (7, 0), (3, 2), (10, 0), (4, 9)])
def test_sign_test_is_scipys_exact_binomial_test(x, y):
    expected = binomtest(x, x + y).pvalue if x + y else 1.0
    assert ev.sign_test_p(x, y) == pytest.approx(expected)


def test_the_right_verdicts_pass_and_the_debrief_gives_the_numbers(capsys):
    assert checks.nb06_read_evidence(RIGHT, STORED)
    out = capsys.readouterr().out
    assert "✅" in out and "(b) closed-book 6 against the first layout 0, p = 0.031, 0.125 after Holm" in out


@pytest.mark.parametrize("spelling", ["Supported", " supported ", "SUPPORTED"])
def test_spelling_of_a_verdict_is_forgiven(spelling, capsys):
    assert checks.nb06_read_evidence({**RIGHT, "a": spelling}, STORED)
    assert checks.nb06_read_evidence({**RIGHT, "b": "not_shown", "c": "Not shown", "d": "not-shown"}, STORED)


# What learners really write, and the hint each gets.
@pytest.mark.parametrize("change, hint", [
    ({"b": "supported"}, "only after the correction"),                  # p = 0.031 read before Holm
    ({"c": "supported"}, "a higher share on 20 questions"),             # 60 % against 55 %
    ({"d": "supported"}, "cannot show that two rows are equal"),        # p = 1.0 read as equality
    ({"c": "contradicted"}, "needs evidence for the opposite"),         # "not supported" read as "refuted"
    ({"e": "not shown"}, "the evidence decides"),                       # everything uncertain is "not shown"
    ({"a": "not shown", "e": "not shown"}, "the evidence decides"),
    ({"e": "supported"}, "read which row is ahead"),                    # direction of the claim misread
    ({"a": "contradicted", "e": "supported"}, "read which row is ahead"),
    ({"b": "supported", "c": "supported", "d": "supported"}, "only after the correction"),
])
def test_typical_misreadings_fail_with_their_hint(change, hint, capsys):
    result = checks.nb06_read_evidence({**RIGHT, **change}, STORED)
    out = capsys.readouterr().out
    assert not result
    assert f"{len(change)} of the 5 verdicts" in out and hint in out


def test_every_other_combination_fails():
    from itertools import product
    passed = [combo for combo in product(ev.VERDICTS, repeat=5)
              if ev.nb06_read_evidence(dict(zip("abcde", combo)), STORED)]
    assert passed == [tuple(RIGHT[k] for k in "abcde")]


def test_the_verdicts_follow_the_evidence_not_a_key(capsys):
    # closed-book far ahead of the first layout on 40 questions: claim (b) is then supported
    hits = {name: np.concatenate([v, v]) for name, v in STORED.items()}
    hits["closed-book"] = np.isin(np.arange(2 * Q), range(20))
    hits["grounded, writes"] = np.zeros(2 * Q, bool)
    assert not checks.nb06_read_evidence(RIGHT, hits)
    assert checks.nb06_read_evidence({**RIGHT, "b": "supported"}, hits)


@pytest.mark.parametrize("answer, message", [
    (None, "still empty"),
    ({"a": ..., "b": ..., "c": ..., "d": ..., "e": ...}, "still empty"),
    ({**RIGHT, "c": ...}, "claim (c) has no verdict yet"),
    ({"a": "supported"}, "missing ['b', 'c', 'd', 'e']"),
    ({**RIGHT, "f": "supported"}, "not a claim: ['f']"),
    ({**RIGHT, "d": "probably"}, "claim (d): expected one of ['supported', 'not shown', 'contradicted'], got 'probably'"),
    ({**RIGHT, "d": True}, "claim (d): expected one of"),
    (["supported"] * 5, "expected a dict of claim letter -> verdict, got list"),
])
def test_unfinished_or_malformed_answers_say_what_is_expected(answer, message, capsys):
    assert not checks.nb06_read_evidence(answer, STORED)
    assert message in capsys.readouterr().out


def test_the_evidence_argument_is_validated():
    with pytest.raises(ValueError, match=r"hits: expected a dict"):
        checks.nb06_read_evidence(RIGHT, [1, 2])
    with pytest.raises(ValueError, match=r"hits: expected the rows \['closed-book'\]"):
        checks.nb06_read_evidence(RIGHT, {k: v for k, v in STORED.items() if k != "closed-book"})
    with pytest.raises(ValueError, match=r"all of the same length"):
        checks.nb06_read_evidence(RIGHT, {**STORED, "closed-book": np.ones(3, bool)})
