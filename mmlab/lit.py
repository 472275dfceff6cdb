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
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import models
from ._threads import single_threaded
from ._validate import as_array, check_choice, check_float, check_int, describe, resolve_seed
from .models import BaseEncoder, Encoder
from .train import NO_DECAY_RULE, fit

__all__ = [
    "LIT_EMOJI_PATH",
    "LitModel",
    "ProjectionHeads",
    "centre",
    "load_heads",
    "load_lit_emoji",
    "modality_gap",
    "retrieval_recall",
    "save_heads",
    "train_heads",
    "train_lit_emoji",
]

#: Where the shipped emoji heads live (inside the package, so it installs with it).
LIT_EMOJI_PATH = Path(__file__).parent / "assets" / "lit_emoji.pt"

#: CLIP's choices: start at 1/0.07 and never let the multiplier exceed 100.
INIT_SCALE = 1 / 0.07
MAX_SCALE = 100.0

#: The recipe of the shipped emoji heads (``train_lit_emoji`` reproduces the file from it).
LIT_EMOJI_RECIPE: dict[str, Any] = {"dim": 128, "hidden": 0, "epochs": 20, "batch_size": 128, "lr": 2e-3, "weight_decay": 0.1}


def _head(in_dim: int, out_dim: int, hidden: int) -> nn.Module:
    if hidden:
        return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))
    return nn.Linear(in_dim, out_dim)


class ProjectionHeads(nn.Module):
    """Two projection heads into one shared, L2-normalised space, and a learnable logit scale.

    Args:
        dim_a: input dimension of side a (e.g. 1280 for EfficientNet-Lite0 images).
        dim_b: input dimension of side b (e.g. 384 for MiniLM text).
        dim: the shared output dimension.
        hidden: 0 for a single Linear layer per side, else the width of a 2-layer MLP.
        init_scale: the starting logit scale (the multiplier, > 0).
        max_scale: the cap on the multiplier (CLIP: 100), so training cannot make the softmax
            arbitrarily sharp. As in open_clip, the parameter itself is clamped after each
            optimiser step (``clamp_scale_``); ``train_heads`` does that for you.
        learn_scale: whether the scale is trained or fixed at ``init_scale``.
        init_bias: the starting logit bias, used only by the SigLIP loss (its paper: -10).
    """

    def __init__(self, dim_a: int, dim_b: int, dim: int = 128, hidden: int = 0,
                 init_scale: float = INIT_SCALE, max_scale: float = MAX_SCALE, learn_scale: bool = True,
                 init_bias: float = -10.0):
        super().__init__()
        dim_a = check_int(dim_a, "dim_a", low=1)
        dim_b = check_int(dim_b, "dim_b", low=1)
        dim = check_int(dim, "dim", low=1)
        hidden = check_int(hidden, "hidden", low=0)
        max_scale = check_float(max_scale, "max_scale", low=0.0, low_inclusive=False)
        init_scale = check_float(init_scale, "init_scale", low=0.0, low_inclusive=False, high=max_scale)
        init_bias = check_float(init_bias, "init_bias")
        self.config: dict[str, Any] = {"dim_a": dim_a, "dim_b": dim_b, "dim": dim, "hidden": hidden, "init_scale": init_scale,
                       "max_scale": max_scale, "learn_scale": bool(learn_scale), "init_bias": init_bias}
        self.head_a = _head(dim_a, dim, hidden)
        self.head_b = _head(dim_b, dim, hidden)
        # CLIP learns log(scale): a multiplicative quantity, kept positive, updated in log space
        self.log_scale = nn.Parameter(torch.tensor(math.log(init_scale)), requires_grad=bool(learn_scale))
        self.logit_bias = nn.Parameter(torch.tensor(init_bias))

    @property
    def logit_scale(self) -> torch.Tensor:
        """The multiplier exp(log_scale) (0-d tensor, differentiable).

        No clamp here: a clamp inside the forward pass would pass zero gradient once the
        parameter is above the cap, so it could never come back. ``clamp_scale_`` clamps the
        parameter itself after each step instead, as open_clip's training loop does.
        """
        return self.log_scale.exp()

    @torch.no_grad()
    def clamp_scale_(self) -> ProjectionHeads:
        """Clamp ``log_scale`` in place at log(``max_scale``); call it after every optimiser step."""
        self.log_scale.clamp_(max=math.log(self.config["max_scale"]))
        return self

    def project_a(self, x: torch.Tensor) -> torch.Tensor:
        """(N, dim_a) -> (N, dim), L2-normalised."""
        return F.normalize(self.head_a(x), dim=-1)

    def project_b(self, x: torch.Tensor) -> torch.Tensor:
        """(N, dim_b) -> (N, dim), L2-normalised."""
        return F.normalize(self.head_b(x), dim=-1)

    def forward(self, a: torch.Tensor, b: torch.Tensor):
        """Both projections and the scale: ``(za (N, dim), zb (N, dim), logit_scale)``."""
        return self.project_a(a), self.project_b(b), self.logit_scale

    @torch.no_grad()
    def transform(self, x, side: str) -> np.ndarray:
        """Project numpy/tensor features of one side; returns (N, dim) float32, L2-normalised."""
        if side not in ("a", "b"):
            raise ValueError(f"side: expected 'a' or 'b', got {side!r}")
        want = self.config["dim_a" if side == "a" else "dim_b"]
        arr = as_array(x, "x")
        if arr.shape[1] != want:
            raise ValueError(f"x: expected (N, {want}) features for side {side!r}, got shape {arr.shape}")
        was_training = self.training
        self.eval()
        proj = self.project_a if side == "a" else self.project_b
        out = proj(torch.from_numpy(arr)).numpy().astype(np.float32)
        self.train(was_training)
        return out


