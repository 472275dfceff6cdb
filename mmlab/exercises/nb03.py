"""Exercise checks for notebook 03 (re-exported by mmlab.checks)."""
from __future__ import annotations

import math
from collections.abc import Callable

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
from ._feedback import names_used as _names_used
from ._nb03_cases import (
    _COLLAPSED_BS,
    _PERFECT_CASES,
    NONFINITE_GRAD_MASKED,
    _all_close,
    _learner_values,
    _measured_extremes,
    _number,
    _scalar_loss,
    capped_scale_problem,
    clip_input_problem,
    high_scale_problem,
    identity_label_problem,
    learner_problem,
    mixed_batch,
    scale_gradient_problem,
    semi_hard_general_problem,
)
from ._nb03_reference import (
    _clip_grads_ok,
    _masked_reference,
    _matches_double_softmax,
    _reference_clip_loss,
    _semi_hard_matrix,
    _semi_hard_ref,
    _soft_reference,
    _underflows,
)

__all__ = [
    "nb03_centre",
    "nb03_centring_ranking",
    "nb03_clip_loss",
    "nb03_extreme_losses",
    "nb03_masked_clip_loss",
    "nb03_semi_hard_negatives",
]


def _calls_helper(fn, helpers: dict[str, object]) -> str | None:
    """The mmlab helper (by name or, under any alias, by identity) the learner's function calls, or None."""
    glob = getattr(fn, "__globals__", {})
    for name in sorted(_names_used(fn)):
        if name in helpers or any(h is not None and glob.get(name) is h for h in helpers.values()):
            return name
    return None


#: Names whose use in exercise 2 means the loss was measured, not derived.
_LOSS_HELPERS = ("clip_loss", "ClipLoss", "cross_entropy", "clip_logits", "CrossEntropyLoss", "nll_loss", "NLLLoss")
#: Names whose use in exercise 2 means a made-up batch (a B x B matrix) was built to measure the loss on.
_BATCH_BUILDERS = ("eye", "identity", "ones", "ones_like", "zeros", "zeros_like", "full", "diag", "diag_embed",
                   "randn", "rand", "arange")
#: A batch size no matrix can have: a formula of B is defined there, a measurement is not.
_NON_INTEGER_B = 64.5


