"""An on-disk cache of embeddings: one small ``.npy`` file per (model, input) pair.

Re-running a notebook re-encodes the same emoji, photos and sentences; reading ~1,900
small vectors back takes a fraction of a second, encoding them takes tens of seconds.

Layout: ``<root>/<model key>/<h[:2]>/<h>.npy`` where ``h`` is the BLAKE2b hash of the
input's content (an image's mode, size and pixels; a text's UTF-8 bytes; a waveform's
samples and sample rate). The model key includes every setting that changes the
vectors (e.g. the input resolution), so two settings never share entries.

- The root is ``$MMLAB_CACHE`` or ``~/.cache/mmlab``; ``MMLAB_CACHE=off`` disables it.
- Writes go to a temporary file that is renamed into place (atomic on POSIX and
  Windows), so a kernel killed mid-write never leaves a half-written entry.
- An entry that cannot be read, or has the wrong shape or non-finite values, is
  reported with a warning and treated as a miss (it is recomputed and overwritten).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import io
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
    "image_key",
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


@functools.cache
def _npy_header(dim: int) -> bytes:
    """The exact .npy header np.save writes for a (dim,) little-endian float32 vector."""
    buf = io.BytesIO()
    np.save(buf, np.zeros(dim, dtype="<f4"), allow_pickle=False)
    return buf.getvalue()[: -4 * dim]


def _slug(model_key: str) -> str:
    """A file-system-safe directory name for a model key (readable prefix + short hash)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", model_key)[:60]
    return f"{readable}-{content_key(model_key.encode())[:8]}"


class EmbeddingCache:
    """The vectors of one model (one ``model_key``), one ``.npy`` file per input.

    Args:
        model_key: the model name plus every setting that changes its outputs.
        dim: the length of each stored vector (entries of another length are misses).
        root: the cache root; ``None`` reads ``MMLAB_CACHE`` now.
    """

    def __init__(self, model_key: str, dim: int, root: Path | str | None = None):
        self.model_key = model_key
        self.dim = int(dim)
        root = cache_dir() if root is None else Path(root)
        self.directory = None if root is None else root / _slug(model_key)

    def path(self, key: str) -> Path:
        """The file that holds ``key``'s vector (whether or not it exists yet)."""
        if self.directory is None:
            raise RuntimeError("the embedding cache is disabled (MMLAB_CACHE=off); there is no entry path")
        return self.directory / key[:2] / f"{key}.npy"

    def get_many(self, keys: list[str]) -> list[np.ndarray | None]:
        """Look up each key; a missing or unreadable entry gives None.

        Returns:
            One (dim,) float32 array or None per key, in order.
        """
        if self.directory is None:
            return [None] * len(keys)
        return [self._read(key) for key in keys]

    def _read(self, key: str) -> np.ndarray | None:
        path = self.path(key)
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):  # a miss (the write reports a bad folder)
            return None
        except OSError as exc:
            warnings.warn(f"mmlab cache: unreadable entry {path} ({type(exc).__name__}: {exc}); "
                          "recomputing it", RuntimeWarning, stacklevel=3)
            return None
        # Fast path: every entry we write is this exact header followed by dim float32s
        # (np.load parses the header with ast, which is 3x slower for ~2,000 small files).
        header = _npy_header(self.dim)
        if len(raw) == len(header) + 4 * self.dim and raw.startswith(header):
            vec = np.frombuffer(raw, dtype="<f4", offset=len(header)).astype(np.float32)
            if np.isfinite(vec).all():
                return vec
        try:
            vec = np.load(io.BytesIO(raw), allow_pickle=False)
        except Exception as exc:  # truncated, corrupt or not an .npy file at all
            warnings.warn(f"mmlab cache: unreadable entry {path} ({type(exc).__name__}: {exc}); "
                          "recomputing it", RuntimeWarning, stacklevel=3)
            return None
        if vec.shape != (self.dim,) or vec.dtype != np.float32 or not np.isfinite(vec).all():
            warnings.warn(f"mmlab cache: bad entry {path} (shape {vec.shape}, dtype {vec.dtype}, "
                          f"expected ({self.dim},) float32, finite); recomputing it",
                          RuntimeWarning, stacklevel=3)
            return None
        return vec

    def put_many(self, keys: list[str], vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` under ``keys[i]``; each write is atomic.

        Args:
            keys: content keys, one per row.
            vectors: (len(keys), dim) float32.
        """
        if self.directory is None:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(keys), self.dim):
            raise ValueError(f"vectors: expected shape ({len(keys)}, {self.dim}), got {vectors.shape}")
        for key, vec in zip(keys, vectors):
            path = self.path(key)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_file(path) as f:
                    np.save(f, vec.astype("<f4"), allow_pickle=False)
            except OSError as exc:  # a read-only or full disk must not break encoding
                warnings.warn(f"mmlab cache: could not write {path} ({exc}); continuing without "
                              "caching (set MMLAB_CACHE to a writable folder, or to 'off')",
                              RuntimeWarning, stacklevel=3)
                self.directory = None
                return


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
