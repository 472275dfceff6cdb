"""The shipped "lit-emoji" model: EfficientNet-Lite0 and MiniLM, frozen, aligned by trained heads."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import models
from .._validate import describe, resolve_seed
from ..models import BaseEncoder, Encoder
from ..train import NO_DECAY_RULE
from .heads import ProjectionHeads, load_heads, save_heads
from .training import train_heads

__all__ = ["LIT_EMOJI_PATH", "LIT_EMOJI_RECIPE", "LitModel", "emoji_training_pairs", "load_lit_emoji", "train_lit_emoji"]

#: Where the shipped emoji heads live (inside the package, so it installs with it).
LIT_EMOJI_PATH = Path(__file__).resolve().parent.parent / "assets" / "lit_emoji.pt"

#: The recipe of the shipped emoji heads (``train_lit_emoji`` reproduces the file from it).
LIT_EMOJI_RECIPE: dict[str, Any] = {"dim": 128, "hidden": 0, "epochs": 20, "batch_size": 128, "lr": 2e-3, "weight_decay": 0.1}


class LitModel(BaseEncoder):
    """A joint text+image encoder: frozen base encoders followed by trained projection heads.

    Meets the ``mmlab.models.Encoder`` protocol: ``name``, ``dim``, ``modalities``,
    ``logit_scale`` and ``encode_text`` / ``encode_image`` returning (N, dim) float32,
    L2-normalised; asking for audio is refused with a clear error. The base encoders cache
    their outputs on disk; the heads are one small matrix product, so they are not cached.

    Args:
        heads: trained ``ProjectionHeads`` with side a = images, side b = text.
        image_encoder: the frozen image encoder, or its ``mm.models`` name (loaded when first used).
        text_encoder: the frozen text encoder, or its ``mm.models`` name.
        name: the model's name.
    """

    modalities = ("text", "image")
    default_batch_size = 64

    def __init__(self, heads: ProjectionHeads, image_encoder: str | Encoder = "effnet-lite0",
                 text_encoder: str | Encoder = "minilm", name: str = "lit-emoji"):
        if not isinstance(heads, ProjectionHeads):
            raise TypeError(f"heads: expected ProjectionHeads, got {describe(heads)}")
        for arg, value in (("image_encoder", image_encoder), ("text_encoder", text_encoder)):
            if not isinstance(value, (str, Encoder)):
                raise TypeError(f"{arg}: expected an mm.models name or an encoder, got {describe(value)}")
        self.heads = heads.eval()
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.name = name
        self.dim = heads.config["dim"]
        self.logit_scale = float(heads.logit_scale.detach())

    def __repr__(self) -> str:
        def label(enc):
            return enc if isinstance(enc, str) else enc.name

        return (f"LitModel(name={self.name!r}, dim={self.dim}, image={label(self.image_encoder)!r}, "
                f"text={label(self.text_encoder)!r}, logit_scale={self.logit_scale:.1f})")

    @staticmethod
    def _base(encoder) -> Any:
        return models.load(encoder) if isinstance(encoder, str) else encoder

    def _embed_text(self, texts: list[str]) -> np.ndarray:
        base = self._base(self.text_encoder).encode_text(texts, progress=False)  # (B, dim_b)
        return self.heads.transform(base, "b")  # (B, dim)

    def _embed_image(self, images: list) -> np.ndarray:
        base = self._base(self.image_encoder).encode_image(images, progress=False)  # (B, dim_a)
        return self.heads.transform(base, "a")  # (B, dim)


def emoji_training_pairs(progress: bool = True):
    """Frozen features of the emoji TRAIN split: ``(image_feats (N, 1280), text_feats (N, 384), ids)``."""
    from .. import data

    emoji = data.load_emoji()
    train_idx, _ = data.split_by_id(emoji.ids)
    train = emoji.subset(train_idx)
    image_model: Any = models.load("effnet-lite0")
    text_model: Any = models.load("minilm")
    img = image_model.encode_image(train.images, progress=progress)
    txt = text_model.encode_text(train.names, progress=progress)
    return img, txt, list(train.ids)


def train_lit_emoji(path=None, *, seed: int | None = None, progress: bool = True) -> LitModel:
    """Train the shipped emoji heads (seeded, reproducible) and save them to ``path``.

    Args:
        path: where to write; ``None`` writes ``LIT_EMOJI_PATH`` inside the package.
        seed: ``None`` uses ``mmlab.SEED``.
        progress: show progress bars.
    Returns:
        The trained ``LitModel``.
    """
    seed = resolve_seed(seed)
    img, txt, ids = emoji_training_pairs(progress=progress)
    heads, history = train_heads(img, txt, seed=seed, progress=progress, desc="lit-emoji",
                                 **LIT_EMOJI_RECIPE)
    save_heads(heads, LIT_EMOJI_PATH if path is None else path, name="lit-emoji",
               image_encoder="effnet-lite0", text_encoder="minilm", seed=seed,
               n_train=len(ids), final_loss=float(history[-1]),
               recipe=[f"{k}={v}" for k, v in LIT_EMOJI_RECIPE.items()], optimizer=NO_DECAY_RULE)
    return LitModel(heads)


def load_lit_emoji(path=None) -> LitModel:
    """The shipped LiT emoji model: EfficientNet-Lite0 + MiniLM, aligned by trained heads.

    Args:
        path: a heads file; ``None`` uses the one shipped in ``mmlab/assets``.
    Returns:
        A ``LitModel`` named "lit-emoji".
    """
    heads, meta = load_heads(LIT_EMOJI_PATH if path is None else path)
    return LitModel(heads, image_encoder=meta.get("image_encoder", "effnet-lite0"),
                    text_encoder=meta.get("text_encoder", "minilm"), name=meta.get("name", "lit-emoji"))
