"""Grouped-citation cases of notebook 06's citation-filter check (apart from nb06.py, near the size limit)."""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

#: A bracket holding one or more ids (commas, semicolons or spaces between them) and its ids.
_GROUP = re.compile(r"\[\s*([0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*(?:[\s,;]+[0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*)*)\s*\]")
_ID = re.compile(r"[0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*")

#: (text, allowed ids): a model may put several ids in one bracket.
GROUP_CASES = [
    ("Tea [2615, 99999] is hot.", ["2615"]),                          # one allowed id, one not
    ("Mate [1F9C9 1F37A] or ice [1F9CA; 2615].", ["1F9CA", "2615", "1f9c9"]),   # spaces, semicolons
    ("Beer [1F37A, 99999] only, tea [2615].", ["2615"]),              # no id allowed: the bracket goes
    # hex-letter words in brackets are not ids (an id has a decimal digit), and a model may put spaces
    # inside a bracket; a bracket with a word in it is text, kept as written (as mm.rag.filter_output does)
    ("Sleep in a [bed], a [cafe] or [add] [-] tea [2615].", ["2615"]),
    ("Tea [ 99999 ] or [ 2615 ] hot.", ["2615"]),
    ("Tea [2615 cafe] or [bed 99999].", ["2615"]),
    # an id may start with a hex letter ([E002] is the worked example's, [BEEF1] a made-up one: both go);
    # a bracket with a letter outside a-f ([v2], [2nd], [step_1]) is text, not an id, and stays
    ("As in the example [E002], tea [2615] or [BEEF1]; see [v2], the [2nd] and [step_1].", ["2615"]),
    # a bracket with no id in it ([ ], [,]) is text and stays; the answer's line breaks stay too
    ("Tea [2615] or [,] or [ ], not [99999].", ["2615"]),
    ("Green tea [1F375].\n\nOr a cat [99999].", ["1F375"]),
    # an id has any number of hex digits: a short [23] and a long [1F9C9A0] that were not retrieved go too
    ("Ids [7], [23], [2615] or [1F9C9A0].", ["2615"]),
    # kept ids stay as written: a lower-case id, a group not in allowed_ids' order; and spaces elsewhere stay
    ("Ice [2615 1f9ca] or tea [1f375].", ["1F9CA", "2615", "1F375"]),
    ("Tea is  hot [99999], ice  cold.", ["2615"]),
    # an id repeated in one bracket stays repeated: kept as written, not de-duplicated
    ("Tea [2615 2615] or [2615, 99999, 2615].", ["2615"]),
]

_LENGTH_HINT = ("the rule sets no length for an id: [7], [23] and [1F9C9A0] are ids too; do not limit the number of "
                "hex digits (as {4,6} or {5} would).")


def prefix_hint(my_filter) -> str:
    """The hint when [1F37] survives: a substring match, or ids of limited length (probed on short and long ids)."""
    try:
        out = my_filter("See [23] or [1F9C9A0].", ["2615"])
    except Exception:   # other problems are named elsewhere
        out = ""
    if isinstance(out, str) and ("[23]" in out or "[1F9C9A0]" in out):
        return _LENGTH_HINT
    return ("compare whole ids: '1F37' is a prefix of '1F375' but not the same document; match the id between the "
            "brackets and look it up in a set.")


_WORDS = ("[bed]", "[cafe]", "[add]", "[-]")
_NOT_HEX = ("[v2]", "[2nd]", "[step_1]")
_NO_ID = ("[,]", "[ ]")


def _is_citation(group: str) -> bool:
    """A bracket is a citation when each of its ids has a decimal digit ([cafe], [bed] are words)."""
    return all(re.search(r"[0-9]", i) for i in _ID.findall(group))


def _ids(text: str) -> list[str]:
    return [i.upper() for group in _GROUP.findall(text) if _is_citation(group) for i in _ID.findall(group)]


def _drop_citations(text: str) -> str:
    return _GROUP.sub(lambda m: "" if _is_citation(m.group(1)) else m.group(0), text)


