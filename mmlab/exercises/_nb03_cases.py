"""Helpers of the notebook-03 checks, kept apart from the feedback in ``nb03`` (which has a size limit).

Exercise 2's measured truth and the learner-value plumbing, and the gradient to ``logit_scale``
that exercises 1 and 3 compare with the reference.
"""
from __future__ import annotations

import math

from ._feedback import EMPTY_MESSAGE, CheckResult, as_numpy, call_learner, is_empty, report
from ._nb03_reference import _reference_clip_loss

_COLLAPSED_BS = (2, 8, 64, 300)
_PERFECT_CASES = ((2, 1.0), (8, 0.5), (64, 1.0), (64, 10.0), (300, 5.0))


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
    return all(math.isclose(v, formula(*(k if isinstance(k, tuple) else (k,))), rel_tol=1e-3, abs_tol=1e-9)
               for k, v in values.items())


def scale_gradient_problem(fn, inputs: tuple, reference, scale: float) -> CheckResult | None:
    """A failure report when ``fn(*inputs, logit_scale)`` does not pass the reference's gradient to a
    learnable ``logit_scale`` (a 0-d tensor that requires grad, as in training), else None.

    ``reference(scale_tensor)`` is the right loss as a function of that tensor.
    """
    import torch

    learnable = torch.tensor(float(scale), requires_grad=True)
    out, problem = call_learner(fn, *(x.clone() if isinstance(x, torch.Tensor) else x for x in inputs), learnable * 1.0)
    got = None
    if not problem and isinstance(out, torch.Tensor) and out.requires_grad:
        try:
            got, = torch.autograd.grad(out.sum(), learnable, allow_unused=True)
        except RuntimeError:
            got = None
    ref_scale = torch.tensor(float(scale), requires_grad=True)
    want, = torch.autograd.grad(reference(ref_scale * 1.0), ref_scale)
    if got is not None and math.isclose(float(got), float(want), rel_tol=1e-4, abs_tol=1e-6):
        return None
    return report(False, "", "right for a fixed number, but with a learnable logit_scale (a tensor that requires "
                  "grad, as in training) no gradient, or the wrong one, reaches it: "
                  f"d loss / d scale is {None if got is None else round(float(got), 4)} instead of {float(want):.4f}.",
                  "CLIP learns its scale through this loss: use logit_scale as it is passed in, without "
                  "float(...), torch.tensor(...), .item() or .detach() around it.")
