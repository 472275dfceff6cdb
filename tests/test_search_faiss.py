"""Tests of mmlab.search.faiss_index: every index kind, the shared contract, recall with effort."""
import numpy as np
import pytest

from mmlab import search
from mmlab.search import build_index, exact_topk, recall_at_k


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


# --------------------------------------------------------------------------- FAISS


@pytest.fixture(scope="module")
def clustered(rng):
    """Clustered vectors (like real embeddings), where approximate indexes do well."""
    centres = rng.standard_normal((20, 32)).astype(np.float32)
    corpus = centres[rng.integers(0, 20, 3000)] + 0.3 * rng.standard_normal((3000, 32)).astype(np.float32)
    queries = centres[rng.integers(0, 20, 40)] + 0.3 * rng.standard_normal((40, 32)).astype(np.float32)
    return queries, corpus


@pytest.mark.parametrize("kind", list(search.INDEX_KINDS))
def test_every_index_kind_builds_and_answers_with_the_right_shapes(clustered, kind):
    queries, corpus = clustered
    index = build_index(kind, corpus, seed=0)
    scores, ids = index.search(queries, 10)
    assert scores.shape == ids.shape == (40, 10)
    assert ids.dtype == np.int64 and ((ids >= -1) & (ids < 3000)).all()
    assert index.ntotal == 3000 and index.dim == 32
    assert index.build_seconds >= 0 and index.bytes_per_vector > 0 and index.code_bytes > 0


@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
def test_flat_index_matches_exact_topk(clustered, metric):
    queries, corpus = clustered
    scores, ids = build_index("flat", corpus, metric=metric).search(queries, 10)
    want_scores, want_ids = exact_topk(queries, corpus, 10, metric=metric)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-4, atol=1e-4)


def test_approximate_indexes_reach_high_recall_with_enough_effort(clustered):
    queries, corpus = clustered
    _, truth = exact_topk(queries, corpus, 10)
    ivf = build_index("ivf", corpus, nlist=16)
    assert recall_at_k(ivf.search(queries, 10, nprobe=16)[1], truth, 10) == 1.0  # every list: exact
    # Unclustered vectors: one list of 16 cannot hold every neighbour.
    noise = np.random.default_rng(1).standard_normal((2000, 32)).astype(np.float32)
    _, noise_truth = exact_topk(noise[:20], noise, 10)
    one_list = build_index("ivf", noise, nlist=16).search(noise[:20], 10, nprobe=1)[1]
    assert recall_at_k(one_list, noise_truth, 10) < 1.0
    hnsw = build_index("hnsw", corpus, M=16)
    assert recall_at_k(hnsw.search(queries, 10, ef_search=200)[1], truth, 10) >= 0.95


def test_quantised_indexes_are_smaller_and_seeded(clustered):
    queries, corpus = clustered
    flat = build_index("flat", corpus)
    pq = build_index("pq", corpus, m=8, nbits=6, seed=1)
    assert pq.code_bytes * 4 <= flat.code_bytes / 4  # 8 codes of 6 bits vs 32 floats
    assert pq.bytes_per_vector < flat.bytes_per_vector
    assert build_index("sq8", corpus).code_bytes == 32
    again = build_index("pq", corpus, m=8, nbits=6, seed=1)
    np.testing.assert_array_equal(pq.search(queries, 5)[1], again.search(queries, 5)[1])
    assert pq.params == {"m": 8, "nbits": 6}


def test_build_index_rejects_bad_arguments(clustered):
    queries, corpus = clustered
    with pytest.raises(ValueError, match=r"kind: expected one of \['flat', 'hnsw', 'ivf', 'pq', 'ivfpq', 'sq8'\], got 'lsh'"):
        build_index("lsh", corpus)
    with pytest.raises(TypeError, match=r"hnsw index: unknown parameter\(s\) \['nlist'\]; it accepts \['M', 'ef_construction'\]"):
        build_index("hnsw", corpus, nlist=4)
    with pytest.raises(ValueError, match=r"m: expected a divisor of the dimension 32, got 5"):
        build_index("pq", corpus, m=5)
    with pytest.raises(ValueError, match=r"nbits: 8 bits need at least 256 training vectors, got 100"):
        build_index("pq", corpus[:100], nbits=8)
    with pytest.raises(ValueError, match=r"vectors: expected finite values"):
        build_index("flat", np.full((4, 3), np.nan))
    index = build_index("hnsw", corpus, M=8)
    with pytest.raises(ValueError, match=r"nprobe: expected an IVF index"):
        index.search(queries, 3, nprobe=4)
    with pytest.raises(ValueError, match=r"queries: expected dimension 32 \(the index's\), got shape \(40, 31\)"):
        index.search(queries[:, :31], 3)
    with pytest.raises(ValueError, match=r"k: expected an int <= 3000"):
        index.search(queries, 3001)


def test_missing_results_are_padded_with_nan_and_minus_one(clustered):
    queries, corpus = clustered
    ivf = build_index("ivf", corpus[:400], nlist=8)
    scores, ids = ivf.search(queries, 300, nprobe=1)  # one list holds far fewer than 300 rows
    assert (ids == -1).any()
    assert np.isnan(scores[ids == -1]).all() and np.isfinite(scores[ids >= 0]).all()
    assert scores.dtype == np.float32 and ids.dtype == np.int64
    # best first among the real results, padding last
    for row_s, row_i in zip(scores, ids):
        real = row_i >= 0
        assert real[: real.sum()].all() and (np.diff(row_s[real]) <= 0).all()


def test_search_returns_the_shared_named_result(clustered):
    queries, corpus = clustered
    result = build_index("flat", corpus).search(queries, 3)
    assert isinstance(result, search.SearchResult)
    assert result.scores.shape == result.ids.shape == (40, 3)
    scores, ids = result
    assert scores is result.scores and ids is result.ids
