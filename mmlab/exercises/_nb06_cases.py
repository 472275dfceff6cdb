"""Check cases of notebook 06 (apart from nb06.py, which is at the size limit): the citation filter, RRF, the fusion
choice (keep or adopt: _nb06_adopt.py)."""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

# --------------------------------------------------------------------------- exercise 4: the citation filter

#: The notebook's citation pattern, given to the learner above the stub (the two must stay equal; a test
#: compares them): square brackets holding one or more ids separated by commas, semicolons or spaces. An id
#: is 4 to 6 hex digits with at least one decimal digit, or such codes joined by hyphens: the id shape
#: mm.rag.filter_output reads.
ID = r"(?=[0-9A-Fa-f-]*[0-9])[0-9A-Fa-f]{4,6}(?:-[0-9A-Fa-f]{4,6})*"
CITATION = re.compile(rf"\[\s*({ID}(?:[\s,;]+{ID})*)[\s,;]*\]")

#: (text, allowed ids), each built so that one slip shows; the first comes first so that str.replace is named.
FILTER_CASES = [
    ("Room 99999 has tea [99999] and [2615]; dial 2615.", ["2615"]),          # ids in the prose too
    ("Tea [2615] or beer [1F37A].", ["2615"]),
    ("A teacup [1f375] or mate [1F9C9].", ["1F375", "1f9c9"]),                 # case, on both sides
    # one allowed id and one not; none allowed; all allowed (spaces between them)
    ("Tea [99999, 2615], beer [1F37A; 99999] or ice [2615 1f9ca].", ["2615", "1F9CA"]),
    ("Tea [1F375] or [1F37]; [2615] [2615], [2615, 2615] or [99999].", ["1F375", "2615"]),  # a prefix; repeats
    ("Tea (1F37A), a [cafe], [23] or [1F9C9A0] stay; [E002] goes.", ["2615"]),   # not citations, one that is
    ("Tea [99999].\n\nOr mate [2615].", ["2615"]),                               # line breaks stay
    # hyphen-joined ids (121 of the 849): one allowed whole; one whose first part only is allowed (it goes)
    ("A service dog [1F415-200D-1F9BA] is a dog [1F415].", ["1F415", "1F415-200D-1F9BA"]),
    ("A black cat [1F408-200D-2B1B] is a cat [1F408].", ["1F408"]),
    ("Tea [2615; 1F9CA] or beer [1F37A].", ["2615", "1F9CA"]),                  # an allowed id before ";"
    # separators with no space after them (a split at spaces only keeps "2615,1F9CA" as one token): both
    # allowed; one allowed and one not, either side of ";" or ","
    ("Tea [2615,1F9CA].", ["2615", "1F9CA"]),
    ("Beer [1F37A;2615] or ice [2615,1F37A].", ["2615", "1F9CA"]),
    # review 32: a dropped id inside a kept one of the same citation, a prefix and a hyphen-joined id's first part
    # (inner.replace(dropped, "") leaves [5] and [-200D-1F9BA])
    ("Tea [1F375, 1F37] or a dog [1F415-200D-1F9BA; 1F415].", ["1F375", "1F415-200D-1F9BA"]),
    ("Tea is hot.\n[99999] Coffee is too [2615].", ["2615"]),   # review 43: a removed citation starts a line
]
_NOT_CITATIONS = ("(1F37A)", "[cafe]", "[23]", "[1F9C9A0]")


def _brackets(text: str) -> list[tuple[str, list[str]]]:
    """Each citation of ``text``: (as written, its ids as written)."""
    return [(m.group(0), re.findall(ID, m.group(1))) for m in CITATION.finditer(text)]


def _outside(text: str) -> str:
    """The text with its citations removed, compared without spacing: runs of spaces as one, none before
    punctuation or around a line break (the library closes the gap a removed citation leaves); line breaks stay."""
    out = re.sub(r"[ \t]+", " ", CITATION.sub("", text))
    return re.sub(r" ?\n ?", "\n", re.sub(r" ([.,;:!?])", r"\1", out)).strip(" ")


