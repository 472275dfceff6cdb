"""Contrastive losses, written to be read: CLIP (InfoNCE), SigLIP and the triplet loss.

Every loss takes a batch of B aligned pairs: row i of ``image_features`` and row i of
``text_features`` belong together (a positive pair), every other row of the other side is a
negative. No labels are needed: the position in the batch *is* the label.

The conventions follow ``open_clip/loss.py``: features are expected to be L2-normalised
already (the model does that), and ``logit_scale`` is the multiplier itself (CLIP's
``exp(log_scale)``), not its log.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F

from ._validate import check_choice, check_float, describe

__all__ = [
    "batch_hard_triplet_loss",
    "batch_semi_hard_triplet_loss",
    "clip_logits",
    "clip_loss",
    "hardest_negatives",
    "masked_clip_loss",
    "pairwise_distance",
    "semi_hard_columns",
    "semi_hard_negatives",
    "siglip_loss",
    "triplet_loss",
]

_DISTANCES = ("cosine", "euclidean")
_REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------- input checks
def _as_features(x, name: str) -> torch.Tensor:
    """Check that ``x`` is a (B, D) finite float tensor (numpy is converted) and return it."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape (B, D), got {describe(x)}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D tensor (B, D), got {x.ndim}-D with shape {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty (B, D) tensor, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name}: expected finite values, got {bad} NaN/inf entries in shape {tuple(x.shape)}")
    return x


