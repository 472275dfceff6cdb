"""Tests of mmlab.search.milvus: filters, the store's contract on Milvus Lite and on a real Milvus server, BM25 and
hybrid search, consistency, persistence."""
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import uuid

import numpy as np
import pytest
from milvus_server import start as start_milvus_server  # tests/milvus_server.py
from pymilvus import MilvusClient

from mmlab.search import MilvusStore, exact_topk, filter_expression, milvus_uri, reciprocal_rank_fusion
from mmlab.search.milvus import SERVER_NEEDS


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
        ({"group or 1": "a"}, None, ValueError, r"where: expected field names of letters.*got 'group or 1'"),
        ({"colour": "red"}, ["name", "group"], ValueError, r"where: unknown field 'colour'; expected one of the fields this collection can filter on, \['name', 'group'\]"),
        ({"group": None}, None, TypeError, r"where\['group'\]: expected a str, int, float or bool"),
        ({"group": {"a"}}, None, TypeError, r"where\['group'\]: expected a value or a list of values, got set"),
        ({"w": float("nan")}, None, ValueError, r"where\['w'\]: expected a finite number"),
        ("group == 'a'", None, TypeError, r"where: expected a filter dict"),
    ],
)
def test_filter_expression_rejects_bad_filters(where, fields, error, match):
    with pytest.raises(error, match=match):
        filter_expression(where, fields)


# --------------------------------------------------------------------------- where the data lives


def test_milvus_uri_is_the_lite_file_unless_a_server_is_configured(monkeypatch, tmp_path):
    lite = str(tmp_path / "emoji.db")
    monkeypatch.delenv("MMLAB_MILVUS_URI", raising=False)
    assert milvus_uri(lite) == lite
    assert milvus_uri(tmp_path / "emoji.db") == lite  # a Path too
    monkeypatch.setenv("MMLAB_MILVUS_URI", "  ")
    assert milvus_uri(lite) == lite  # blank means unset
    monkeypatch.setenv("MMLAB_MILVUS_URI", " http://127.0.0.1:19530 ")
    assert milvus_uri(lite) == "http://127.0.0.1:19530"
    monkeypatch.setenv("MMLAB_MILVUS_URI", "https://in01-xxx.zillizcloud.com:19530")
    assert milvus_uri(lite) == "https://in01-xxx.zillizcloud.com:19530"
    monkeypatch.setenv("MMLAB_MILVUS_URI", "/data/shared.db")
    assert milvus_uri(lite) == "/data/shared.db"
    monkeypatch.setenv("MMLAB_MILVUS_URI", "localhost:19530")
    with pytest.raises(ValueError, match=r"MMLAB_MILVUS_URI: expected a server address like 'http://localhost:19530'"
                                         r".*got 'localhost:19530'; unset it to use Milvus Lite"):
        milvus_uri(lite)
    with pytest.raises(TypeError, match=r"lite_file: expected a path ending in .db, got None"):
        milvus_uri(None)


# --------------------------------------------------------------------------- the two backends
# Every store test runs twice: on Milvus Lite (a folder) and on a real Milvus standalone server
# that this test run starts (tests/milvus_server.py: the `milvus` PyPI package, installed once
# beside the virtual environment; data in a temporary folder; stopped at the end). If the server
# cannot be installed or started, the server tests ERROR with its log; they never skip.
# `pytest -k "not server"` leaves them out on purpose.

BACKENDS = ["lite", "server"]


SERVER_LIFETIME = 600  # seconds: a hung server is killed then, so its tests fail instead of hanging CI


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    server = start_milvus_server(tmp_path_factory.mktemp("milvus-server"), timeout=180, stop_timeout=1)
    watchdog = threading.Timer(SERVER_LIFETIME, server.kill)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield server
    finally:
        watchdog.cancel()
        server.stop(timeout=30)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(scope="module")
def place(request, backend, tmp_path_factory):
    """place(name) -> (uri, collection): a new Milvus Lite folder, or a new collection on the server."""
    server = request.getfixturevalue("milvus_server") if backend == "server" else None

    def make(name: str) -> tuple[str, str]:
        if server is None:
            return str(tmp_path_factory.mktemp(name) / f"{name}.db"), "items"
        return server.uri, f"{name}_{uuid.uuid4().hex[:8]}"

    return make