def nb03_extreme_losses(collapsed, perfect) -> CheckResult:
    """Exercise 2 (predict, then run): the CLIP loss of two extreme batches, as formulas.

    ``collapsed(B)``: every image and every text feature is the same unit vector.
    ``perfect(B, scale)``: image i equals text i, the B pairs are mutually orthogonal, and
    the logits are ``scale x cosine``. Both are checked against the measured loss at several
    B and scales, so a number read off an output cannot pass.
    """
    for label, fn in (("loss_collapsed", collapsed), ("loss_perfect", perfect)):
        helper = _calls_helper(fn, {name: None for name in _LOSS_HELPERS}) if callable(fn) else None
        if helper:
            return report(False, "", f"{label} computes the loss with {helper} on made-up features: that measures the "
                          "answer instead of deriving it.", "Work it out on paper: write the softmax probability of the "
                          "right pair in one row, then the loss as minus its log, a formula of B (and scale).")
    for label, fn in (("loss_collapsed", collapsed), ("loss_perfect", perfect)):
        builder = _calls_helper(fn, {name: None for name in _BATCH_BUILDERS}) if callable(fn) else None
        if builder:
            return report(False, "", f"{label} builds a made-up batch with {builder} and computes its loss: that "
                          "measures the answer instead of deriving it.", "Work it out on paper: write the softmax "
                          "probability of the right pair in one row, then the loss as minus its log, a formula of "
                          "B (and scale).")
    measured_c, measured_p = _measured_extremes()
    got_c, failed = _learner_values(collapsed, _COLLAPSED_BS, "loss_collapsed")
    if failed is not None:
        return failed
    if not _all_close(got_c, lambda b: measured_c[b]):
        wrong: list[tuple[Callable, str, str]] = [
            (lambda b: 1 / b, "loss_collapsed: that is the probability the softmax gives the right pair, not the loss.",
             "Cross-entropy is minus the log of that probability."),
            (lambda b: 0.0, "loss_collapsed: a loss of 0 would mean the right pair gets all the probability.",
             "With all B logits of a row equal, how is the probability shared?"),
            (lambda b: 2 * math.log(b), "loss_collapsed: that is the sum of the two directions.",
             "CLIP averages the image->text and text->image losses."),
            (lambda b: math.log2(b), "loss_collapsed: right idea, wrong base of the logarithm.",
             "torch's cross-entropy uses the natural log (math.log)."),
            (lambda b: math.log10(b), "loss_collapsed: right idea, wrong base of the logarithm.",
             "torch's cross-entropy uses the natural log (math.log)."),
            (lambda b: -math.log(b), "loss_collapsed: a cross-entropy is never negative.",
             "It is MINUS the log of a probability."),
            (lambda b: math.log(b - 1), "loss_collapsed: you counted only the B - 1 negatives.",
             "The softmax runs over all B candidates of a row, the right one included."),
        ]
        for formula, problem, hint in wrong:
            if _all_close(got_c, formula):
                return report(False, "", problem, hint)
        if len({round(v, 6) for v in got_c.values()}) == 1:
            return report(False, "", f"loss_collapsed gives {next(iter(got_c.values())):.4g} for every B.",
                          "The answer depends on the batch size: write it as a formula of B, not a number.")
        return report(False, "", "loss_collapsed does not match the measured loss.",
                      "If all B logits in a row are equal, what probability does the softmax give the true pair?")

    got_p, failed = _learner_values(perfect, _PERFECT_CASES, "loss_perfect")
    if failed is not None:
        return failed
    if _all_close(got_p, lambda b, s: measured_p[(b, s)]):
        # A formula of B is defined at any B; a loss measured on a B x B batch needs a whole number.
        for label, fn, args, formula in (
                ("loss_collapsed", collapsed, (_NON_INTEGER_B,), math.log),
                ("loss_perfect", perfect, (_NON_INTEGER_B, 2.0), lambda b, s: math.log(1 + (b - 1) * math.exp(-s)))):
            out, problem = call_learner(fn, *args)
            if problem:
                return report(False, "", f"{label} gives the right numbers at whole B, but fails at B = "
                              f"{_NON_INTEGER_B} ({problem.strip().rstrip('.')}): the exercise asks for a closed "
                              "formula, valid for any real B, and a loop over range(B) or a built batch is not one.",
                              "Write it without a loop over B: a sum of B - 1 equal terms is (B - 1) times that term.")
            v = _number(out)
            if v is None or not math.isclose(v, formula(*args), rel_tol=1e-6):
                return report(False, "", f"{label} gives the right numbers, but not at B = {_NON_INTEGER_B}: it builds "
                              "a batch and measures its loss instead of deriving it.", "Write the loss as a formula "
                              "of B (and scale) with math.log and math.exp; a formula is defined at any B.")
        return report(True, "log(B) for the collapsed batch, and log(1 + (B-1) e^-scale) for the perfect one. "
                      "A perfect model still pays that second loss: at scale 1 and B = 64 it is 3.19, not far "
                      "from the collapsed 4.16. Without a large scale the loss can hardly tell a perfect model "
                      "from a useless one; that is what the temperature (section 3) is for.")
    wrong_p: list[tuple[Callable, str, str]] = [
        (lambda b, s: 0.0, "loss_perfect: the features are perfect, but the loss is not 0.",
         "Each negative still gets e^(scale x 0) = 1 in the softmax's denominator."),
        (lambda b, s: math.log(1 + b * math.exp(-s)), "loss_perfect: off by one: there are B - 1 negatives, not B.",
         "The right pair is one of the B candidates; the other B - 1 are negatives."),
        (lambda b, s: (b - 1) * math.exp(-s), "loss_perfect: that is the approximation log(1 + x) ~ x, "
         "good only when x is small (large scale); at scale 1 it is far off.", "Keep the logarithm."),
        (lambda b, s: math.log(b - 1) - s, "loss_perfect: the softmax's denominator lost the positive's own e^scale "
         "(and the result can be negative).", "The denominator sums over all B candidates, the right one included."),
        (lambda b, s: math.log(1 + (b - 1) * math.exp(-2 * s)), "loss_perfect: orthogonal pairs have cosine 0, not -1.",
         "A negative's logit is scale x 0."),
        (lambda b, s: 2 * math.log(1 + (b - 1) * math.exp(-s)), "loss_perfect: that is the sum of the two directions.",
         "CLIP averages the image->text and text->image losses (here they are equal)."),
        (lambda b, s: math.exp(-s), "loss_perfect: the B - 1 negatives are missing.",
         "Write the softmax probability of the right pair: e^scale / (e^scale + ...)."),
    ]
    for formula, problem, hint in wrong_p:
        if _all_close(got_p, formula):
            return report(False, "", problem, hint)
    if len({round(got_p[(64, 1.0)], 6), round(got_p[(64, 10.0)], 6)}) == 1:
        return report(False, "", "loss_perfect gives the same value at scale 1 and at scale 10.",
                      "The logits are scale x cosine: the positive's logit is scale x 1, a negative's scale x 0.")
    small = {k: v for k, v in got_p.items() if k[1] < 20}   # all but the case with a loss of 6e-7
    if _all_close(small, lambda b, s: measured_p[(b, s)]):
        return report(False, "", "loss_perfect is right at small scales but not at B = 300, scale 20, where the "
                      "loss is about 6e-7, small but not 0.", "Use the one formula at every scale, no rounding, no special case, "
                      "in Python floats (math.log, math.exp): float32 cannot hold 20 + 6e-7.")
    return report(False, "", "loss_perfect does not match the measured loss.",
                  "Write the probability the softmax gives the right pair: its logit is scale x 1, each of the "
                  "B - 1 negatives' is scale x 0; the loss is minus the log of that probability.")