def _kept_ids(text: str, ok: set[str], count: int = 0) -> list[str]:
    """The ids (upper case) a right filter keeps when it decides only the first ``count`` citations (0: all)."""
    return [i.upper() for n, (_, ids) in enumerate(_brackets(text)) for i in ids
            if i.upper() in ok or (count and n >= count)]


def _free_ids(text: str) -> list[str]:
    """Ids written in the prose, outside any bracket (a str.replace of an id hits them too)."""
    return re.findall(r"\b(?=[0-9A-Fa-f]*[0-9])[0-9A-Fa-f]{4,6}\b", re.sub(r"[\[(][^\])]*[\])]", " ", text))


def _canon(text: str) -> str:
    """``text`` with each citation written [ID,ID] (upper case), adjacent ones joined, spacing as in _outside."""
    out = CITATION.sub(lambda m: "[" + ",".join(i.upper() for i in re.findall(ID, m.group(1))) + "]", text)
    out = re.sub(r"[ \t]+", " ", re.sub(r"\]\s*\[", ",", out))
    return re.sub(r" ?\n ?", "\n", re.sub(r" ([.,;:!?])", r"\1", out)).strip(" ")


def _deduplicated(text: str, ok: set[str], within: bool) -> str:
    """``text`` filtered with every allowed id kept once only: where first cited (``within``: also within a citation),
    or in the first citation that cites it (repeats inside one citation kept)."""
    seen: set[str] = set()

    def keep(m):
        kept = []
        for i in re.findall(ID, m.group(1)):
            if i.upper() in ok and i.upper() not in seen:
                kept.append(i)
                seen.update([i.upper()] if within else [])
        seen.update(i.upper() for i in kept)
        return "[" + ", ".join(kept) + "]" if kept else ""
    return CITATION.sub(keep, text)


_DEDUP_HINT = "keep every allowed id as often as the model wrote it: do not de-duplicate (no set())."


def _cut_inside(given, lost: list[str], ok: set[str], out: str) -> tuple[str, str] | None:
    """(the kept id, the dropped id) when ``out`` holds what str.replace of the dropped id left of the kept one."""
    left = {t.upper() for inner in re.findall(r"\[([^\]]*)\]", out) for t in re.split(r"[\s,;]+", inner) if t}
    for _, ids in given:
        for k in (i.upper() for i in ids if i.upper() in lost):
            for b in (i.upper() for i in ids if i.upper() not in ok and i.upper() in k.upper()):
                rest = k.replace(b, "")
                if rest in left or rest.strip("-") in left:
                    return k, b
    return None


