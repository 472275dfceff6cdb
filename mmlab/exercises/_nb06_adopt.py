"""Exercise 3b of notebook 06 (keep the default or adopt the choice): the check's synthetic held-out probes, the rule
and its typical slips, each with its hint (moved out of _nb06_cases.py, which is at the size limit)."""
from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- exercise 3b: keep or adopt
# Synthetic held-out sets built from query patterns whose per-query outcome is fixed by construction. A pattern:
# (number relevant, {view: its top 20}) written as tokens: rN the N-th relevant document, nN a non-relevant
# document shared between views, "9f" nine fresh non-relevant ones, "-" padding from there on, "=text" the text
# list again; a list is filled up to 20 with fresh non-relevant documents. Against text alone, the fusion
# bm25+text (rrf_k 5) gains +0.82 nDCG@10 on "up", loses 0.60 on "down", is equal on "same1" (both 1) and
# "same0" (both 0); bm25 alone gains +0.25 on "w" (same first hit, same recall@10), +0.11 on "k" (but loses at
# nDCG@20, and is equal at nDCG@9), loses on "v" (though its first hit comes earlier) and on "rc" (though it
# finds more in its top 10), and is equal at nDCG@10 on "e20" (it finds more at ranks 11-20). bm25+text scores on
# "k5" 0.33 at rrf_k 5 and 0 at 60 (bm25 alone 1), on "k60" 1 at rrf_k 60 and 0.33 at 5; on "pad" (no keyword list)
# it is text alone, but an RRF that scores -1 puts it first and the hit at rank 10 drops out. "down20": unpadded.
ADOPT_PATTERNS = {
    "up": (2, {"text": "9f r0 4f r1", "bm25": "r0 r1"}),
    "down": (2, {"text": "r0 r1 n0 n1 n2 n3 n4 n5", "bm25": "n0 n1 n2 n3 n4 n5 -"}),
    "same1": (2, {"text": "r0 r1", "bm25": "=text"}),
    "same0": (2, {"text": "", "bm25": "=text"}),
    "w": (3, {"text": "r0 7f r1 r2", "bm25": "r0 r1 r2"}),
    "k": (4, {"text": "10f r0 r1 r2 r3", "bm25": "9f r0"}),
    "v": (2, {"text": "f r0 r1", "bm25": "r0"}),
    "rc": (2, {"text": "r0", "bm25": "8f r0 r1"}),
    "e20": (2, {"text": "r0", "bm25": "r0 10f r1"}),
    "k5": (1, {"text": "n0 n1 n2 n3 n4 n5 n6 n7 n8 n9", "bm25": "r0 n0 n1 n2 n3 n4 n5 n6 n7 n8 n9"}),
    "k60": (1, {"text": "11f r0", "bm25": "11f r0"}),
    "pad": (1, {"text": "9f r0", "bm25": "-"}),
    "down20": (2, {"text": "r0 r1 n0 n1 n2 n3 n4 n5", "bm25": "n0 n1 n2 n3 n4 n5"}),
}
_FUSED, _TEXT, _BM25 = (("bm25", "text"), 5), (("text",), 60), (("bm25",), 20)
#: (name, chosen, default, held-out sets as (pattern, count) lists, what the probe is like, for messages).
ADOPT_PROBES = [
    ("win", _FUSED, _TEXT, [[("up", 20), ("same0", 10), ("same1", 10)], [("up", 15), ("same1", 10)]],
     "the chosen fusion is clearly better on both held-out sets"),
    ("loss", _FUSED, _TEXT, [[("down", 20), ("same1", 10)], [("down", 15), ("same0", 10)]],
     "the chosen fusion is clearly worse on both held-out sets"),
    ("one_each", _FUSED, _TEXT, [[("up", 12), ("same1", 13)], [("down", 40), ("same0", 3)]],
     "the chosen fusion is clearly better on the first held-out set and clearly worse on the second"),
    ("pool", _FUSED, _TEXT, [[("up", 60), ("same1", 20)], [("down", 8), ("same1", 4)]],
     "the chosen fusion is clearly better on a large first set (80 queries), clearly worse on a small second (12)"),
    ("noisy_up", _FUSED, _TEXT, [[("up", 6), ("down", 6), ("same0", 2)], [("up", 20), ("same1", 10)]],
     "on the first held-out set the mean difference is above 0 but its interval reaches below 0"),
    ("noisy_down", _FUSED, _TEXT, [[("up", 5), ("down", 11)], [("up", 20), ("same1", 10)]],
     "on the first held-out set the mean difference is below 0 and its interval reaches above 0"),
    ("noisy_both", _FUSED, _TEXT, [[("up", 6), ("down", 6), ("same0", 2)], [("up", 7), ("down", 6), ("same0", 2)]],
     "on both held-out sets the mean difference is above 0 but its interval reaches below 0 (also pooled)"),
    ("zero", _FUSED, _TEXT, [[("same1", 15), ("same0", 15)], [("up", 20), ("same1", 10)]],
     "on the first held-out set the chosen fusion has the default's nDCG@10 on every query (interval [0, 0])"),
    ("small_gain", _BM25, _TEXT, [[("w", 12), ("same1", 12), ("same0", 12)]] * 2,
     "a small gain on a third of the queries of both sets, whose nDCG@10 varies from 0 to 1 (paired interval > 0)"),
    ("k", _BM25, _TEXT, [[("k", 20)], [("k", 25)]],
     "the chosen option gains at nDCG@10 on both sets, but loses at nDCG@20 and ties at nDCG@9"),
    ("mrr", _BM25, _TEXT, [[("v", 20)]] * 2, "the chosen option's first hit comes earlier, but its nDCG@10 is lower"),
    ("recall", _BM25, _TEXT, [[("rc", 20)]] * 2,
     "the chosen option has more relevant documents in its top 10, but lower in the list: its nDCG@10 is lower"),
    ("deeper", _BM25, _TEXT, [[("e20", 20)]] * 2,
     "the chosen option has the default's top 10 and finds more at ranks 11-20 (nDCG@10 equal, interval [0, 0])"),
    ("image", _FUSED, (("image",), 60), [[("down", 25), ("up", 5)], [("down", 20), ("up", 5)]],
     "the default is the image view alone, (('image',), 60): the chosen fusion beats it (but not dense text)"),
    ("equal", _FUSED, (("bm25", "text"), 5), [[("up", 10), ("down", 10)]] * 2, "chosen and default are equal"),
    ("rrf_k", _FUSED, (("bm25", "text"), 60), [[("k5", 20), ("same1", 10)], [("k5", 15), ("same0", 10)]],
     "chosen and default fuse the same views, chosen with rrf_k 5 and better on both sets (bm25 alone is better)"),
    ("default_rrf_k", (("bm25", "text"), 60), _FUSED, [[("k60", 15), ("same1", 10)], [("k60", 12), ("same0", 8)]],
     "the default is (('bm25', 'text'), 5): chosen, the same views with rrf_k 60, is better on both sets"),
    # 3.6 % / 1.6 % of the first set's resample means are <= 0: between the tails (1 - confidence) / 2 of 95 % and 90 %
    # (2.5 %, 5 %) / of 99 % and 95 % (0.5 %, 2.5 %), 2.7+ binomial SDs of 2000 resamples from each (a test asserts it)
    ("conf90", _FUSED, _TEXT, [[("up", 12), ("down20", 7), ("same1", 33)], [("up", 20), ("same1", 10)]],
     "on the first held-out set the 95 % interval reaches below 0, while a 90 % or 80 % one stays above 0"),
    ("conf99", _FUSED, _TEXT, [[("w", 28), ("down20", 5), ("same0", 2)], [("up", 20), ("same1", 10)]],
     "on the first held-out set the 95 % interval is above 0, while a 99 % one reaches below 0"),
    ("padding", _FUSED, _TEXT, [[("up", 12), ("pad", 40), ("same1", 5)], [("up", 20), ("same1", 10)]],
     "the first held-out set has many empty keyword lists (all padding, -1), where the chosen fusion is dense text"),
    # review 32: each view cut to its top 10 before fusing loses the hit both views rank 12th (the default, rrf_k 60,
    # is fused as given, so the slip "k60" decides as the rule here and the two are told apart)
    # chosen fused at rrf_k 5 gains over dense text; fused at 60 it does not: "both at 60" keeps, "chosen_k" adopts
    ("both60", _FUSED, _TEXT, [[("k5", 20), ("same1", 10)], [("k5", 15), ("same0", 10)]],
     "chosen (bm25+text, rrf_k 5) beats dense text alone on both sets; fused at rrf_k 60 it would not"),
    ("view_top10", (("bm25", "text"), 60), _TEXT, [[("k60", 15), ("same1", 10)], [("k60", 12), ("same0", 8)]],
     "chosen (bm25+text, rrf_k 60) finds the relevant document both views rank 12th, which dense text alone misses"),
    # review 37: round(low, 3) > 0 passed. 14 gains of +0.11 ("k") among 2,500 queries, no loss: a resample misses
    # all 14 with p = e^-14, so even a 99.9 % bound is above 0, and the 95 % bound is 5-9 gains' worth, 0.0002-0.0004
    ("tiny_gain", _BM25, _TEXT, [[("k", 14), ("same1", 1243), ("same0", 1243)], [("w", 12), ("same1", 12), ("same0", 12)]],
     "on the first held-out set the chosen option gains on 14 of 2,500 queries and loses on none: a lower bound above "
     "0, though below 0.0005"),
    # review 44: `low >= 0 and mean > 0` passed. 2 gains among 120 queries, no loss: 13 % of resamples miss both, so
    # the lower bound is exactly 0 at 80 % to 99.9 % while the mean is above 0
    ("zero_low", _BM25, _TEXT, [[("k", 2), ("same1", 59), ("same0", 59)], [("w", 12), ("same1", 12), ("same0", 12)]],
     "on the first held-out set the chosen option gains on 2 of 120 queries and loses on none: a mean above 0, a "
     "lower bound of exactly 0"),
]


