"""The encoder protocol: what zero-shot, search, fusion and RAG code may rely on.

Any object with these attributes and methods is an encoder, whether it subclasses
``mmlab.models.BaseEncoder`` or not (a learner's own model included):

- ``name`` (str), ``dim`` (int), ``modalities`` (tuple of "text", "image", "audio");
- ``logit_scale``: the multiplier of cosine similarities before a softmax for a joint model
  (CLIP learns about 100), or ``None`` when the model has none (callers then use CLIP's cap, 100);
- for each supported modality, ``encode_text(texts)``, ``encode_image(images)`` or
  ``encode_audio(waveforms, sample_rate)``, each returning (N, dim) float32 rows of unit length.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["DEFAULT_LOGIT_SCALE", "MODALITIES", "AudioEncoder", "Encoder", "ImageEncoder", "TextEncoder"]

#: The modalities an encoder can declare, and the method each one needs.
MODALITIES = ("text", "image", "audio")

#: CLIP's cap on the learned logit scale: the multiplier used for a joint model that has none.
DEFAULT_LOGIT_SCALE = 100.0


@runtime_checkable
class Encoder(Protocol):
    """Attributes every encoder has (``isinstance(obj, Encoder)`` checks them).

    Written as read-only properties so that a plain class attribute (``dim = 384``) or an
    instance attribute set in ``__init__`` both satisfy the protocol.
    """

    @property
    def name(self) -> str:
        """The model's name, e.g. "minilm"."""
        ...

    @property
    def dim(self) -> int:
        """The length of every output vector."""
        ...

    @property
    def modalities(self) -> tuple[str, ...]:
        """The supported modalities, a subset of ``MODALITIES``."""
        ...

    @property
    def logit_scale(self) -> float | None:
        """The cosine multiplier of a joint model, or None (callers then use ``DEFAULT_LOGIT_SCALE``)."""
        ...


@runtime_checkable
class TextEncoder(Encoder, Protocol):
    """An encoder with the "text" modality."""

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """N strings -> (N, dim) float32, L2-normalised."""
        ...


@runtime_checkable
class ImageEncoder(Encoder, Protocol):
    """An encoder with the "image" modality."""

    def encode_image(self, images: list) -> np.ndarray:
        """N PIL images -> (N, dim) float32, L2-normalised."""
        ...


@runtime_checkable
class AudioEncoder(Encoder, Protocol):
    """An encoder with the "audio" modality."""

    def encode_audio(self, waveforms: list[np.ndarray], sample_rate: int) -> np.ndarray:
        """N mono waveforms at ``sample_rate`` Hz -> (N, dim) float32, L2-normalised."""
        ...
