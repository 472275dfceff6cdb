"""Exercise checks for notebook 03 (re-exported by mmlab.checks)."""
from __future__ import annotations

import math
import numbers

import numpy as np

from ._feedback import (
    EMPTY_MESSAGE,
    CheckResult,
    as_numpy,
    call_learner,
    is_empty,
    report,
    shape_problem,
)

__all__ = [
    "nb03_centre",
    "nb03_centring_ranking",
    "nb03_clip_loss",
    "nb03_hardest_negatives",
    "nb03_masked_clip_loss",
    "nb03_modality_gap",
    "nb03_uninformative_loss",
]



def _scalar_loss(out, example: str, combine: str) -> tuple[float, CheckResult | None]:
    """The learner's loss as a float, or (nan, the reported failure) when it is not one number."""
    arr = as_numpy(out)
    if arr is None:
        return math.nan, report(False, "", f"expected a scalar tensor, got {type(out).__name__}.",
                                f"Return the loss itself (a 0-d tensor), e.g. {example}.")
    if arr.size != 1:
        return math.nan, report(False, "", f"expected a single number (a scalar), got shape {arr.shape}.",
                                f"F.cross_entropy already averages over the batch; {combine}")
    return float(arr.reshape(())), None


def nb03_uninformative_loss(answer, batch_size: int) -> CheckResult:
    """Exercise 1 (predict, then run): the CLIP loss when all B similarities are equal."""
    if is_empty(answer):
        return report(False, "", EMPTY_MESSAGE)
    arr = None if isinstance(answer, (bool, str, bytes)) else as_numpy(answer)
    if arr is None or arr.size != 1:
        got = type(answer).__name__ if arr is None else f"an array of shape {arr.shape}"
        return report(False, "", f"expected a number, got {got}.",
                      "Write a Python expression for the loss, e.g. using math (a 0-d tensor works too).")
    b = int(batch_size)
    a = float(arr.reshape(()))
    right = math.log(b)
    if math.isclose(a, right, rel_tol=1e-3):
        return report(True, f"log(B) = log({b}) ≈ {right:.3f}: a uniform guess over the B candidates. "
                      "A freshly initialised model starts near this value, so it is the number to beat.")
    if math.isclose(a, 1 / b, rel_tol=1e-3):
        return report(False, "", f"{a:.4g} is the probability the softmax gives the right answer, not the loss.",
                      "Cross-entropy is minus the log of that probability.")
    if math.isclose(a, 0.0, abs_tol=1e-6):
        return report(False, "", "a loss of 0 would mean the right pair gets all the probability.",
                      "With all logits equal, how is the softmax probability shared among the B candidates?")
    if math.isclose(a, 2 * right, rel_tol=1e-3):
        return report(False, "", "that is the sum of the two directions.",
                      "CLIP averages the image->text and text->image losses.")
    if math.isclose(a, math.log2(b), rel_tol=1e-3) or math.isclose(a, math.log10(b), rel_tol=1e-3):
        return report(False, "", "right idea, wrong base of the logarithm.",
                      "torch's cross-entropy uses the natural log (math.log).")
    return report(False, "", f"{a:.4g} is not the loss of a uniform guess.",
                  "If all B logits in a row are equal, what probability does the softmax give the true pair?")


def _reference_clip_loss(img, txt, scale):
    import torch
    import torch.nn.functional as F

    logits = scale * img @ txt.T
    t = torch.arange(len(img))
    return F.cross_entropy(logits, t), F.cross_entropy(logits.T, t)


