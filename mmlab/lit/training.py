"""Training projection heads on two aligned sets of frozen features (CLIP, SigLIP or triplet loss)."""
from __future__ import annotations

import torch

from .._threads import single_threaded
from .._validate import as_array, check_choice, check_float, check_int, resolve_seed
from ..train import fit
from .heads import INIT_SCALE, MAX_SCALE, ProjectionHeads

__all__ = ["train_heads"]

_LOSSES = ("clip", "siglip", "triplet")


_MINING = ("hard", "semi-hard")


def _objective(loss: str, margin: float, mining: str = "hard"):
    """``loss_fn(heads, a, b)`` for ``mm.train.fit``: project both sides, then the chosen loss."""
    from .. import losses

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