def _adopt_row(n_relevant: int, views: dict[str, str], rng) -> tuple[set[int], dict[str, list[int]]]:
    ids = iter(rng.permutation(500).tolist())
    rel = [next(ids) for _ in range(n_relevant)]
    shared: dict[str, int] = {}
    rows: dict[str, list[int]] = {}
    for view in ("text", "bm25", "image"):
        tokens = views.get(view, "")
        if tokens.startswith("="):
            rows[view] = list(rows[tokens[1:]])
            continue
        row = []
        for t in tokens.split():
            if t == "-":
                break
            if t.endswith("f"):
                row += [next(ids) for _ in range(int(t[:-1] or 1))]
            else:
                row.append(rel[int(t[1:])] if t[0] == "r" else shared.setdefault(t, next(ids)))
        else:
            row += [next(ids) for _ in range(20 - len(row))]
        rows[view] = row + [-1] * (20 - len(row))
    return set(rel), rows


def adopt_probes() -> list[tuple[str, tuple, tuple, list, str]]:
    """The check's probes: (name, chosen, default, held_out [(runs, relevant), ...], description)."""
    probes = []
    for p, (name, chosen, default, sets, about) in enumerate(ADOPT_PROBES):
        held_out = []
        for s, spec in enumerate(sets):
            rng = np.random.default_rng(1000 + 10 * p + s)
            made = [_adopt_row(*ADOPT_PATTERNS[kind], rng) for kind, n in spec for _ in range(n)]
            order = rng.permutation(len(made))   # the patterns mixed, not in blocks
            runs = {v: np.array([made[i][1][v] for i in order], np.int64) for v in ("bm25", "text", "image")}
            held_out.append((runs, [made[i][0] for i in order]))
        probes.append((name, chosen, default, held_out, about))
    return probes


