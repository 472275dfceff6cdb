"""Reference computations the notebook-03 checks compare a learner's loss with.

The right loss and the typical wrong variants (a finite mask fill, one direction only, the
softmax taken twice, ...), kept apart from the checks' feedback in ``nb03``.
"""
from __future__ import annotations

import math


def _reference_clip_loss(img, txt, scale):
    import torch
    import torch.nn.functional as F

    logits = scale * img @ txt.T
    t = torch.arange(len(img))
    return F.cross_entropy(logits, t), F.cross_entropy(logits.T, t)


def _matches_double_softmax(value: float, img, txt, scale: float) -> bool:
    """Does ``value`` equal the loss computed on softmax probabilities instead of logits?"""
    import torch
    import torch.nn.functional as F

    logits = scale * img @ txt.T
    t = torch.arange(len(img))
    rows = logits.softmax(dim=1)  # one softmax over the rows, used for both directions ...
    cols = logits.T.softmax(dim=1)  # ... or one per direction
    candidates = [(F.cross_entropy(rows, t) + F.cross_entropy(rows.T, t)) / 2,
                  (F.cross_entropy(rows, t) + F.cross_entropy(cols, t)) / 2]
    return any(math.isclose(value, float(c), rel_tol=1e-4) for c in candidates)


def _masked_reference(img, txt, groups, scale, fill=-float("inf"), diagonal=False, both=True, columns_masked=True,
                      one_triangle=False, summed=False):
    """The duplicate-masked CLIP loss, or one of its typical wrong variants."""
    import torch
    import torch.nn.functional as F

    same = torch.tensor([[a == b for b in groups] for a in groups])
    mask = same if diagonal else same & ~torch.eye(len(groups), dtype=torch.bool)
    if one_triangle:
        mask = mask.triu(diagonal=1)
    raw = scale * img @ txt.T
    logits = raw.masked_fill(mask, fill)
    t = torch.arange(len(img))
    i2t = F.cross_entropy(logits, t)
    if not both:
        return i2t
    t2i = F.cross_entropy((logits if columns_masked else raw).T, t)
    return i2t + t2i if summed else (i2t + t2i) / 2


def _soft_reference(img, txt, groups, scale):
    import torch
    import torch.nn.functional as F

    same = torch.tensor([[a == b for b in groups] for a in groups], dtype=img.dtype)
    target = same / same.sum(dim=1, keepdim=True)
    logits = scale * img @ txt.T
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def _semi_hard_matrix():
    """A (7, 7) cosine matrix on which each typical semi-hard-mining mistake gives a different answer.

    Row 0: a negative beats the positive (the hardest negative is not the semi-hard one).
    Row 1: a negative ties with the positive exactly (<= instead of < picks it).
    Row 2: every negative beats the positive: no semi-hard candidate, the fallback decides.
    Row 3: the semi-hard candidates are all below 0 (a 0 fill wins over them).
    Rows 4-6: ordinary rows, different from their transposes (the wrong axis shows).
    """
    import torch

    return torch.tensor([
        [0.50, 0.70, 0.40, 0.10, -0.30, 0.20, 0.00],
        [0.60, 0.30, 0.20, 0.30, 0.10, -0.20, 0.45],
        [0.30, 0.40, -0.20, 0.10, 0.60, -0.10, 0.20],
        [-0.30, -0.40, -0.20, 0.60, -0.50, 0.70, -0.35],
        [0.10, 0.55, -0.10, 0.20, 0.80, 0.30, 0.65],
        [-0.10, 0.35, 0.25, 0.05, 0.15, 0.45, 0.50],
        [0.20, -0.25, 0.50, 0.40, 0.30, 0.10, 0.60],
    ])


def _semi_hard_ref(sim, strict=True, fallback="farthest", fill=-float("inf"), wrong_broadcast=False,
                   skip_diagonal=True):
    """Semi-hard negatives of a (B, B) similarity matrix, or one of the typical wrong variants.

    Right: per row, the most similar column j != i that is strictly less similar than the
    positive; a row without one gets its least similar negative (as ``mm.losses.semi_hard_negatives``).
    """
    import torch

    b = len(sim)
    own = torch.eye(b, dtype=torch.bool)
    positive = sim.diagonal()[None, :] if wrong_broadcast else sim.diagonal()[:, None]
    eligible = (sim < positive) if strict else (sim <= positive)
    if skip_diagonal:
        eligible = eligible & ~own
    closest = sim.masked_fill(~eligible, fill).argmax(dim=1)
    if fallback == "none":
        return closest
    if fallback == "hardest":
        other = sim.masked_fill(own, -float("inf")).argmax(dim=1)
    elif fallback == "farthest-with-positive":
        other = sim.argmin(dim=1)
    else:
        other = sim.masked_fill(own, float("inf")).argmin(dim=1)
    return torch.where(eligible.any(dim=1), closest, other)


def _clip_grads_ok(call, fn, img, txt, scale, renormalised: bool = False) -> bool:
    """Do both inputs' gradients of ``fn``'s loss match the reference's (no side detached or rebuilt)?

    With ``renormalised=True`` the reference first calls ``F.normalize`` on its (already unit)
    inputs: the same value, but a gradient without its radial part.
    """
    import torch
    import torch.nn.functional as F

    img_leaf, txt_leaf = img.clone().requires_grad_(True), txt.clone().requires_grad_(True)
    out, problem = call(fn, img_leaf * 1.0, txt_leaf * 1.0, scale)  # non-leaf inputs, as in training
    if problem or not isinstance(out, torch.Tensor) or not out.requires_grad:
        return False
    try:
        out.backward()
    except RuntimeError:
        return False
    ref_img, ref_txt = img.clone().requires_grad_(True), txt.clone().requires_grad_(True)
    if renormalised:
        i2t, t2i = _reference_clip_loss(F.normalize(ref_img, dim=1), F.normalize(ref_txt, dim=1), scale)
    else:
        i2t, t2i = _reference_clip_loss(ref_img, ref_txt, scale)
    ((i2t + t2i) / 2).backward()
    return all(x.grad is not None and torch.allclose(x.grad, r.grad, rtol=1e-4, atol=1e-6)
               for x, r in ((img_leaf, ref_img), (txt_leaf, ref_txt)))


def _underflows(call, number, fn, case, value, expected) -> bool:
    """Is the learner's float32 masked loss on ``case`` wrong only through underflow (inf, or right in float64)?"""
    import torch

    img, txt, groups, scale = case
    if value is not None and not math.isfinite(value) and math.isfinite(expected):
        return True
    out64, problem = call(fn, img.double(), txt.double(), list(groups), scale)
    value64 = number(out64) if not problem else None
    return torch.is_tensor(out64) and value64 is not None and math.isclose(value64, expected, rel_tol=1e-4,
                                                                              abs_tol=1e-6)
