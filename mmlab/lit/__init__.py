"""Two FROZEN encoders, two small trainable projection heads, one CLIP loss.

Each side gets a small projection head to a shared space (L2-normalised) and the pair shares
a learnable log logit scale, trained with ``mm.losses.clip_loss`` through ``mm.train.fit`` on
cached features, so a run takes seconds on a CPU. Only the heads learn.

The module is named after LiT ("Locked-image Tuning", Zhai et al., 2022), its closest published
relative, but it is not LiT: LiT locks the pretrained *image* tower and trains the whole *text*
tower with the contrastive loss; here both towers stay locked and only linear (or 2-layer) heads
on top of them learn.

``train_heads`` works for any two aligned feature sets (image-text, audio-text);
``LitModel`` wraps trained heads around the base encoders of ``mm.models`` and speaks the
encoder protocol, and ``load_lit_emoji`` returns the shipped emoji model ("lit-emoji").
``modality_gap`` and ``centre`` measure and remove the offset between two modalities' clouds.

Modules: ``heads`` (the heads, saving and loading), ``training`` (``train_heads``),
``geometry`` (recall between two clouds, the gap, centring), ``emoji`` (the shipped model).
"""
from __future__ import annotations

from .. import models
from .emoji import LIT_EMOJI_PATH, LIT_EMOJI_RECIPE, LitModel, emoji_training_pairs, load_lit_emoji, train_lit_emoji
from .geometry import centre, modality_gap, retrieval_recall
from .heads import INIT_SCALE, MAX_SCALE, ProjectionHeads, load_heads, save_heads
from .training import train_heads

__all__ = [
    "INIT_SCALE",
    "LIT_EMOJI_PATH",
    "LIT_EMOJI_RECIPE",
    "MAX_SCALE",
    "LitModel",
    "ProjectionHeads",
    "centre",
    "emoji_training_pairs",
    "load_heads",
    "load_lit_emoji",
    "modality_gap",
    "retrieval_recall",
    "save_heads",
    "train_heads",
    "train_lit_emoji",
]

models.register("lit-emoji", load_lit_emoji)