def nb03_clip_loss(fn) -> CheckResult:
    """Exercise 2: ``fn(image_features, text_features, logit_scale) -> scalar tensor``."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(3)
    b, d, scale = 6, 8, 7.0
    img = F.normalize(torch.randn(b, d, generator=g), dim=1)
    txt = F.normalize(img + 0.8 * torch.randn(b, d, generator=g), dim=1)
    i2t, t2i = _reference_clip_loss(img, txt, scale)
    expected = float((i2t + t2i) / 2)

    out, problem = call_learner(fn, img.clone(), txt.clone(), scale)
    if problem:
        return report(False, "", problem)
    value, failed = _scalar_loss(out, "the result of F.cross_entropy", "combine the two directions into one number.")
    if failed is not None:
        return failed
    if not math.isfinite(value):
        return report(False, "", "your loss is NaN or inf.", "Check for log(0) or a division by zero.")
    if not isinstance(out, torch.Tensor):
        return report(False, "", "the number is right only if it stays a torch tensor (so gradients can flow).",
                      "Keep the computation in torch instead of converting to numpy or float.")
    if math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-6):
        if out.requires_grad is False:
            img_g = img.clone().requires_grad_(True)
            out2, problem = call_learner(fn, img_g, txt.clone(), scale)
            if problem or not isinstance(out2, torch.Tensor) or not out2.requires_grad:
                return report(False, "", "the value is right, but no gradient flows back to the features.",
                              "Avoid .detach(), .item() or numpy in the middle of the computation.")
        return report(True, "logits = scale x image @ text.T, targets = arange(B), and the two "
                      "cross-entropies (rows and columns) averaged: that is CLIP's loss.")
    i2t_v, t2i_v = float(i2t), float(t2i)
    if math.isclose(value, i2t_v, rel_tol=1e-4) or math.isclose(value, t2i_v, rel_tol=1e-4):
        return report(False, "", "your loss matches only one direction (image->text or text->image).",
                      "CLIP is symmetric: also classify along the other axis of the logits and average the two.")
    if math.isclose(value, i2t_v + t2i_v, rel_tol=1e-4):
        return report(False, "", "your loss is twice the expected value.", "Average the two directions, do not add them.")
    u1, u2 = _reference_clip_loss(img, txt, 1.0)
    if math.isclose(value, float((u1 + u2) / 2), rel_tol=1e-4):
        return report(False, "", "your loss does not depend on logit_scale.",
                      "Multiply the cosine similarities by logit_scale before the cross-entropy.")
    s1, s2 = _reference_clip_loss(img, txt, 1 / scale)
    if math.isclose(value, float((s1 + s2) / 2), rel_tol=1e-4):
        return report(False, "", "you divided by logit_scale.",
                      "logit_scale is a multiplier (1 / temperature): multiply the similarities by it.")
    e1, e2 = _reference_clip_loss(img, txt, math.exp(scale))
    if math.isclose(value, float((e1 + e2) / 2), rel_tol=1e-4):
        return report(False, "", "you used exp(logit_scale): that treats the multiplier as a logarithm.",
                      "The argument is already the multiplier (CLIP stores log(scale) as a parameter and "
                      "exponentiates it before calling the loss): multiply by logit_scale itself.")
    if _matches_double_softmax(value, img, txt, scale):
        return report(False, "", "you applied a softmax before the cross-entropy: that is two softmaxes.",
                      "F.cross_entropy takes raw logits and does the (log-)softmax itself: pass it the scaled "
                      "similarities directly.")
    if math.isclose(value, expected * b, rel_tol=1e-4):
        return report(False, "", f"your loss is {b} times too large (the batch size).",
                      "Use the mean over the batch, not the sum (F.cross_entropy's default).")
    return report(False, "", f"your loss {value:.4f} differs from the expected value.",
                  "Steps: logits = logit_scale * image @ text.T (B, B); targets = torch.arange(B); "
                  "cross-entropy of the logits and of their transpose; average the two.")


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


def nb03_hardest_negatives(fn) -> CheckResult:
    """Exercise 3: ``fn(similarity (B, B)) -> (B,)`` index of each row's most similar non-matching column."""
    import torch

    g = torch.Generator().manual_seed(5)
    b = 7
    # Cosine similarities in [-0.6, 0.6]: real cosines are negative too.
    sim = torch.rand(b, b, generator=g) * 1.2 - 0.6
    sim.fill_diagonal_(0.9)  # positives are the most similar, as after some training
    sim[2, 2] = 0.1  # ... except one row where the positive is weak: a diagonal argmax is wrong here
    sim[4] = -torch.rand(b, generator=g) * 0.5 - 0.1  # a row whose negatives are all below 0 ...
    sim[4, 4] = -0.05  # ... and so is its positive: masking the diagonal with 0 picks the diagonal here
    expected = sim.masked_fill(torch.eye(b, dtype=torch.bool), -float("inf")).argmax(dim=1)

    out, problem = call_learner(fn, sim.clone())
    if problem:
        return report(False, "", problem)
    arr = as_numpy(out)
    problem = shape_problem(out, (b,))
    if problem:
        return report(False, "", problem, f"One column index per row: a ({b},) array of ints.")
    if not np.allclose(arr, np.round(arr)):
        return report(False, "", "expected integer column indices, got fractions.",
                      "Return the index (argmax) of the hardest negative, not its similarity.")
    arr = arr.astype(int)
    if (arr == expected.numpy()).all():
        return report(True, "the most similar wrong partner of each row: these are the negatives the model "
                      "still confuses, and the ones a batch-hard triplet loss trains on.")
    if (arr == np.arange(b)).sum() >= b - 1:
        return report(False, "", "you returned (almost) the diagonal: the positive pairs themselves.",
                      "Exclude each row's own column before taking the maximum (mask it with -inf).")
    zero_masked = sim.masked_fill(torch.eye(b, dtype=torch.bool), 0.0).argmax(dim=1).numpy()
    if (arr == zero_masked).all():
        return report(False, "", "masking the positive with 0 is not enough: in a row whose similarities are all "
                      "negative (cosines can be), 0 is still the maximum and the positive comes back.",
                      "Mask the diagonal with -inf (or a very large negative number), not with 0.")
    second_best = sim.topk(2, dim=1).indices[:, 1].numpy()
    if (arr == second_best).all():
        return report(False, "", "you took the second-best column of each row. That is the hardest negative only "
                      "when the positive is the best one; in a row where a negative beats the positive, the "
                      "second best is another negative (or the positive itself).",
                      "Exclude each row's own column by position (the diagonal), not by rank.")
    easiest = sim.masked_fill(torch.eye(b, dtype=torch.bool), float("inf")).argmin(dim=1).numpy()
    if (arr == easiest).all() or (arr == sim.argmin(dim=1).numpy()).all():
        return report(False, "", "you picked the LEAST similar negatives (the easiest ones).",
                      "Hard negatives are the most similar wrong partners: use the maximum similarity.")
    if (arr == sim.argmax(dim=0).numpy()).all() or (arr == _expected_cols(sim)).all():
        return report(False, "", "you searched along the wrong axis (columns instead of rows).",
                      "Row i is the anchor; look across its columns (dim=1).")
    wrong = int((arr != expected.numpy()).sum())
    return report(False, "", f"{wrong} of {b} rows point at the wrong column.",
                  "For each row: set the diagonal entry to -inf, then take the argmax over the columns.")


