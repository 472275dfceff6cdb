"""Tests of mmlab.cache and the caching in mmlab.models.BaseEncoder, with a fake encoder (no real model)."""
import hashlib
import os

import numpy as np
import pytest
from PIL import Image

from mmlab import cache
from mmlab.models import BaseEncoder


class FakeImageEncoder(BaseEncoder):
    """A vector that is a pseudo-random function of the exact pixels, so any mix-up shows."""

    name = "fake"
    dim = 16
    modalities = ("image", "text", "audio")
    cache_key = "fake/v1"

    def __init__(self):
        self.computed = 0

    @staticmethod
    def vector(data: bytes) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(data).digest()[:8], "little")
        return np.random.default_rng(seed).normal(size=16)

    def _embed_image(self, images):
        self.computed += len(images)
        return np.stack([self.vector(im.convert("RGB").tobytes()) for im in images])

    def _embed_text(self, texts):
        self.computed += len(texts)
        return np.stack([self.vector(t.encode()) for t in texts])

    def _embed_audio(self, waveforms, sample_rate):
        self.computed += len(waveforms)
        return np.stack([self.vector(w.tobytes() + str(sample_rate).encode()) for w in waveforms])


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def near_identical_images(n=200, size=12):
    """n images that differ from the first in exactly one pixel value."""
    base = np.full((size, size, 3), 128, dtype=np.uint8)
    out = []
    for i in range(n):
        arr = base.copy()
        arr.flat[i % arr.size] += 1 + i // arr.size
        out.append(Image.fromarray(arr))
    return out


def entry_files(root):
    return sorted(p for p in root.rglob("*.npy"))


# ---------------------------------------------------------------- keys
def test_image_key_depends_on_every_pixel_mode_size_and_palette():
    images = near_identical_images(50)
    keys = {cache.image_key(im) for im in images}
    assert len(keys) == 50
    a = Image.new("RGB", (4, 4), (1, 2, 3))
    assert cache.image_key(a) == cache.image_key(a.copy())
    # same bytes, different shape or mode
    flat = np.arange(48, dtype=np.uint8)
    assert cache.image_key(Image.fromarray(flat.reshape(4, 4, 3))) != cache.image_key(
        Image.fromarray(flat.reshape(2, 8, 3)))
    gray = Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4), mode="L")
    pal = gray.convert("P")
    pal2 = pal.copy()
    pal2.putpalette([255 - v for v in pal.getpalette()])
    assert pal.tobytes() == pal2.tobytes()
    assert cache.image_key(pal) != cache.image_key(pal2)
    assert cache.image_key(gray) != cache.image_key(pal)


def test_text_and_audio_keys():
    assert cache.text_key("cat") != cache.text_key("cat ")
    assert cache.text_key("cat") != cache.text_key("Cat")
    w = np.linspace(-1, 1, 100, dtype=np.float32)
    assert cache.audio_key(w, 16000) != cache.audio_key(w, 8000)
    assert cache.audio_key(w, 16000) == cache.audio_key(w.astype(np.float64), 16000)
    # keys of different kinds never collide, even for the same bytes
    assert cache.text_key("a") != cache.content_key(b"a")


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MMLAB_CACHE", str(tmp_path))
    assert cache.cache_dir() == tmp_path and cache.enabled()
    monkeypatch.setenv("MMLAB_CACHE", "off")
    assert cache.cache_dir() is None and not cache.enabled()
    monkeypatch.delenv("MMLAB_CACHE")
    assert cache.cache_dir() == cache.Path.home() / ".cache" / "mmlab"