def group_problem(text: str, allowed: list[str], out: str) -> tuple[str, str] | None:
    """(problem, hint) when ``out`` mishandles a grouped citation of ``text``, else None."""
    ok = {a.upper() for a in allowed}
    found, given = Counter(_ids(out)), _ids(text)
    bad = sorted(i for i in found if i not in ok)
    if "[ 99999 ]" in text and "99999" in out:
        return (f"the citation [ 99999 ] survived the filter in {text!r}, though not retrieved: {out!r}.",
                "a model may put spaces inside the brackets ([ 99999 ]): allow them after [ and before ].")
    if "[2615 cafe]" in text and "[2615 cafe]" not in out:
        return (f"the bracket [2615 cafe] was changed in {text!r}: {out!r}.",
                "the digit rule holds for each item of a bracket, not for the bracket as a whole: a bracket "
                "with a word in it is not a citation and stays as written.")
    if any(not 4 <= len(part) <= 6 for i in bad for part in i.split("-")):   # [7], [23], [1F9C9A0]
        return (f"{bad} survived the filter in {text!r}, though not retrieved: {out!r}.", _LENGTH_HINT)
    if any(i[0].isalpha() for i in bad):
        return (f"{bad} survived the filter in {text!r}, though not retrieved: {out!r}.",
                "a hex id may start with a letter A-F ([E002], [BEEF1]): do not require a decimal digit first.")
    if bad:
        return (f"{bad} survived the filter in {text!r}, though not retrieved: {out!r}.",
                "a bracket can hold several ids ([2615, 99999]): check each id in it, not the bracket as a whole.")
    not_hex = [w for w in _NOT_HEX if w in text and w not in out]
    if not_hex:
        return (f"the brackets {not_hex} were removed from {text!r}: {out!r}.",
                "an id is made of hex digits (0-9, A-F) and hyphens only; a bracket with another letter or an "
                "underscore (\\w matches both) is text, not a citation, so it stays.")
    gone = [w for w in _WORDS if w in text and w not in out]
    if gone:
        return (f"the words {gone} were removed from {text!r}: {out!r}.",
                "an id has at least one decimal digit: a bracketed word made of the letters a-f (or a lone "
                "hyphen) is not a citation, so it stays.")
    lost = sorted(i for i, n in Counter(g for g in given if g in ok).items() if found[i] < n)
    if lost and any(len(ids) > len({i.upper() for i in ids}) for g in _GROUP.findall(text)
                    if _is_citation(g) and (ids := [i for i in _ID.findall(g) if i.upper() in ok])):
        return (f"a repeated allowed id was kept once in {text!r}: {out!r}.",
                "keep the allowed ids of a bracket as the model wrote them, a repeated one too ([2615 2615] "
                "stays): do not de-duplicate them (no set()).")
    if lost:
        spaced = any(" " in g.strip() and "," not in g and ";" not in g for g in _GROUP.findall(text))
        return (f"allowed citations {lost} were removed from {text!r}: {out!r}.",
                "keep the allowed ids of a bracket and drop only the others; ids in one bracket are separated "
                "by commas, semicolons" + (" or spaces ([1F9C9 1F37A])." if spaced else " or spaces."))
    written = [i for g in _GROUP.findall(text) if _is_citation(g) for i in _ID.findall(g) if i.upper() in ok]
    if [i for g in _GROUP.findall(out) if _is_citation(g) for i in _ID.findall(g)] != written:
        return (f"the citations you keep were rewritten: {out!r} (from {text!r}).",
                "keep the allowed ids exactly as the model wrote them: the same case, in the same order "
                "(not upper-cased, not sorted into allowed_ids' order).")
    spaces = [r for r in re.findall(r"\w {2,}\w", text) if r not in out]
    if spaces:
        return (f"the spacing {spaces} away from any citation changed: {out!r} (from {text!r}).",
                "leave the text around the citations exactly as written: only the space a removed bracket "
                "leaves may go; do not collapse every run of spaces.")
    no_id = [w for w in _NO_ID if w in text and w not in out]
    if no_id:
        return (f"the brackets {no_id} were removed from {text!r}: {out!r}.",
                "a bracket with no hex digit in it is not a citation: spaces, commas and semicolons separate "
                "ids but are not ids themselves, so require at least one id in the bracket.")
    if out.count("\n") != text.count("\n"):
        return (f"the line breaks of {text!r} changed: {out!r}.",
                "remove only the citations and leave the rest as the model wrote it: splitting on whitespace "
                "and joining with ' ' turns a multi-line answer into one line.")
    rest, want = tidy(_drop_citations(out)), tidy(_drop_citations(text))
    if rest != want:
        return (f"the words around the citations changed: {out!r} (from {text!r}).",
                "when no id of a bracket is allowed, remove the whole bracket: no empty [] or [, ] left behind.")
    return None