def nb03_clip_loss(fn) -> CheckResult:
    """Exercise 1: ``fn(image_features, text_features, logit_scale) -> scalar tensor``."""
    import torch
    import torch.nn.functional as F

    from .. import losses

    helper = ("clip_loss" if fn is losses.clip_loss else
              _calls_helper(fn, {"clip_loss": losses.clip_loss, "ClipLoss": None, "clip_logits": losses.clip_logits,
                                 "masked_clip_loss": losses.masked_clip_loss}) if callable(fn) else None)
    if helper:
        return report(False, "", f"your function calls mm.losses' {helper}: this exercise asks you to write the "
                      "loss yourself.",
                      "Write it with torch: the logits, the targets arange(B), two F.cross_entropy calls, averaged.")
    g = torch.Generator().manual_seed(3)
    b, d, scale = 6, 8, 7.0
    img = F.normalize(torch.randn(b, d, generator=g), dim=1)
    txt = F.normalize(img + 0.8 * torch.randn(b, d, generator=g), dim=1)
    i2t, t2i = _reference_clip_loss(img, txt, scale)
    expected = float((i2t + t2i) / 2)

    out, problem = call_learner(fn, img.clone(), txt.clone(), scale)
    if problem:
        return learner_problem(problem)
    value, failed = _scalar_loss(out, "the result of F.cross_entropy", "combine the two directions into one number.")
    if failed is not None:
        return failed
    if not math.isfinite(value):
        return report(False, "", "your loss is NaN or inf.", "Check for log(0) or a division by zero.")
    if not isinstance(out, torch.Tensor):
        return report(False, "", "the number is right only if it stays a torch tensor (so gradients can flow).",
                      "Keep the computation in torch instead of converting to numpy or float.")
    if math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-6):
        input_problem = clip_input_problem(fn, img, txt, scale)
        if input_problem is not None:
            return input_problem
        renormalised = not _clip_grads_ok(call_learner, fn, img, txt, scale) and _clip_grads_ok(
            call_learner, fn, img, txt, scale, renormalised=True)
        if not (renormalised or _clip_grads_ok(call_learner, fn, img, txt, scale)):
            return report(False, "", "the value is right, but the gradient is not: it does not reach the image or "
                          "the text features, or reaches only part of the loss.", "Avoid .detach(), torch.no_grad(), "
                          ".item() or numpy anywhere in the computation: both sides must receive gradients.")
        high_problem = high_scale_problem(fn)
        if high_problem is not None:
            return high_problem
        scale_problem = scale_gradient_problem(fn, (img, txt), lambda s: sum(_reference_clip_loss(img, txt, s)) / 2,
                                               scale)
        if scale_problem is None:
            scale_problem = capped_scale_problem(fn, (img, txt), lambda s: sum(_reference_clip_loss(
                img.double(), txt.double(), s)) / 2)
        if scale_problem is not None:
            return scale_problem
        return report(True, "logits = scale x image @ text.T, targets = arange(B), and the two cross-entropies "
                      "(rows and columns) averaged: that is CLIP's loss." + (" You normalise the unit inputs again: "
                      "the same value, and the gradient loses only its part along each vector, which the heads' "
                      "own normalisation removes anyway." if renormalised else ""))
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


