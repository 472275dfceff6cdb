"""Helpers of the notebook-03 checks, kept apart from the feedback in ``nb03`` (which has a size limit).

Exercise 2's measured truth and the learner-value plumbing, and the gradient to ``logit_scale``
that exercises 1 and 3 compare with the reference.
"""
from __future__ import annotations

import math

from ._feedback import EMPTY_MESSAGE, CheckResult, as_numpy, call_learner, is_empty, report
from ._nb03_reference import _reference_clip_loss

_COLLAPSED_BS = (2, 8, 64, 300)
NONFINITE_GRAD_MASKED = (
    "the value is right, but the gradient has NaN or inf entries: a log of a softmax that holds exact zeros "
    "(the masked entries) gives log 0 = -inf there, and 0 x inf = NaN on the way back.",
    "Take logs with F.cross_entropy or F.log_softmax on the masked logits, never torch.log(torch.softmax(...)).")
_PERFECT_CASES = ((2, 1.0), (8, 0.5), (64, 1.0), (64, 10.0), (300, 5.0), (300, 20.0))  # the last: a loss of 6e-7


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


def _number(value) -> float | None:
    """A learner's value as a float, or None when it is not a single finite-or-not number."""
    if isinstance(value, (bool, str, bytes)) or value is None or value is Ellipsis:
        return None
    arr = as_numpy(value)
    if arr is None or arr.size != 1:
        return None
    return float(arr.reshape(()))


def _measured_extremes():
    """The CLIP loss measured on the two extreme batches (the truth the learner's formulas must match)."""
    import torch

    collapsed, perfect = {}, {}
    for b in _COLLAPSED_BS:
        same = torch.ones(b, 4) / 2.0  # every feature the same unit vector
        collapsed[b] = float(sum(_reference_clip_loss(same, same, 10.0)) / 2)
    for b, s in _PERFECT_CASES:
        eye = torch.eye(b, dtype=torch.float64)  # image i == text i, pairs orthonormal
        perfect[(b, s)] = float(sum(_reference_clip_loss(eye, eye, s)) / 2)
    return collapsed, perfect


def _learner_values(fn, cases, label: str) -> tuple[dict, CheckResult | None]:
    """``({case: float}, None)`` from calling ``fn(*case)``, or ``({}, the reported failure)``."""
    if is_empty(fn):
        return {}, report(False, "", EMPTY_MESSAGE)
    if not callable(fn):
        return {}, report(False, "", f"{label}: expected a function, got {type(fn).__name__}.",
                            "Write a def that returns the loss as a formula of its arguments, so it works for any B.")
    values = {}
    for case in cases:
        args = case if isinstance(case, tuple) else (case,)
        out, problem = call_learner(fn, *args)
        if problem:
            return {}, report(False, "", f"{label}: {problem}")
        v = _number(out)
        if v is None:
            return {}, report(False, "", f"{label}{args}: expected a number, got {type(out).__name__}.",
                                "Return the loss as one number, e.g. math.log(...).")
        values[case] = v
    return values, None


def _all_close(values: dict, formula) -> bool:
    return all(math.isclose(v, formula(*(k if isinstance(k, tuple) else (k,))), rel_tol=1e-3, abs_tol=1e-7)  # 1e-7: float32 rounding near 0
               for k, v in values.items())


def _scale_gradients(fn, inputs: tuple, reference, scale: float, *, double: bool):
    """d loss / d logit_scale of the learner's ``fn`` (None when it has none) and of ``reference``, both at a
    learnable 0-d ``scale`` (float64 inputs and scale when ``double``; float32 copies otherwise)."""
    import torch

    dtype = torch.float64 if double else torch.float32
    learnable = torch.tensor(float(scale), dtype=dtype, requires_grad=True)
    cast = (lambda x: x.double()) if double else (lambda x: x.clone())
    out, problem = call_learner(fn, *(cast(x) if isinstance(x, torch.Tensor) else x for x in inputs), learnable * 1.0)
    got = None
    if not problem and isinstance(out, torch.Tensor) and out.requires_grad:
        try:
            got, = torch.autograd.grad(out.sum(), learnable, allow_unused=True)
        except RuntimeError:
            got = None
    ref_scale = torch.tensor(float(scale), dtype=dtype, requires_grad=True)
    want, = torch.autograd.grad(reference(ref_scale * 1.0), ref_scale)
    return got, want


