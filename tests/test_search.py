"""Tests of mmlab.search: exact top-k against a naive full sort, recall, FAISS wrappers, Milvus store."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mmlab import search
from mmlab.search import (
    MilvusStore,
    build_index,
    exact_topk,
    filter_expression,
    recall_at_k,
)


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
    assert recall_at_k(ivf.search(queries, 10, nprobe=1)[1], truth, 10) < 1.0
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
    with pytest.raises(ValueError, match=r"nprobe: only IVF indexes"):
        index.search(queries, 3, nprobe=4)
    with pytest.raises(ValueError, match=r"queries: expected dimension 32 \(the index's\), got shape \(40, 31\)"):
        index.search(queries[:, :31], 3)
    with pytest.raises(ValueError, match=r"k: expected an int <= 3000"):
        index.search(queries, 3001)


# --------------------------------------------------------------------------- filters


def test_filter_expression_quotes_and_joins():
    assert filter_expression(None) == "" and filter_expression({}) == ""
    assert filter_expression({"group": "Food & Drink"}) == 'group == "Food & Drink"'
    assert filter_expression({"group": ["a", "b"], "name": "c"}) == 'group in ["a", "b"] and name == "c"'
    assert filter_expression({"name": 'x" or id > 0 or "'}) == r'name == "x\" or id > 0 or \""'
    assert filter_expression({"name": "back\\slash\nline"}) == r'name == "back\\slash\nline"'
    assert filter_expression({"id": 3, "flag": True, "w": 0.5}) == "id == 3 and flag == true and w == 0.5"


@pytest.mark.parametrize(
    "where, fields, error, match",
    [
        ({"group": []}, None, ValueError, r"where\['group'\]: expected a non-empty list of values, got an empty list"),
        ({1: "a"}, None, TypeError, r"where: expected field names as strings, got the key int"),
        ({"group or 1": "a"}, None, ValueError, r"'group or 1' is not a valid field name"),
        ({"colour": "red"}, ["name", "group"], ValueError, r"where: unknown field 'colour'; this collection can filter on \['name', 'group'\]"),
        ({"group": None}, None, TypeError, r"where\['group'\]: expected a str, int, float or bool"),
        ({"group": {"a"}}, None, TypeError, r"where\['group'\]: expected a value or a list of values, got set"),
        ({"w": float("nan")}, None, ValueError, r"where\['w'\]: expected a finite number"),
        ("group == 'a'", None, TypeError, r"where: expected a filter dict"),
    ],
)
def test_filter_expression_rejects_bad_filters(where, fields, error, match):
    with pytest.raises(error, match=match):
        filter_expression(where, fields)


# --------------------------------------------------------------------------- Milvus store

GROUPS = ["Animals & Nature", "Food & Drink", 'x" or id > 0 or "', "it's \\ tricky"]


@pytest.fixture(scope="module")
def milvus_rows(rng):
    n = 200
    vectors = rng.standard_normal((n, 16)).astype(np.float32)
    meta = {
        "name": [f"item {i}" for i in range(n)],
        "group": [GROUPS[i % 4] for i in range(n)],
        "subgroup": [f"sub-{i % 7}" for i in range(n)],
        "modality": ["image" if i % 2 else "text" for i in range(n)],
    }
    return np.arange(n), vectors, meta


@pytest.fixture(scope="module")
def store(tmp_path_factory, milvus_rows):
    uri = str(tmp_path_factory.mktemp("milvus") / "test.db")
    ids, vectors, meta = milvus_rows
    with MilvusStore(uri, "items", dim=16) as s:
        assert s.insert(ids, vectors, meta) == len(ids)
        yield s


def run_python(code: str, timeout: float = 120) -> dict:
    """Run code in a fresh interpreter; it prints one JSON line as its last output."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=False, capture_output=True, text=True,
                         timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_store_round_trips_rows_and_metadata(store, milvus_rows):
    ids, vectors, meta = milvus_rows
    assert store.count() == len(ids)
    rows = {r["id"]: r for r in store.get([0, 3, 199, 12345])}
    assert sorted(rows) == [0, 3, 199]  # a missing id is skipped
    for i in (0, 3, 199):
        assert {f: rows[i][f] for f in store.fields} == {f: meta[f][i] for f in store.fields}
    got = store.get([5], output_fields=["vector"])[0]["vector"]
    np.testing.assert_allclose(got, vectors[5], rtol=1e-6)


def test_store_search_matches_exact_search(store, milvus_rows):
    _, vectors, _ = milvus_rows
    scores, ids = store.search_ids(vectors[:5] + 0.01, k=8)
    want_scores, want_ids = exact_topk(vectors[:5] + 0.01, vectors, 8)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    hits = store.search(vectors[7], k=2)
    assert hits[0][0]["id"] == 7 and hits[0][0]["name"] == "item 7" and hits[0][0]["score"] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("where", [{"group": g} for g in GROUPS] + [{"group": GROUPS[1:3], "modality": "image"}])
def test_store_filters_match_python_filtering(store, milvus_rows, where):
    ids, vectors, meta = milvus_rows

    def matches(i):
        return all(meta[f][i] in (v if isinstance(v, list) else [v]) for f, v in where.items())

    allowed = np.array([i for i in ids if matches(i)])
    hits = store.search(vectors[:3], k=len(ids), where=where)
    for row in hits:
        assert sorted(h["id"] for h in row) == sorted(allowed.tolist())  # only and all the matching rows
    _, want = exact_topk(vectors[:3], vectors[allowed], 5)
    np.testing.assert_array_equal(store.search_ids(vectors[:3], 5, where=where)[1], allowed[want])