def _per_query(runs, relevant, option, metric: str = "ndcg10") -> np.ndarray:
    """Per-query values of ``option``'s fusion: nDCG@k ("ndcgK", "ndcg_all": the whole fused list), MRR@10, recall@10;
    "pad_kept" / "pad_after": nDCG@10 of exercise 2's loop (-1 scored), -1 kept in the top 10 or removed after it;
    "view_top10": nDCG@10 of the fusion of each view's top 10 (runs[v][:, :10])."""
    from ..search import ndcg_per_query, reciprocal_rank_fusion
    from .nb06 import _rrf_counting_padding

    if metric.startswith("pad_"):
        top = np.maximum(_rrf_counting_padding([runs[v] for v in option[0]], option[1]), -1)   # its top 10
        if metric == "pad_after":
            top = np.array([[d for d in row if d >= 0] + [-1] * int((row < 0).sum()) for row in top], np.int64)
        return ndcg_per_query(top, relevant, 10)
    fused = reciprocal_rank_fusion([runs[v][:, :10] if metric == "view_top10" else runs[v] for v in option[0]],
                                   rrf_k=option[1]).ids
    fused = np.hstack([fused, np.full((fused.shape[0], max(0, 20 - fused.shape[1])), -1, np.int64)])
    if metric == "mrr":
        return np.array([next((1 / (i + 1) for i, d in enumerate(row[:10].tolist()) if d in rel), 0.0)
                         for row, rel in zip(fused, relevant)])
    if metric == "recall":
        return np.array([len(set(row[:10].tolist()) & rel) / len(rel) for row, rel in zip(fused, relevant)])
    k = fused.shape[1] if metric == "ndcg_all" else 10 if metric == "view_top10" else int(metric[4:])
    return ndcg_per_query(fused, relevant, k)