def scale_gradient_problem(fn, inputs: tuple, reference, scale: float) -> CheckResult | None:
    """A failure report when ``fn(*inputs, logit_scale)`` does not pass the reference's gradient to a
    learnable ``logit_scale`` (a 0-d tensor that requires grad, as in training), else None.

    ``reference(scale_tensor)`` is the right loss as a function of that tensor.
    """
    got, want = _scale_gradients(fn, inputs, reference, scale, double=False)
    if got is not None and math.isclose(float(got), float(want), rel_tol=1e-4, abs_tol=1e-6):
        return None
    if got is not None and not math.isfinite(float(got)):
        return report(False, "", "right for a fixed number, but with a learnable logit_scale (a tensor that requires "
                      f"grad, as in training) d loss / d scale is {float(got)} instead of {float(want):.4f}: entries set to "
                      "-inf before the multiplication by the scale get the gradient 0 x -inf = nan.",
                      "Multiply by the scale first, then mask the scaled logits.")
    return report(False, "", "right for a fixed number, but with a learnable logit_scale (a tensor that requires "
                  "grad, as in training) no gradient, or the wrong one, reaches it: "
                  f"d loss / d scale is {None if got is None else round(float(got), 4)} instead of {float(want):.4f}.",
                  "CLIP learns its scale through this loss: use logit_scale as it is passed in, without "
                  "float(...), torch.tensor(...), .item() or .detach() around it.")