# ---------------------------------------------------------------- store
def test_round_trip_and_shard_layout(cache_root):
    store = cache.EmbeddingCache("m/v1", 4)
    keys = [cache.text_key(t) for t in ("a", "b")]
    vecs = np.arange(8, dtype=np.float32).reshape(2, 4)
    assert store.get_many(keys) == [None, None]
    store.put_many(keys, vecs)
    got = cache.EmbeddingCache("m/v1", 4).get_many(keys)  # a new reader, from disk
    np.testing.assert_array_equal(np.stack(got), vecs)
    files = entry_files(cache_root)
    assert sorted(f.name.split(".", 1)[1] for f in files) == ["keys.npy", "vectors.npy"]  # one shard
    assert np.load(next(f for f in files if f.name.endswith(".vectors.npy"))).shape == (2, 4)
    assert not list(cache_root.rglob("*.tmp"))  # no temporary files left behind
    with pytest.raises(ValueError, match=r"vectors: expected shape \(2, 4\)"):
        store.put_many(keys, vecs[:, :3])


def test_many_writes_stay_a_few_files(cache_root):
    """One shard per write, merged past MAX_SHARDS: 1,000 vectors written one by one are not 1,000 files."""
    keys = [cache.text_key(str(i)) for i in range(200)]
    vecs = np.random.default_rng(0).standard_normal((200, 4)).astype(np.float32)
    for i in range(200):
        cache.EmbeddingCache("m/v1", 4).put_many(keys[i:i + 1], vecs[i:i + 1])
    assert len(entry_files(cache_root)) <= 2 * (cache.EmbeddingCache.MAX_SHARDS + 1)
    np.testing.assert_array_equal(np.stack(cache.EmbeddingCache("m/v1", 4).get_many(keys)), vecs)


def test_stored_keys_are_not_written_again(cache_root):
    store = cache.EmbeddingCache("m/v1", 4)
    keys = [cache.text_key(t) for t in ("a", "b")]
    store.put_many(keys, np.ones((2, 4), np.float32))
    before = entry_files(cache_root)
    cache.EmbeddingCache("m/v1", 4).put_many(keys, np.ones((2, 4), np.float32))
    assert entry_files(cache_root) == before


def test_other_model_key_or_dim_is_a_miss(cache_root):
    key = cache.text_key("a")
    cache.EmbeddingCache("m/v1", 4).put_many([key], np.ones((1, 4), np.float32))
    assert cache.EmbeddingCache("m/v2", 4).get_many([key]) == [None]
    with pytest.warns(RuntimeWarning, match="bad entry"):
        assert cache.EmbeddingCache("m/v1", 5).get_many([key]) == [None]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "nan", "keys"])
def test_damaged_entry_is_a_miss_with_a_warning(cache_root, damage):
    store = cache.EmbeddingCache("m/v1", 8)
    key = cache.text_key("x")
    store.put_many([key], np.ones((1, 8), np.float32))
    (path,) = [f for f in entry_files(cache_root) if f.name.endswith(".vectors.npy")]
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) - 10])
    elif damage == "garbage":
        path.write_bytes(b"not an npy file at all")
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "nan":
        np.save(path, np.full((1, 8), np.nan, np.float32))
    else:
        np.save(path.with_name(path.name.replace(".vectors.", ".keys.")), np.zeros((1, 31), np.uint8))
    with pytest.warns(RuntimeWarning, match="recomputing"):
        assert cache.EmbeddingCache("m/v1", 8).get_many([key]) == [None]


