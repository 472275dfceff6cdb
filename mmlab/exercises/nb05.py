"""Exercise checks for notebook 05, vector search (re-exported by mmlab.checks)."""
from __future__ import annotations

import numpy as np

from ._feedback import (
    EMPTY_MESSAGE,
    CheckResult,
    call_learner,
    is_empty,
    report,
    shape_problem,
)

__all__: list[str] = [
    "nb05_cheapest_ef",
    "nb05_full_probe",
    "nb05_quote",
    "nb05_topk",
]


# --------------------------------------------------------------------------- exercise: top-k by hand


def _check_data(seed: int = 5):
    rng = np.random.default_rng(seed)
    # Rows of very different lengths: forgetting to normalise changes the answer.
    corpus = rng.standard_normal((300, 16)).astype(np.float32) * rng.uniform(0.2, 5.0, (300, 1)).astype(np.float32)
    queries = rng.standard_normal((6, 16)).astype(np.float32)
    return queries, corpus


def nb05_topk(my_topk) -> CheckResult:
    """Write top-k cosine search: ``my_topk(queries, corpus, k) -> (Q, k)`` int ids, best first.

    Checked with k = 7 and with k = 150 of 300 rows: for k near N / 2, argpartition's first k
    come back unsorted, so a missing final sort shows (for small k they often look sorted).
    """
    queries, corpus = _check_data()
    for k in (7, len(corpus) // 2):
        ok = _check_topk(my_topk, queries, corpus, k)
        if ok is not None:
            return ok
    return report(True, "Your top-k matches mm.search.exact_topk, also for k = 150 of 300 rows: partial sort "
                        "(argpartition) for the k best, then a sort of just those k.")


def _check_topk(my_topk, queries, corpus, k: int) -> CheckResult | None:
    """None if ``my_topk`` is right for this k, else the report of what is wrong."""
    from ..search import exact_topk

    ids, problem = call_learner(my_topk, queries.copy(), corpus.copy(), k)
    if problem:
        return report(False, "", problem, "the function gets (queries, corpus, k) and returns the ids array.")
    if isinstance(ids, tuple) and len(ids) == 2:
        return report(False, "", "your function returned a pair (scores and ids?); return only the ids, shape (Q, k).",
                      "`return ids` at the end.")
    problem = shape_problem(ids, (len(queries), k))
    if problem:
        return report(False, "", f"with k={k}, the ids: {problem}", "one row per query and k columns: (Q, k).")
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        if np.allclose(ids, np.round(ids)):
            ids = ids.astype(np.int64)
        else:
            return report(False, "", "your answer holds non-integer values: those look like scores, not row ids.",
                          "argpartition / argsort return positions (ids); keep those, not the scores.")
    _, want = exact_topk(queries, corpus, k, metric="cosine")
    if np.array_equal(ids, want):
        return None
    _, want_ip = exact_topk(queries, corpus, k, metric="ip")
    if np.array_equal(ids, want_ip):
        return report(False, "", "you ranked by the raw dot product: long corpus vectors win regardless of direction.",
                      "cosine similarity divides by the lengths: normalise the rows of both matrices first.")
    if all(set(a) == set(b) for a, b in zip(ids, want)):
        if np.array_equal(ids, want[:, ::-1]):
            return report(False, "", f"the right k ids, but worst first (k={k}).",
                          "sort by descending similarity (e.g. argsort of the negated scores).")
        return report(False, "", f"the right k ids, but not in best-first order (k={k} of {len(corpus)} rows).",
                      "argpartition only splits the k best from the rest, in no particular order (for small k "
                      "they can look sorted by luck); sort those k by their scores afterwards.")
    _, worst = exact_topk(-queries, corpus, k, metric="cosine")
    if all(set(a) == set(b) for a, b in zip(ids, worst)):
        return report(False, "", "you returned the k *least* similar rows.",
                      "argpartition puts the smallest values first: partition the negated scores (or take the last k).")
    overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(ids, want)])
    return report(False, "", f"with k={k}, only {overlap:.0%} of your ids are among the true {k} nearest neighbours.",
                  "scores = normalised queries @ normalised corpus.T, shape (Q, N); then the k largest per row.")


# --------------------------------------------------------------------------- exercise: predict nprobe = nlist


_PROBE_CHOICES = {"a": "exactly 1.0 (the same as exact search)", "b": "about 0.9", "c": "lower than with nprobe=1"}