_LOSSES = ("clip", "siglip", "triplet")


_MINING = ("hard", "semi-hard")


def _objective(loss: str, margin: float, mining: str = "hard"):
    """``loss_fn(heads, a, b)`` for ``mm.train.fit``: project both sides, then the chosen loss."""
    from . import losses

    batch_triplet = losses.batch_hard_triplet_loss if mining == "hard" else losses.batch_semi_hard_triplet_loss

    def clip(heads, a, b):
        za, zb, scale = heads(a, b)
        return losses.clip_loss(za, zb, scale)

    def siglip(heads, a, b):
        za, zb, scale = heads(a, b)
        return losses.siglip_loss(za, zb, scale, heads.logit_bias)

    def triplet(heads, a, b):
        za, zb, _ = heads(a, b)
        # both directions, like clip_loss: a->b with a negative mined among b, b->a among a
        return (batch_triplet(za, zb, margin=margin) + batch_triplet(zb, za, margin=margin)) / 2

    return {"clip": clip, "siglip": siglip, "triplet": triplet}[loss]


def train_heads(
    a_feats,
    b_feats,
    *,
    dim: int = 128,
    hidden: int = 0,
    epochs: int = 40,
    batch_size: int = 128,
    lr: float = 2e-3,
    weight_decay: float = 0.1,
    init_scale: float = INIT_SCALE,
    max_scale: float = MAX_SCALE,
    learn_scale: bool = True,
    loss: str = "clip",
    margin: float = 0.2,
    mining: str = "hard",
    seed: int | None = None,
    progress: bool = True,
    desc: str = "aligning",
) -> tuple[ProjectionHeads, list[float]]:
    """Train two projection heads with the CLIP loss so that row i of ``a_feats`` meets row i of ``b_feats``.

    The encoders stay frozen: only the heads and the logit scale learn, from cached features.

    Args:
        a_feats: (N, dim_a) features of side a (e.g. image embeddings).
        b_feats: (N, dim_b) features of side b (e.g. text embeddings); row i pairs with a_feats row i.
        dim: shared output dimension.
        hidden: 0 for Linear heads, else the hidden width of 2-layer MLP heads.
        epochs: passes over the pairs.
        batch_size: pairs per step, i.e. each positive sees ``batch_size - 1`` negatives;
            at most N (full batches only, a short last batch is dropped).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        init_scale, max_scale, learn_scale: the logit scale (see ``ProjectionHeads``).
        loss: ``"clip"`` (``mm.losses.clip_loss``), ``"siglip"`` (``siglip_loss`` with a learnable
            bias; use ``init_scale=10``) or ``"triplet"`` (``triplet_loss`` both ways with a
            negative mined in the batch; the scale is then unused).
        margin: the triplet margin (cosine distance units).
        mining: the triplet negatives: ``"hard"`` (the closest wrong partner in the batch,
            ``batch_hard_triplet_loss``) or ``"semi-hard"`` (the closest one farther than the
            positive, ``batch_semi_hard_triplet_loss``).
        seed: seeds initialisation and shuffling; ``None`` uses ``mmlab.SEED``.
        progress: show a tqdm bar.
        desc: the bar's label.
    Returns:
        ``(heads, history)``: the trained ``ProjectionHeads`` (in eval mode) and the mean
        loss of each epoch.
    """
    a = as_array(a_feats, "a_feats")
    b = as_array(b_feats, "b_feats")
    if len(a) != len(b):
        raise ValueError(f"a_feats and b_feats: expected the same number of rows (pairs), got {len(a)} and {len(b)}")
    if len(a) < 2:
        raise ValueError(f"a_feats: expected at least 2 pairs (a contrastive batch needs negatives), got {len(a)}")
    batch_size = check_int(batch_size, "batch_size", low=2, high=len(a))
    loss = check_choice(loss, "loss", _LOSSES)
    margin = check_float(margin, "margin", low=0.0)
    mining = check_choice(mining, "mining", _MINING)
    seed = resolve_seed(seed)
    torch.manual_seed(seed)  # the heads' initialisation
    heads = ProjectionHeads(a.shape[1], b.shape[1], dim=dim, hidden=hidden, init_scale=init_scale,
                            max_scale=max_scale, learn_scale=learn_scale)
    # Heads are tiny matrices: one thread is faster than two, and much faster on a busy machine
    # where torch's threads would wait for each other at every small op.
    with single_threaded():
        history = fit(heads, _objective(loss, margin, mining), [torch.from_numpy(a), torch.from_numpy(b)],
                      epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, seed=seed,
                      drop_last=True, progress=progress, desc=desc, after_step=ProjectionHeads.clamp_scale_)
    heads.eval()
    return heads, history


