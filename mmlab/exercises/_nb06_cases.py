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


def missing_hint(missing: list[int]) -> str:
    """The hint for ids missing from exercise 2's dict: id 0 dropped by a truthiness test is named."""
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
