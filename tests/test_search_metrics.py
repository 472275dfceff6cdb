"""Tests of mmlab.search.metrics: recall, nDCG (against scikit-learn), MRR and reciprocal rank fusion."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mmlab as mm
from mmlab.search import mrr_at_k, ndcg_at_k, recall_at_k, reciprocal_rank_fusion

# --------------------------------------------------------------------------- recall


def test_recall_at_k_known_answers():
    true = np.array([[0, 1, 2], [3, 4, 5]])
    assert recall_at_k(true, true, 3) == 1.0
    assert recall_at_k(np.array([[0, 9, 8], [5, 4, 3]]), true, 3) == pytest.approx(4 / 6)
    assert recall_at_k(np.array([[0, -1, -1], [-1, -1, -1]]), true, 3) == pytest.approx(1 / 6)
    assert recall_at_k(np.array([[1, 0, 7]]), np.array([[0, 1, 2]]), 1) == 0.0  # only the first column


def test_recall_at_k_rejects_bad_inputs():
    with pytest.raises(TypeError, match="found_ids: expected integer ids"):
        recall_at_k(np.ones((2, 3)), np.ones((2, 3), int), 1)
    with pytest.raises(ValueError, match="expected the same length"):
        recall_at_k(np.ones((2, 3), int), np.ones((3, 3), int), 1)
    with pytest.raises(ValueError, match="true_ids: expected at least k=4 columns"):
        recall_at_k(np.ones((2, 5), int), np.ones((2, 3), int), 4)


# --------------------------------------------------------------------------- nDCG and MRR


def test_ndcg_known_answers():
    found = np.array([[7, 1, 2]])
    # one relevant id at position 2 (from 1): 1/log2(3); ideal: 1/log2(2) = 1
    assert ndcg_at_k(found, [{1}], 3) == pytest.approx(1 / np.log2(3))
    assert ndcg_at_k(found, [{7, 1, 2}], 3) == pytest.approx(1.0)
    assert ndcg_at_k(found, [[9]], 3) == 0.0
    # two relevant but k = 1: the ideal DCG@1 is 1, found has one at the top
    assert ndcg_at_k(found, [{7, 5}], 1) == 1.0


def test_ndcg_ignores_padding_and_repeats():
    assert ndcg_at_k(np.array([[-1, 3, -1]]), [{3}], 3) == pytest.approx(1 / np.log2(3))
    # a repeated relevant id counts once, so the score cannot pass 1
    assert ndcg_at_k(np.array([[3, 3, 3]]), [{3}], 3) == pytest.approx(1.0)


def test_ndcg_matches_sklearn_on_binary_relevance():
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(0)
    n_docs, n_queries, k = 40, 25, 10
    y_true = (rng.random((n_queries, n_docs)) < 0.15).astype(float)
    y_true[y_true.sum(1) == 0, 0] = 1.0  # every query has something to find
    y_score = rng.standard_normal((n_queries, n_docs))  # distinct scores: no ties
    found = np.argsort(-y_score, axis=1)[:, :k]
    relevant = [set(np.flatnonzero(row).tolist()) for row in y_true]
    assert ndcg_at_k(found, relevant, k) == pytest.approx(ndcg_score(y_true, y_score, k=k), abs=1e-12)


def test_mrr_known_answers():
    found = np.array([[4, 2, 9], [1, 2, 3], [5, 6, 7]])
    relevant = [{9, 2}, {1}, {8}]  # first hits at ranks 2, 1 and none
    assert mrr_at_k(found, relevant, 3) == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert mrr_at_k(found, relevant, 1) == pytest.approx(1 / 3)


@pytest.mark.parametrize("fn", [ndcg_at_k, mrr_at_k])
def test_ndcg_and_mrr_reject_bad_inputs(fn):
    found = np.array([[1, 2, 3]])
    with pytest.raises(TypeError, match="found_ids: expected integer ids"):
        fn(np.ones((1, 3)), [{1}], 2)
    with pytest.raises(ValueError, match="found_ids: expected at least k=4 columns"):
        fn(found, [{1}], 4)
    with pytest.raises(ValueError, match="k: expected an int >= 1"):
        fn(found, [{1}], 0)
    with pytest.raises(ValueError, match="relevant: expected one entry per query"):
        fn(found, [{1}, {2}], 2)
    with pytest.raises(TypeError, match="relevant: expected a sequence"):
        fn(found, "123", 2)
    with pytest.raises(TypeError, match=r"relevant\[0\]: expected integer ids"):
        fn(found, [["a"]], 2)
    with pytest.raises(ValueError, match=r"relevant\[0\]: expected at least one relevant id"):
        fn(found, [set()], 2)
    with pytest.raises(ValueError, match="found_ids: expected ids >= 0"):
        fn(np.array([[1, -2, 3]]), [{1}], 2)


# --------------------------------------------------------------------------- reciprocal rank fusion


def rrf_loop(rankings, k=60):
    """RRF written as the formula: a dict per query."""
    fused = []
    for q in range(len(rankings[0])):
        score: dict[int, float] = {}
        for ranking in rankings:
            seen = set()
            for rank, i in enumerate(ranking[q], start=1):
                if i < 0 or i in seen:
                    continue
                seen.add(i)
                score[i] = score.get(i, 0.0) + 1.0 / (k + rank)
        fused.append(sorted(score.items(), key=lambda t: (-round(t[1], 12), t[0])))
    return fused


def test_rrf_known_answer():
    scores, ids = reciprocal_rank_fusion([np.array([[3, 1]]), np.array([[1, 2]])], rrf_k=60)
    assert ids.tolist() == [[1, 3, 2]]
    np.testing.assert_allclose(scores[0], [1 / 62 + 1 / 61, 1 / 61, 1 / 62], rtol=1e-6)
    assert ids.dtype == np.int64 and scores.dtype == np.float32


def test_rrf_ties_broken_by_lower_id_and_padding():
    # 5 and 2 both sit at rank 1 of one ranking: equal scores, the lower id first
    scores, ids = reciprocal_rank_fusion([np.array([[5, -1], [1, 2]]), np.array([[2, -1], [-1, -1]])])
    assert ids.tolist() == [[2, 5], [1, 2]]
    scores, ids = reciprocal_rank_fusion([np.array([[5, -1], [-1, -1]])])
    assert ids.tolist() == [[5], [-1]] and np.isnan(scores[1, 0])


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_rrf_matches_the_loop(data):
    n_q = data.draw(st.integers(1, 3))
    n_rank = data.draw(st.integers(1, 3))
    rankings = []
    for _ in range(n_rank):
        width = data.draw(st.integers(1, 6))
        rows = data.draw(st.lists(st.lists(st.integers(-1, 8), min_size=width, max_size=width),
                                  min_size=n_q, max_size=n_q))
        rankings.append(np.array(rows, dtype=np.int64))
    k = data.draw(st.sampled_from([0, 1, 60]))
    scores, ids = reciprocal_rank_fusion(rankings, rrf_k=k)
    for q, want in enumerate(rrf_loop(rankings, k)):
        got = [(int(i), float(s)) for i, s in zip(ids[q], scores[q]) if i >= 0]
        assert [i for i, _ in got] == [i for i, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-6)
        assert (ids[q, len(want):] == -1).all() and np.isnan(scores[q, len(want):]).all()


def test_rrf_limit_and_mm_namespace():
    fused = mm.search.reciprocal_rank_fusion([np.array([[1, 2, 3]])], limit=2)
    assert fused.ids.tolist() == [[1, 2]]
    assert isinstance(fused, mm.search.SearchResult) and fused.scores.shape == (1, 2)


def test_rrf_rejects_bad_inputs():
    with pytest.raises(TypeError, match="rankings: expected a non-empty list"):
        reciprocal_rank_fusion([])
    with pytest.raises(TypeError, match="rankings: expected a non-empty list"):
        reciprocal_rank_fusion(np.array([[1, 2]]))
    with pytest.raises(TypeError, match=r"rankings\[1\]: expected integer ids"):
        reciprocal_rank_fusion([np.array([[1]]), np.array([[1.5]])])
    with pytest.raises(ValueError, match=r"rankings\[1\]: expected 1 query rows"):
        reciprocal_rank_fusion([np.array([[1]]), np.array([[1], [2]])])
    with pytest.raises(ValueError, match="rrf_k: expected a number >= 0"):
        reciprocal_rank_fusion([np.array([[1]])], rrf_k=-1)
    with pytest.raises(ValueError, match="limit: expected an int >= 1"):
        reciprocal_rank_fusion([np.array([[1]])], limit=0)


def test_ndcg_per_query_is_what_ndcg_at_k_averages():
    found = np.array([[1, 2, 3], [4, 5, 6]])
    rel = [{2}, {9}]
    per = mm.search.ndcg_per_query(found, rel, 3)
    np.testing.assert_allclose(per, [1 / np.log2(3), 0.0])
    assert ndcg_at_k(found, rel, 3) == pytest.approx(per.mean())


def test_paired_bootstrap_interval_excludes_zero_only_for_a_real_gap():
    rng = np.random.default_rng(0)
    b = rng.random(200)
    better = b + 0.05 + 0.01 * rng.standard_normal(200)
    mean, low, high = mm.search.paired_bootstrap(better, b)
    assert low > 0 and low < mean < high and mean == pytest.approx(0.05, abs=0.005)
    noise = b + 0.2 * rng.standard_normal(200) - 0.0
    mean, low, high = mm.search.paired_bootstrap(noise - noise.mean() + b.mean(), b)
    assert low < 0 < high
    assert mm.search.paired_bootstrap(better, b) == mm.search.paired_bootstrap(better, b)  # seeded
    with pytest.raises(ValueError, match="a and b: expected the same length"):
        mm.search.paired_bootstrap(b, b[:10])
    with pytest.raises(ValueError, match="confidence: expected a number < 1"):
        mm.search.paired_bootstrap(b, b, confidence=1.0)


# --------------------------------------------------------------------------- keep or adopt a fusion

FUSED, TEXT = (("bm25", "text"), 5), (("text",), 60)


def _held_out_set(better: int, worse: int, same: int, seed: int = 0):
    """One held-out set of ``better + worse + same`` queries, one relevant id each, 20 ids per view (bm25 padded):
    bm25 + text (rrf_k 5) beats text alone on ``better`` (bm25 has the relevant id 1st, text 10th), loses on
    ``worse`` (text has it 1st; bm25 lifts 6 of text's next ids above it) and ties on ``same`` (one list)."""
    rng = np.random.default_rng(seed)
    runs: dict[str, list[list[int]]] = {"bm25": [], "text": []}
    relevant = []
    for kind in ["better"] * better + ["worse"] * worse + ["same"] * same:
        ids = rng.permutation(200).tolist()
        r, others = ids[0], ids[1:]
        text = [*others[:9], r, *others[9:19]] if kind == "better" else [r, *others[:19]]
        bm25 = {"better": [r, *others[20:39]], "worse": text[1:7] + [-1] * 14, "same": text}[kind]
        runs["text"].append(text)
        runs["bm25"].append(bm25)
        relevant.append({r})
    return {v: np.array(rows, np.int64) for v, rows in runs.items()}, relevant


def _keep_or_adopt_loop(chosen, default, held_out, k=10):
    """The rule written out: per set, per-query nDCG@k of each option's fusion and the paired interval."""
    for runs, relevant in held_out:
        values = []
        for views, rrf_k in (chosen, default):
            fused = reciprocal_rank_fusion([runs[v] for v in views], rrf_k=rrf_k, limit=max(k, 20)).ids
            values.append(mm.search.ndcg_per_query(fused, relevant, k))
        if mm.search.paired_bootstrap(values[0], values[1])[1] <= 0:
            return default
    return chosen


def test_keep_or_adopt_adopts_only_when_every_lower_bound_is_above_0():
    wins, loses = _held_out_set(25, 0, 10, seed=1), _held_out_set(0, 25, 10, seed=2)
    assert mm.search.keep_or_adopt(FUSED, TEXT, [wins, _held_out_set(20, 0, 5, seed=3)]) is FUSED
    assert mm.search.keep_or_adopt(FUSED, TEXT, [wins, loses]) is TEXT          # every set, not any
    assert mm.search.keep_or_adopt(FUSED, TEXT, [loses, wins]) is TEXT
    # a mean above 0 whose interval reaches below 0: the default stays
    noisy = _held_out_set(7, 6, 0, seed=4)
    per = [mm.search.ndcg_per_query(reciprocal_rank_fusion([noisy[0][v] for v in views], rrf_k=c, limit=10).ids,
                                    noisy[1], 10) for views, c in (FUSED, TEXT)]
    mean, low, _ = mm.search.paired_bootstrap(*per)
    assert mean > 0 > low
    assert mm.search.keep_or_adopt(FUSED, TEXT, [wins, noisy]) is TEXT
    # the same nDCG@10 on every query: the interval is [0, 0], no gain
    assert mm.search.keep_or_adopt(FUSED, TEXT, [wins, _held_out_set(0, 0, 20, seed=5)]) is TEXT
    # chosen equal to default: default (an equal tuple, not chosen itself)
    equal = (("bm25", "text"), 5)
    assert mm.search.keep_or_adopt(FUSED, equal, [wins]) is equal
    # the other way round: text alone, chosen against the fusion, is adopted where the fusion loses on every set
    assert mm.search.keep_or_adopt(TEXT, FUSED, [loses, _held_out_set(0, 15, 0, seed=6)]) is TEXT
    assert mm.search.keep_or_adopt(TEXT, FUSED, [loses, wins]) is FUSED


def test_keep_or_adopt_matches_the_rule_written_out():
    """Random views and relevant sets; options with lists for views and runs as nested lists are accepted."""
    rng = np.random.default_rng(7)
    options = [TEXT, FUSED, (["bm25", "text"], 60), (("image",), 60), (("bm25", "image", "text"), 20)]
    for trial in range(6):
        held_out = []
        for _ in range(2):
            n_q = int(rng.integers(8, 30))
            runs = {v: [rng.permutation(30)[:20].tolist() for _ in range(n_q)] for v in ("bm25", "text", "image")}
            relevant = [set(rng.choice(30, size=int(rng.integers(1, 5)), replace=False).tolist()) for _ in range(n_q)]
            held_out.append((runs, relevant))
        chosen, default = options[trial % len(options)], options[(trial + 1) % len(options)]
        for k in (10, 5):
            want = _keep_or_adopt_loop(chosen, default, [({v: np.array(r) for v, r in runs.items()}, rel)
                                                         for runs, rel in held_out], k)
            assert mm.search.keep_or_adopt(chosen, default, held_out, k=k) is want


def test_keep_or_adopt_rejects_bad_inputs():
    runs, relevant = _held_out_set(3, 3, 3)
    ok = [(runs, relevant)]
    with pytest.raises(ValueError, match=r"held_out: expected a non-empty list of \(runs, relevant\) pairs"):
        mm.search.keep_or_adopt(FUSED, TEXT, [])
    with pytest.raises(ValueError, match="held_out: expected a non-empty list"):
        mm.search.keep_or_adopt(FUSED, TEXT, {"test": (runs, relevant)})
    with pytest.raises(TypeError, match=r"held_out\[1\]: expected a \(runs, relevant\) pair"):
        mm.search.keep_or_adopt(FUSED, TEXT, [(runs, relevant), runs])
    with pytest.raises(ValueError, match=r"held_out\[1\]: chosen's views \['image'\] are not in its runs"):
        mm.search.keep_or_adopt((("text", "image"), 60), TEXT, [(runs | {"image": runs["text"]}, relevant), *ok])
    with pytest.raises(ValueError, match=r"held_out\[0\]: default's views \['image'\] are not in its runs"):
        mm.search.keep_or_adopt(FUSED, (("image",), 60), ok)
    with pytest.raises(ValueError, match=r"held_out\[0\]: runs\['bm25'\] has 9 query rows but relevant has 8"):
        mm.search.keep_or_adopt(FUSED, TEXT, [(runs, relevant[:8])])
    with pytest.raises(TypeError, match=r"held_out\[0\]: expected relevant as a sequence"):
        mm.search.keep_or_adopt(FUSED, TEXT, [(runs, "123")])
    with pytest.raises(TypeError, match=r"chosen: expected an option \(tuple of view names, rrf_k\)"):
        mm.search.keep_or_adopt("bm25+text", TEXT, ok)
    with pytest.raises(TypeError, match="default: expected an option"):
        mm.search.keep_or_adopt(FUSED, ((), 60), ok)
    with pytest.raises(ValueError, match=r"default\[1\] \(rrf_k\): expected a number >= 0"):
        mm.search.keep_or_adopt(FUSED, (("text",), -1), ok)
    with pytest.raises(ValueError, match="k: expected an int >= 1"):
        mm.search.keep_or_adopt(FUSED, TEXT, ok, k=0)
