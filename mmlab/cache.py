"""An on-disk cache of embeddings: a few arrays of many vectors per model, keyed by content.

Re-running a notebook re-encodes the same emoji, photos and sentences; reading ~1,900
vectors back takes a fraction of a second, encoding them takes tens of seconds.

Layout: ``<root>/<model key>/<id>.vectors.npy`` ((n, dim) float32) beside
``<id>.keys.npy`` ((n, 32) uint8): the BLAKE2b hashes of the inputs' content (an image's
mode, size and pixels; a text's UTF-8 bytes; a waveform's samples and sample rate), row by
row. The model key includes every setting that changes the vectors (e.g. the input
resolution), so two settings never share entries. A model holds at most a few dozen files,
which suits a cache on a cluster's shared file system.

- The root is ``$MMLAB_CACHE`` or ``~/.cache/mmlab``; ``MMLAB_CACHE=off`` disables it.
- ``$MMLAB_CACHE_SHARED`` names read-only caches (separated by ``os.pathsep``) looked up
  after the private one: an instructor warms one copy on a cluster's scratch and every
  learner reads it; nothing is ever written there. Cached model folders (the converted
  generator, the trained reranker) are found there too (:func:`find_folder`).
- Writes go to a temporary file that is renamed into place (atomic on POSIX and
  Windows), so a kernel killed mid-write never leaves a half-written entry.
- An entry that cannot be read, or has the wrong shape or non-finite values, is
  reported with a warning and treated as a miss (it is recomputed and stored again).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

__all__ = [
    "EmbeddingCache",
    "atomic_file",
    "atomic_folder",
    "audio_key",
    "cache_dir",
    "content_key",
    "disabled",
    "enabled",
    "file_key",
    "find_folder",
    "image_key",
    "shared_dirs",
    "text_key",
]

_OFF = {"off", "0", "false", "no", "none", ""}


def cache_dir() -> Path | None:
    """The cache root from ``MMLAB_CACHE`` (default ``~/.cache/mmlab``), or None when disabled."""
    value = os.environ.get("MMLAB_CACHE")
    if value is None:
        return Path.home() / ".cache" / "mmlab"
    if value.strip().lower() in _OFF:
        return None
    return Path(value).expanduser()


def shared_dirs() -> list[Path]:
    """The read-only cache roots named by ``MMLAB_CACHE_SHARED`` (``os.pathsep``-separated), in order."""
    value = os.environ.get("MMLAB_CACHE_SHARED", "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def find_folder(relative: str | os.PathLike) -> Path | None:
    """A cached model folder (e.g. ``"generator/<key>"``): the private cache's, else a shared one's.

    Args:
        relative: the folder's path below a cache root.
    Returns:
        The first existing folder in ``MMLAB_CACHE`` then ``MMLAB_CACHE_SHARED``, or None.
    """
    root = cache_dir()
    for base in [*([root] if root is not None else []), *shared_dirs()]:
        if (base / relative).is_dir():
            return base / relative
    return None


@functools.lru_cache(maxsize=32)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_key(path: str | os.PathLike) -> str:
    """The BLAKE2b hash of a file's content (64 hex digits), computed once per process per version of the file.

    For keys of cached model folders: a model file replaced by another of the same name and size
    gets a new key (about 0.2 s per 100 MB, the first time).
    """
    stat = os.stat(path)
    return _file_digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def enabled() -> bool:
    """Whether the embedding cache is switched on (``MMLAB_CACHE`` is not ``off``)."""
    return cache_dir() is not None


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Turn the cache off inside a ``with`` block (to time real encoding, not disk reads)."""
    saved = os.environ.get("MMLAB_CACHE")
    os.environ["MMLAB_CACHE"] = "off"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MMLAB_CACHE", None)
        else:
            os.environ["MMLAB_CACHE"] = saved


def content_key(*parts: bytes) -> str:
    """A 64-hex-digit BLAKE2b digest of ``parts`` (each length-prefixed, so splits cannot collide)."""
    h = hashlib.blake2b(digest_size=32)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def image_key(image) -> str:
    """Content hash of a PIL image: mode, size, palette (if any) and pixel bytes."""
    palette = image.getpalette() if image.mode in ("P", "PA") else None
    return content_key(b"image", image.mode.encode(), repr(image.size).encode(),
                       bytes(palette or b""), image.tobytes())


def text_key(text: str) -> str:
    """Content hash of a string (its UTF-8 bytes)."""
    return content_key(b"text", text.encode("utf-8", "surrogatepass"))


def audio_key(waveform: np.ndarray, sample_rate: int) -> str:
    """Content hash of a 1-D waveform: float32 samples plus the sample rate."""
    samples = np.ascontiguousarray(waveform, dtype=np.float32)
    return content_key(b"audio", str(int(sample_rate)).encode(), samples.tobytes())