def nb03_semi_hard_negatives(fn) -> CheckResult:
    """Exercise 4: ``fn(similarity (B, B)) -> (B,)``: each row's semi-hard negative.

    The most similar column j != i that is strictly less similar than the row's positive
    (the diagonal); a row without one gets its least similar negative, as
    ``mm.losses.semi_hard_negatives`` (and TensorFlow Addons) do. Checked on a matrix with a
    negative above the positive, an exact tie, a row without candidates, negative values and a rescaled copy.
    """
    import torch

    from .. import losses

    helper = _calls_helper(fn, {"hardest_negatives": losses.hardest_negatives,
                                "semi_hard_negatives": losses.semi_hard_negatives,
                                "semi_hard_columns": losses.semi_hard_columns}) if callable(fn) else None
    if helper:
        return report(False, "", f"your function calls mm.losses.{helper}: the exercise is to write the mining "
                      "yourself.", "Compare each row with its own positive (the diagonal), keep the negatives "
                      "below it, and take the largest of those.")
    sim = _semi_hard_matrix()
    b = len(sim)
    expected = _semi_hard_ref(sim).numpy()
    given = sim.clone()
    out, problem = call_learner(fn, given)
    if problem:
        return report(False, "", problem)
    if not torch.equal(given, sim):
        return report(False, "", "your function changed the similarity matrix it was given (an in-place "
                      "operation such as fill_diagonal_ or masked_fill_): the caller's similarities are now damaged.",
                      "Work on a copy: masked_fill without the underscore returns a new tensor.")
    problem = shape_problem(out, (b,))
    if problem:
        return report(False, "", problem, f"One column index per row: a ({b},) array of ints.")
    arr = as_numpy(out)
    if not np.allclose(arr, np.round(arr)):
        return report(False, "", "expected integer column indices, got fractions.",
                      "Return the index (argmax) of each row's semi-hard negative, not its similarity.")
    arr = arr.astype(int)
    if (arr == expected).all():
        wider = semi_hard_general_problem(fn, sim, expected)
        return wider if wider is not None else report(True, "per row, the closest negative that is still less similar than the positive, and the "
                      "least similar one when every negative beats the positive: TensorFlow Addons' semi-hard negatives "
                      "(FaceNet's definition also requires the negative to lie inside the margin).")
    if (arr == np.arange(b)).sum() >= 2:
        return report(False, "", "some rows return their own positive (the diagonal).",
                      "A row's own column is never a negative: with `<=` the positive qualifies (it equals itself); "
                      "use a strict `<`, or exclude the diagonal.")
    rows = {
        "hardest": sim.masked_fill(torch.eye(b, dtype=torch.bool), -float("inf")).argmax(dim=1).numpy(),
        "nonstrict": _semi_hard_ref(sim, strict=False).numpy(),
        "no fallback": _semi_hard_ref(sim, fallback="none").numpy(),
        "hardest fallback": _semi_hard_ref(sim, fallback="hardest").numpy(),
        "zero fill": _semi_hard_ref(sim, fill=0.0).numpy(),
        "broadcast": _semi_hard_ref(sim, wrong_broadcast=True).numpy(),
        "axis": _semi_hard_ref(sim.T).numpy(),
    }
    messages = {
        "hardest": ("you returned the hardest negatives (the most similar wrong column), even where that negative "
                    "beats the positive.", "Semi-hard means wrong AND less similar than the row's positive: keep "
                    "only the columns below the diagonal value of their row, then take the largest."),
        "nonstrict": ("in the row where a negative ties with the positive exactly, you picked the tie: `<=` "
                      "instead of `<`.", "Semi-hard negatives are strictly farther than the positive: compare with `<`."),
        "no fallback": ("a row in which every negative beats the positive has no semi-hard candidate, and your "
                        "function returns an arbitrary column for it (the argmax of a row of -inf).",
                        "Give such rows a fallback: the least similar negative (as mm.losses.semi_hard_negatives)."),
        "hardest fallback": ("for a row without semi-hard candidates you fell back to the hardest negative. The "
                             "semi-hard recipe (TensorFlow Addons' triplet_semihard_loss, mm.losses) falls back to the least "
                             "similar one, which cannot collapse the training.",
                             "In such rows take the argmin over the negatives (diagonal excluded)."),
        "zero fill": ("you filled the excluded cells with 0, but cosines can be negative: in a row whose semi-hard "
                      "candidates are all below 0, a filled 0 wins.", "Fill the excluded cells with -inf."),
        "broadcast": ("you compared each cell with the wrong positive: similarity < similarity.diagonal() compares "
                      "cell (i, j) with column j's positive, because a (B,) vector broadcasts along the rows.",
                      "Make the positives a column: similarity.diagonal()[:, None], shape (B, 1)."),
        "axis": ("you searched along the wrong axis (columns instead of rows).",
                 "Row i is the anchor and similarity[i, i] its positive; look across its columns (dim=1)."),
    }
    for key, wrong in rows.items():
        if (arr == wrong).all():
            return report(False, "", *messages[key])
    if (arr == _semi_hard_ref(sim, fallback="farthest-with-positive").numpy()).all():
        return report(False, "", "in the row without semi-hard candidates your fallback returns the positive itself "
                      "(it is that row's least similar column).", "Exclude the diagonal from the fallback's argmin.")
    wrong = int((arr != expected).sum())
    return report(False, "", f"{wrong} of {b} rows point at the wrong column.",
                  "Per row: the columns j != i with similarity below the positive's; the largest of them; "
                  "if there is none, the least similar negative.")


