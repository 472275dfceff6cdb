"""Faults a workshop meets: no internet, a damaged cache, a killed kernel, a re-run cell.

Each test simulates one fault for real (an offline hub, a truncated file, SIGKILL of a
process in the middle of writing) and checks that mmlab fails fast with instructions or
recovers on its own.

Covered elsewhere, not repeated here:
- ``fetch`` / ``load("clip")`` / ``load_clip()`` offline, the one quick hub attempt, the
  MMLAB_JOINT_MODEL switch, unknown names, CLIP from a file: ``tests/models/``;
- truncated, empty, garbage, NaN or wrong-length cache entries, an interrupted write (simulated
  in-process), an unwritable cache folder: ``tests/test_cache.py``;
- a Milvus Lite database opened by a second process gives a clear error naming the fix:
  ``tests/test_search.py::test_store_refuses_a_file_open_in_another_process``;
- every committed row survives a clean close and is seen by a fresh process:
  ``tests/test_search.py::test_store_persists_across_a_fresh_process``;
- a decompression bomb, truncated, empty and non-image file in a photo folder are skipped
  with a warning: ``tests/test_data.py`` (the broken-file folder tests).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest

from mmlab import cache as mcache
from mmlab import models
from mmlab.search import MilvusStore

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env(**extra) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.update(extra)
    return env


# --------------------------------------------------------------------------- offline model fetch


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test: offline must mean *no* attempt."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"mmlab tried to open a network connection: {args[:1]}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_fetch_with_an_unreachable_hub_fails_with_instructions(monkeypatch, capsys):
    # Not offline by flag, but the "hub" refuses connections: one quick attempt, then a message.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1")
    code = models.fetch(["clip"])
    err = capsys.readouterr().err
    assert code == 1
    assert "unreachable" in err and "machine with internet" in err


def test_python_m_mmlab_fetch_offline_exits_non_zero_with_a_message():
    out = subprocess.run([sys.executable, "-m", "mmlab", "fetch"], check=False, capture_output=True, text=True,
                         timeout=180, cwd=REPO, env=_env())
    assert out.returncode == 1, out.stderr[-2000:]
    assert "HF_HUB_OFFLINE=1" in out.stderr and "Traceback" not in out.stderr


def test_fetch_offline_decides_without_importing_torch():
    # "Fails fast" without a timed assertion: importing torch/open_clip is what would take tens of seconds.
    code = ("import sys; from mmlab.__main__ import main; code = main(['fetch']); "
            "print(code, 'torch' in sys.modules, 'open_clip' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120,
                         cwd=REPO, env=_env())
    assert out.stdout.split() == ["1", "False", "False"], out.stderr[-2000:]


def test_fetch_of_an_unknown_clip_tag_lists_the_known_ones(no_network, capsys):
    assert models.fetch(["clip:ViT-B-32/no-such-tag"]) == 2
    err = capsys.readouterr().err
    assert "no-such-tag" in err and "laion2b_s34b_b79k" in err


# --------------------------------------------------------------------------- embedding cache


class CountingEncoder(models.BaseEncoder):
    """A tiny text encoder that counts how many texts it really computed."""

    name, dim, modalities, cache_key = "counting", 4, ("text",), "counting/v1"

    def __init__(self):
        self.computed: list[str] = []

    def _embed_text(self, texts):
        self.computed += texts
        return np.array([[len(s), s.count("a"), 1.0, ord(s[0])] for s in texts], np.float32)


@pytest.fixture
def encoder(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLAB_CACHE", str(tmp_path / "cache"))
    return CountingEncoder()


def _shard(root):
    """The vectors file of the one shard an encode call wrote."""
    (path,) = root.rglob("*.vectors.npy")
    return path


def _damage(path, how: str) -> None:
    raw = path.read_bytes()
    if how == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(os.urandom(len(raw)))
    elif how == "wrong-shape":
        np.save(path, np.ones((3, 3), np.float32))
    elif how == "wrong-dtype":
        np.save(path, np.ones((3, 4), np.float64))
    elif how == "nan":
        np.save(path, np.full((3, 4), np.nan, np.float32))
    elif how == "pickle":  # an object array would need allow_pickle=True to load: never
        np.save(path, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    elif how == "directory":
        path.unlink()
        path.mkdir()
    else:  # pragma: no cover
        raise ValueError(how)


@pytest.mark.filterwarnings("ignore:mmlab cache. could not write")  # the "directory" case cannot be repaired
# truncated, empty, garbage, NaN and wrong-length entries: tests/test_cache.py
@pytest.mark.parametrize("how", ["wrong-dtype", "pickle", "directory"])
def test_a_damaged_cache_entry_is_recomputed_with_a_warning(encoder, tmp_path, how):
    texts = ["a cat", "a banana", "a rocket"]
    first = encoder.encode_text(texts, progress=False)
    assert encoder.computed == texts
    _damage(_shard(tmp_path / "cache"), how)
    encoder.computed.clear()
    with pytest.warns(RuntimeWarning, match=r"mmlab cache: (unreadable|bad) (entry|shard) .*recomputing"):
        again = encoder.encode_text(texts, progress=False)
    assert encoder.computed == texts  # the damaged shard's vectors, nothing else
    np.testing.assert_array_equal(again, first)
    if how != "directory":  # a directory in the way cannot be overwritten; it stays a (warned) miss
        encoder.computed.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # repaired: a third run reads every entry silently
            np.testing.assert_array_equal(encoder.encode_text(texts, progress=False), first)
        assert encoder.computed == []


WRITER = """
import sys, numpy as np
from mmlab import cache
store = cache.EmbeddingCache("killed/v1", 64, root=sys.argv[1])
i = 0
while True:
    keys = [cache.text_key(f"text {i + j}") for j in range(20)]
    store.put_many(keys, np.random.default_rng(i).standard_normal((20, 64)).astype(np.float32))
    i += 20
    print(i, flush=True)
