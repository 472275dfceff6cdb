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


def _expected_cols(sim):
    import torch

    return sim.masked_fill(torch.eye(len(sim), dtype=torch.bool), -float("inf")).argmax(dim=0).numpy()


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