def _expected_cols(sim):
    import torch

    return sim.masked_fill(torch.eye(len(sim), dtype=torch.bool), -float("inf")).argmax(dim=0).numpy()


def nb03_modality_gap(answer, image_features, text_features) -> CheckResult:
    """Exercise 4 (interpret a number): the modality gap ||mean(image) - mean(text)||."""
    if is_empty(answer):
        return report(False, "", EMPTY_MESSAGE)
    img = as_numpy(image_features)
    txt = as_numpy(text_features)
    if img is None or txt is None or img.ndim != 2 or txt.ndim != 2 or img.shape[1] != txt.shape[1]:
        raise ValueError("image_features and text_features: expected two (N, D) arrays with the same D")
    expected = float(np.linalg.norm(img.mean(0) - txt.mean(0)))
    if isinstance(answer, bool) or (not isinstance(answer, numbers.Real) and as_numpy(answer) is None):
        return report(False, "", f"expected a number, got {type(answer).__name__}.",
                      "np.linalg.norm(...) returns one number.")
    a = as_numpy(answer)
    if a.size != 1:
        return report(False, "", f"expected a single number, got an array of shape {a.shape}.",
                      "Take the norm of the difference of the two mean vectors: one number.")
    a = float(a.reshape(()))
    if math.isclose(a, expected, rel_tol=1e-3, abs_tol=1e-6):
        return report(True, f"the gap is {expected:.3f}: the distance between the centres of the two clouds. "
                      "0 would mean the two modalities share one centre.")
    if math.isclose(a, expected ** 2, rel_tol=1e-3):
        return report(False, "", "that is the squared distance.", "Take the norm (square root), not the sum of squares.")
    mean_pair = float(np.linalg.norm(img - txt, axis=1).mean())
    if math.isclose(a, mean_pair, rel_tol=1e-3):
        return report(False, "", "that is the mean distance between pairs, not between the two centres.",
                      "Average each modality first (axis=0), then take the norm of the difference.")
    return report(False, "", f"{a:.4g} is not the distance between the two mean vectors.",
                  "Mean over rows (axis=0) of each modality, subtract, then np.linalg.norm.")