def server_lacks(version: str | None, feature: str) -> str | None:
    """Why a server of this version cannot do ``feature`` (older than SERVER_NEEDS says); None: it can (or Lite)."""
    if version is None:
        return None
    need = SERVER_NEEDS[feature]
    have = tuple(int(x) for x in re.search(r"(\d+)\.(\d+)", version).groups())
    if have < need:
        return f"{feature} needs Milvus >= {need[0]}.{need[1]}; this server runs {version}"
    return None


# --------------------------------------------------------------------------- the store's contract

GROUPS = ["Animals & Nature", "Food & Drink", 'x" or id > 0 or "', "it's \\ tricky"]
FIELDS = ["name", "group", "subgroup", "modality"]


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
def store(place, milvus_rows):
    uri, collection = place("test")
    ids, vectors, meta = milvus_rows
    with MilvusStore(uri, collection, dim=16, fields=FIELDS) as s:
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
    assert store.count() == len(ids)  # right after the insert, on the server too
    rows = store.get([199, 3, -1, 12345, 0])
    assert [r["id"] for r in rows] == [199, 3, 0]  # in the order asked; -1 and missing ids skipped
    for r in rows:
        assert r == {"id": r["id"], **{f: meta[f][r["id"]] for f in FIELDS}}
    got = store.get([5], fields=["vector"])[0]["vector"]
    np.testing.assert_allclose(got, vectors[5], rtol=1e-6)
    assert "rows" not in repr(store) and store.uri in repr(store)  # repr asks the database nothing


def test_store_search_has_the_shared_contract(store, milvus_rows):
    _, vectors, _ = milvus_rows
    scores, ids = store.search(vectors[:5] + 0.01, k=8)
    want_scores, want_ids = exact_topk(vectors[:5] + 0.01, vectors, 8)
    assert scores.dtype == np.float32 and ids.dtype == np.int64 and scores.shape == ids.shape == (5, 8)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    scores, ids = store.search(vectors[7], k=2)
    assert ids[0, 0] == 7 and store.get(ids[0])[0]["name"] == "item 7" and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    scores, ids = store.search(vectors[:2], k=250)  # more than the 200 rows: padded
    assert (ids[:, :200] >= 0).all() and (ids[:, 200:] == -1).all() and np.isnan(scores[:, 200:]).all()


@pytest.mark.parametrize("where", [{"group": g} for g in GROUPS] + [{"group": GROUPS[1:3], "modality": "image"}])
def test_store_filters_match_python_filtering(store, milvus_rows, where):
    ids, vectors, meta = milvus_rows

    def matches(i):
        return all(meta[f][i] in (v if isinstance(v, list) else [v]) for f, v in where.items())

    allowed = np.array([i for i in ids if matches(i)])
    scores, found = store.search(vectors[:3], k=len(ids), where=where)
    for row_s, row in zip(scores, found):
        assert sorted(row[row >= 0].tolist()) == sorted(allowed.tolist())  # only and all the matching rows
        assert np.isnan(row_s[row < 0]).all()  # the rest is padding
    _, want = exact_topk(vectors[:3], vectors[allowed], 5)
    np.testing.assert_array_equal(store.search(vectors[:3], 5, where=where)[1], allowed[want])


def test_store_reads_its_own_writes_at_once(place, milvus_rows):
    """A server's default consistency (Bounded) would miss these for a few seconds; mmlab's stores read them."""
    ids, vectors, meta = milvus_rows
    uri, collection = place("rw")
    with MilvusStore(uri, collection, dim=16, fields=["name"]) as s:
        assert s.client.describe_collection(collection)["consistency_level"] == 0  # Strong
        s.insert(ids[:100], vectors[:100], {"name": meta["name"][:100]})
        assert s.search(vectors[:3], 1)[1][:, 0].tolist() == [0, 1, 2]  # inserted rows found at once
        assert s.count() == 100
        s.delete([0, 1])
        found = s.search(vectors[:2], 3)[1]
        assert 0 not in found and 1 not in found and s.count() == 98 and s.get([0, 1]) == []
        s.upsert([5], vectors[[150]], {"name": ["moved"]})  # row 5 now holds row 150's vector
        assert s.search(vectors[[150]], 1)[1][0, 0] == 5 and s.get([5])[0]["name"] == "moved"
        assert s.search(vectors[[5]], 1)[1][0, 0] != 5  # the old vector is gone
        s.delete(where={"name": "moved"})
        assert s.get([5]) == [] and 5 not in s.search(vectors[[150]], 3)[1]