def tidy(text: str) -> str:
    """Text compared without its spacing: runs of whitespace as one space, none before punctuation (the library's
    filter closes the gap a removed citation leaves before "," or "."), no space or full stop at either end."""
    return re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s+", " ", text)).strip(" .")


def _copy(scores):
    return dict(scores) if isinstance(scores, dict) else scores


def rrf_state_problem(my_rrf, rankings: list[list[int]]) -> tuple[str, str] | None:
    """(problem, hint) when two calls of ``my_rrf`` with the same input give different scores."""
    try:
        first, second = (_copy(my_rrf([list(r) for r in rankings], 60)) for _ in range(2))
    except Exception:   # other problems are named by the main check
        return None
    if isinstance(first, dict) and first != second:
        return ("two calls with the same rankings and rrf_k = 60 gave different scores: your scores carry over "
                "from one call to the next.", "create the dict inside the function (not at module level, not as "
                "a default argument such as scores={}).")
    return None


def missing_hint(missing: list[int], keys=()) -> str:
    """The hint for ids missing from exercise 2's dict: string keys, and id 0 dropped by a truthiness test, named."""
    if any(isinstance(k, str) for k in keys):
        return ("your keys are strings (such as '3'), so the ids look missing: key the dict by the ids themselves "
                "(ints, as in the rankings), not str(id).")
    if missing == [0]:
        return ("0 is a document id like any other: a test such as `if not doc` or `if doc` drops it; skip only "
                "the padding, with `if doc < 0`.")
    return "loop over every ranking and every id in it."


def rrf_variant(rankings, c, *, start=1, combine="sum", constant=True, global_rank=False) -> dict[int, float]:
    """Exercise 2's typical slips: ranks from 0, max/mean/last instead of the sum, no constant, one running rank."""
    scores: dict[int, float] = {}
    offset = 0
    for r in rankings:
        for rank, i in enumerate(r, start=start):
            value = 1 / ((c if constant else 0) + rank + (offset if global_rank else 0))
            if combine == "last":  # scores[i] = ... instead of +=: the last ranking's contribution only
                scores[i] = value
            else:
                scores[i] = scores.get(i, 0.0) + value if combine in ("sum", "mean") else max(scores.get(i, 0.0), value)
        offset += len(r)
    if combine == "mean":
        scores = {i: v / len(rankings) for i, v in scores.items()}
    return scores


# --------------------------------------------------------------------------- exercise 3: slips that the
# five query sets alone cannot tell apart are told apart on more sets (one kind of query each, and all of them)
# and on two single views

_NDCG_ALL = ("you score more than the top 10 of each fused ranking (nDCG@20, or all of it); the exercise asks for "
             "nDCG at 10.", "cut each fused ranking at 10 (k=10).")
_SLIPS = {
    "ascending": ("your fusion's ranking is upside down: the documents with the lowest fused scores come first "
                  "(sorted without reverse=True).", "sort by fused score from high to low before cutting at 10."),
    "ndcg_mrr": ("you add MRR@10 to nDCG@10; the exercise asks for the mean nDCG@10 alone.",
                 "score each option by the mean nDCG@10 over the queries, nothing added."),
    "ndcg_all": _NDCG_ALL,
    "ndcg20": _NDCG_ALL,
    "view_top10": ("you cut each view's list to its top 10 before fusing; a document ranked 11th-20th by two "
                   "views can rise into the fused top 10.", "fuse the views' whole lists (20 each), then cut at 10."),
    "rank0": ("your fusion counts ranks from 0 (as with rrf_k - 1): RRF's ranks start at 1, 1 / (rrf_k + 1) "
              "for the top document.", "use each option's rrf_k as given, with ranks from 1."),
    "pad_after": ("your fusion scores the padding id -1 like a document and you remove it only after the cut at "
                  "10: it has already taken a slot, so a query whose views returned fewer than 20 ids keeps 9 "
                  "documents in its top 10.", "skip ids < 0 while you fuse, before cutting at 10."),
    "ndcg9": ("you score nDCG at 9, not at 10 (an off-by-one in k, e.g. K - 1 or range(9)).",
              "score the first 10 positions of each fused ranking (k=10)."),
}