def _masked_reference(img, txt, captions, scale, fill=-float("inf"), diagonal=False, both=True):
    """The duplicate-masked CLIP loss, or one of its typical wrong variants."""
    import torch
    import torch.nn.functional as F

    same = torch.tensor([[a == b for b in captions] for a in captions])
    mask = same if diagonal else same & ~torch.eye(len(captions), dtype=torch.bool)
    logits = (scale * img @ txt.T).masked_fill(mask, fill)
    t = torch.arange(len(img))
    i2t = F.cross_entropy(logits, t)
    return (i2t + F.cross_entropy(logits.T, t)) / 2 if both else i2t


def _soft_reference(img, txt, captions, scale):
    import torch
    import torch.nn.functional as F

    same = torch.tensor([[a == b for b in captions] for a in captions], dtype=img.dtype)
    target = same / same.sum(dim=1, keepdim=True)
    logits = scale * img @ txt.T
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def nb03_masked_clip_loss(fn) -> CheckResult:
    """Exercise 2: ``fn(image_features, text_features, captions, logit_scale) -> scalar tensor``.

    The CLIP loss in which, in each row and each column, the *other* pairs with the same
    caption are removed from the softmax (they are not negatives), while the diagonal stays
    the target.
    """
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(7)
    captions = ["cat", "dog", "cat", "car", "dog", "cat"]
    b, d, scale = len(captions), 8, 10.0
    img = F.normalize(torch.randn(b, d, generator=g), dim=1)
    txt = F.normalize(img + 0.7 * torch.randn(b, d, generator=g), dim=1)
    expected = float(_masked_reference(img, txt, captions, scale))

    out, problem = call_learner(fn, img.clone(), txt.clone(), list(captions), scale)
    if problem:
        return report(False, "", problem)
    value, failed = _scalar_loss(out, "the average of two F.cross_entropy calls",
                                 "average the two directions into one number.")
    if failed is not None:
        return failed
    if not math.isfinite(value):
        diag = float(_masked_reference(img, txt, captions, scale, diagonal=True))
        hint = ("A row's own pair has the same caption as itself: build the mask from same-caption pairs "
                "*off* the diagonal, so the target logit stays finite.")
        if not math.isfinite(diag):
            return report(False, "", "your loss is inf or NaN: you probably masked the positive pairs (the diagonal) too.",
                          hint)
        return report(False, "", "your loss is NaN or inf.", hint)
    if not isinstance(out, torch.Tensor):
        return report(False, "", "the number must stay a torch tensor (so gradients can flow).",
                      "Keep the computation in torch instead of converting to numpy or float.")
    if math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-6):
        return report(True, "duplicates are neither targets nor negatives: in each row and each column the "
                      "other pairs with the same caption are taken out of the softmax, and the diagonal stays "
                      "the target. A model that puts both cats on one point is no longer punished for it.")
    variants = [
        (_reference_clip_loss(img, txt, scale), "your loss equals the ordinary CLIP loss: the duplicates are "
         "still counted as negatives.", "Build a (B, B) boolean mask of pairs with the same caption (but not "
         "the diagonal) and set those logits to -inf before the cross-entropy."),
        (_masked_reference(img, txt, captions, scale, fill=0.0), "you set the masked logits to 0, but a logit of 0 "
         "still takes part in the softmax (e^0 = 1, as large as a cosine-0 negative).",
         "Use -inf (or a very large negative number): e^-inf = 0 removes the entry from the softmax."),
        (_masked_reference(img, txt, captions, scale, both=False), "your loss matches only the image->text "
         "direction.", "Mask and classify the columns too (the transposed logits), and average the two."),
        (_soft_reference(img, txt, captions, scale), "that is the soft-target loss of the cell above: also a "
         "remedy, but it spreads the target over the duplicates instead of removing them.",
         "Keep the hard targets (arange(B)) and remove same-caption off-diagonal entries from the softmax."),
    ]
    for ref, problem, hint in variants:
        ref_value = float((ref[0] + ref[1]) / 2) if isinstance(ref, tuple) else float(ref)
        if math.isclose(value, ref_value, rel_tol=1e-4):
            return report(False, "", problem, hint)
    return report(False, "", f"your loss {value:.4f} differs from the expected value.",
                  "Steps: logits = logit_scale * image @ text.T; mask = same caption AND not the diagonal; "
                  "logits.masked_fill(mask, -inf); cross-entropy with targets arange(B) on the rows and on "
                  "the columns; average the two.")