def mixed_batch(b: int, d: int, g):
    """Features at logit_scale 100 where half the rows' logits reach +100 and the other half's are all about -50
    (three directions 120 degrees apart): one max subtracted from the whole matrix leaves e^-150 = 0 in float32
    there (0 / 0), while each row's own max (F.cross_entropy, torch.softmax) stays exact."""
    import torch
    import torch.nn.functional as F

    third = math.sqrt(3) / 2
    e1, w, t = (torch.zeros(d) for _ in range(3))
    e1[0], w[0], w[1], t[0], t[1] = 1.0, -0.5, third, -0.5, -third
    half = [k < b // 2 for k in range(b)]
    img = torch.stack([e1 if h else w for h in half])
    txt = torch.stack([e1 if h else t for h in half])
    noise = lambda: 0.02 * torch.randn(b, d, generator=g)  # noqa: E731
    return F.normalize(img + noise(), dim=1), F.normalize(txt + noise(), dim=1)


def apart_batch(b: int, d: int, g):
    """Features at logit_scale 100 where each image of the first half meets its own caption at -100 and the
    second half's captions at +100: log(softmax) gives log(e^-200) = log(0) = -inf in float32 there, while
    F.cross_entropy (log-softmax done stably) stays finite."""
    import torch
    import torch.nn.functional as F

    e1, e2 = torch.zeros(d), torch.zeros(d)
    e1[0], e2[1] = 1.0, 1.0
    half = [k < b // 2 for k in range(b)]
    img = torch.stack([e1 if h else e2 for h in half])
    txt = torch.stack([-e1 if h else e1 for h in half])
    noise = lambda: 0.02 * torch.randn(b, d, generator=g)  # noqa: E731
    return F.normalize(img + noise(), dim=1), F.normalize(txt + noise(), dim=1)


def high_scale_problem(fn) -> CheckResult | None:
    """Exercise 1 at logit_scale 100 (the cap CLIP's models reach): a failure report when the learner's loss
    is wrong there (a softmax exponentiated by hand overflows or underflows float32), else None."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(5)
    b, d, high = 6, 8, 100.0
    img = F.normalize(torch.randn(b, d, generator=g), dim=1)
    axis = torch.zeros(d)
    axis[0] = 1.0
    cases = (("aligned features (every logit of a row up to +100)", img, F.normalize(img + 0.1 * torch.randn(
                 b, d, generator=g), dim=1)),
             ("a bad batch (every logit about -100)", F.normalize(axis + 0.05 * torch.randn(b, d, generator=g), dim=1),
              F.normalize(-axis + 0.05 * torch.randn(b, d, generator=g), dim=1)),
             ("a mixed batch (half the rows' logits up to +100, the other half's all about -50)",
              *mixed_batch(b, d, g)),
             ("a batch whose own pairs point apart (a row's own logit about 200 below its highest)",
              *apart_batch(b, d, g)))
    for label, a, t in cases:
        expected = float(sum(_reference_clip_loss(a.double(), t.double(), high)) / 2)
        out, problem = call_learner(fn, a.clone(), t.clone(), high)
        value = _number(out) if not problem else None
        if value is not None and math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-5):
            continue
        out64, problem64 = call_learner(fn, a.double(), t.double(), high)
        value64 = _number(out64) if not problem64 else None
        if (value is not None and not math.isfinite(value)) or (
                value64 is not None and math.isclose(value64, expected, rel_tol=1e-4, abs_tol=1e-5)):
            why = ("the positive's probability underflows to 0 in float32 and log(0) = -inf, so the log of a softmax "
                   "breaks there" if value == math.inf and "apart" in label else "e^100 overflows float32 (inf / inf = nan) and e^-100 "
                   "underflows, so a softmax exponentiated by hand breaks there")
            return report(False, "", f"right at logit_scale 7, but at logit_scale 100 (where CLIP's scale ends) on "
                          f"{label} your loss is {value if value is None else round(value, 4)} instead of "
                          f"{expected:.4f}: {why}.", "Do not exponentiate or take the log of probabilities yourself: "
                          "F.cross_entropy (or F.log_softmax, torch.logsumexp) works with the logits and subtracts "
                          "each row's max first.")
        return report(False, "", f"right at logit_scale 7, but at logit_scale 100 on {label} your loss is "
                      f"{value if value is None else round(value, 4)} instead of {expected:.4f}.",
                      "Keep every step a formula of the inputs and logit_scale, and let F.cross_entropy do the "
                      "log-softmax.")
    return None


def ranking_term_cases():
    """Exercise 5b's random cases: ``(q, V, image_mean, text_mean)`` with means far from 0 (two cones)."""
    import numpy as np

    rng = np.random.default_rng(5)
    out = []
    for n, d in ((7, 5), (12, 3)):
        q = rng.normal(size=d) + 1.0
        V = rng.normal(size=(n, d)) + 0.5
        out.append((q, V, V.mean(axis=0), rng.normal(size=d) + 1.0))
    return out


def ranking_term_expected(q, V, image_mean, text_mean, side: str):
    """The terms of (q - [text_mean]) . (v_j - [image_mean]) - q . v_j that contain v_j, for every image j."""
    import numpy as np

    return np.zeros(len(V)) if side == "image" else -(V @ text_mean)


def capped_scale_problem(fn, inputs: tuple, reference, scale: float = 150.0) -> CheckResult | None:
    """Exercise 1 with a learnable ``logit_scale`` above CLIP's cap of 100: a failure report when the learner
    caps the scale inside the loss (``clamp(max=100)``, ``min(s, 100)``), which zeroes d loss / d scale there,
    else None. ``reference(scale_tensor)`` is the right loss as a function of that tensor."""
    got, want = _scale_gradients(fn, inputs, reference, scale, double=True)
    if got is not None and math.isclose(float(got), float(want), rel_tol=1e-4, abs_tol=1e-9):
        return None
    got_text = "missing" if got is None else f"{float(got):.3g}"
    return report(False, "", f"right at logit_scale 7, but with a learnable logit_scale of {scale:g} (above CLIP's cap "
                  f"of 100) d loss / d scale is {got_text} instead of {float(want):.3g}: "
                  "a clamp (or min) inside the loss freezes the scale's gradient at 0 above the cap.",
                  "Use logit_scale as it is passed in. The cap is not part of the loss: open_clip clamps the "
                  "parameter after each optimiser step (as the cells on the temperature show), not in forward.")


def learner_problem(problem: str) -> CheckResult:
    """The failed call as a report; a batch-size mismatch (``torch.arange(B)`` with the notebook's global ``B``)
    gets a hint that names it."""
    if "batch_size" in problem and "match target batch_size" in problem:
        return report(False, "", problem + " Your targets and your logits have different lengths: did you use a "
                      "batch size from outside the function (the notebook's global B)?",
                      "Take the batch size from the inputs, e.g. len(image_features) or logits.shape[0].")
    return report(False, "", problem)


def identity_label_problem(fn, masked_reference) -> CheckResult | None:
    """Exercise 3 on labels that are equal but not the same object (ints above 256 from a tensor's
    ``tolist()``, as section 7 passes, and strings built at run time): a failure report when the learner's
    loss is right for literal labels but not for these (labels compared with ``is``), or wrong on a batch of 8
    with other groups (a hard-coded ``torch.arange(6)`` or mask), else None."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(8)
    img = F.normalize(torch.randn(6, 8, generator=g), dim=1)
    txt = F.normalize(img + 0.7 * torch.randn(6, 8, generator=g), dim=1)
    groups8 = [4, 1, 4, 2, 4, 1, 3, 2]  # a second batch size and pattern: nothing may be fixed at the batch of 6
    i8 = F.normalize(torch.randn(8, 8, generator=g), dim=1)
    t8 = F.normalize(i8 + 0.7 * torch.randn(8, 8, generator=g), dim=1)
    out, problem = call_learner(fn, i8.clone(), t8.clone(), list(groups8), 10.0)
    if problem:
        return learner_problem(problem)
    expected, value = float(masked_reference(i8, t8, groups8, 10.0)), _number(out)
    if value is None or not math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-6):
        return report(False, "", f"right on the batch of 6, but on a batch of 8 with the groups {groups8} your loss "
                      f"is {value if value is None else round(value, 4)} instead of {expected:.4f}.",
                      "Build the targets and the mask from the inputs (len(image_features), the groups passed "
                      "in): nothing may be fixed at the batch of 6.")
    built = ["".join(["c", "a", "t"]), "".join(["d", "o", "g"]), "".join(["c", "a", "t"]), "car",
             "".join(["d", "o", "g"]), "".join(["c", "a", "t"])]
    for groups in (torch.tensor([300, 301, 300, 302, 301, 300]).tolist(), built):
        expected = float(masked_reference(img, txt, groups, 10.0))
        out, problem = call_learner(fn, img.clone(), txt.clone(), list(groups), 10.0)
        value = _number(out) if not problem else None
        if value is None or not math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-6):
            return report(False, "", f"right for the literal labels, but for the group labels {groups} your loss "
                          f"is {value if value is None else round(value, 4)} instead of {expected:.4f}. Equal labels "
                          "that are different objects (ids above 256 from a tensor's tolist(), as section 7 passes, "
                          "or strings built at run time) are not matched: a comparison with `is` tests identity, not "
                          "equality.", "Compare labels with ==.")
    return None


def semi_hard_general_problem(fn, sim, expected) -> CheckResult | None:
    """Exercise 4 on ``5 * sim - 3``, a similarity matrix that is not made of cosines (values far below -1): the
    same semi-hard columns, since the order within each row is kept. A failure report (e.g. excluded cells
    filled with -1, the lowest cosine) when the learner's columns change, else None."""
    out, problem = call_learner(fn, 5 * sim - 3)
    if problem:
        return report(False, "", f"right on cosines, but on a similarity matrix with values below -1 (5 x cosine "
                      f"- 3): {problem}")
    arr = as_numpy(out)
    if arr.shape != expected.shape or not (arr.astype(int) == expected).all():
        return report(False, "", "right on cosines, but not on a similarity matrix with values below -1 (5 x "
                      "cosine - 3, the same order in every row): the excluded cells must lose to every value, "
                      "and a fill of -1 (the lowest cosine) or any other finite number does not.",
                      "Fill the excluded cells with -inf.")
    return None


def clip_input_problem(fn, img, txt, scale: float) -> CheckResult | None:
    """Exercise 1 beyond its batch of 6: a failure report when the learner's right loss changes the features it
    is given (in place, e.g. ``image_features /= ...``), or is wrong on a batch of 8 (a hard-coded
    ``torch.arange(6)`` or mask), else None."""
    import torch
    import torch.nn.functional as F

    a, t = img.clone() * 1.0, txt.clone() * 1.0
    before = (a._version, t._version)
    call_learner(fn, a, t, scale)
    if (a._version, t._version) != before:
        return report(False, "", "your function changed the features it was given (in place, e.g. "
                      "image_features /= ...): the caller's tensors change too, and autograd cannot go back "
                      "through a tensor that was overwritten, so no gradient reaches the features.",
                      "Build new tensors (x = x / ..., or no normalisation at all: the inputs are unit vectors).")
    g = torch.Generator().manual_seed(9)
    img8 = F.normalize(torch.randn(8, img.shape[1], generator=g), dim=1)
    txt8 = F.normalize(img8 + 0.8 * torch.randn(8, img.shape[1], generator=g), dim=1)
    expected = float(sum(_reference_clip_loss(img8, txt8, scale)) / 2)
    out, problem = call_learner(fn, img8, txt8, scale)
    if problem:
        return learner_problem(problem)
    value = _number(out)
    if value is None or not math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-6):
        return report(False, "", f"right on a batch of 6, but on a batch of 8 your loss is "
                      f"{value if value is None else round(value, 4)} instead of {expected:.4f}.",
                      "Nothing may depend on the batch of 6: take the batch size from the inputs "
                      "(len(image_features)).")
    return None