# Two more query sets (rows of nb06._fusion_data's tie-free queries), chosen so that the right selection and a
# slip the five sets cannot tell apart pick different options (by more than 0.006 of mean nDCG@10): padding
# scored and removed after the cut ("pad_after"), and nDCG@9 ("ndcg9"). tests/test_checks_nb06.py asserts both.
EXTRA_SETS = {
    "pad_after": (12, 20, 30, 42, 60, 69, 73, 82, 91, 102, 112, 114, 130, 143, 150, 154, 158, 175, 177, 193, 200,
                  217, 220, 224, 282, 290, 295, 304, 310, 311, 317, 331, 341, 344, 350, 353, 373, 379, 382, 398),
    "ndcg9": (4, 11, 30, 37, 44, 66, 82, 85, 112, 113, 134, 143, 151, 155, 161, 166, 181, 194, 198, 235, 281, 290,
              300, 304, 306, 314, 321, 324, 326, 327, 334, 340, 341, 364, 366, 368, 373, 382, 386, 390),
}


def with_extra_sets(runs, relevant, subsets):
    """_fusion_data's output with the two sets above added to its five."""
    return runs, relevant, list(subsets) + [np.array(rows, np.int64) for rows in EXTRA_SETS.values()]


def problem_hint(problem: str) -> str:
    """The hint when the learner's selection raised ``problem``."""
    if "expected at least k=" in problem:
        return ("a fused ranking has fewer than 10 columns, so nDCG@10 cannot be computed: fuse with limit=10 "
                "(or more) and score with k=10.")
    return "the function gets (runs, relevant, options): loop over that options argument (not the notebook's " \
           "OPTIONS) and return one of them."


def _slip_choice(runs, relevant, options, how: str):
    from ..search import mrr_at_k, ndcg_at_k, reciprocal_rank_fusion
    from .nb06 import _rrf_counting_padding

    values = []
    for views, c in options:
        fused = reciprocal_rank_fusion([runs[v][:, :10] if how == "view_top10" else runs[v] for v in views],
                                       rrf_k=c - 1 if how == "rank0" else c, limit=20 if how == "ndcg20" else None).ids
        if how == "pad_after":
            fused = np.array([[d for d in row if d >= 0] + [-1] * int((row < 0).sum())
                              for row in _rrf_counting_padding([runs[v] for v in views], c)], np.int64)
        if how == "ascending":
            fused = np.array([[d for d in row if d >= 0][::-1] + [-1] * int((row < 0).sum()) for row in fused])
        fused = np.hstack([fused, np.full((fused.shape[0], max(0, 10 - fused.shape[1])), -1, np.int64)])
        value = ndcg_at_k(fused, relevant, fused.shape[1] if how in ("ndcg_all", "ndcg20") else 9 if how == "ndcg9" else 10)
        values.append(value + (mrr_at_k(fused, relevant, 10) if how == "ndcg_mrr" else 0.0))
    return options[int(np.argmax(values))]


def choose_slip(call, runs, relevant, kinds, free, parts, answers, options) -> tuple[str, str] | None:
    """(problem, hint) for a slip of exercise 3 whose choices match the learner's on every set tried.

    ``call(runs, relevant, options)`` runs the learner's function (None when it fails); ``parts`` are the
    check's five (runs, relevant) sets and ``answers`` the learner's choices on them."""
    sets = [np.flatnonzero(free & (kinds == k)) for k in range(4)] + [np.flatnonzero(free)]
    more = [({v: r[rows] for v, r in runs.items()}, [relevant[i] for i in rows]) for rows in sets]
    probes = [(r, rel, options) for r, rel in parts] + [(r, rel, options) for r, rel in more] + \
             [(more[0][0], more[0][1], [(("image",), 60), (("bm25",), 60)])]   # short keyword lists: a reversed
    # ranking still holds their hits, so an upside-down fusion is told from a fixed choice
    got = answers + [call(r, rel, o) for r, rel, o in probes[len(parts):]]
    for how, (problem, hint) in _SLIPS.items():
        if all(g is None or _slip_choice(r, rel, o, how) == g for (r, rel, o), g in zip(probes, got)):   # None:
            # the learner's function failed on that probe (nDCG@20 on a view of fewer than 20 ids)
            return problem, hint
    return None