def _slug(model_key: str) -> str:
    """A file-system-safe directory name for a model key (readable prefix + short hash)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", model_key)[:60]
    return f"{readable}-{content_key(model_key.encode())[:8]}"


class EmbeddingCache:
    """The vectors of one model (one ``model_key``), stored as a few arrays of many vectors each.

    A *shard* is two files in the model's folder: ``<id>.vectors.npy``, (n, dim) float32, and
    ``<id>.keys.npy``, (n, 32) uint8, the content keys of its rows in order. The keys file is
    written last, so a shard without one is incomplete and never read. Each write of new
    vectors adds one shard; past :attr:`MAX_SHARDS` the folder is merged into one, so a model
    holds a handful of files (not one per input, which a shared file system handles badly).

    Lookups read the private cache (``MMLAB_CACHE``) first, then each read-only shared cache
    (``MMLAB_CACHE_SHARED``); writes go to the private one only.

    Args:
        model_key: the model name plus every setting that changes its outputs.
        dim: the length of each stored vector (a shard of another width is skipped with a warning).
        root: the private cache root; ``None`` reads ``MMLAB_CACHE`` now.
        shared: read-only cache roots; ``None`` reads ``MMLAB_CACHE_SHARED`` now.
    """

    MAX_SHARDS = 16

    def __init__(self, model_key: str, dim: int, root: Path | str | None = None,
                 shared: list[Path] | None = None):
        self.model_key = model_key
        self.dim = int(dim)
        root = cache_dir() if root is None else Path(root)
        self.directory = None if root is None else root / _slug(model_key)
        shared = shared_dirs() if shared is None else [Path(p) for p in shared]
        self.shared = [p / _slug(model_key) for p in shared]
        self._index: dict[bytes, tuple[np.ndarray, int]] | None = None

    # ------------------------------------------------------------------ reading
    def _shards(self, folder: Path) -> list[Path]:
        try:
            return sorted(folder.glob("*.keys.npy"))
        except OSError:
            return []

    def _open(self, keys_file: Path) -> tuple[np.ndarray, np.ndarray] | None:
        """A shard's (n, 32) uint8 keys and (n, dim) float32 vectors (memory-mapped), or None if unusable."""
        vectors_file = keys_file.with_name(keys_file.name.replace(".keys.npy", ".vectors.npy"))
        try:
            keys = np.load(keys_file, allow_pickle=False)
            vectors = np.load(vectors_file, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:  # merged away by another process since the listing
            return None
        except Exception as exc:  # truncated, corrupt or not an .npy file at all
            warnings.warn(f"mmlab cache: unreadable shard {keys_file} ({type(exc).__name__}: {exc}); "
                          "recomputing its vectors", RuntimeWarning, stacklevel=4)
            return None
        n = len(keys)
        if (keys.dtype != np.uint8 or keys.shape != (n, 32) or vectors.dtype != np.dtype("<f4")
                or vectors.shape != (n, self.dim)):
            warnings.warn(f"mmlab cache: bad entry {keys_file} (keys {keys.shape} {keys.dtype}, vectors "
                          f"{vectors.shape} {vectors.dtype}, expected (n, 32) uint8 and (n, {self.dim}) "
                          "float32); recomputing its vectors", RuntimeWarning, stacklevel=4)
            return None
        return keys, vectors

    def _migrate_legacy(self) -> None:
        """Fold the one-file-per-vector entries of earlier mmlab versions (``<h[:2]>/<h>.npy``) into one shard."""
        if self.directory is None:
            return
        files = sorted(self.directory.glob("[0-9a-f][0-9a-f]/*.npy"))
        digests, vectors = [], []
        for path in files:
            try:
                vec = np.load(path, allow_pickle=False)
                digest = bytes.fromhex(path.stem)
            except Exception:  # damaged or foreign: left out (recomputed on demand)
                continue
            if vec.shape == (self.dim,) and vec.dtype == np.float32 and np.isfinite(vec).all() and len(digest) == 32:
                digests.append(digest)
                vectors.append(vec)
        try:
            if digests:
                self._write_shard(np.frombuffer(b"".join(digests), np.uint8).reshape(-1, 32), np.stack(vectors))
            for path in files:
                path.unlink()
            for folder in {p.parent for p in files}:
                folder.rmdir()
        except OSError:  # read-only or shared with an older mmlab: read the new shard, leave the rest
            pass

    def _load(self) -> dict[bytes, tuple[np.ndarray, int]]:
        if self._index is None:
            self._migrate_legacy()
            index: dict[bytes, tuple[np.ndarray, int]] = {}
            # Shared caches first, the private one last: its entries win.
            for folder in [*reversed(self.shared), *([self.directory] if self.directory else [])]:
                for keys_file in self._shards(folder):
                    shard = self._open(keys_file)
                    if shard is not None:
                        keys, vectors = shard
                        index.update((k.tobytes(), (vectors, row)) for row, k in enumerate(keys))
            self._index = index
        return self._index

    def get_many(self, keys: list[str]) -> list[np.ndarray | None]:
        """Look up each key; a missing or damaged entry gives None.

        Returns:
            One (dim,) float32 array or None per key, in order.
        """
        if self.directory is None and not self.shared:
            return [None] * len(keys)
        index = self._load()
        found: list[np.ndarray | None] = []
        for key in keys:
            hit = index.get(bytes.fromhex(key))
            vec = None
            if hit is not None:
                try:
                    vec = np.array(hit[0][hit[1]], dtype=np.float32)
                except OSError as exc:  # the file went away under the memory map (e.g. on NFS)
                    warnings.warn(f"mmlab cache: unreadable entry ({exc}); recomputing it",
                                  RuntimeWarning, stacklevel=2)
                if vec is not None and not np.isfinite(vec).all():
                    warnings.warn(f"mmlab cache: bad entry for {self.model_key} (non-finite values); "
                                  "recomputing it", RuntimeWarning, stacklevel=2)
                    vec = None
            found.append(vec)
        return found

    # ------------------------------------------------------------------ writing
    def put_many(self, keys: list[str], vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` under ``keys[i]`` as one new shard (atomic); keys already stored are skipped.

        Args:
            keys: content keys (64 hex digits), one per row.
            vectors: (len(keys), dim) float32.
        """
        if self.directory is None:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(keys), self.dim):
            raise ValueError(f"vectors: expected shape ({len(keys)}, {self.dim}), got {vectors.shape}")
        index = self._load()
        rows: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            digest = bytes.fromhex(key)
            if digest not in index and digest not in rows:
                rows[digest] = i
        if not rows:
            return
        digests = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), 32)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            stored = self._write_shard(digests, vectors[list(rows.values())])
            if len(self._shards(self.directory)) > self.MAX_SHARDS:
                self._merge()
        except OSError as exc:  # a read-only or full disk must not break encoding
            warnings.warn(f"mmlab cache: could not write to {self.directory} ({exc}); continuing without "
                          "caching (set MMLAB_CACHE to a writable folder, or to 'off')",
                          RuntimeWarning, stacklevel=3)
            self.directory = None
            return
        index.update((k.tobytes(), (stored, row)) for row, k in enumerate(digests))

    def _write_shard(self, digests: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Write one shard (vectors, then keys); its name is the hash of its keys, so a rewrite is harmless."""
        assert self.directory is not None
        name = content_key(digests.tobytes())[:16]
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        with atomic_file(self.directory / f"{name}.vectors.npy") as f:
            np.save(f, vectors, allow_pickle=False)
        with atomic_file(self.directory / f"{name}.keys.npy") as f:
            np.save(f, digests, allow_pickle=False)
        return vectors

    def _merge(self) -> None:
        """Merge the private folder's shards into one, then remove the merged ones."""
        assert self.directory is not None
        files = self._shards(self.directory)
        parts = [shard for shard in map(self._open, files) if shard is not None]
        if not parts:
            return
        keys = np.concatenate([k for k, _ in parts])
        _, first = np.unique(keys, axis=0, return_index=True)
        first.sort()
        self._write_shard(keys[first], np.concatenate([np.asarray(v) for _, v in parts])[first])
        merged = content_key(np.ascontiguousarray(keys[first]).tobytes())[:16]
        for keys_file in files:
            if not keys_file.name.startswith(merged):
                for path in (keys_file, keys_file.with_name(keys_file.name.replace(".keys.", ".vectors."))):
                    with contextlib.suppress(OSError):  # another process merged first, or Windows holds a map
                        path.unlink()
        self._index = None


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: int = 0o644) -> Iterator[IO[bytes]]:
    """A binary file to write that appears at ``path`` whole when the block succeeds.

    A unique temporary name in the same directory, then an atomic rename (POSIX and
    Windows): readers see either the old file, no file, or the complete new one.

    Yields:
        the open temporary file; on an error in the block it is deleted and the error propagates.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:16]}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, mode)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """A temporary folder beside ``folder``, renamed into place when the block succeeds.

    For cached models (a converted generator, a fine-tuned reranker): a kernel killed
    mid-write never leaves a half-written folder. If another process put ``folder`` in place
    first, its copy is as good as ours and ours is discarded. On an error in the block the
    temporary folder is removed and the error propagates.

    Yields:
        the temporary folder to write into.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; a shared MMLAB_CACHE must be readable
    try:
        yield tmp
        os.replace(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.is_dir():  # not a lost race: a real failure
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