def test_interrupted_write_leaves_no_entry(cache_root, monkeypatch):
    store = cache.EmbeddingCache("m/v1", 4)
    key = cache.text_key("x")
    real_save = np.save
    calls = []

    def dying_save(f, arr, allow_pickle=False):
        calls.append(1)
        if len(calls) == 2:  # the vectors are written, then the kernel dies writing the keys
            f.write(b"\x93NUMPY half")
            raise KeyboardInterrupt
        real_save(f, arr, allow_pickle=allow_pickle)

    monkeypatch.setattr(cache.np, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        store.put_many([key], np.ones((1, 4), np.float32))
    monkeypatch.undo()
    assert not [f for f in entry_files(cache_root) if f.name.endswith(".keys.npy")]  # no complete shard
    assert not list(cache_root.rglob("*.tmp"))
    assert cache.EmbeddingCache("m/v1", 4).get_many([key]) == [None]


def test_a_shared_cache_is_read_and_never_written(tmp_path, monkeypatch):
    shared, private = tmp_path / "shared", tmp_path / "private"
    a, b = cache.text_key("a"), cache.text_key("b")
    cache.EmbeddingCache("m/v1", 4, root=shared).put_many([a], np.ones((1, 4), np.float32))
    (shared / "generator" / "x").mkdir(parents=True)
    monkeypatch.setenv("MMLAB_CACHE", str(private))
    monkeypatch.setenv("MMLAB_CACHE_SHARED", str(shared))
    shared_files = entry_files(shared)
    store = cache.EmbeddingCache("m/v1", 4)
    np.testing.assert_array_equal(store.get_many([a])[0], np.ones(4))
    store.put_many([a, b], np.full((2, 4), 2, np.float32))  # a is already found: only b is written
    assert entry_files(shared) == shared_files
    assert np.load(next(f for f in entry_files(private) if f.name.endswith(".vectors.npy"))).shape == (1, 4)
    assert cache.find_folder("generator/x") == shared / "generator" / "x"
    (private / "generator" / "x").mkdir(parents=True)
    assert cache.find_folder("generator/x") == private / "generator" / "x"  # the private copy wins
    assert cache.find_folder("generator/y") is None


def test_unwritable_cache_warns_and_keeps_working(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where the cache folder should be
    monkeypatch.setenv("MMLAB_CACHE", str(blocker))
    enc = FakeImageEncoder()
    with pytest.warns(RuntimeWarning, match="could not write"):
        out = enc.encode_text(["a", "b"], progress=False)
    assert out.shape == (2, 16)


# ---------------------------------------------------------------- through an encoder
def test_second_encode_is_served_from_the_cache(cache_root):
    enc = FakeImageEncoder()
    images = near_identical_images(40)
    first = enc.encode_image(images, progress=False)
    assert enc.computed == 40
    again = FakeImageEncoder()
    second = again.encode_image(images, progress=False)  # a fresh process, same disk
    np.testing.assert_array_equal(first, second)
    assert again.computed == 0
    assert len(entry_files(cache_root)) < 40  # shards of many vectors, not a file per vector


def test_partial_hits_compute_only_the_misses(cache_root, monkeypatch):
    enc = FakeImageEncoder()
    images = near_identical_images(30)
    enc.encode_image(images[:20], progress=False)
    enc.computed = 0
    out = enc.encode_image(images, batch_size=4, progress=False)
    assert enc.computed == 10
    fresh = FakeImageEncoder()
    monkeypatch.setenv("MMLAB_CACHE", "off")
    np.testing.assert_allclose(out, fresh.encode_image(images, progress=False), atol=1e-7)


def test_cache_never_returns_another_inputs_vector(cache_root, monkeypatch):
    images = near_identical_images(300)
    enc = FakeImageEncoder()
    enc.encode_image(images[::2], batch_size=7, progress=False)  # half cached, in odd-sized batches
    cached = enc.encode_image(images, batch_size=32, progress=False)
    monkeypatch.setenv("MMLAB_CACHE", "off")
    truth = FakeImageEncoder().encode_image(images, progress=False)
    np.testing.assert_allclose(cached, truth, atol=1e-7)
    assert len({row.tobytes() for row in cached}) == 300


def test_duplicates_in_one_call_are_computed_once(cache_root):
    enc = FakeImageEncoder()
    out = enc.encode_text(["a", "b", "a", "a"], progress=False)
    assert enc.computed == 2
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out[0], out[3])


def test_corrupt_entry_is_recomputed_through_the_encoder(cache_root):
    enc = FakeImageEncoder()
    texts = ["alpha", "beta", "gamma"]
    good = enc.encode_text(texts, progress=False)
    (victim,) = [f for f in entry_files(cache_root) if f.name.endswith(".vectors.npy")]
    victim.write_bytes(victim.read_bytes()[:40])
    enc.computed = 0
    with pytest.warns(RuntimeWarning, match="recomputing"):
        again = enc.encode_text(texts, progress=False)
    assert enc.computed == 3  # the damaged shard held all three
    np.testing.assert_allclose(again, good, atol=1e-7)
    enc.computed = 0
    enc.encode_text(texts, progress=False)  # repaired: no warning, nothing computed
    assert enc.computed == 0


def test_audio_cache_keys_include_the_sample_rate(cache_root):
    enc = FakeImageEncoder()
    w = [np.sin(np.linspace(0, 100, 8000)).astype(np.float32)]
    a = enc.encode_audio(w, 8000, progress=False)
    b = enc.encode_audio(w, 16000, progress=False)
    assert enc.computed == 2
    assert not np.allclose(a, b)


def test_disabled_cache_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLAB_CACHE", "off")
    enc = FakeImageEncoder()
    enc.encode_text(["a"], progress=False)
    enc.encode_text(["a"], progress=False)
    assert enc.computed == 2


def test_atomic_folder_appears_whole_or_not_at_all(tmp_path):
    target = tmp_path / "models" / "m"
    with cache.atomic_folder(target) as tmp:
        (tmp / "weights.bin").write_bytes(b"123")
        assert not target.exists()  # nothing visible until the block ends
    assert (target / "weights.bin").read_bytes() == b"123"
    assert [p.name for p in target.parent.iterdir()] == ["m"]  # no temporary folder left

    broken = tmp_path / "models" / "broken"
    with pytest.raises(RuntimeError, match="interrupted"), cache.atomic_folder(broken) as tmp:
        (tmp / "half.bin").write_bytes(b"1")
        raise RuntimeError("interrupted")
    assert not broken.exists() and sorted(p.name for p in target.parent.iterdir()) == ["m"]


def test_atomic_folder_keeps_the_copy_another_process_wrote_first(tmp_path):
    target = tmp_path / "m"
    with cache.atomic_folder(target) as tmp:
        (tmp / "ours.bin").write_bytes(b"ours")
        target.mkdir()  # another process finishes first
        (target / "theirs.bin").write_bytes(b"theirs")
    assert [p.name for p in target.iterdir()] == ["theirs.bin"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_disabled_turns_the_cache_off_and_restores_it(monkeypatch, tmp_path):
    from mmlab import cache

    monkeypatch.setenv("MMLAB_CACHE", str(tmp_path))
    with cache.disabled():
        assert not cache.enabled()
    assert cache.cache_dir() == tmp_path


def test_entries_of_the_old_one_file_per_vector_layout_are_folded_into_a_shard(cache_root):
    store = cache.EmbeddingCache("m/v1", 4)
    keys = [cache.text_key(t) for t in ("a", "b")]
    for i, key in enumerate(keys):  # the layout of earlier versions: <root>/<model>/<h[:2]>/<h>.npy
        (store.directory / key[:2]).mkdir(parents=True, exist_ok=True)
        np.save(store.directory / key[:2] / f"{key}.npy", np.full(4, i, np.float32))
    got = cache.EmbeddingCache("m/v1", 4).get_many(keys)
    np.testing.assert_array_equal(np.stack(got), [[0] * 4, [1] * 4])
    assert sorted(f.name.split(".", 1)[1] for f in entry_files(cache_root)) == ["keys.npy", "vectors.npy"]


def test_file_key_follows_the_content_not_the_name_or_size(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"a" * 1000)
    first = cache.file_key(path)
    assert first == cache.file_key(path) and len(first) == 64
    path.write_bytes(b"b" * 1000)  # the same name and size, other weights
    os.utime(path, ns=(1, 1))
    assert cache.file_key(path) != first