def nb03_masked_clip_loss(fn) -> CheckResult:
    """Exercise 3: ``fn(image_features, text_features, groups, logit_scale) -> scalar tensor``.

    The CLIP loss in which, in each row and each column, the *other* pairs of the same group
    (equal labels: the same caption, the same emoji) are removed from the softmax (they are
    not negatives), while the diagonal stays the target. Checked on a batch with a group of
    three and a group of two, and on its gradient, not only its value.
    """
    import torch
    import torch.nn.functional as F

    from .. import losses

    helper = _calls_helper(fn, {"masked_clip_loss": losses.masked_clip_loss}) if callable(fn) else None
    if helper:
        return report(False, "", f"your function calls mm.losses.{helper}, the helper this exercise asks you to write.",
                      "Write it with torch: logits, a (B, B) mask of same-group pairs off the diagonal, "
                      "masked_fill, two cross-entropies.")
    g = torch.Generator().manual_seed(7)
    groups = ["cat", "dog", "cat", "car", "dog", "cat"]
    b, d, scale = len(groups), 8, 10.0
    img = F.normalize(torch.randn(b, d, generator=g), dim=1)
    txt = F.normalize(img + 0.7 * torch.randn(b, d, generator=g), dim=1)
    expected = float(_masked_reference(img, txt, groups, scale))

    # non-leaf inputs that carry gradients back to img_leaf / txt_leaf, as in training
    img_leaf, txt_leaf = img.clone().requires_grad_(True), txt.clone().requires_grad_(True)
    out, problem = call_learner(fn, img_leaf * 1.0, txt_leaf * 1.0, list(groups), scale)
    if problem:
        return learner_problem(problem)
    value, failed = _scalar_loss(out, "the average of two F.cross_entropy calls",
                                 "average the two directions into one number.")
    if failed is not None:
        return failed
    if not math.isfinite(value):
        diag = float(_masked_reference(img, txt, groups, scale, diagonal=True))
        hint = ("A row's own pair is in its own group: build the mask from same-group pairs *off* the "
                "diagonal, so the target logit stays finite.")
        if not math.isfinite(diag):
            return report(False, "", "your loss is inf or NaN: you probably masked the positive pairs (the diagonal) too.",
                          hint)
        return report(False, "", "your loss is NaN or inf.", hint)
    if not isinstance(out, torch.Tensor):
        return report(False, "", "the number must stay a torch tensor (so gradients can flow).",
                      "Keep the computation in torch instead of converting to numpy or float.")
    if value > 1e4:
        return report(False, "", f"your loss is {value:.3g}: the positive pairs (the diagonal) were masked too, with a "
                      "huge negative number instead of -inf.", "Mask only the OTHER pairs of a group: same group AND "
                      "not the diagonal.")
    if math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-6):
        if not out.requires_grad:
            return report(False, "", "the value is right, but no gradient flows back to the features: this loss "
                          "cannot train anything.", "Avoid .detach(), .item(), numpy or torch.tensor(...) around "
                          "the result; keep every step a torch operation on the inputs.")
        out.backward()
        ref_img, ref_txt = img.clone().requires_grad_(True), txt.clone().requires_grad_(True)
        _masked_reference(ref_img, ref_txt, groups, scale).backward()
        grads_ok = all(x.grad is not None and r.grad is not None and torch.allclose(x.grad, r.grad, rtol=1e-4, atol=1e-6)
                       for x, r in ((img_leaf, ref_img), (txt_leaf, ref_txt)))
        if not grads_ok:
            if any(x.grad is not None and not bool(torch.isfinite(x.grad).all()) for x in (img_leaf, txt_leaf)):
                return report(False, "", *NONFINITE_GRAD_MASKED)
            return report(False, "", "the value is right, but the gradient is not: part of the computation is cut "
                          "off from the features (a .detach() on one side, or logits rebuilt from numbers).",
                          "Both the image and the text features must receive gradients: compute the logits "
                          "from the inputs themselves.")
        # At scale 10 a fill of -scale leaves e^-10 in the softmax, below the tolerance: try scale 1 too.
        low = 1.0
        out1, problem = call_learner(fn, img.clone(), txt.clone(), list(groups), low)
        value1 = _number(out1) if not problem else None
        expected1 = float(_masked_reference(img, txt, groups, low))
        if value1 is None or not math.isclose(value1, expected1, rel_tol=1e-4, abs_tol=1e-6):
            minus_scale = float(_masked_reference(img, txt, groups, low, fill=-low))
            if value1 is not None and math.isclose(value1, minus_scale, rel_tol=1e-4):
                return report(False, "", "right at logit_scale 10, wrong at logit_scale 1: you filled the masked "
                              "logits with -logit_scale (the lowest a scaled cosine can be). That entry still "
                              "takes part in the softmax with weight e^-scale, as large as e^-1 at scale 1.",
                              "Use -inf (or a huge negative number such as -1e9): e^-inf = 0 removes the entry.")
            return report(False, "", f"right at logit_scale 10, but at logit_scale 1 your loss is "
                          f"{value1 if value1 is None else round(value1, 4)} instead of {expected1:.4f}.",
                          "The masked entries must leave the softmax at any scale: fill them with -inf, not a "
                          "value that depends on the scale.")
        # A finite fill (-20, -100) is below every logit at scale 10, but not in a row of a bad model at
        # scale 100: there every cosine is about -1, every logit about -100, and the filled entry dominates.
        g_bad = torch.Generator().manual_seed(3)
        axis = torch.zeros(d)
        axis[0] = 1.0
        bad = (F.normalize(axis + 0.05 * torch.randn(b, d, generator=g_bad), dim=1),
               F.normalize(-axis + 0.05 * torch.randn(b, d, generator=g_bad), dim=1))
        high = 100.0
        # and a mixed batch (some rows' logits up to +100, others' all about -50): one global max shift fails there
        for img_bad, txt_bad in (bad, mixed_batch(b, d, g_bad)):
            out_bad, problem = call_learner(fn, img_bad.clone(), txt_bad.clone(), list(groups), high)
            value_bad = _number(out_bad) if not problem else None
            expected_bad = float(_masked_reference(img_bad, txt_bad, groups, high))
            if value_bad is not None and math.isclose(value_bad, expected_bad, rel_tol=1e-4, abs_tol=1e-6):
                continue
            if _underflows(call_learner, _number, fn, (img_bad, txt_bad, groups, high), value_bad, expected_bad):
                return report(False, "", "wrong at logit_scale 100 on a bad or mixed batch (a row's logits all "
                              "about -100, or -50 next to rows at +100): e^-100 underflows in float32 (as does e^-150 "
                              "after one max of the whole matrix is subtracted), so your log of a sum of exponentials is inf or inexact.",
                              "Do not exponentiate yourself: masked_fill the masked logits with -inf and let "
                              "F.cross_entropy (or torch.logsumexp) do the log-softmax, which subtracts each row's "
                              "max first.")
            return report(False, "", "right on a good batch, but wrong at logit_scale 100 on a bad one, where every "
                          "cosine is about -1 and every logit about -100: your masked entries are filled with a "
                          "finite number that is now ABOVE the other logits, so they dominate the softmax.",
                          "Fill with -inf (or a huge negative number such as -1e9): the entry must leave the "
                          "softmax whatever the other logits are.")
        scale_problem = scale_gradient_problem(fn, (img, txt, list(groups)),
                                               lambda s: _masked_reference(img, txt, groups, s), scale)
        scale_problem = scale_problem if scale_problem is not None else identity_label_problem(fn, _masked_reference)
        if scale_problem is not None:
            return scale_problem
        return report(True, "duplicates are neither targets nor negatives: in each row and each column the "
                      "other pairs of the same group are taken out of the softmax, and the diagonal stays "
                      "the target. A model that puts both cats on one point is no longer punished for it.")
    variants = [
        (_reference_clip_loss(img, txt, scale), "your loss equals the ordinary CLIP loss: the duplicates are "
         "still counted as negatives.", "Build a (B, B) boolean mask of pairs with the same group label (but not "
         "the diagonal) and set those logits to -inf before the cross-entropy."),
        (_masked_reference(img, txt, groups, scale, fill=0.0), "you set the masked logits to 0, but a logit of 0 "
         "still takes part in the softmax (e^0 = 1, as large as a cosine-0 negative).",
         "Use -inf (or a very large negative number): e^-inf = 0 removes the entry from the softmax."),
        (_masked_reference(img, txt, groups, scale, both=False), "your loss matches only the image->text "
         "direction.", "Mask and classify the columns too (the transposed logits), and average the two."),
        (_masked_reference(img, txt, groups, scale, columns_masked=False), "you masked the rows (image->text) but "
         "the text->image direction still uses the unmasked logits.",
         "Transpose the *masked* logits for the second cross-entropy."),
        (_masked_reference(img, txt, groups, scale, one_triangle=True), "you masked only one triangle of the matrix "
         "(j after i), so the later member of each group still treats the earlier one as a negative.",
         "Being in the same group is symmetric: mask (i, j) and (j, i)."),
        (_masked_reference(img, txt, groups, scale, summed=True), "your loss is the sum of the two directions.",
         "Average the image->text and text->image cross-entropies, as in the CLIP loss."),
        (_soft_reference(img, txt, groups, scale), "that is the soft-target loss of the cell above: also a "
         "remedy, but it spreads the target over the duplicates instead of removing them.",
         "Keep the hard targets (arange(B)) and remove same-group off-diagonal entries from the softmax."),
    ]
    for ref, problem, hint in variants:
        ref_value = float((ref[0] + ref[1]) / 2) if isinstance(ref, tuple) else float(ref)
        if math.isclose(value, ref_value, rel_tol=1e-4):
            return report(False, "", problem, hint)
    return report(False, "", f"your loss {value:.4f} differs from the expected value.",
                  "Steps: logits = logit_scale * image @ text.T; mask = same group AND not the diagonal; "
                  "logits.masked_fill(mask, -inf); cross-entropy with targets arange(B) on the rows and on "
                  "the columns; average the two.")