def test_store_upsert_delete_and_index(place, milvus_rows):
    ids, vectors, meta = milvus_rows
    uri, collection = place("u")
    with MilvusStore(uri, collection, dim=16, metric="l2", fields=FIELDS) as s:
        s.insert(ids[:50], vectors[:50], {"name": meta["name"][:50]})
        assert s.get([1])[0]["group"] == ""  # fields left out are stored as ""
        with pytest.raises(ValueError, match=r"ids: expected new ids, got 2 that already exist \(first 0\); use upsert"):
            s.insert([0, 1], vectors[:2])
        assert s.upsert([0, 1], vectors[:2], {"name": ["new 0", "new 1"]}) == 2
        assert s.count() == 50 and s.get([1])[0]["name"] == "new 1"
        assert s.delete([0, 1, 999]) == 3  # Milvus counts every id sent, stored or not
        assert s.delete(where={"name": ["item 2", "item 3"]}) == 2
        assert s.delete(where={"name": "nothing"}) == 0
        assert s.count() == 46
        s.create_index("hnsw", M=8, ef_construction=32)
        scores, found = s.search(vectors[10:12], 3, ef_search=32)
        assert found[:, 0].tolist() == [10, 11] and np.allclose(scores[:, 0], 0, atol=1e-5)  # l2: distance 0
        with pytest.raises(ValueError, match=r"nprobe: expected an 'ivf' index"):
            s.search(vectors[:1], 3, nprobe=4)
        s.create_index("ivf", nlist=4)
        assert s.search(vectors[10:11], 1, nprobe=4)[1][0, 0] == 10
        with pytest.raises(TypeError, match=r"ivf index: unknown setting\(s\) \['M'\]"):
            s.create_index("ivf", M=8)
        with pytest.raises(ValueError, match=r"delete: expected exactly one of ids"):
            s.delete()
        with pytest.raises(ValueError, match=r"where: expected a non-empty filter"):
            s.delete(where={})
    with MilvusStore(uri, collection) as again:  # the index kind is read back from the database
        assert again.index_types == {"vector": "ivf"} and again.metric == "l2" and again.count() == 46


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
    with pytest.raises(ValueError, match=r"ef_search: expected an 'hnsw' index on 'vector', it has 'flat'"):
        store.search(vectors[:1], ef_search=16)
    with pytest.raises(ValueError, match=r"text: expected a collection made with bm25_field"):
        store.search_text(["hello"])
    with pytest.raises(ValueError, match=r"field: expected one of the vector fields \['vector'\], got 'image'"):
        store.search(vectors[:1], field="image")
    with pytest.raises(ValueError, match=r"fields: unknown field 'colour'"):
        store.get([1], fields=["colour"])
    assert store.count() == 200  # nothing above wrote anything
    fresh = f"fresh_{uuid.uuid4().hex[:8]}"
    with pytest.raises(ValueError, match=rf"dim: the collection '{fresh}' does not exist yet; give dim="):
        MilvusStore(store.uri, fresh)
    with pytest.raises(ValueError, match=rf"dim: expected \{{'vector': 16\}} like the existing collection "
                                         rf"'{store.collection}', got \{{'vector': 8\}}"):
        MilvusStore(store.uri, store.collection, dim=8)
    with pytest.raises(ValueError, match=r"bm25_field: expected one of fields=\['name'\], got 'text'"):
        MilvusStore(store.uri, "other", dim=8, fields=["name"], bm25_field="text")
    with pytest.raises(ValueError, match=r"consistency: expected one of .*'Strong'.*got 'strong'"):
        MilvusStore(store.uri, store.collection, consistency="strong")
    with pytest.raises(ValueError, match=r"uri: expected a path in an existing folder"):
        MilvusStore(str(tmp_path / "missing" / "x.db"), dim=4)
    with pytest.raises(TypeError, match=r"uri: expected a path ending in .db"):
        MilvusStore(None, dim=4)
    with pytest.raises(ValueError, match=r"uri: expected a path ending in .db \(Milvus Lite\) or a server address"):
        MilvusStore("localhost:19530", dim=4)
    closed = MilvusStore(store.uri, store.collection)
    closed.close()
    closed.close()  # closing twice is harmless
    assert "closed" in repr(closed)
    with pytest.raises(RuntimeError, match=r"this MilvusStore is closed"):
        closed.count()
    assert store.count() == 200  # closing another store on the same database leaves this one open