"""


def test_a_process_killed_while_writing_the_cache_leaves_only_complete_entries(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                            env=_env(), cwd=REPO)
    written = 0
    try:
        for line in proc.stdout:
            written = int(line)
            if written >= 400:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert written >= 400, "the writer died before it was killed"
    store = mcache.EmbeddingCache("killed/v1", 64, root=tmp_path)
    keys = [mcache.text_key(f"text {i}") for i in range(written + 400)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not one unreadable entry: writes are atomic renames
        got = store.get_many(keys)
    present = [i for i, v in enumerate(got) if v is not None]
    assert present[: written] == list(range(written))  # every acknowledged batch is there
    for i in present:  # and every entry present holds exactly what was written
        batch = i // 20
        want = np.random.default_rng(batch * 20).standard_normal((20, 64)).astype(np.float32)[i % 20]
        np.testing.assert_array_equal(got[i], want)


SHARED_WRITER = """
import sys, numpy as np
from mmlab import cache
store = cache.EmbeddingCache("shared/v1", 32, root=sys.argv[1])
for i in range(300):  # both processes write the same 300 keys, in opposite orders
    j = i if sys.argv[2] == "up" else 299 - i
    store.put_many([cache.text_key(f"text {j}")], np.full((1, 32), j, np.float32))
"""


def test_two_kernels_writing_one_cache_leave_only_complete_entries(tmp_path):
    # Two notebooks open at once share ~/.cache/mmlab and race on the same entries.
    procs = [subprocess.Popen([sys.executable, "-c", SHARED_WRITER, str(tmp_path), way], env=_env(), cwd=REPO)
             for way in ("up", "down")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = mcache.EmbeddingCache("shared/v1", 32, root=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = store.get_many([mcache.text_key(f"text {j}") for j in range(300)])
    assert all(v is not None and (v == j).all() for j, v in enumerate(got))
    assert not list(tmp_path.rglob("*.tmp"))  # no temporary file left behind


# --------------------------------------------------------------------------- Milvus Lite: kills and upserts


def _vectors(ids) -> np.ndarray:
    """The vector of each id, reproducible in any process."""
    ids = np.asarray(ids)
    return np.stack([np.random.default_rng(int(i)).standard_normal(8) for i in ids]).astype(np.float32)


INSERTER = """
import sys, numpy as np
from mmlab.search import MilvusStore
uri, batch = sys.argv[1], int(sys.argv[2])
def vectors(ids):
    return np.stack([np.random.default_rng(int(i)).standard_normal(8) for i in ids]).astype(np.float32)
store = MilvusStore(uri, "items", dim=8, fields=["name", "group"])
b = 0
while True:
    ids = np.arange(b * batch, (b + 1) * batch)
    store.insert(ids, vectors(ids), {"name": [f"item {i}" for i in ids], "group": [f"batch {b}"] * batch})
    print(b, flush=True)  # this batch is acknowledged
    b += 1