def citation_problem(text: str, allowed: list[str], out: str) -> tuple[str, str] | None:
    """(problem, hint) when ``out`` is not ``text`` filtered by the allow-list rule, else None.

    The rule: in each citation keep the ids that are in ``allowed`` (case-insensitive), drop a citation with
    none left, leave the rest of the text as written. How a kept citation is written is free ([2615, 1F9CA],
    [2615 1f9ca] or [2615][1F9CA]), and so is the spacing a removed one leaves.
    """
    ok = {a.upper() for a in allowed}
    given = _brackets(text)
    want = [i.upper() for _, ids in given for i in ids if i.upper() in ok]
    got = [i.upper() for _, ids in _brackets(out) for i in ids]
    prose = Counter(_free_ids(text))
    hit = sorted(w for w, n in prose.items() if Counter(_free_ids(out))[w] < n)
    if hit:
        return (f"{hit[0]}, written outside any citation, was removed from {text!r}: {out!r}.",
                "str.replace(id, '') removes the id everywhere in the text, not only in the citation: decide "
                "inside each citation (CITATION.sub(function, text) replaces each match by what the function "
                "returns).")
    parts = {p for _, ids in given for i in ids if "-" in i for p in i.upper().split("-")}
    lost = sorted((Counter(want) - Counter(got)).elements())
    if cut := _cut_inside(given, lost, ok, out):
        return (f"removing {cut[1]} also cut the allowed id {cut[0]} in {text!r}: {out!r}.",
                "str.replace inside the citation also cuts the allowed id that contains the dropped one ([1F375, "
                "1F37] becomes [5]): rebuild the citation from its kept ids, '[' + ', '.join(kept) + ']'.")
    if parts and (any(i in parts for i in Counter(got) - Counter(want)) or any("-" in i for i in lost)):
        return (f"a hyphen-joined id was taken apart in {text!r}: {out!r}.",
                "1F415-200D-1F9BA (service dog) is one id, another document than 1F415 (dog): keeping its part "
                "[1F415] makes up a citation. Take group(1) apart at commas, semicolons and spaces only (or find "
                "its ids with the ID pattern above), not at hyphens.")
    bad = [i for i in got if i not in ok]
    groups = [(written, ids) for written, ids in given if len(ids) > 1]
    if bad and any(got == _kept_ids(text, ok, count=n) for n in range(1, len(given))):
        return (f"only the first citations of {text!r} were decided: {out!r}.",
                "the third argument of sub is count, the most replacements to make: CITATION.sub(function, "
                "text, re.I) passes re.I (= 2) as count. CITATION is compiled already: CITATION.sub(function, text).")
    if bad:
        if any(written in out and not any(i.upper() in ok for i in ids) for written, ids in groups):
            return (f"{bad} survived the filter in {text!r}: {out!r}.",
                    "a citation can hold several ids ([1F37A; 99999]): take match.group(1) apart into its ids (they "
                    "are separated by commas, semicolons or spaces) and decide for each.")
        if any(written in out and not all(i.upper() in ok for i in ids) for written, ids in groups):
            return (f"{bad} survived the filter in {text!r}: {out!r}.",
                    "you keep the whole citation when one of its ids is allowed: keep only its allowed ids "
                    "([99999, 2615] becomes [2615]).")
        if any(b in a and b != a for b in bad for a in ok):
            return (f"{bad} survived the filter in {text!r}: {out!r}.",
                    "compare whole ids: 1F37 is part of 1F375 but another document; look each id up in a set.")
        return (f"{bad} survived the filter in {text!r}, though not retrieved: {out!r}.",
                "drop every id of a citation that is not in allowed_ids.")
    if lost:
        exact = {i for _, ids in given for i in ids} & set(allowed)   # written exactly as allowed_ids has it
        if any(_canon(out) == _canon(_deduplicated(text, ok, w)) for w in (True, False)):   # across citations too
            hint = _DEDUP_HINT
        elif any(len({i.upper() for i in ids} & ok) > 1 for _, ids in given) and got == [
                next(i.upper() for i in ids if i.upper() in ok) for _, ids in given
                if any(i.upper() in ok for i in ids)]:   # review 42: [:1] of the kept ids
            hint = ("you keep only the first allowed id of each citation: keep every one of them ([2615, 1F9CA] with "
                    "both allowed stays [2615, 1F9CA]).")
        elif all(i not in {e.upper() for e in exact} for i in lost):
            hint = ("compare ids case-insensitively, on both sides: the model may write [1f375] for 1F375, and "
                    "allowed_ids may hold 1f9c9 for [1F9C9] (upper-case both).")
        elif Counter(_free_ids(out)) - Counter(_free_ids(text)):
            hint = "write the kept ids back inside square brackets: without them they are no citation."
        elif re.search(r"\[\s*[,;]", out):
            hint = ("build the kept citation again from its kept ids: deleting an id inside the brackets leaves its "
                    "comma behind, and [, 2615] is no citation.")
        elif any(re.search(rf"(?i)(\b{re.escape(i)}[,;](?=[0-9A-Fa-f])|[,;]{re.escape(i)}\b)", written)
                 for written, _ in groups for i in lost):
            hint = ("a comma or semicolon may separate ids with no space after it: [2615,1F9CA] holds 2615 and "
                    "1F9CA, but a split at spaces only (str.split()) keeps '2615,1F9CA' as one token, no id. Take "
                    "group(1) apart at commas, semicolons and spaces alike: re.split(r'[\\s,;]+', ...).")
        elif any(re.search(rf"(?i)\b{re.escape(i)}\s*;", written) for written, _ in groups for i in lost):
            hint = ("a semicolon separates ids too: [2615; 1F9CA] holds 2615 and 1F9CA, and '2615;' is no id. "
                    "Take group(1) apart at commas, semicolons and spaces.")
        elif any(len(set(ids)) > 1 and all(i.upper() in ok and i.upper() in lost for i in ids) for _, ids in groups):
            hint = ("a citation can hold several ids ([2615 1f9ca]): match.group(1) is not one id; take it apart "
                    "into its ids and decide for each.")
        elif any(all(i.upper() in lost for i in ids if i.upper() in ok) for _, ids in groups
                 if any(i.upper() in ok for i in ids) and not all(i.upper() in ok for i in ids)):
            hint = ("you drop the whole citation when one of its ids is not allowed: keep its allowed ids and drop "
                    "only the others ([99999, 2615] becomes [2615]).")
        elif any(want.count(i) > 1 and i in got for i in lost):
            hint = _DEDUP_HINT
        else:
            hint = "keep every id that is in allowed_ids, in every citation."
        return f"allowed ids {lost} were removed from {text!r}: {out!r}.", hint
    if got != want:
        return (f"the kept ids are in another order: {out!r} (from {text!r}).",
                "keep the ids in the order the model wrote them.")
    if _outside(out) == _outside(text):
        return None
    if "[]" in out and "[]" not in text:
        return (f"an empty [] was left in {out!r} (from {text!r}).",
                "when no id of a citation is allowed, remove the whole citation, brackets too.")
    if out.count("\n") != text.count("\n"):
        return (f"the line breaks of {text!r} changed: {out!r}.",
                "leave the text around the citations as written: joining the words with ' ', or removing the "
                "whitespace before a citation (r'\\s*' + CITATION.pattern), turns a multi-line answer into one line.")
    gone = [w for w in _NOT_CITATIONS if w in text and w not in out]
    if gone:
        return (f"{gone} were removed from {text!r}: {out!r}.",
                "these are not citations: use the CITATION pattern above (square brackets; an id has 4 to 6 hex "
                "digits, one of them a decimal digit); round brackets and words stay.")
    return (f"the words around the citations changed: {out!r} (from {text!r}).",
            "only the citations are decided; every other character of the text stays as written.")


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
    "rank2": ("your fusion counts ranks from 2 (1 / (rrf_k + rank + 1) with ranks from 1, as with rrf_k + 1): RRF "
              "gives the top document 1 / (rrf_k + 1).", "use each option's rrf_k as given, with ranks from 1: "
              "enumerate(ranking, start=1) and 1 / (rrf_k + rank), or start=0 and 1 / (rrf_k + rank + 1)."),
    "pad_after": ("your fusion scores the padding id -1 like a document and you remove it only after the cut at "
                  "10: it has already taken a slot, so a query whose views returned fewer than 20 ids keeps 9 "
                  "documents in its top 10.", "skip ids < 0 while you fuse, before cutting at 10."),
    "ndcg9": ("you score nDCG at 9, not at 10 (an off-by-one in k, e.g. K - 1 or range(9)).",
              "score the first 10 positions of each fused ranking (k=10)."),
}

