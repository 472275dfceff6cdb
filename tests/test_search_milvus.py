"""Tests of mmlab.search.milvus: filters, the store's contract, BM25 and hybrid search, persistence."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mmlab.search import MilvusStore, exact_topk, filter_expression


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


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