def nb05_full_probe(answer, measured_recall) -> CheckResult:
    """Predict-then-run: recall@10 of an IVF index that probes every one of its lists."""
    try:
        measured = float(measured_recall)
    except (TypeError, ValueError):
        return report(False, "", "the check needs the measured recall as its second argument.",
                      "run the cell above the check first and pass its recall, e.g. nb05_full_probe(answer, recall_all).")
    if is_empty(answer):
        return report(False, "", EMPTY_MESSAGE)
    if not isinstance(answer, str) or answer.strip().lower() not in _PROBE_CHOICES:
        return report(False, "", f"expected one of {list(_PROBE_CHOICES)}, got {answer!r}.")
    answer = answer.strip().lower()
    if answer == "a":
        return report(True, f"Measured: recall@10 = {measured:.3f}. Probing every list compares the query with "
                            "every stored vector (exact vectors, in IVF-Flat), so nothing can be missed; it is just "
                            "a slower flat search. The speed-up of IVF comes only from skipping lists.")
    return report(False, "", f"the measured recall@10 is {measured:.3f}.",
                  "with nprobe = nlist, which stored vectors does the query get compared with? "
                  "And are they compressed in an IVF-Flat index?")


# --------------------------------------------------------------------------- exercise: quote a filter value


_QUOTE_CASES = ["Food & Drink", 'x" or id > 0 or "', "back\\slash", 'both \\" and "', "it's", "line\nbreak"]


def _parse_literal(text: str):
    """The value of ``text`` if it is exactly one Milvus string literal, else None (and why)."""
    from milvus_lite.search.filter.exceptions import FilterParseError
    from milvus_lite.search.filter.tokens import TokenKind, tokenize

    try:
        tokens = [t for t in tokenize(text) if t.kind != TokenKind.EOF]
    except FilterParseError as exc:
        return None, f"Milvus cannot parse it ({str(exc).splitlines()[0]})"
    if len(tokens) != 1 or tokens[0].kind != TokenKind.STRING:
        kinds = ", ".join(t.kind.value for t in tokens[:6])
        return None, f"Milvus reads it as {len(tokens)} tokens ({kinds}), not one string"
    return tokens[0].value, None


def nb05_quote(quote) -> CheckResult:
    """Write ``quote(value) -> str``: a Milvus string literal that means exactly ``value``."""
    for value in _QUOTE_CASES:
        text, problem = call_learner(quote, value)
        if problem:
            return report(False, "", problem, "quote(value) gets one str and returns the quoted, escaped literal.")
        if not isinstance(text, str):
            return report(False, "", f"quote({value!r}) returned a {type(text).__name__}, expected a str.")
        parsed, why = _parse_literal(text)
        if parsed is None:
            hint = ("escape the backslash first (\\ -> \\\\), then the double quote (\" -> \\\"); newlines as \\n."
                    if any(c in value for c in '"\\\n') else "put the value between double quotes.")
            return report(False, "", f"quote({value!r}) gave {text!r}: {why}.", hint)
        if parsed != value:
            return report(False, "", f"quote({value!r}) gave {text!r}, which Milvus reads as {parsed!r}.",
                          "the order of the replacements matters: escape backslashes before quotes.")
    return report(True, "Every value, including 'x\" or id > 0 or \"', reads back as exactly itself: the filter "
                        "cannot be changed by the data. mm.search.filter_expression does this for whole dicts.")


# --------------------------------------------------------------------------- exercise: read the sweep


def nb05_cheapest_ef(answer, ef_values, recalls, target: float = 0.95) -> CheckResult:
    """Interpret the sweep: the smallest efSearch whose recall@10 reaches ``target`` (None if none does)."""
    try:
        efs = [int(v) for v in ef_values]
        recs = [float(r) for r in recalls]
    except (TypeError, ValueError):
        return report(False, "", "the check needs the swept ef values and their recalls as its arguments.",
                      "pass EF_VALUES and the list of measured recalls from the sweep cell.")
    if len(efs) != len(recs) or not efs:
        return report(False, "", "ef_values and recalls must be two lists of the same, non-zero length.")
    reaching = [e for e, r in sorted(zip(efs, recs)) if r >= target]
    best = reaching[0] if reaching else None
    if answer is Ellipsis:
        return report(False, "", EMPTY_MESSAGE)
    if answer is None and best is None:
        return report(True, f"No efSearch in the sweep reaches recall {target}: the graph (M) or the build "
                            "(efConstruction) limits it; search effort alone is not enough.")
    if answer is None:
        return report(False, "", f"at least one efSearch in the sweep reaches recall {target}.",
                      "read the recall column (or the blue curve) from the smallest efSearch upwards.")
    if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)):
        return report(False, "", f"expected an int from {efs} (or None), got {answer!r}.")
    if int(answer) not in efs:
        return report(False, "", f"{answer} is not one of the swept values {efs}.")
    r = dict(zip(efs, recs))[int(answer)]
    if int(answer) == best:
        return report(True, f"efSearch={best} is the cheapest setting with recall@10 >= {target} ({r:.3f}); every "
                            "larger value buys a little recall with more latency.")
    if r < target:
        return report(False, "", f"efSearch={answer} reaches recall {r:.3f}, below {target}.",
                      "move to larger efSearch values until recall crosses the target.")
    return report(False, "", f"efSearch={answer} reaches the target, but a smaller value does too.",
                  "you pay for every extra candidate: look for the smallest efSearch that still reaches it.")