def adopt_decision(chosen, default, held_out, how: str = "", cache: dict | None = None):
    """What the rule (how="") or one of the slips below returns; ``cache`` keeps per-query values between calls."""
    from ..search import paired_bootstrap as boot

    cache = {} if cache is None else cache
    scored = (chosen[0], 60) if how == "both60" else chosen
    against = {"first_view": ((chosen[0][0],), 60), "text": (("text",), 60), "chosen_k": (default[0], chosen[1]),
               "k60": (default[0], 60), "both60": (default[0], 60), "default_first": ((default[0][0],), 60)}.get(how, default)
    metric = how if how in ("mrr", "recall", "view_top10") or how.startswith(("ndcg", "pad_")) else "ndcg10"
    confidence = float("0." + how[4:]) if how.startswith("conf") else 0.95   # conf90: 0.90

    def values(i, option):
        key = (id(held_out), i, repr(option), metric)
        if key not in cache:
            cache[key] = (held_out, _per_query(*held_out[i], option, metric))   # held_out kept: its id stays unique
        return cache[key][1]
    pairs = [(values(i, scored), values(i, against)) for i in range(len(held_out))]
    ci = [boot(c, d, confidence=confidence) for c, d in pairs]
    pooled = [np.concatenate(x) for x in zip(*pairs)]
    rule = {"mean": lambda: all(m > 0 for m, _, _ in ci), "pooled_mean": lambda: pooled[0].mean() > pooled[1].mean(),
            "mean_of_means": lambda: np.mean([m for m, _, _ in ci]) > 0, "any": lambda: any(lo > 0 for _, lo, _ in ci), "pool": lambda: boot(*pooled)[1] > 0,
            "first": lambda: ci[0][1] > 0, "last": lambda: ci[-1][1] > 0, "upper": lambda: all(hi > 0 for *_, hi in ci),
            "swapped": lambda: all(boot(d, c)[1] > 0 for c, d in pairs), "ge": lambda: all(lo >= 0 for _, lo, _ in ci),
            "ge_mean": lambda: all(lo >= 0 and m > 0 for m, lo, _ in ci),
            "unpaired": lambda: all(boot(c, 0 * c)[1] > d.mean() for c, d in pairs),
            "unpaired_ci": lambda: all(boot(c, 0 * c)[1] > boot(d, 0 * d)[2] for c, d in pairs),
            "round3": lambda: all(round(lo, 3) > 0 for _, lo, _ in ci), "round2": lambda: all(round(lo, 2) > 0 for _, lo, _ in ci)}
    adopt = rule[how]() if how in rule else all(lo > 0 for _, lo, _ in ci)
    return chosen if adopt and chosen != default else default


