"""Exercise 5 of notebook 06: what the paired evidence on the unseen questions supports.

The learner reads the six paired comparisons the notebook prints (exact sign test, Holm's
correction over the six) and gives each of five claims a verdict. The check derives the right
verdicts from the same per-question hits by that rule, so they follow the run, not a key.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._feedback import EMPTY_MESSAGE, CheckResult, is_empty, report

__all__ = ["nb06_read_evidence"]

VERDICTS = ("supported", "not shown", "contradicted")
LEVEL = 0.05

#: The six comparisons notebook 06 tests on the unseen questions; Holm's correction runs over all six.
FAMILY = (("closed-book", "grounded, writes"), ("grounded, chooses 1 of 5", "grounded, writes"),
          ("extractive top 1, no model", "grounded, chooses 1 of 5"), ("extractive top 1, no model", "closed-book"),
          ("grounded, writes, new layout", "grounded, writes"),
          ("extractive top 1, no model", "grounded, writes, new layout"))

#: claim -> (kind, row x, row y). "more": x names a relevant item more often than y; "equal": as often;
#: "at least": x at least as often as y.
CLAIMS = {
    "a": ("more", "grounded, writes, new layout", "grounded, writes"),
    "b": ("more", "closed-book", "grounded, writes"),
    "c": ("more", "extractive top 1, no model", "grounded, writes, new layout"),
    "d": ("equal", "grounded, writes, new layout", "extractive top 1, no model"),
    "e": ("at least", "grounded, writes", "grounded, writes, new layout"),
}
SHORT = {"closed-book": "closed-book", "grounded, writes": "the first layout", "grounded, chooses 1 of 5": "choosing",
         "extractive top 1, no model": "extractive", "grounded, writes, new layout": "the new layout"}


def sign_test_p(only_x: int, only_y: int) -> float:
    """Exact two-sided sign test (McNemar's exact test) on the discordant pairs; 1.0 when there are none."""
    from scipy.stats import binomtest

    return float(binomtest(only_x, only_x + only_y).pvalue) if only_x + only_y else 1.0


def holm(ps: list[float]) -> list[float]:
    """Holm's step-down adjustment: the i-th smallest of m p-values times (m - i), kept increasing, at most 1."""
    adjusted, running = [0.0] * len(ps), 0.0
    for i, j in enumerate(sorted(range(len(ps)), key=lambda j: ps[j])):
        running = max(running, min(1.0, (len(ps) - i) * ps[j]))
        adjusted[j] = running
    return adjusted


def _evidence(hits: Mapping[str, np.ndarray]) -> dict[tuple[str, str], tuple[int, int, float, float]]:
    """(x, y) -> (only x, only y, p, Holm-adjusted p), for both orders of every pair of FAMILY."""
    counts = [(int(np.sum(hits[x] & ~hits[y])), int(np.sum(hits[y] & ~hits[x]))) for x, y in FAMILY]
    ps = [sign_test_p(*c) for c in counts]
    out = {}
    for (x, y), (cx, cy), p, p_holm in zip(FAMILY, counts, ps, holm(ps)):
        out[(x, y)] = (cx, cy, p, p_holm)
        out[(y, x)] = (cy, cx, p, p_holm)
    return out


def _truth(kind: str, only_x: int, only_y: int, p_holm: float) -> str:
    significant = p_holm < LEVEL
    if kind == "equal":   # a test of difference can refute equality, never show it
        return "contradicted" if significant else "not shown"
    if not significant:
        return "not shown"
    return "supported" if only_x > only_y else "contradicted"


def _check_hits(hits) -> str | None:
    if not isinstance(hits, Mapping):
        return f"hits: expected a dict of row name -> (Q,) bool array, got {type(hits).__name__}"
    missing = sorted({row for pair in FAMILY for row in pair} - set(hits))
    if missing:
        return f"hits: expected the rows {missing} too (the notebook's `u_by`), got {sorted(hits)}"
    sizes = {np.asarray(hits[row]).shape for pair in FAMILY for row in pair}
    if len(sizes) != 1 or len(next(iter(sizes))) != 1:
        return f"hits: expected one (Q,) bool array per row, all of the same length, got shapes {sorted(sizes)}"
    return None


def _normalise(verdict) -> str | None:
    if not isinstance(verdict, str):
        return None
    text = " ".join(verdict.lower().replace("_", " ").replace("-", " ").split())
    return text if text in VERDICTS else None


def nb06_read_evidence(verdicts, hits) -> CheckResult:
    """Exercise 5: a verdict for each claim about the unseen questions, read from the paired evidence.

    Args:
        verdicts: dict claim letter ("a" ... "e") -> "supported", "not shown" or "contradicted".
        hits: the notebook's `u_by`: row name -> (Q,) bool array, True where that row's answer names a
            relevant item.
    Returns:
        A CheckResult, truthy when every verdict follows from the evidence.
    """
    problem = _check_hits(hits)
    if problem:
        raise ValueError(problem)
    hits = {row: np.asarray(v, dtype=bool) for row, v in hits.items()}
    if is_empty(verdicts) or (isinstance(verdicts, Mapping) and all(is_empty(v) for v in verdicts.values())):
        return report(False, "", EMPTY_MESSAGE)
    if not isinstance(verdicts, Mapping):
        return report(False, "", f"expected a dict of claim letter -> verdict, got {type(verdicts).__name__}.",
                      'write VERDICTS = {"a": "supported", "b": ..., ...}, one entry per claim.')
    wrong_keys = sorted(map(str, set(verdicts) - set(CLAIMS)))
    absent = sorted(set(CLAIMS) - set(verdicts))
    if wrong_keys or absent:
        return report(False, "", f"expected the claims {sorted(CLAIMS)}; "
                      + (f"missing {absent}" if absent else "") + ("; " if absent and wrong_keys else "")
                      + (f"not a claim: {wrong_keys}" if wrong_keys else "") + ".")
    given = {}
    for letter in sorted(CLAIMS):
        if is_empty(verdicts[letter]):
            return report(False, "", f"claim ({letter}) has no verdict yet.")
        given[letter] = _normalise(verdicts[letter])
        if given[letter] is None:
            return report(False, "", f"claim ({letter}): expected one of {list(VERDICTS)}, got {verdicts[letter]!r}.")

    evidence = _evidence(hits)
    truth, notes = {}, {}
    for letter, (kind, x, y) in CLAIMS.items():
        only_x, only_y, p, p_holm = evidence[(x, y)]
        truth[letter] = _truth(kind, only_x, only_y, p_holm)
        notes[letter] = (f"({letter}) {SHORT[x]} {only_x} against {SHORT[y]} {only_y}, p = {p:.3f}, "
                         f"{p_holm:.3f} after Holm: {truth[letter]}")
    wrong = [letter for letter in sorted(CLAIMS) if given[letter] != truth[letter]]
    if not wrong:
        return report(True, "Each verdict follows from the paired counts and the Holm-adjusted p. "
                      + "; ".join(notes[letter] for letter in sorted(CLAIMS)) + ".")
    hints = []
    for letter in wrong:
        kind, x, y = CLAIMS[letter]
        _, _, p, p_holm = evidence[(x, y)]
        said, right = given[letter], truth[letter]
        if said == "supported" and kind == "equal":
            hint = ("a test that finds no difference cannot show that two rows are equal: 'no measurable "
                    "difference' is not 'the same'.")
        elif said == "supported" and right == "not shown" and p < LEVEL:
            hint = ("a p below 0.05 counts only after the correction: six comparisons were made on the same "
                    "questions, so read the Holm-adjusted p.")
        elif said == "supported" and right == "not shown":
            hint = ("a higher share on 20 questions is no evidence on its own: the paired test counts only the "
                    "questions where the two rows differ.")
        elif said == "contradicted" and right == "not shown":
            hint = ("'contradicted' needs evidence for the opposite, a significant difference the other way; no "
                    "evidence either way is 'not shown'.")
        elif said == "not shown":
            hint = ("where the Holm-adjusted p is below 0.05 the evidence decides: a claim in the direction of the "
                    "difference is supported, one against it contradicted.")
        else:
            hint = ("read which row is ahead in a significant comparison: a claim in that direction is supported, "
                    "one against it contradicted ('at least as often' against a significant deficit too).")
        if hint not in hints:
            hints.append(hint)
    return report(False, "", f"{len(wrong)} of the {len(CLAIMS)} verdicts do not follow from the printed evidence.",
                  " ".join(hints))