def nb03_centre(fn) -> CheckResult:
    """Exercise 4a: ``fn(z (N, D) unit rows) -> (N, D)``: subtract the mean row, then L2-normalise each row."""
    rng = np.random.default_rng(11)
    z = rng.normal(size=(12, 6)) + np.array([2.0, 0, 0, 0, 0, 1.0])  # a cloud far from the origin (a cone)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    centred = z - z.mean(axis=0)
    expected = centred / np.linalg.norm(centred, axis=1, keepdims=True)

    out, problem = call_learner(fn, z.copy())
    if problem:
        return report(False, "", problem)
    problem = shape_problem(out, z.shape)
    if problem:
        return report(False, "", problem, f"One output row per input row: shape {z.shape}.")
    arr = as_numpy(out)
    if np.allclose(arr, expected, atol=1e-5):
        return report(True, "each modality's cloud is moved to the origin and put back on the unit sphere.")
    if np.allclose(arr, centred, atol=1e-5):
        return report(False, "", "the rows are centred but no longer unit length.",
                      "After subtracting the mean, divide each row by its norm again (cosine needs unit rows).")
    by_row = z - z.mean(axis=1, keepdims=True)
    if np.allclose(arr, by_row, atol=1e-5) or np.allclose(
            arr, by_row / np.linalg.norm(by_row, axis=1, keepdims=True), atol=1e-5):
        return report(False, "", "you subtracted each row's own mean (over its D numbers).",
                      "The centre of the cloud is the mean over the rows: axis=0, a (D,) vector.")
    if np.allclose(arr, z, atol=1e-5):
        return report(False, "", "your function returns its input unchanged.", "Subtract the mean row first.")
    return report(False, "", "the result differs from the centred, renormalised rows.",
                  "Steps: subtract z.mean(axis=0) from every row, then divide each row by its L2 norm.")


def nb03_centring_ranking(answer) -> CheckResult:
    """Exercise 4b: without renormalising, which centring can change a text->image ranking?"""
    choices = ("image", "text", "both", "neither")
    if is_empty(answer):
        return report(False, "", EMPTY_MESSAGE)
    if not isinstance(answer, str) or answer.strip().lower() not in choices:
        return report(False, "", f"expected one of {', '.join(repr(c) for c in choices)}, got {answer!r}.")
    answer = answer.strip().lower()
    if answer == "text":
        return report(True, "for a query q, centring the images changes every score by the same amount "
                      "(q . v_j - q . mean_v: the second term does not depend on j), so the order of the images "
                      "cannot change; centring the query changes image j's score by -mean_t . v_j, which differs "
                      "from image to image. With renormalisation both can change it.")
    if answer in ("image", "both"):
        return report(False, "", "subtracting the image mean cannot reorder the images for a fixed query.",
                      "Write the score of image j as q . (v_j - mean_v) = q . v_j - q . mean_v. Which term "
                      "depends on j?")
    return report(False, "", "one of the two centrings does change the ranking.",
                  "Write the score with a centred query: (q - mean_t) . v_j. Is the change the same for every image j?")