def test_store_and_another_process(store):
    """Milvus Lite: one process per database, refused clearly. A server: every process at once."""
    result = run_python(f"""
        import json
        from mmlab.search import MilvusStore
        try:
            with MilvusStore({store.uri!r}, {store.collection!r}) as s:
                print(json.dumps({{"error": None, "count": s.count()}}))
        except Exception as exc:
            print(json.dumps({{"error": type(exc).__name__, "message": str(exc)}}))
    """)
    if store.local:
        assert result["error"] == "RuntimeError"
        assert "already open in another process" in result["message"]
        assert "http://localhost:19530" in result["message"]
    else:
        assert result == {"error": None, "count": 200}


def test_store_persists_across_a_fresh_process(place, milvus_rows):
    ids, vectors, meta = milvus_rows
    uri, collection = place("persist")
    with MilvusStore(uri, collection, dim=16, fields=FIELDS) as s:
        s.insert(ids, vectors, meta)
        _, before = s.search(vectors[:4], 5, where={"group": "Food & Drink"})
    # Closed here, so another process may open it; and it sees the same rows and answers.
    result = run_python(f"""
        import json, numpy as np
        from mmlab.search import MilvusStore
        vectors = np.array({vectors[:4].tolist()!r}, dtype=np.float32)
        with MilvusStore({uri!r}, {collection!r}) as s:
            _, ids = s.search(vectors, 5, where={{"group": "Food & Drink"}})
            print(json.dumps({{"count": s.count(), "dim": s.dim, "fields": list(s.fields), "ids": ids.tolist(),
                               "row": s.get([6])[0]}}))
    """)
    assert result["count"] == len(ids) and result["dim"] == 16 and result["fields"] == FIELDS
    assert result["ids"] == before.tolist()
    assert result["row"] == {"id": 6, **{f: meta[f][6] for f in FIELDS}}
    with MilvusStore(uri, collection) as again:  # and this process can open it again afterwards
        assert again.count() == len(ids)


# --------------------------------------------------------------------------- BM25 and hybrid search

TEXTS = ["hot coffee drink", "cat face pet", "dog face", "hot tea beverage", "coffee bean", "red apple fruit",
         "green apple", "teapot for tea", "face with tears of joy", "hot pepper"]


@pytest.fixture(scope="module")
def text_store(place, rng):
    uri, collection = place("hybrid")
    version = None
    if not uri.endswith(".db"):
        client = MilvusClient(uri=uri)
        version = client.get_server_version()
        client.close()
    missing = server_lacks(version, "BM25 full-text search (bm25_field)")
    if missing:  # this server is too old: the error it gets is tested below
        pytest.skip(missing)
    n = len(TEXTS)
    vecs = {"text_vec": rng.standard_normal((n, 8)).astype(np.float32),
            "image_vec": rng.standard_normal((n, 6)).astype(np.float32)}
    with MilvusStore(uri, collection, dim={"text_vec": 8, "image_vec": 6}, fields=["name", "text"],
                     bm25_field="text", overwrite=True) as s:
        s.insert(np.arange(n), vecs, {"name": [f"n{i}" for i in range(n)], "text": TEXTS})
        yield s, vecs


def test_bm25_scores_are_positive_and_rank_word_matches(text_store):
    store, _ = text_store
    scores, ids = store.search_text(["coffee", "apple", "zebra"], k=4)
    assert set(ids[0][ids[0] >= 0].tolist()) == {0, 4} and set(ids[1][ids[1] >= 0].tolist()) == {5, 6}
    assert (ids[2] == -1).all() and np.isnan(scores[2]).all()  # no word in common: nothing found
    real = scores[:2][ids[:2] >= 0]
    assert (real > 0).all()  # Milvus returns BM25 negated; the store flips it: higher is better
    assert (np.diff(scores[0][ids[0] >= 0]) <= 0).all()
    scores, ids = store.search_text(["coffee"], k=4, where={"name": "n4"})
    assert ids[0].tolist() == [4, -1, -1, -1]


