"""``BaseEncoder``: validation, batching, a progress bar and the disk cache, shared by every encoder.

A subclass sets ``name``, ``dim``, ``modalities`` (and ``logit_scale`` for a joint model),
``cache_key`` (the name plus every setting that changes its outputs; ``None`` when nothing
should be cached, e.g. random weights or a model built from other cached encoders) and
implements ``_embed_text(list[str])``, ``_embed_image(list[PIL.Image])`` or
``_embed_audio(list[np.ndarray], sample_rate)``. Each returns the raw (B, dim) outputs of
one batch; the disk cache stores those raw outputs and ``encode_*`` returns them
L2-normalised, so a model can reuse its raw outputs (EfficientNet's class logits are a
linear layer on the same cached features).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import cache as _cache
from .._validate import check_audio, check_images, check_int, check_str_list
from ..embeddings import l2_normalize

__all__ = ["BaseEncoder", "to_rgb"]


class BaseEncoder:
    """Base class of mmlab's encoders; meets the ``mmlab.models.Encoder`` protocol."""

    name: str = "encoder"
    dim: int = 0
    modalities: tuple[str, ...] = ()
    logit_scale: float | None = None
    cache_key: str | None = None
    default_batch_size: int = 32

    def __repr__(self) -> str:
        scale = "" if self.logit_scale is None else f", logit_scale={self.logit_scale:.1f}"
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, modalities={self.modalities}{scale})"

    # ---- the protocol
    def encode_text(self, texts: list[str], batch_size: int | None = None, progress: bool = True) -> np.ndarray:
        """Embed strings.

        Args:
            texts: N strings.
            batch_size: strings per forward pass (default: the model's).
            progress: show a progress bar when there is more than one batch.
        Returns:
            (N, dim) float32, L2-normalised.
        """
        self._require("text")
        texts = check_str_list(texts, "texts")
        for i, t in enumerate(texts):
            try:
                t.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"texts[{i}]: expected text that can be written as UTF-8, got a string with "
                                 f"{exc.reason} at position {exc.start}: {t[max(0, exc.start - 20):exc.end + 20]!r}"
                                 ) from None
        keys = [_cache.text_key(t) for t in texts]
        raw = self._outputs("text", texts, keys, self._embed_text, batch_size, progress)
        return l2_normalize(raw, name=f"{self.name} text embeddings")

    def encode_image(self, images: list, batch_size: int | None = None, progress: bool = True) -> np.ndarray:
        """Embed PIL images (any mode; transparency is composited onto white).

        Args:
            images: N ``PIL.Image.Image``.
            batch_size: images per forward pass (default: the model's).
            progress: show a progress bar when there is more than one batch.
        Returns:
            (N, dim) float32, L2-normalised.
        """
        self._require("image")
        return l2_normalize(self._image_outputs(images, batch_size, progress), name=f"{self.name} image embeddings")

    def encode_audio(self, waveforms: list, sample_rate: int, batch_size: int | None = None,
                     progress: bool = True) -> np.ndarray:
        """Embed mono waveforms.

        Args:
            waveforms: N 1-D float arrays (samples in [-1, 1]); lengths may differ.
            sample_rate: samples per second of every waveform.
            batch_size: clips per step (default: the model's).
            progress: show a progress bar when there is more than one batch.
        Returns:
            (N, dim) float32, L2-normalised.
        """
        self._require("audio")
        waveforms, sample_rate = check_audio(waveforms, sample_rate)
        keys = [_cache.audio_key(w, sample_rate) for w in waveforms]
        raw = self._outputs("audio", waveforms, keys, lambda batch: self._embed_audio(batch, sample_rate),
                            batch_size, progress)
        return l2_normalize(raw, name=f"{self.name} audio embeddings")

    # ---- for subclasses
    def _embed_text(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _embed_image(self, images: list) -> np.ndarray:
        raise NotImplementedError

    def _embed_audio(self, waveforms: list[np.ndarray], sample_rate: int) -> np.ndarray:
        raise NotImplementedError

    def _image_outputs(self, images: list, batch_size: int | None, progress: bool) -> np.ndarray:
        """The raw (N, dim) outputs of ``_embed_image`` for checked images, through the cache."""
        images = check_images(images, "images")
        keys = [_cache.image_key(im) for im in images]
        return self._outputs("image", images, keys, self._embed_image, batch_size, progress)

    def _require(self, modality: str) -> None:
        if modality not in self.modalities:
            supported = " and ".join(self.modalities) or "nothing"
            methods = ", ".join(f"encode_{m}" for m in self.modalities)
            raise ValueError(
                f"model {self.name!r} cannot encode {modality}: it supports {supported} "
                f"(use {methods}); encode_{modality} needs a model with the {modality!r} modality"
            )

    def _outputs(self, kind: str, items: list, keys: list[str], fn: Callable[[list], np.ndarray],
                 batch_size: int | None, progress: bool) -> np.ndarray:
        """Look each input up in the disk cache, compute only the misses (in batches), store them.

        Returns:
            (N, dim) float32 raw outputs (not normalised), cached and fresh rows in input order.
        """
        batch_size = self.default_batch_size if batch_size is None else check_int(batch_size, "batch_size", low=1)
        store = None
        if self.cache_key is not None and _cache.enabled():
            store = _cache.EmbeddingCache(f"{self.cache_key}/{kind}", self.dim)
        found = store.get_many(keys) if store is not None else [None] * len(items)
        out = np.empty((len(items), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}  # identical inputs in one call are computed once
        for i, (key, vec) in enumerate(zip(keys, found)):
            if vec is None:
                todo.setdefault(key, []).append(i)
            else:
                out[i] = vec
        if not todo:
            return out
        first = [rows[0] for rows in todo.values()]
        from tqdm.auto import tqdm

        show = progress and len(first) > batch_size
        with tqdm(total=len(first), desc=f"{self.name} {kind}", unit="item", disable=not show, leave=False) as bar:
            for start in range(0, len(first), batch_size):
                idx = first[start:start + batch_size]
                vecs = self._run(fn, [items[i] for i in idx])
                if vecs.shape != (len(idx), self.dim):
                    raise RuntimeError(f"{self.name}: expected a batch of shape {(len(idx), self.dim)} from "
                                       f"_embed_{kind}, got {vecs.shape}")
                # A zero or non-finite output is refused here, before it reaches the cache.
                l2_normalize(vecs, name=f"{self.name} {kind} embeddings")
                for i, vec in zip(idx, vecs):
                    out[todo[keys[i]]] = vec
                if store is not None:
                    store.put_many([keys[i] for i in idx], vecs)
                bar.update(len(idx))
        return out

    @staticmethod
    def _run(fn: Callable[[list], np.ndarray], batch: list) -> np.ndarray:
        """One batch through ``fn`` without autograd (when torch is in use), as float32."""
        import sys

        torch = sys.modules.get("torch")  # models that never import torch (mfcc) do not pay for it
        if torch is None:
            return np.asarray(fn(batch), dtype=np.float32)
        with torch.inference_mode():
            return np.asarray(fn(batch), dtype=np.float32)


def to_rgb(image):
    """An RGB copy of a PIL image in any mode; transparency becomes white (like the emoji set),
    16-bit and float images are rescaled (the same conversion as ``mm.data`` applies to files)."""
    from ..data.folders import _to_rgb

    return image if image.mode == "RGB" else _to_rgb(image)