def nb03_centre(fn) -> CheckResult:
    """Exercise 5a: ``fn(z (N, D) unit rows) -> (N, D)``: subtract the mean row, then L2-normalise each row."""
    from .. import lit

    helper = _calls_helper(fn, {"centre": lit.centre}) if callable(fn) else None
    if helper:
        return report(False, "", f"your function calls the package's {helper}, the function this exercise asks you to write.",
                      "Write it with numpy: the mean row, a subtraction, a division by each row's norm.")
    rng = np.random.default_rng(11)
    z = rng.normal(size=(12, 6)) + np.array([2.0, 0, 0, 0, 0, 1.0])  # a cloud far from the origin (a cone)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    centred = z - z.mean(axis=0)
    expected = centred / np.linalg.norm(centred, axis=1, keepdims=True)

    given = z.copy()
    out, problem = call_learner(fn, given)
    if problem:
        return report(False, "", problem)
    if not np.array_equal(given, z):
        return report(False, "", "your function changed the embeddings it was given (in place, e.g. z -= ...): "
                      "the caller's vectors are now centred too, and a second call would centre them again.",
                      "Build a new array: c = z - z.mean(axis=0), then return c / its row norms.")
    problem = shape_problem(out, z.shape)
    if problem:
        return report(False, "", problem, f"One output row per input row: shape {z.shape}.")
    arr = as_numpy(out)
    if np.allclose(arr, expected, atol=1e-5):
        return report(True, "each modality's cloud is moved to the origin and put back on the unit sphere.")
    if np.allclose(arr, centred, atol=1e-5):
        return report(False, "", "the rows are centred but no longer unit length.",
                      "After subtracting the mean, divide each row by its norm again (cosine needs unit rows).")
    if np.allclose(arr, centred / np.linalg.norm(centred, axis=0), atol=1e-5):
        return report(False, "", "you divided by the norm of each column (axis=0), not of each row.",
                      "np.linalg.norm(c, axis=1, keepdims=True) gives one norm per row, shaped to divide.")
    if np.allclose(arr, centred / np.linalg.norm(centred), atol=1e-5):
        return report(False, "", "you divided by the norm of the whole matrix, not of each row.",
                      "np.linalg.norm(c, axis=1, keepdims=True) gives one norm per row, shaped to divide.")
    if np.allclose(arr, centred / centred.std(axis=0), atol=1e-5) or np.allclose(
            arr, centred / z.std(axis=0), atol=1e-5):
        return report(False, "", "you standardised each column (divided by its standard deviation).",
                      "Cosine needs each ROW at unit length: divide each row by its own L2 norm.")
    by_row = z - z.mean(axis=1, keepdims=True)
    if np.allclose(arr, by_row, atol=1e-5) or np.allclose(
            arr, by_row / np.linalg.norm(by_row, axis=1, keepdims=True), atol=1e-5):
        return report(False, "", "you subtracted each row's own mean (over its D numbers).",
                      "The centre of the cloud is the mean over the rows: axis=0, a (D,) vector.")
    if np.allclose(arr, z, atol=1e-5):
        return report(False, "", "your function returns its input unchanged.", "Subtract the mean row first.")
    return report(False, "", "the result differs from the centred, renormalised rows.",
                  "Steps: subtract z.mean(axis=0) from every row, then divide each row by its L2 norm.")