# --------------------------------------------------------------------------- exercise 3: slips in the metric
# Two hand-made query sets, one ranking of 10 per view and query, scored with single-view options (so fusing changes
# no order and no tie can arise). Query q's relevant documents are 0 .. |R|-1, with |R| from 1 to 15 (the synthetic
# queries above all have 2-5). On "metric" the right choice differs from mean DCG@10, from an ideal DCG over all of
# R (no min(10, |R|) cap) and from dropping the one-answer queries (as on "one_answer", where mean DCG@10
# picks right); on "near_tie" the best two options are < 5e-4
# apart, so means rounded to 3 decimals tie and the earlier one is kept. tests/test_checks_nb06.py asserts this.
METRIC_SETS = {
    "metric": ((1, 8, 15, 1, 11, 1), {
        "text": [[23, 34, 19, 36, 26, 31, 22, 0, 18, 25], [0, 29, 6, 22, 23, 5, 33, 4, 38, 32], [10, 7, 13, 23, 9, 4, 39, 12, 6, 29], [26, 35, 31, 21, 25, 36, 23, 17, 34, 22], [23, 6, 10, 2, 34, 38, 33, 26, 29, 32], [35, 37, 39, 38, 30, 25, 29, 23, 15, 34]],
        "bm25": [[20, 0, 26, 24, 37, 28, 23, 19, 22, 36], [16, 21, 27, 4, 20, 19, 31, 1, 5, 6], [26, 29, 39, 36, 33, 3, 1, 6, 14, 7], [31, 28, 25, 21, 39, 18, 35, 20, 22, 16], [25, 3, 1, 26, 30, 7, 37, 21, 17, 5], [30, 28, 17, 32, 0, 35, 19, 26, 39, 23]],
        "image": [[39, 34, 31, 30, 27, 37, 28, 33, 22, 17], [29, 37, 24, 3, 22, 6, 27, 16, 0, 28], [10, 4, 8, 0, 11, 5, 30, 1, 38, 7], [38, 32, 31, 24, 19, 30, 35, 0, 21, 17], [35, 1, 9, 34, 20, 26, 5, 6, 29, 32], [23, 34, 27, 32, 29, 0, 30, 38, 26, 35]],
    }),
    "near_tie": ((13, 15, 5, 15, 11, 1), {
        "text": [[33, 1, 9, 27, 5, 17, 6, 7, 34, 24], [9, 8, 11, 27, 20, 1, 7, 5, 2, 10], [30, 28, 17, 32, 4, 31, 26, 19, 24, 23], [3, 20, 8, 38, 23, 10, 33, 14, 2, 0], [22, 9, 35, 19, 15, 26, 32, 31, 23, 10], [33, 36, 23, 29, 15, 16, 22, 25, 19, 39]],
        "bm25": [[36, 33, 7, 29, 5, 21, 4, 10, 15, 34], [22, 10, 37, 12, 13, 1, 24, 0, 27, 14], [39, 4, 30, 1, 28, 23, 20, 0, 36, 16], [13, 39, 12, 19, 8, 10, 0, 23, 20, 9], [30, 17, 1, 36, 8, 32, 9, 2, 0, 15], [0, 29, 22, 24, 18, 23, 37, 38, 34, 21]],
        "image": [[5, 33, 3, 0, 7, 17, 12, 6, 2, 9], [0, 8, 10, 9, 2, 26, 7, 4, 30, 35], [27, 35, 4, 2, 33, 24, 1, 38, 23, 31], [21, 1, 3, 28, 6, 11, 12, 26, 9, 0], [6, 25, 37, 38, 30, 3, 0, 23, 8, 33], [20, 35, 25, 21, 38, 29, 36, 0, 39, 19]],
    }),
    "one_answer": ((1, 15, 13, 3, 2, 1), {
        "text": [[33, 32, 25, 15, 17, 29, 31, 21, 35, 27], [8, 21, 15, 34, 9, 14, 39, 11, 25, 17], [11, 6, 5, 31, 37, 23, 8, 38, 22, 3], [26, 28, 21, 30, 22, 36, 16, 18, 2, 38], [37, 29, 0, 39, 35, 33, 28, 15, 21, 17], [18, 19, 38, 34, 20, 33, 30, 26, 35, 21]],
        "bm25": [[19, 18, 39, 22, 25, 21, 15, 28, 26, 0], [39, 14, 16, 31, 26, 38, 8, 7, 5, 10], [39, 9, 23, 6, 35, 8, 11, 10, 36, 38], [34, 22, 36, 26, 32, 1, 31, 37, 29, 0], [21, 34, 24, 0, 31, 25, 18, 1, 16, 35], [35, 22, 34, 26, 20, 25, 31, 24, 36, 39]],
        "image": [[26, 0, 38, 29, 20, 37, 18, 32, 35, 16], [1, 18, 8, 14, 2, 27, 11, 28, 5, 33], [30, 11, 32, 20, 10, 5, 18, 25, 37, 2], [25, 37, 30, 19, 28, 1, 33, 35, 31, 36], [22, 26, 38, 15, 29, 18, 33, 34, 28, 37], [30, 16, 0, 26, 27, 36, 37, 31, 38, 20]],
    }),
}
METRIC_OPTIONS = [(("text",), 60), (("bm25",), 60), (("image",), 60)]
_METRIC_SLIPS = {
    "dcg": ("you compare mean DCG@10, not normalised: a query with many relevant documents then outweighs one with "
            "a single answer.", "divide each query's DCG@10 by its ideal DCG@10, then average (nDCG@10)."),
    "uncapped": ("your ideal DCG counts every relevant document, also beyond the 10th: a query with more than 10 "
                 "answers can then never reach nDCG 1.", "the ideal ranking has min(10, |R|) hits: cap it at k."),
    "min2": ("you leave out some queries (those with a single relevant document?); the mean runs over every query "
             "given.", "average nDCG@10 over all the queries passed in."),
    "round3": ("you round the means before comparing them: two options less than 0.0005 apart then tie, and the earlier one "
               "wins although the later is better.", "compare the unrounded means; round only what you print."),
}