def save_heads(heads: ProjectionHeads, path, **metadata) -> Path:
    """Save heads as a plain dict (state_dict, config, metadata) loadable with ``weights_only=True``.

    Args:
        heads: trained ``ProjectionHeads``.
        path: file to write (parents are created).
        **metadata: small extra facts (str, int, float, lists of them), e.g. encoder names.
    Returns:
        The path written.
    """
    if not isinstance(heads, ProjectionHeads):
        raise TypeError(f"heads: expected ProjectionHeads, got {describe(heads)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in heads.state_dict().items()}
    torch.save({"format": "mmlab-heads-1", "config": dict(heads.config), "state_dict": state,
                "metadata": dict(metadata)}, path)
    return path


def load_heads(path) -> tuple[ProjectionHeads, dict]:
    """Load heads written by ``save_heads`` (``torch.load(weights_only=True)``).

    Returns:
        ``(heads, metadata)`` with the heads in eval mode.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: expected a heads file written by mmlab.lit.save_heads, found nothing at {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"path: expected a heads file written by mmlab.lit.save_heads, but {path} is not one "
                         f"(torch.load failed: {type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != "mmlab-heads-1":
        raise ValueError(f"path: expected a heads file written by mmlab.lit.save_heads, but {path} is not one")
    heads = ProjectionHeads(**blob["config"])
    heads.load_state_dict(blob["state_dict"])
    heads.eval()
    return heads, blob.get("metadata", {})


def retrieval_recall(queries, corpus, targets=None, ks=(1, 5, 10)) -> dict[int, float]:
    """Cross-modal retrieval recall@k: how often the right item is among the k most similar.

    Args:
        queries: (Q, D) embeddings, L2-normalised (e.g. text).
        corpus: (N, D) embeddings, L2-normalised (e.g. images).
        targets: (Q,) index of each query's right corpus item; ``None`` means query i <-> item i.
        ks: the cut-offs, each in [1, N].
    Returns:
        ``{k: fraction of queries whose target ranks in the top k}``; chance is k / N.
    """
    q = as_array(queries, "queries")
    c = as_array(corpus, "corpus")
    if q.shape[1] != c.shape[1]:
        raise ValueError(f"queries and corpus: expected the same dimension, got {q.shape[1]} and {c.shape[1]}")
    if targets is None:
        if len(q) != len(c):
            raise ValueError(f"targets: None pairs query i with item i, which needs len(queries) == len(corpus), "
                             f"got {len(q)} and {len(c)}")
        targets = np.arange(len(q))
    t = np.asarray(targets)
    if t.shape != (len(q),) or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"targets: expected ({len(q)},) integer indices, got {describe(t)}")
    if ((t < 0) | (t >= len(c))).any():
        raise ValueError(f"targets: expected indices in [0, {len(c) - 1}]")
    if isinstance(ks, (str, bytes)) or not hasattr(ks, "__iter__"):
        raise TypeError(f"ks: expected a sequence of ints such as (1, 5, 10), got {describe(ks)}")
    ks = [check_int(k, "ks", low=1, high=len(c)) for k in ks]
    sims = q @ c.T  # (Q, N)
    true = sims[np.arange(len(q)), t][:, None]  # (Q, 1)
    rank = (sims > true).sum(axis=1)  # 0 = best; ties count in the query's favour
    return {k: float((rank < k).mean()) for k in ks}


def modality_gap(a, b) -> float:
    """The distance between the centres of two clouds of embeddings: ``||mean(a) - mean(b)||``.

    Args:
        a: (N, D) embeddings of one modality (e.g. images), L2-normalised.
        b: (M, D) embeddings of the other (e.g. texts).
    Returns:
        The gap, a float (0 when the two clouds share their centre).
    """
    a = as_array(a, "a")
    b = as_array(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b: expected the same dimension, got {a.shape[1]} and {b.shape[1]}")
    return float(np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)))


def centre(z) -> np.ndarray:
    """Move one modality's cloud to the origin and put it back on the unit sphere.

    Args:
        z: (N, D) embeddings of ONE modality, N >= 2.
    Returns:
        (N, D) float32: ``z - z.mean(axis=0)``, each row L2-normalised; the input is not changed.
    """
    from .embeddings import l2_normalize

    z = as_array(z, "z")
    if len(z) < 2:
        raise ValueError(f"z: expected at least 2 rows (a single row centred is all zeros), got {len(z)}")
    return l2_normalize(z - z.mean(axis=0), name="z").astype(np.float32)


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
    from . import data

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


models.register("lit-emoji", load_lit_emoji)