"""


def _read_all(store: MilvusStore, upto: int) -> list[dict]:
    return store.get(np.arange(upto), fields=["name", "group", "vector"])


def test_a_process_killed_during_inserts_leaves_a_consistent_prefix(tmp_path):
    uri, batch = str(tmp_path / "killed.db"), 300
    proc = subprocess.Popen([sys.executable, "-c", INSERTER, uri, str(batch)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(), cwd=REPO)
    acknowledged = -1
    try:
        for line in proc.stdout:
            acknowledged = int(line)
            if acknowledged >= 3:  # kill while batch 4 is on its way
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    # On a busy machine the child may have acknowledged more batches before the signal landed.
    acknowledged = max([acknowledged] + [int(line) for line in proc.stdout.read().split()])
    assert acknowledged >= 3, proc.stderr.read()[-2000:]

    with MilvusStore(uri, "items") as store:  # the lock died with the process: it reopens here
        n = store.count()
        rows = _read_all(store, (acknowledged + 3) * batch)
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)) == n  # no duplicates, count agrees with the rows
        assert n % batch == 0 and ids and sorted(ids) == list(range(n))  # whole batches, a prefix
        assert (acknowledged + 1) * batch <= n <= (acknowledged + 2) * batch  # nothing acknowledged is lost
        vectors = _vectors(ids)
        for r, v in zip(rows, vectors):  # every row present is complete
            assert r["name"] == f"item {r['id']}" and r["group"] == f"batch {r['id'] // batch}"
            np.testing.assert_allclose(r["vector"], v, rtol=1e-6)
        # Still a working database: it searches and takes new rows after the crash.
        _, found = store.search(vectors[:3], 1)
        assert found[:, 0].tolist() == ids[:3]
        store.insert([n], _vectors([n]), {"name": [f"item {n}"]})
        assert store.count() == n + 1


UPSERTER = """
import sys, time, numpy as np
from mmlab.search import MilvusStore
uri = sys.argv[1]
ids = np.arange(50)
vecs = np.stack([np.random.default_rng(int(i)).standard_normal(8) for i in ids]).astype(np.float32)
store = MilvusStore(uri, "items", dim=8, fields=["name", "group"])
store.insert(ids, vecs, {"name": [f"v1 {i}" for i in ids]})
for _ in range(3):  # a notebook cell re-run three times
    store.upsert(ids[:30], vecs[:30], {"name": [f"v2 {i}" for i in ids[:30]]})
print(store.count(), flush=True)
if sys.argv[2] == "kill":
    time.sleep(600)  # killed here, without close()
"""


@pytest.mark.parametrize("ending", ["kill", "exit"])
def test_upsert_is_idempotent_and_survives_a_restart(tmp_path, ending):
    uri = str(tmp_path / "upsert.db")
    proc = subprocess.Popen([sys.executable, "-c", UPSERTER, uri, ending], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(), cwd=REPO)
    try:
        line = proc.stdout.readline()
    finally:
        if ending == "kill":
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=120)
    assert line.strip() == "50", proc.stderr.read()[-2000:]  # three upserts of 30 rows added nothing
    with MilvusStore(uri, "items") as store:  # a fresh process's view, after a kill or a plain exit
        rows = store.get(np.arange(60))
        assert store.count() == len(rows) == 50
        assert sorted(r["id"] for r in rows) == list(range(50))  # no duplicate from delete+insert
        names = {r["id"]: r["name"] for r in rows}
        assert all(names[i] == (f"v2 {i}" if i < 30 else f"v1 {i}") for i in range(50))
        # Upsert once more here: same count, same rows (idempotent in this process too).
        store.upsert(np.arange(30), _vectors(np.arange(30)), {"name": [f"v2 {i}" for i in range(30)]})
        assert store.count() == 50
        assert {r["id"]: r["name"] for r in store.get(np.arange(60))} == names



def test_re_running_the_cell_that_opens_a_store_keeps_working(tmp_path):
    # In a notebook, `store = MilvusStore(...)` is often run again without closing the first one.
    uri = str(tmp_path / "rerun.db")
    first = MilvusStore(uri, "items", dim=8)
    first.insert([0, 1], _vectors([0, 1]))
    second = MilvusStore(uri, "items", dim=8)  # the cell, re-run
    assert second.count() == 2
    first.close()  # closing the old object must not pull the database from under the new one
    second.insert([2], _vectors([2]))
    third = MilvusStore(uri, "items", dim=8, overwrite=True)  # re-run with overwrite: a fresh collection
    assert third.count() == 0 and second.count() == 0
    second.close()
    third.insert([5], _vectors([5]))
    assert third.get([5])[0]["id"] == 5
    third.close()
    with MilvusStore(uri, "items") as again:  # everything closed: it reopens, with what was written last
        assert again.count() == 1