def _check_pair(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if a.dtype != b.dtype:
        raise TypeError(f"{name_a} and {name_b}: expected the same dtype, got {a.dtype} and {b.dtype}; "
                        f"convert one, e.g. with .float()")
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b}: expected the same shape (B, D) (row i of one pairs with row i "
            f"of the other), got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def _as_scalar(value, name: str, *, positive: bool):
    """A python number or a one-element tensor (kept as a tensor so gradients flow)."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name}: expected a scalar (one-element tensor), got shape {tuple(value.shape)}")
        v = float(value.detach())
        if not np.isfinite(v):
            raise ValueError(f"{name}: expected a finite number, got {v}")
        if positive and v <= 0:
            raise ValueError(f"{name}: expected a number > 0 (the multiplier, not its log), got {v}")
        return value.reshape(())
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return check_float(value, name, low=0.0, low_inclusive=False) if positive else check_float(value, name)
    raise TypeError(f"{name}: expected a number or a one-element tensor, got {describe(value)}")


# --------------------------------------------------------------------- CLIP / InfoNCE
def clip_logits(image_features, text_features, logit_scale) -> torch.Tensor:
    """The (B, B) matrix of scaled similarities: entry [i, j] scores image i against text j.

    Args:
        image_features: (B, D) tensor, L2-normalised rows.
        text_features: (B, D) tensor, L2-normalised rows; row i pairs with image row i.
        logit_scale: the multiplier (> 0) applied to cosine similarities (CLIP learns
            ``log`` of it and clamps the multiplier at 100).
    Returns:
        (B, B) tensor of logits; the diagonal holds the positive pairs.
    """
    image_features = _as_features(image_features, "image_features")
    text_features = _as_features(text_features, "text_features")
    _check_pair(image_features, text_features, "image_features", "text_features")
    logit_scale = _as_scalar(logit_scale, "logit_scale", positive=True)
    return logit_scale * image_features @ text_features.T  # (B, B)


def clip_loss(image_features, text_features, logit_scale) -> torch.Tensor:
    """CLIP's symmetric InfoNCE loss (equal to ``open_clip.loss.ClipLoss`` on one device).

    Each image must pick out its own text among the B texts of the batch (a B-way
    classification whose correct class is the diagonal), and each text its own image.

    Args:
        image_features: (B, D) tensor, L2-normalised rows.
        text_features: (B, D) tensor, L2-normalised rows; row i pairs with image row i.
        logit_scale: the multiplier (> 0), a float or a one-element tensor (gradients flow).
    Returns:
        Scalar tensor: the mean of the image->text and text->image cross-entropies.
    """
    logits_per_image = clip_logits(image_features, text_features, logit_scale)  # (B, B)
    logits_per_text = logits_per_image.T  # (B, B): row j scores text j against every image
    targets = torch.arange(logits_per_image.shape[0], device=logits_per_image.device)  # (B,)
    loss_i2t = F.cross_entropy(logits_per_image, targets)
    loss_t2i = F.cross_entropy(logits_per_text, targets)
    return (loss_i2t + loss_t2i) / 2


def _group_labels(groups, b: int) -> list:
    """``groups`` as a list of B hashable labels (a 1-D tensor or array becomes a list of numbers)."""
    if isinstance(groups, (torch.Tensor, np.ndarray)):
        if groups.ndim != 1:
            raise ValueError(f"groups: expected {b} labels (a 1-D sequence), got shape {tuple(groups.shape)}")
        groups = groups.tolist()
    if isinstance(groups, (str, bytes)) or not hasattr(groups, "__len__"):
        raise TypeError(f"groups: expected a sequence of {b} labels (e.g. captions or ids), got {describe(groups)}")
    groups = list(groups)
    if len(groups) != b:
        raise ValueError(f"groups: expected one label per pair ({b}), got {len(groups)}")
    try:
        hash(tuple(groups))
    except TypeError:
        raise TypeError("groups: expected hashable labels such as strings or ints") from None
    return groups


def masked_clip_loss(image_features, text_features, groups, logit_scale) -> torch.Tensor:
    """The CLIP loss with same-group pairs taken out of each other's softmax (false negatives removed).

    Pairs whose labels in ``groups`` are equal mean the same thing (the same caption, the same
    emoji id). In each row and each column of the logits, the *other* pairs of the same group are
    set to -inf, so they are neither the target nor a negative; the diagonal stays the target.
    With all labels different this is ``clip_loss``.

    Args:
        image_features: (B, D) tensor, L2-normalised rows.
        text_features: (B, D) tensor, L2-normalised rows; row i pairs with image row i.
        groups: B labels (strings, ints, or a 1-D tensor); equal labels mark duplicates.
        logit_scale: the multiplier (> 0), a float or a one-element tensor (gradients flow).
    Returns:
        Scalar tensor: the mean of the masked image->text and text->image cross-entropies.
    """
    logits = clip_logits(image_features, text_features, logit_scale)  # (B, B)
    b = logits.shape[0]
    labels = _group_labels(groups, b)
    same = torch.tensor([[x == y for y in labels] for x in labels], device=logits.device)  # (B, B)
    duplicates = same & ~torch.eye(b, dtype=torch.bool, device=logits.device)  # ... but not the pair itself
    logits = logits.masked_fill(duplicates, -float("inf"))  # symmetric mask: rows and columns alike
    targets = torch.arange(b, device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


# --------------------------------------------------------------------- SigLIP
def siglip_loss(image_features, text_features, logit_scale, logit_bias) -> torch.Tensor:
    """SigLIP's pairwise sigmoid loss (equal to ``open_clip.loss.SigLipLoss`` on one device).

    Every one of the B*B pairs is an independent yes/no question ("do these belong
    together?"): label +1 on the diagonal, -1 elsewhere. No softmax over the batch, so
    each pair's term does not depend on the others.

    Args:
        image_features: (B, D) tensor, L2-normalised rows.
        text_features: (B, D) tensor, L2-normalised rows; row i pairs with image row i.
        logit_scale: the multiplier (> 0), a float or a one-element tensor (SigLIP starts at 10).
        logit_bias: an added offset, a float or a one-element tensor (SigLIP starts at -10,
            so that the many negatives start out with a small loss).
    Returns:
        Scalar tensor: the summed log-sigmoid loss over all B*B pairs, divided by B.
    """
    image_features = _as_features(image_features, "image_features")
    text_features = _as_features(text_features, "text_features")
    _check_pair(image_features, text_features, "image_features", "text_features")
    logit_scale = _as_scalar(logit_scale, "logit_scale", positive=True)
    logit_bias = _as_scalar(logit_bias, "logit_bias", positive=False)
    b = image_features.shape[0]
    logits = logit_scale * image_features @ text_features.T + logit_bias  # (B, B)
    labels = 2 * torch.eye(b, device=logits.device, dtype=logits.dtype) - 1  # (B, B): +1 diag, -1 off
    return -F.logsigmoid(labels * logits).sum() / b


# --------------------------------------------------------------------- triplets
def pairwise_distance(a, b, distance: str = "cosine") -> torch.Tensor:
    """Distance between every row of ``a`` and every row of ``b``.

    Args:
        a: (N, D) tensor.
        b: (M, D) tensor.
        distance: ``"cosine"`` (1 - cosine similarity, in [0, 2]) or ``"euclidean"``.
    Returns:
        (N, M) tensor.
    """
    a = _as_features(a, "a")
    b = _as_features(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b: expected the same dimension D, got {a.shape[1]} and {b.shape[1]}")
    distance = check_choice(distance, "distance", _DISTANCES)
    if distance == "cosine":
        return 1 - F.normalize(a, dim=1) @ F.normalize(b, dim=1).T  # (N, M)
    return torch.cdist(a, b)  # (N, M)


def _rowwise_distance(a: torch.Tensor, b: torch.Tensor, distance: str) -> torch.Tensor:
    """d(a[i], b[i]) for every i: (B,)."""
    if distance == "cosine":
        return 1 - F.cosine_similarity(a, b, dim=1)
    # torch's pairwise_distance adds eps=1e-6 inside the norm; keep it so the two agree
    return F.pairwise_distance(a, b)


def triplet_loss(
    anchor,
    positive,
    negative,
    margin: float = 0.2,
    distance: str = "cosine",
    reduction: str = "mean",
) -> torch.Tensor:
    """The triplet margin loss: the positive must be closer to the anchor than the negative by ``margin``.

    ``max(0, d(anchor, positive) - d(anchor, negative) + margin)`` for each row; equal to
    ``torch.nn.TripletMarginWithDistanceLoss`` with the same distance and margin.

    Args:
        anchor: (B, D) tensor.
        positive: (B, D) tensor; row i belongs with anchor row i.
        negative: (B, D) tensor; row i must not (see ``hardest_negatives`` to pick them).
        margin: the required gap (>= 0), in units of the distance.
        distance: ``"cosine"`` (1 - cosine similarity) or ``"euclidean"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (the (B,) per-triplet losses).
    Returns:
        Scalar tensor (or (B,) with ``reduction="none"``).
    """
    anchor = _as_features(anchor, "anchor")
    positive = _as_features(positive, "positive")
    negative = _as_features(negative, "negative")
    _check_pair(anchor, positive, "anchor", "positive")
    _check_pair(anchor, negative, "anchor", "negative")
    margin = check_float(margin, "margin", low=0.0)
    distance = check_choice(distance, "distance", _DISTANCES)
    reduction = check_choice(reduction, "reduction", _REDUCTIONS)
    d_pos = _rowwise_distance(anchor, positive, distance)  # (B,)
    d_neg = _rowwise_distance(anchor, negative, distance)  # (B,)
    losses = torch.clamp(d_pos - d_neg + margin, min=0)  # (B,): zero once the gap exceeds the margin
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def hardest_negatives(anchor, candidates, positive_ids, *, mask=None, distance: str = "cosine") -> torch.Tensor:
    """For each anchor, the index of the closest candidate that is not its positive.

    Hard-negative mining: random negatives are soon too easy (zero loss, zero gradient);
    the closest wrong candidate is the one the model still confuses.

    Args:
        anchor: (B, D) tensor.
        candidates: (N, D) tensor, N >= 2.
        positive_ids: (B,) integer tensor or sequence: the index in ``candidates`` of each
            anchor's positive, which is never chosen.
        mask: optional (B, N) bool tensor, True where a candidate must not be chosen either
            (e.g. a duplicate caption, which would be a false negative).
        distance: ``"cosine"`` or ``"euclidean"``.
    Returns:
        (B,) long tensor of candidate indices (computed without gradient).
    """
    anchor = _as_features(anchor, "anchor")
    candidates = _as_features(candidates, "candidates")
    b, n = anchor.shape[0], candidates.shape[0]
    if anchor.shape[1] != candidates.shape[1]:
        raise ValueError(f"anchor and candidates: expected the same dimension D, got {anchor.shape[1]} "
                         f"and {candidates.shape[1]}")
    if anchor.dtype != candidates.dtype:
        raise TypeError(f"anchor and candidates: expected the same dtype, got {anchor.dtype} and {candidates.dtype}")
    if n < 2:
        raise ValueError(f"candidates: expected at least 2 rows (a positive and a negative), got {n}")
    ids = np.asarray(positive_ids.cpu() if isinstance(positive_ids, torch.Tensor) else positive_ids)
    if not (np.issubdtype(ids.dtype, np.integer) or np.issubdtype(ids.dtype, np.floating) or ids.dtype == bool):
        raise TypeError(f"positive_ids: expected integer indices, got {describe(positive_ids)} of dtype {ids.dtype}")
    positive_ids = torch.as_tensor(ids)
    if positive_ids.dtype.is_floating_point or positive_ids.dtype == torch.bool or positive_ids.shape != (b,):
        raise ValueError(
            f"positive_ids: expected ({b},) integers (one index per anchor), got shape "
            f"{tuple(positive_ids.shape)} and dtype {positive_ids.dtype}"
        )
    if ((positive_ids < 0) | (positive_ids >= n)).any():
        raise ValueError(f"positive_ids: expected indices in [0, {n - 1}], got values outside that range")
    with torch.no_grad():
        dist = pairwise_distance(anchor, candidates, distance)  # (B, N)
        blocked = torch.zeros(b, n, dtype=torch.bool)
        blocked[torch.arange(b), positive_ids.long()] = True
        if mask is not None:
            mask = torch.as_tensor(mask)
            if mask.dtype != torch.bool or mask.shape != (b, n):
                raise ValueError(f"mask: expected a ({b}, {n}) bool tensor, got shape {tuple(mask.shape)} and dtype {mask.dtype}")
            blocked |= mask
        if blocked.all(dim=1).any():
            raise ValueError("mask: every candidate is blocked for at least one anchor; nothing left to choose")
        dist = dist.masked_fill(blocked, float("inf"))
        return dist.argmin(dim=1)  # (B,)


def batch_hard_triplet_loss(
    anchor, positive, margin: float = 0.2, distance: str = "cosine", reduction: str = "mean",
) -> torch.Tensor:
    """Triplet loss where each anchor's negative is the hardest *other* positive in the batch.

    Uses only the B aligned pairs (like ``clip_loss``): for anchor i the candidates are
    all rows of ``positive``, row i is the positive and the closest other row the negative.

    Args:
        anchor: (B, D) tensor, B >= 2.
        positive: (B, D) tensor; row i belongs with anchor row i.
        margin, distance, reduction: as in ``triplet_loss``.
    Returns:
        Scalar tensor (or (B,) with ``reduction="none"``).
    """
    return _in_batch_triplet_loss(anchor, positive, hardest_negatives, margin, distance, reduction)


def semi_hard_negatives(anchor, candidates, positive_ids, *, distance: str = "cosine") -> torch.Tensor:
    """For each anchor, the closest candidate that is farther away than its positive ("semi-hard").

    FaceNet's remedy (Schroff et al., 2015) for the collapse that the hardest negatives can cause
    early in training: choose a negative that is wrong but not *more* similar than the positive.
    As in TensorFlow Addons' ``triplet_semihard_loss``, an anchor for which every candidate is
    closer than its positive gets the farthest candidate instead.

    Args:
        anchor: (B, D) tensor.
        candidates: (N, D) tensor, N >= 2.
        positive_ids: (B,) integer indices into ``candidates`` of each anchor's positive.
        distance: ``"cosine"`` or ``"euclidean"``.
    Returns:
        (B,) long tensor of candidate indices (computed without gradient), never the positive.
    """
    hardest_negatives(anchor, candidates, positive_ids, distance=distance)  # the same input checks
    anchor = _as_features(anchor, "anchor")
    candidates = _as_features(candidates, "candidates")
    pos = torch.as_tensor(np.asarray(positive_ids.cpu() if isinstance(positive_ids, torch.Tensor) else positive_ids)).long()
    b, n = anchor.shape[0], candidates.shape[0]
    with torch.no_grad():
        dist = pairwise_distance(anchor, candidates, distance)  # (B, N)
        d_pos = dist[torch.arange(b), pos][:, None]  # (B, 1)
        is_pos = torch.zeros(b, n, dtype=torch.bool)
        is_pos[torch.arange(b), pos] = True
        farther = (dist > d_pos) & ~is_pos  # (B, N): wrong, and not closer than the positive
        closest_farther = dist.masked_fill(~farther, float("inf")).argmin(dim=1)
        farthest = dist.masked_fill(is_pos, -float("inf")).argmax(dim=1)
        return torch.where(farther.any(dim=1), closest_farther, farthest)  # (B,)


def semi_hard_columns(similarity) -> torch.Tensor:
    """``semi_hard_negatives`` for a ready (B, B) similarity matrix whose diagonal holds the positives.

    Per row i: the most similar column j != i that is strictly less similar than
    ``similarity[i, i]``; a row without one gets its least similar column j != i.

    Args:
        similarity: (B, B) tensor (or array), higher = more similar, B >= 2; not changed.
    Returns:
        (B,) long tensor of column indices, never the diagonal.
    """
    sim = torch.as_tensor(np.asarray(similarity.detach().cpu() if isinstance(similarity, torch.Tensor) else similarity))
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] < 2:
        raise ValueError(f"similarity: expected a (B, B) matrix with B >= 2, got shape {tuple(sim.shape)}")
    own = torch.eye(len(sim), dtype=torch.bool)
    below = (sim < sim.diagonal()[:, None]) & ~own  # wrong, and less similar than the row's positive
    closest = sim.masked_fill(~below, -float("inf")).argmax(dim=1)
    farthest = sim.masked_fill(own, float("inf")).argmin(dim=1)
    return torch.where(below.any(dim=1), closest, farthest)


def batch_semi_hard_triplet_loss(
    anchor, positive, margin: float = 0.2, distance: str = "cosine", reduction: str = "mean",
) -> torch.Tensor:
    """Triplet loss where each anchor's negative is the semi-hard *other* positive in the batch.

    Like ``batch_hard_triplet_loss``, but the negative of anchor i is the closest other row of
    ``positive`` that is still farther from the anchor than its own positive (``semi_hard_negatives``).

    Args:
        anchor: (B, D) tensor, B >= 2.
        positive: (B, D) tensor; row i belongs with anchor row i.
        margin, distance, reduction: as in ``triplet_loss``.
    Returns:
        Scalar tensor (or (B,) with ``reduction="none"``).
    """
    return _in_batch_triplet_loss(anchor, positive, semi_hard_negatives, margin, distance, reduction)


def _in_batch_triplet_loss(anchor, positive, mine, margin, distance, reduction) -> torch.Tensor:
    """Triplet loss whose negatives are other rows of ``positive``, chosen by ``mine`` (hard or semi-hard)."""
    anchor = _as_features(anchor, "anchor")
    positive = _as_features(positive, "positive")
    _check_pair(anchor, positive, "anchor", "positive")
    if anchor.shape[0] < 2:
        raise ValueError(f"anchor: expected a batch of at least 2 pairs (the negatives come from the batch), got {anchor.shape[0]}")
    neg_ids = mine(anchor, positive, torch.arange(anchor.shape[0]), distance=distance)  # (B,)
    return triplet_loss(anchor, positive, positive[neg_ids], margin=margin, distance=distance, reduction=reduction)
