"""ConSE (Norouzi et al., 2014): an offline zero-shot joint text+image space from EfficientNet and MiniLM."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import cache as _cache
from .._validate import as_array, check_float, check_int
from ..embeddings import l2_normalize
from .base import BaseEncoder
from .effnet import EffNetLite0Encoder, imagenet_class_names
from .minilm import MiniLMEncoder

__all__ = ["CONSE_LABELS_ASSET", "CONSE_LOGIT_SCALE", "CONSE_PROMPT", "CONSE_TOP_T", "ConSEEncoder",
           "save_conse_label_embeddings"]

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

#: MiniLM embeddings of the 1000 prompted ImageNet class names, shipped so that a cold start
#: does not spend ~10-20 s of a 2-core CPU on them. Rebuild with ``save_conse_label_embeddings()``.
CONSE_LABELS_ASSET = Path(__file__).resolve().parent.parent / "assets" / "conse_labels_minilm.npz"


class ConSEEncoder(BaseEncoder):
    """ConSE (Norouzi et al., 2014): a pre-CLIP zero-shot joint space from two offline models.

    image -> EfficientNet-Lite0 ImageNet probabilities -> the probability-weighted mean of
    the MiniLM embeddings of the top ``top_t`` class names (weights renormalised to sum to 1);
    text -> MiniLM. Both land in MiniLM's 384-d space, so cosine similarity compares them.
    Nothing is cached under ConSE's own name (``cache_key`` is None): EfficientNet's features
    and MiniLM's text vectors are cached by those encoders, and the mixing is a small product.

    Args:
        effnet: the image classifier.
        minilm: the text encoder.
        top_t: how many top classes to mix (chosen by measuring, see ``CONSE_TOP_T``).
        prompt: format string that turns a class name into a sentence.
        logit_scale: the multiplier of cosine similarities before a softmax.
        name: the model's name.
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

    def _embed_text(self, texts: list[str]) -> np.ndarray:
        return self.minilm.encode_text(texts, progress=False)  # (B, 384)

    def _embed_image(self, images: list) -> np.ndarray:
        return self._mix(self.effnet.predict_proba(images, progress=False))  # (B, 384)

    def top_classes(self, images: list, top_k: int = 3, *, progress: bool = True) -> list[list[tuple[str, float]]]:
        """What ConSE sees in each image: its classifier's ``top_k`` most probable ImageNet classes.

        These are the classes whose name vectors ConSE mixes into an image's vector (the top
        ``top_t``, weighted by probability), so they explain why a picture lands where it does.
        Only ConSE has them: a CLIP-style model embeds an image directly, with no classes to show
        (check ``isinstance(model, mm.models.ConSEEncoder)`` before calling it on a model that
        may be either).

        Args:
            images: PIL images or (H, W, 3) arrays.
            top_k: how many classes per image, most probable first.
            progress: show a progress bar.
        Returns:
            One list per image of ``(ImageNet class name, probability)``, most probable first.
        """
        return self.effnet.classify(images, top_k=top_k, progress=progress)

    def embed_probabilities(self, probs: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 1000) -> (N, 384) float32, L2-normalised ConSE embeddings."""
        return l2_normalize(self._mix(probs), name="ConSE embeddings")

    def _mix(self, probs) -> np.ndarray:
        """(N, 1000) probabilities -> (N, 384) probability-weighted mean of the top-T label embeddings."""
        probs = as_array(probs, "probs", ndim=2)
        if probs.shape[1] != len(self.class_names):
            raise ValueError(f"probs: expected {len(self.class_names)} columns, got shape {probs.shape}")
        t = self.top_t
        top = np.argpartition(-probs, t - 1, axis=1)[:, :t]  # (N, T) indices of the T largest
        weights = np.take_along_axis(probs, top, axis=1)  # (N, T)
        weights = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)  # renormalise
        return np.einsum("nt,ntd->nd", weights, self.label_embeddings[top]).astype(np.float32)  # (N, 384)


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
    """Compute and save the MiniLM embeddings of ConSE's default class-name prompts (maintainers).

    Args:
        path: where to write; ``None`` overwrites ``CONSE_LABELS_ASSET``.
    Returns:
        The path written.
    """
    from .registry import load

    texts = [CONSE_PROMPT.format(c) for c in imagenet_class_names()]
    minilm = load("minilm")
    if not isinstance(minilm, MiniLMEncoder):
        raise TypeError(f"the registered 'minilm' is {type(minilm).__name__}, not mmlab's MiniLMEncoder")
    emb = minilm.encode_text(texts, batch_size=128, progress=True)  # (1000, 384)
    out = CONSE_LABELS_ASSET if path is None else Path(path)
    np.savez(out, embeddings=emb.astype(np.float32), digest=np.array(_labels_digest(texts)),
             prompt=np.array(CONSE_PROMPT))
    return out
