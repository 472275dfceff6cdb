"""Tests of mmlab.search.exact: exact top-k against a naive full sort (also under hypothesis)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mmlab.search import exact_topk


def naive_topk(queries, corpus, k, metric):
    """Full (Q, N) score matrix, then a full sort by (score, id): the reference."""
    q = np.asarray(queries, np.float64)
    c = np.asarray(corpus, np.float64)
    if metric == "cosine":
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        c = c / np.linalg.norm(c, axis=1, keepdims=True)
    if metric == "l2":
        key = ((q[:, None, :] - c[None, :, :]) ** 2).sum(-1)  # ascending distance
    else:
        key = -(q @ c.T)  # descending similarity
    ids = np.broadcast_to(np.arange(c.shape[0]), key.shape)
    order = np.lexsort((ids, key), axis=1)[:, :k]  # last key is primary: score, then lower id
    scores = np.take_along_axis(key, order, axis=1)
    return (scores if metric == "l2" else -scores), order


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def data(rng):
    corpus = rng.standard_normal((700, 24)).astype(np.float32)
    queries = rng.standard_normal((9, 24)).astype(np.float32)
    return queries, corpus


# --------------------------------------------------------------------------- exact_topk


@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
@pytest.mark.parametrize("k", [1, 10, 700])
@pytest.mark.parametrize("block_size", [None, 1, 64, 5000])
def test_exact_topk_matches_naive_full_sort(data, metric, k, block_size):
    queries, corpus = data
    scores, ids = exact_topk(queries, corpus, k, metric=metric, block_size=block_size)
    want_scores, want_ids = naive_topk(queries, corpus, k, metric)
    assert scores.shape == ids.shape == (9, k)
    assert scores.dtype == np.float32 and ids.dtype == np.int64
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
def test_scores_are_ordered_best_first(data, metric):
    queries, corpus = data
    scores, _ = exact_topk(queries, corpus, 50, metric=metric, block_size=100)
    steps = np.diff(scores, axis=1)
    assert (steps >= 0).all() if metric == "l2" else (steps <= 0).all()


@pytest.mark.parametrize("block_size", [1, 3, 7, 32, 1000])
@pytest.mark.parametrize("k", [1, 4, 17, 60])
def test_ties_are_broken_by_lower_id(rng, block_size, k):
    # Small integer vectors: many exactly equal scores, across block boundaries too.
    corpus = rng.integers(0, 3, size=(60, 4)).astype(np.float32)
    queries = rng.integers(0, 3, size=(8, 4)).astype(np.float32)
    _, ids = exact_topk(queries, corpus, k, metric="ip", block_size=block_size)
    _, want = naive_topk(queries, corpus, k, "ip")
    np.testing.assert_array_equal(ids, want)


def test_duplicate_rows_come_back_in_id_order():
    corpus = np.tile(np.eye(3, dtype=np.float32), (5, 1))  # rows 0, 3, 6, 9, 12 are equal
    _, ids = exact_topk(corpus[:1], corpus, 5, metric="cosine", block_size=2)
    np.testing.assert_array_equal(ids[0], [0, 3, 6, 9, 12])


def test_single_vector_query_and_other_dtypes_give_the_same_answer(data):
    queries, corpus = data
    s1, i1 = exact_topk(queries[0], corpus, 5)
    s2, i2 = exact_topk(queries[:1].astype(np.float64), corpus.astype(np.float64), 5, block_size=50)
    _, i3 = exact_topk(queries[:1], np.asfortranarray(corpus), 5, block_size=50)
    assert s1.shape == (1, 5)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(i1, i3)
    np.testing.assert_allclose(s1, s2, atol=1e-6)


def test_l2_scores_are_squared_distances(data):
    queries, corpus = data
    scores, ids = exact_topk(queries, corpus, 3, metric="l2")
    direct = ((queries[:, None, :] - corpus[ids]) ** 2).sum(-1)
    np.testing.assert_allclose(scores, direct, rtol=1e-4)


def test_exact_topk_accepts_torch_tensors(data):
    torch = pytest.importorskip("torch")
    queries, corpus = data
    _, i = exact_topk(torch.from_numpy(queries), torch.from_numpy(corpus), 4)
    np.testing.assert_array_equal(i, exact_topk(queries, corpus, 4)[1])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"k": 0}, ValueError, r"k: expected an int >= 1, got 0"),
        ({"k": 701}, ValueError, r"k: expected an int <= 700, got 701"),
        ({"k": 2.0}, TypeError, r"k: expected an int"),
        ({"k": 3, "metric": "dot"}, ValueError, r"metric: expected one of \['cosine', 'ip', 'l2'\], got 'dot'"),
        ({"k": 3, "block_size": 0}, ValueError, r"block_size: expected an int >= 1"),
    ],
)
def test_exact_topk_rejects_bad_arguments(data, kwargs, error, match):
    queries, corpus = data
    with pytest.raises(error, match=match):
        exact_topk(queries, corpus, **kwargs)


def test_exact_topk_rejects_bad_arrays(data):
    queries, corpus = data
    with pytest.raises(ValueError, match=r"queries and corpus: expected the same embedding dimension, got 23"):
        exact_topk(queries[:, :23], corpus, 3)
    bad = queries.copy()
    bad[2, 5] = np.nan
    with pytest.raises(ValueError, match=r"queries: expected finite values, got 1 NaN/inf"):
        exact_topk(bad, corpus, 3)
    with pytest.raises(ValueError, match=r"corpus: expected a 2-D array, got 3-D"):
        exact_topk(queries, corpus[None], 3)
    with pytest.raises(ValueError, match=r"corpus: expected a non-empty array"):
        exact_topk(queries, corpus[:0], 1)
    with pytest.raises(TypeError, match=r"corpus: expected an array of numbers, got str"):
        exact_topk(queries, "corpus", 1)
    with pytest.raises(ValueError, match=r"corpus: cosine similarity needs non-zero vectors, got an all-zero row at index 3"):
        exact_topk(queries, np.vstack([corpus[:3], np.zeros((1, 24), np.float32), corpus[3:]]), 2)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("block_size", [16, 5000])
def test_exact_topk_rejects_non_finite_corpus_rows(data, value, block_size):
    queries, corpus = data
    bad = corpus.copy()
    bad[333, 7] = value
    with pytest.raises(ValueError, match=r"corpus: expected finite values, got NaN/inf"):
        exact_topk(queries, bad, 700 if value == -np.inf else 5, metric="ip", block_size=block_size)


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_exact_topk_equals_the_full_sort_on_any_small_input(data):
    # Small integers make many exact ties, across block boundaries too.
    n = data.draw(st.integers(1, 40))
    d = data.draw(st.integers(1, 5))
    q = data.draw(st.integers(1, 6))
    corpus = data.draw(arrays(np.float32, (n, d), elements=st.integers(-3, 3).map(float)))
    queries = data.draw(arrays(np.float32, (q, d), elements=st.integers(-3, 3).map(float)))
    metric = data.draw(st.sampled_from(["ip", "l2"]))
    k = data.draw(st.integers(1, n))
    block = data.draw(st.sampled_from([None, 1, 3, 16]))
    scores, ids = exact_topk(queries, corpus, k, metric=metric, block_size=block)
    want_scores, want_ids = naive_topk(queries, corpus, k, metric)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-4)



def test_result_is_a_named_pair_scores_first(data):
    queries, corpus = data
    result = exact_topk(queries, corpus, 3)
    scores, ids = result
    assert result.scores is scores and result.ids is ids
    assert scores.dtype == np.float32 and ids.dtype == np.int64


@pytest.mark.parametrize("block_size", [1, 2, 5, 64])
def test_the_answer_does_not_depend_on_the_block_size_with_many_ties(block_size):
    # Each block's k best must already prefer lower ids among equal scores: argpartition alone does not.
    corpus = np.repeat(np.eye(4, dtype=np.float32), 25, axis=0)[np.random.default_rng(3).permutation(100)]
    queries = np.eye(4, dtype=np.float32)
    _, ids = exact_topk(queries, corpus, 20, metric="ip", block_size=block_size)
    _, want = naive_topk(queries, corpus, 20, "ip")
    np.testing.assert_array_equal(ids, want)


@pytest.mark.parametrize("block_size", [None, 1000, 1003, 640])
@pytest.mark.parametrize("k", [1, 5, 9])
def test_wide_blocks_keep_the_tie_rule(rng, block_size, k):
    # Wide blocks take the grouped path of the selection: small integers make ties inside and
    # across groups, and between the groups chosen and those left out.
    corpus = rng.integers(0, 3, size=(2003, 3)).astype(np.float32)
    queries = rng.integers(0, 3, size=(7, 3)).astype(np.float32)
    scores, ids = exact_topk(queries, corpus, k, metric="ip", block_size=block_size)
    want_scores, want_ids = naive_topk(queries, corpus, k, "ip")
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores)


def test_wide_blocks_of_distinct_scores_match_the_full_sort(rng):
    corpus = rng.standard_normal((5000, 16)).astype(np.float32)
    queries = rng.standard_normal((3, 16)).astype(np.float32)
    for k in (1, 10, 78):
        _, ids = exact_topk(queries, corpus, k, metric="ip")
        np.testing.assert_array_equal(ids, naive_topk(queries, corpus, k, "ip")[1])