def metric_set(name: str) -> tuple[dict[str, np.ndarray], list[set[int]]]:
    """(runs, relevant) of one of the sets above."""
    sizes, rankings = METRIC_SETS[name]
    return {v: np.array(r, np.int64) for v, r in rankings.items()}, [set(range(n)) for n in sizes]


def metric_choice(runs, relevant, how: str = ""):
    """The option a slip (or, with how="", the right selection) picks on a metric set."""
    def ideal(n):
        return sum(1 / np.log2(i + 2) for i in range(n if how == "uncapped" else min(10, n)))
    values = []
    for (view,), _ in METRIC_OPTIONS:
        per = [sum(1 / np.log2(i + 2) for i, d in enumerate(row[:10].tolist()) if d in rel) / (1 if how == "dcg"
               else ideal(len(rel))) for row, rel in zip(runs[view], relevant) if how != "min2" or len(rel) >= 2]
        values.append(round(float(np.mean(per)), 3) if how == "round3" else float(np.mean(per)))
    return METRIC_OPTIONS[max(range(len(values)), key=lambda i: (values[i], -i))]


def metric_slip(call) -> tuple[str, str] | None:
    """(problem, hint) when the learner's selection ``call(runs, relevant, options)`` errs on a metric set."""
    got = {name: call(*metric_set(name), list(METRIC_OPTIONS)) for name in METRIC_SETS}
    if all(got[n] == metric_choice(*metric_set(n)) for n in got):
        return None
    for how, slip in _METRIC_SLIPS.items():
        if all(got[n] == metric_choice(*metric_set(n), how) for n in got):
            return slip
    return ("on a query set with 1 to 15 relevant documents per query your choice is not the best option.",
            "score each query by DCG@10 over its ideal DCG@10 (min(10, |R|) hits), average over all queries, and "
            "compare the unrounded means.")