def test_store_upsert_delete_and_index(tmp_path, milvus_rows):
    ids, vectors, meta = milvus_rows
    with MilvusStore(str(tmp_path / "u.db"), "items", dim=16, metric="l2") as s:
        s.insert(ids[:50], vectors[:50], {"name": meta["name"][:50]})
        assert s.get([1])[0]["group"] == ""  # fields left out are stored as ""
        with pytest.raises(ValueError, match=r"ids: 2 id\(s\) already exist \(first 0\); use upsert"):
            s.insert([0, 1], vectors[:2])
        assert s.upsert([0, 1], vectors[:2], {"name": ["new 0", "new 1"]}) == 2
        assert s.count() == 50 and s.get([1])[0]["name"] == "new 1"
        assert s.delete([0, 1, 999]) == 2
        assert s.delete(where={"name": ["item 2", "item 3"]}) == 2
        assert s.count() == 46
        s.create_index("HNSW", M=8, efConstruction=32)
        scores, found = s.search_ids(vectors[10:12], 3, params={"ef": 32})
        assert found[:, 0].tolist() == [10, 11] and np.allclose(scores[:, 0], 0, atol=1e-5)  # l2: distance 0
        with pytest.raises(ValueError, match=r"delete: give exactly one of ids"):
            s.delete()
        with pytest.raises(ValueError, match=r"where: expected a non-empty filter"):
            s.delete(where={})


def test_store_rejects_bad_inputs(store, tmp_path, milvus_rows):
    _, vectors, _ = milvus_rows
    with pytest.raises(ValueError, match=r"vectors: expected dimension 16 \(the collection's\), got shape \(2, 15\)"):
        store.insert([500, 501], vectors[:2, :15])
    with pytest.raises(ValueError, match=r"ids and vectors: expected the same length, got 3 and 2"):
        store.insert([500, 501, 502], vectors[:2])
    with pytest.raises(ValueError, match=r"metadata: unknown field 'colour'"):
        store.insert([500], vectors[:1], {"colour": ["red"]})
    with pytest.raises(TypeError, match=r"metadata\['name'\]\[0\]: expected a string, got int"):
        store.insert([500], vectors[:1], {"name": [5]})
    with pytest.raises(ValueError, match=r"vectors: expected finite values"):
        store.insert([500], np.full((1, 16), np.nan))
    with pytest.raises(ValueError, match=r"where\['group'\]: expected a non-empty list of values"):
        store.search(vectors[:1], where={"group": []})
    with pytest.raises(TypeError, match=r"where: expected field names as strings"):
        store.search(vectors[:1], where={("group",): "a"})
    with pytest.raises(ValueError, match=r"where: unknown field 'colour'"):
        store.search(vectors[:1], where={"colour": "red"})
    with pytest.raises(ValueError, match=r"queries: expected dimension 16"):
        store.search(vectors[:1, :8])
    with pytest.raises(ValueError, match=r"k: expected an int >= 1, got 0"):
        store.search(vectors[:1], k=0)
    assert store.count() == 200  # nothing above wrote anything
    with pytest.raises(ValueError, match=r"dim: the collection 'fresh' does not exist yet; give dim="):
        MilvusStore(store.uri, "fresh")
    with pytest.raises(ValueError, match=r"dim: the existing collection 'items' holds 16-d vectors, got dim=8"):
        MilvusStore(store.uri, "items", dim=8)
    with pytest.raises(ValueError, match=r"uri: the folder .* does not exist"):
        MilvusStore(str(tmp_path / "missing" / "x.db"), dim=4)
    with pytest.raises(TypeError, match=r"uri: expected a path ending in .db"):
        MilvusStore(None, dim=4)
    closed = MilvusStore(str(tmp_path / "c.db"), dim=4)
    closed.close()
    closed.close()  # closing twice is harmless
    with pytest.raises(RuntimeError, match=r"this MilvusStore is closed"):
        closed.count()


def test_store_refuses_a_file_open_in_another_process(store):
    result = run_python(f"""
        import json
        from mmlab.search import MilvusStore
        try:
            MilvusStore({store.uri!r}, "items")
            print(json.dumps({{"error": None}}))
        except Exception as exc:
            print(json.dumps({{"error": type(exc).__name__, "message": str(exc)}}))
    """)
    assert result["error"] == "RuntimeError"
    assert "already open in another process" in result["message"]
    assert "http://localhost:19530" in result["message"]


def test_store_persists_across_a_fresh_process(tmp_path, milvus_rows):
    ids, vectors, meta = milvus_rows
    uri = str(tmp_path / "persist.db")
    with MilvusStore(uri, "items", dim=16) as s:
        s.insert(ids, vectors, meta)
        _, before = s.search_ids(vectors[:4], 5, where={"group": "Food & Drink"})
    # Closed here, so another process may open it; and it sees the same rows and answers.
    result = run_python(f"""
        import json, numpy as np
        from mmlab.search import MilvusStore
        vectors = np.array({vectors[:4].tolist()!r}, dtype=np.float32)
        with MilvusStore({uri!r}, "items") as s:
            _, ids = s.search_ids(vectors, 5, where={{"group": "Food & Drink"}})
            print(json.dumps({{"count": s.count(), "dim": s.dim, "ids": ids.tolist(),
                               "row": s.get([6])[0]}}))
    """)
    assert result["count"] == len(ids) and result["dim"] == 16
    assert result["ids"] == before.tolist()
    assert result["row"] == {"id": 6, **{f: meta[f][6] for f in MilvusStore.DEFAULT_FIELDS}}
    with MilvusStore(uri, "items") as again:  # and this process can open it again afterwards
        assert again.count() == len(ids)