_RANKING_KEYS = ("image", "text", "both")


def nb03_centring_ranking(fn) -> CheckResult:
    """Exercise 5b: ``fn(q, V, image_mean, text_mean, side) -> (N,)``: the terms of the change in the score
    q . v_j, when ``side`` ("image", "text" or "both") is centred and not renormalised, that depend on j.

    Tested on random vectors for each side; a constant part (the same for every image j) is not such a term.
    """
    from ._nb03_cases import ranking_term_cases, ranking_term_expected

    if is_empty(fn):
        return report(False, "", EMPTY_MESSAGE)
    if not callable(fn):
        return report(False, "", f"expected a function, got {type(fn).__name__}.",
                      "Keep the def of the exercise cell and fill in its body.")
    for q, V, mean_v, mean_t in ranking_term_cases():
        for side in _RANKING_KEYS:
            out, problem = call_learner(fn, q.copy(), V.copy(), mean_v.copy(), mean_t.copy(), side)
            if problem:
                return report(False, "", f"side={side!r}: {problem}")
            arr = as_numpy(out)
            if arr is None or arr.size not in (1, len(V)):
                return report(False, "", f"side={side!r}: expected {len(V)} numbers, one per image, got {out!r}.",
                              "Return an array of shape (N,): zeros when no term depends on j.")
            got = np.broadcast_to(np.asarray(arr, dtype=float).reshape(-1), (len(V),))
            want = ranking_term_expected(q, V, mean_v, mean_t, side)
            if np.allclose(got, want, atol=1e-9):
                continue
            spread = got - got.mean()
            if np.allclose(spread, want - want.mean(), atol=1e-9):
                return report(False, "", f"side={side!r}: right in how it varies with j, but it also includes a part "
                              "that is the same for every image j.", "Multiply the centred score out and keep only the "
                              "terms that contain v_j: a term without v_j shifts every image of a query alike.")
            if np.allclose(got, -want, atol=1e-9):
                return report(False, "", f"side={side!r}: the sign is wrong.",
                              "It is the centred score MINUS the original score; the means are subtracted.")
            return report(False, "", f"side={side!r}: the result differs.",
                          "For one query q, write the score of image j with that side centred (not renormalised) and "
                          "multiply it out. Which terms change from one image j to the next?")
    return report(True, "centring the images shifts every score of a query by the same -q . mean_v, so it can never "
                  "reorder them; centring the names adds -mean_t . v_j, which differs from image to image, "
                  "whether or not the images are centred too: those two can reorder.")