def test_hybrid_search_equals_rrf_of_the_single_searches(text_store):
    store, vecs = text_store
    q_text = vecs["text_vec"][:2] + 0.1
    q_image = vecs["image_vec"][[5, 7]] + 0.1
    words = ["hot drink", "apple tea"]
    fused, ids = store.hybrid_search(k=10, dense={"text_vec": q_text, "image_vec": q_image}, text=words,
                                     rrf_k=60, candidates=5)
    singles = [store.search(q_text, 5, field="text_vec")[1], store.search(q_image, 5, field="image_vec")[1],
               store.search_text(words, 5)[1]]
    want_scores, want_ids = reciprocal_rank_fusion(singles, rrf_k=60)
    for q in range(2):
        got = {int(i): float(s) for i, s in zip(ids[q], fused[q]) if i >= 0}
        want = {int(i): float(s) for i, s in zip(want_ids[q], want_scores[q]) if i >= 0}
        assert got.keys() == want.keys()
        np.testing.assert_allclose([got[i] for i in want], list(want.values()), rtol=1e-5)
        assert (np.diff(fused[q][ids[q] >= 0]) <= 1e-7).all()  # best first
    with pytest.raises(ValueError, match=r"dense, text: expected at least one search"):
        store.hybrid_search(k=3)
    with pytest.raises(ValueError, match=r"dense, text: expected the same number of queries"):
        store.hybrid_search(k=3, dense={"text_vec": q_text}, text=["one"])
    with pytest.raises(ValueError, match=r"field: expected one of the vector fields"):
        store.search(q_text)  # two vector fields: say which
    with pytest.raises(ValueError, match=r"text\[0\]: expected a non-empty query"):
        store.search_text([" "])
    with pytest.raises(ValueError, match=r"rrf_k: expected an int >= 1"):
        store.hybrid_search(k=3, text=["tea"], rrf_k=0)


# --------------------------------------------------------------------------- server only


def test_an_older_server_says_which_version_bm25_and_hybrid_search_need(milvus_server, rng):
    uri, collection = milvus_server.uri, f"old_{uuid.uuid4().hex[:8]}"
    with MilvusStore(uri, collection, dim=4) as store:
        bm25 = server_lacks(store.server_version, "BM25 full-text search (bm25_field)")
        hybrid = server_lacks(store.server_version, "hybrid_search")
        if not (bm25 or hybrid):
            pytest.skip(f"this server ({store.server_version}) has BM25 and hybrid_search")
        store.insert([0, 1], rng.standard_normal((2, 4)))
        if hybrid:
            with pytest.raises(RuntimeError, match=rf"hybrid_search needs a Milvus server >= 2\.4; the server at "
                                                   rf"'{uri}' runs {re.escape(store.server_version)}\. Upgrade"):
                store.hybrid_search(k=1, dense={"vector": np.ones((1, 4))})
        store.client.drop_collection(collection)
    if bm25:
        with pytest.raises(RuntimeError, match=r"BM25 full-text search \(bm25_field\) needs a Milvus server >= 2\.5; "
                                               r"the server at .* runs v?2\.[0-4]"):
            MilvusStore(uri, collection, dim=4, fields=["text"], bm25_field="text")
        client = MilvusClient(uri=uri)
        assert not client.has_collection(collection)  # refused before anything was created
        client.close()


def test_milvus_uri_points_a_notebook_at_the_server(milvus_server, monkeypatch, tmp_path):
    monkeypatch.setenv("MMLAB_MILVUS_URI", milvus_server.uri)
    collection = f"nb_{uuid.uuid4().hex[:8]}"
    with MilvusStore(milvus_uri(str(tmp_path / "emoji.db")), collection, dim=4, token="root:Milvus") as store:
        assert not store.local and store.uri == milvus_server.uri  # a token is passed through (no auth here)
        assert store.server_version.lstrip("v").startswith(milvus_server.version)
        store.client.drop_collection(collection)
    assert not (tmp_path / "emoji.db").exists()  # no Lite database was made


def test_a_token_is_passed_through_and_never_shown(monkeypatch, tmp_path):
    import pymilvus

    seen = {}

    class Refusing:
        def __init__(self, **kwargs):
            seen.update(kwargs)
            raise pymilvus.MilvusException(message=f"bad credentials {kwargs['token']}")

    monkeypatch.setattr(pymilvus, "MilvusClient", Refusing)
    monkeypatch.delenv("MMLAB_MILVUS_TOKEN", raising=False)
    with pytest.raises(ConnectionError, match=r"could not connect to the Milvus server at 'https://x\.cloud:443'") as err:
        MilvusStore("https://x.cloud:443", dim=4, token="sk-secret")
    assert seen == {"uri": "https://x.cloud:443", "token": "sk-secret"} and "sk-secret" not in str(err.value)
    monkeypatch.setenv("MMLAB_MILVUS_TOKEN", "from-env")
    with pytest.raises(ConnectionError):
        MilvusStore("https://x.cloud:443", dim=4)
    assert seen["token"] == "from-env"
    with pytest.raises(ValueError, match=r"token: expected no token for Milvus Lite"):
        MilvusStore(str(tmp_path / "t.db"), dim=4, token="sk-secret")
    with pytest.raises(TypeError, match=r"token: expected a str"):
        MilvusStore("https://x.cloud:443", dim=4, token=123)