# Three more query sets (rows of nb06._fusion_data's tie-free queries), chosen so that the right selection and a
# slip the five sets cannot tell apart pick different options (by more than 0.006 of mean nDCG@10): padding
# scored and removed after the cut ("pad_after"), nDCG@9 ("ndcg9"), and ranks from 2, i.e. rrf_k + 1 ("rank2",
# review 38; its rows are tie-free at rrf_k + 1 too). tests/test_checks_nb06.py asserts all three.
EXTRA_SETS = {
    "pad_after": (12, 20, 30, 42, 60, 69, 73, 82, 91, 102, 112, 114, 130, 143, 150, 154, 158, 175, 177, 193, 200,
                  217, 220, 224, 282, 290, 295, 304, 310, 311, 317, 331, 341, 344, 350, 353, 373, 379, 382, 398),
    "ndcg9": (4, 11, 30, 37, 44, 66, 82, 85, 112, 113, 134, 143, 151, 155, 161, 166, 181, 194, 198, 235, 281, 290,
              300, 304, 306, 314, 321, 324, 326, 327, 334, 340, 341, 364, 366, 368, 373, 382, 386, 390),
    "rank2": (14, 15, 30, 37, 42, 50, 52, 65, 66, 69, 73, 82, 87, 131, 151, 155, 161, 189, 190, 193, 199, 200, 206,
              223, 224, 235, 244, 271, 273, 284, 295, 298, 302, 315, 323, 334, 347, 366, 373, 381),
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
                                       rrf_k=c - 1 if how == "rank0" else c + 1 if how == "rank2" else c,
                                       limit=20 if how == "ndcg20" else None).ids
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
# R (no min(10, |R|) cap) and from dropping the one-answer queries (as on "one_answer", where mean DCG@10 picks
# right); on "near_tie" the best two options are < 5e-4 apart, so means rounded to 3 decimals tie and the earlier one
# is kept; on "near_tie4" they are 3.1e-5 apart (text 0.280910, image 0.280941), so means rounded to 4 decimals tie
# too. tests/test_checks_nb06.py asserts this.
METRIC_SETS = {
    "metric": ((1, 8, 15, 1, 11, 1), {"text": [[23, 34, 19, 36, 26, 31, 22, 0, 18, 25], [0, 29, 6, 22, 23, 5, 33, 4, 38, 32], [10, 7, 13, 23, 9, 4, 39, 12, 6, 29], [26, 35, 31, 21, 25, 36, 23, 17, 34, 22], [23, 6, 10, 2, 34, 38, 33, 26, 29, 32], [35, 37, 39, 38, 30, 25, 29, 23, 15, 34]],
        "bm25": [[20, 0, 26, 24, 37, 28, 23, 19, 22, 36], [16, 21, 27, 4, 20, 19, 31, 1, 5, 6], [26, 29, 39, 36, 33, 3, 1, 6, 14, 7], [31, 28, 25, 21, 39, 18, 35, 20, 22, 16], [25, 3, 1, 26, 30, 7, 37, 21, 17, 5], [30, 28, 17, 32, 0, 35, 19, 26, 39, 23]],
        "image": [[39, 34, 31, 30, 27, 37, 28, 33, 22, 17], [29, 37, 24, 3, 22, 6, 27, 16, 0, 28], [10, 4, 8, 0, 11, 5, 30, 1, 38, 7], [38, 32, 31, 24, 19, 30, 35, 0, 21, 17], [35, 1, 9, 34, 20, 26, 5, 6, 29, 32], [23, 34, 27, 32, 29, 0, 30, 38, 26, 35]]}),
    "near_tie": ((13, 15, 5, 15, 11, 1), {"text": [[33, 1, 9, 27, 5, 17, 6, 7, 34, 24], [9, 8, 11, 27, 20, 1, 7, 5, 2, 10], [30, 28, 17, 32, 4, 31, 26, 19, 24, 23], [3, 20, 8, 38, 23, 10, 33, 14, 2, 0], [22, 9, 35, 19, 15, 26, 32, 31, 23, 10], [33, 36, 23, 29, 15, 16, 22, 25, 19, 39]],
        "bm25": [[36, 33, 7, 29, 5, 21, 4, 10, 15, 34], [22, 10, 37, 12, 13, 1, 24, 0, 27, 14], [39, 4, 30, 1, 28, 23, 20, 0, 36, 16], [13, 39, 12, 19, 8, 10, 0, 23, 20, 9], [30, 17, 1, 36, 8, 32, 9, 2, 0, 15], [0, 29, 22, 24, 18, 23, 37, 38, 34, 21]],
        "image": [[5, 33, 3, 0, 7, 17, 12, 6, 2, 9], [0, 8, 10, 9, 2, 26, 7, 4, 30, 35], [27, 35, 4, 2, 33, 24, 1, 38, 23, 31], [21, 1, 3, 28, 6, 11, 12, 26, 9, 0], [6, 25, 37, 38, 30, 3, 0, 23, 8, 33], [20, 35, 25, 21, 38, 29, 36, 0, 39, 19]]}),
    "one_answer": ((1, 15, 13, 3, 2, 1), {"text": [[33, 32, 25, 15, 17, 29, 31, 21, 35, 27], [8, 21, 15, 34, 9, 14, 39, 11, 25, 17], [11, 6, 5, 31, 37, 23, 8, 38, 22, 3], [26, 28, 21, 30, 22, 36, 16, 18, 2, 38], [37, 29, 0, 39, 35, 33, 28, 15, 21, 17], [18, 19, 38, 34, 20, 33, 30, 26, 35, 21]],
        "bm25": [[19, 18, 39, 22, 25, 21, 15, 28, 26, 0], [39, 14, 16, 31, 26, 38, 8, 7, 5, 10], [39, 9, 23, 6, 35, 8, 11, 10, 36, 38], [34, 22, 36, 26, 32, 1, 31, 37, 29, 0], [21, 34, 24, 0, 31, 25, 18, 1, 16, 35], [35, 22, 34, 26, 20, 25, 31, 24, 36, 39]],
        "image": [[26, 0, 38, 29, 20, 37, 18, 32, 35, 16], [1, 18, 8, 14, 2, 27, 11, 28, 5, 33], [30, 11, 32, 20, 10, 5, 18, 25, 37, 2], [25, 37, 30, 19, 28, 1, 33, 35, 31, 36], [22, 26, 38, 15, 29, 18, 33, 34, 28, 37], [30, 16, 0, 26, 27, 36, 37, 31, 38, 20]]}),
    "near_tie4": ((14, 1, 8, 10, 13, 4), {"text": [[2, 38, 33, 4, 32, 3, 13, 11, 10, 6], [21, 1, 25, 11, 36, 35, 14, 12, 30, 16], [24, 34, 9, 29, 5, 4, 2, 37, 23, 39], [37, 3, 17, 14, 8, 34, 13, 29, 26, 9], [31, 5, 27, 15, 25, 19, 8, 26, 7, 10], [23, 35, 37, 19, 12, 21, 5, 10, 2, 30]],
        "bm25": [[9, 12, 13, 25, 14, 27, 26, 0, 36, 30], [26, 2, 35, 36, 18, 20, 11, 30, 15, 1], [24, 16, 2, 29, 8, 1, 5, 19, 38, 32], [18, 28, 0, 4, 31, 16, 10, 39, 22, 20], [15, 38, 13, 26, 22, 7, 17, 16, 18, 19], [13, 12, 33, 9, 34, 38, 2, 8, 18, 27]],
        "image": [[7, 6, 38, 5, 11, 31, 35, 3, 22, 36], [3, 38, 0, 21, 28, 27, 25, 2, 15, 7], [24, 18, 22, 39, 27, 13, 15, 14, 30, 36], [13, 37, 0, 34, 11, 3, 7, 28, 22, 6], [33, 19, 34, 24, 28, 39, 22, 15, 35, 32], [26, 24, 25, 29, 7, 1, 31, 38, 39, 0]]}),
}
METRIC_OPTIONS = [(("text",), 60), (("bm25",), 60), (("image",), 60)]
_METRIC_SLIPS = {
    "dcg": ("you compare mean DCG@10, not normalised per query (or pooled: the sum of DCGs over the sum of ideal DCGs): "
            "a query with many relevant documents then outweighs one with a single answer.",
            "divide each query's DCG@10 by its own ideal DCG@10, then average (nDCG@10)."),
    "uncapped": ("your ideal DCG counts every relevant document, also beyond the 10th: a query with more than 10 "
                 "answers can then never reach nDCG 1.", "the ideal ranking has min(10, |R|) hits: cap it at k."),
    "min2": ("you leave out some queries (those with a single relevant document?); the mean runs over every query "
             "given.", "average nDCG@10 over all the queries passed in."),
    "round3": ("you round the means before comparing them, to 3 decimals: two options less than 0.0005 apart then "
               "tie, and the earlier one wins although the later is better.",
               "compare the unrounded means; round only what you print."),
    "round4": ("you round the means before comparing them, to 4 decimals: two options less than 0.00005 apart then "
               "tie, and the earlier one wins although the later is better.",
               "compare the unrounded means; round only what you print."),
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
        values.append(round(float(np.mean(per)), int(how[5:])) if how.startswith("round") else float(np.mean(per)))
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