_RULE = "adopt only if on every held-out set the paired interval's lower bound is > 0."
_BOOT_HINT = "keep paired_bootstrap's defaults (95 %, 2000 resamples): no confidence argument."
_METRIC_HINT = ("score each query by nDCG@10 of each option's fusion (ndcg_per_query(fused, relevant, 10)), then "
                "paired_bootstrap(chosen's values, default's values).")
ADOPT_SLIPS = {
    "mean": ("you adopt when the mean difference is above 0 on every set; a mean above 0 can be noise (its interval "
             "reaching below 0).", "use paired_bootstrap's interval: " + _RULE),
    "pooled_mean": ("you adopt whichever of the two has the higher mean over the held-out queries: that re-chooses "
                    "on the held-out data, and a higher mean can be noise.",
                    "the held-out sets do not choose; they decide keep or adopt: " + _RULE),
    "any": ("you adopt when one held-out set passes; the rule asks for every set.",
            "adopt only if all lower bounds are > 0 (all(...), or return default as soon as one fails)."),
    "first": ("only the first held-out set decides (a return inside the loop?); the rule asks for every set.",
              "return default as soon as a set fails; return chosen only after the loop."),
    "last": ("only the last held-out set decides (a variable overwritten in the loop?); the rule asks for every set.",
             "combine the sets: adopt only if all lower bounds are > 0."),
    "pool": ("you pool the held-out sets into one bootstrap: a large set where the chosen fusion wins hides a small "
             "one where it loses.", "one paired_bootstrap per held-out set; " + _RULE),
    "swapped": ("your interval is of default - chosen (paired_bootstrap's arguments swapped): you adopt the chosen "
                "fusion where it is worse.", "paired_bootstrap(chosen's values, default's values): a - b."),
    "upper": ("you test the upper bound of the interval; an interval reaching above 0 can be all noise.",
              "the lower bound, the middle value of what paired_bootstrap returns (mean, low, high), must be > 0."),
    "ge": ("you adopt on a lower bound of exactly 0: an interval that reaches 0 does not exclude it (where the chosen "
           "option gains on a couple of queries only, many resamples miss them all and the bound is 0; where it equals "
           "the default on every query, the interval is [0, 0]).", "adopt only on a lower bound > 0 (not >= 0)."),
    "round": ("you keep a gain whose lower bound is a few ten-thousandths above 0: the bound rounded before the "
              "comparison (round(low, 3)?), or a margin asked of it (low > 0.01?). Above 0 is the rule: a bound just "
              "above 0 is weak evidence, but it is evidence.", "compare the lower bound itself with 0 (> 0); round "
              "only what you print."),
    "mrr": ("you compare by MRR (the first hit only); the rule is about nDCG@10.", _METRIC_HINT),
    "recall": ("you compare by recall@10, which ignores where in the top 10 the hits are; the rule is about "
               "nDCG@10.", _METRIC_HINT),
    "ndcg20": ("you score more than the top 10 (nDCG@20, or the whole fused list); the rule is about nDCG@10.",
               _METRIC_HINT),
    "ndcg9": ("you score fewer than 10 positions (nDCG@9, nDCG@5?); the rule is about nDCG@10.", _METRIC_HINT),
    "unpaired": ("you compare the chosen fusion's own interval with the default's mean (or interval): unpaired, it "
                 "misses a small gain on the same queries whose values vary a lot.",
                 "take the difference per query: paired_bootstrap(chosen's values, default's values)."),
    "first_view": ("you compare with the first view of chosen alone, not with default.",
                   "score default's own fusion (its views, its rrf_k) on each held-out set."),
    "text": ("you compare with dense text alone, not with the default passed in (here the image view).",
             "score default's own fusion (its views, its rrf_k): default is an argument."),
    "both60": ("you fuse both options with rrf_k = 60 whatever their own rrf_k: the chosen fusion at rrf_k 5 is then "
               "scored as another fusion.", "use each option's own rrf_k (chosen[1], default[1]), never the number 60."),
    "chosen_k": ("you fuse default's views with chosen's rrf_k: where the two differ only in rrf_k (bm25+text at 5 "
                 "against 60) you compare chosen with itself.", "fuse default with its own rrf_k, default[1]."),
    "view_top10": ("you cut each view's list to its top 10 before fusing (runs[v][:, :10]); a document ranked 11th-20th "
                   "by two views can rise into the fused top 10 (here one both views rank 12th).",
                   "fuse the views' whole lists (20 each), then score the fused top 10."),
    "k60": ("you fuse default with rrf_k = 60 whatever its own rrf_k (here default is bm25+text at rrf_k 5).",
            "use default's own rrf_k, default[1], not the number 60."),
    "default_first": ("you score default by its first view's list alone (runs[default[0][0]]), not by the fusion of "
                      "its views (here bm25+text).", "fuse all of default's views with its rrf_k, as for chosen."),
    "conf_low": ("your interval is narrower than the 95 % one (confidence=0.9, read as 'one-sided 95 %', 0.8, or the "
                 "25th to 75th percentiles?), or your test is one-sided at 0.05, which decides like a 90 % interval, "
                 "or it tests something other than the mean gain (a Wilcoxon signed-rank test ranks the differences): "
                 "it adopts a gain whose 95 % interval reaches below 0.", _BOOT_HINT),
    "conf_high": ("your interval is wider than the 95 % one (confidence=0.99?): it keeps the default where the 95 % "
                  "interval is above 0.", _BOOT_HINT),
    "padding": ("your fusion scores the padding id -1 as a document (exercise 2's loop): -1 collects 1 / (rrf_k + "
                "rank) at every padded position, comes first where the keyword list is empty and takes a top-10 slot "
                "(removing it after the cut does not give the slot back).", "skip ids < 0 while you fuse, before "
                "cutting at 10 (mm.search.reciprocal_rank_fusion skips them)."),
}
_SLIP_VARIANTS = {"pooled_mean": ("pooled_mean", "mean_of_means"), "ndcg20": ("ndcg20", "ndcg_all"), "ndcg9": ("ndcg9", "ndcg5"), "unpaired": ("unpaired", "unpaired_ci"),
                  "conf_low": ("conf50", "conf80", "conf90"), "ge": ("ge", "ge_mean"), "conf_high": ("conf99", "conf999"),
                  "padding": ("pad_kept", "pad_after"), "round": ("round3", "round2")}


def adopt_slip(answers, probes, wants) -> tuple[str, str]:
    """(problem, hint) for the learner's answers on ``probes``, which differ from the rule's (``wants``) somewhere."""
    cache: dict = {}
    for slip, message in ADOPT_SLIPS.items():
        for how in _SLIP_VARIANTS.get(slip, (slip,)):
            if all(adopt_decision(c, d, h, how, cache) == a for (_, c, d, h, _), a in zip(probes, answers)):
                return message
    for i, which in ((2, "default"), (1, "chosen")):
        if all(a == probe[i] for probe, a in zip(probes, answers)):
            return (f"you return {which} whatever the held-out data say.",
                    "for each held-out set, the paired interval of chosen's nDCG@10 minus default's; " + _RULE)
    for (*_, about), got, want in zip(probes, answers, wants):
        if got != want:
            return (f"where {about}, you return {got!r}; the rule returns {want!r}.",
                    "per held-out set: nDCG@10 per query of each option's fusion, paired_bootstrap(chosen's, "
                    "default's); " + _RULE)
    return "your answers differ from the rule's.", _RULE[0].upper() + _RULE[1:]

