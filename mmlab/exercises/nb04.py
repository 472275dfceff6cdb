"""Exercise checks for notebook 04 (re-exported by mmlab.checks)."""
from __future__ import annotations

import zlib

import numpy as np

from ..embeddings import l2_normalize, softmax
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
    "nb04_build_classifier",
    "nb04_more_classes",
    "nb04_overtake_k",
    "nb04_zero_shot_probs",
]


def nb04_more_classes(answer) -> CheckResult:
    """Exercise 1: adding a third class ("a photo of a tiger") - what happens to p(cat)?"""
    if is_empty(answer):
        return report(False, "", EMPTY_MESSAGE)
    if not isinstance(answer, str) or answer.strip().lower() not in ("up", "down", "same"):
        return report(False, "", f"expected one of 'up', 'down' or 'same', got {answer!r}.")
    answer = answer.strip().lower()
    return report(
        answer == "down",
        "The cat's logit does not change, but the softmax denominator gains one more positive "
        "term exp(logit_scale * cos(image, tiger)), so p(cat) can only fall. Zero-shot "
        "probabilities are relative to the list of classes you chose.",
        f"{answer!r} is not what the softmax does.",
        "Write p(cat) = exp(l_cat) / (exp(l_cat) + exp(l_dog)). Which parts change when a "
        "third term exp(l_tiger) is added, and can that term be zero or negative?",
    )


def nb04_zero_shot_probs(fn) -> CheckResult:
    """Exercise 2: ``fn(image_features, class_embeddings, logit_scale) -> (N, C)`` probabilities."""
    rng = np.random.default_rng(4)
    img = rng.normal(size=(5, 8)) * rng.uniform(0.5, 3.0, size=(5, 1))  # rows NOT unit length
    cls = rng.normal(size=(3, 8)) * rng.uniform(0.5, 3.0, size=(3, 1))
    scale = 20.0
    cos = l2_normalize(img) @ l2_normalize(cls).T  # (5, 3)
    expected = softmax(scale * cos)

    out, problem = call_learner(fn, img.copy(), cls.copy(), scale)
    if problem:
        return report(False, "", problem)
    arr = as_numpy(out)
    if arr is not None and arr.shape == (3, 5):
        return report(False, "", "got shape (3, 5) for 5 images and 3 classes.",
                      "One row per image, one column per class: compare images with classes, not the reverse.")
    problem = shape_problem(out, (5, 3))
    if problem:
        return report(False, "", problem, "5 images and 3 classes should give a (5, 3) array.")
    if np.allclose(arr, expected, atol=1e-4):
        return report(True, "softmax(logit_scale x cosine), one row per image: that is CLIP's zero-shot head.")
    if np.allclose(arr, softmax(scale * cos, axis=0), atol=1e-4):
        return report(False, "", "each column sums to 1, not each row.",
                      "The probabilities are over classes, so the softmax runs along axis=1.")
    if np.allclose(arr, softmax(cos), atol=1e-4):
        return report(False, "", "your probabilities are far too flat.",
                      "Cosines lie in [-1, 1]; CLIP multiplies them by logit_scale before the softmax.")
    if np.allclose(arr, softmax(scale * (img @ cls.T)), atol=1e-4) or np.allclose(
        arr, softmax(scale * (img @ l2_normalize(cls).T)), atol=1e-4
    ):
        return report(False, "", "the test embeddings are not unit length, and your answer depends on their length.",
                      "Cosine similarity needs L2-normalised rows: divide each row by its norm first.")
    if np.allclose(arr, scale * cos, atol=1e-4) or np.allclose(arr, cos, atol=1e-4):
        return report(False, "", "the rows do not sum to 1: these are scores, not probabilities.",
                      "Turn the scaled similarities into probabilities with a softmax over the classes.")
    if not np.allclose(arr.sum(axis=1), 1.0, atol=1e-4):
        return report(False, "", "the rows do not sum to 1.", "End with a softmax over the classes (axis=1).")
    return report(False, "", "the probabilities differ from the expected ones.",
                  "Steps: normalise both, cosine matrix (N, C), multiply by logit_scale, softmax along axis=1.")


class _HashText:
    """A stand-in text encoder: every distinct text gets its own fixed random unit vector."""

    name = "hash-text"
    dim = 16
    modalities = ("text",)
    logit_scale = 100.0

    def encode_text(self, texts, batch_size=32, progress=True):
        out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=self.dim) for t in texts])
        return l2_normalize(out).astype(np.float32)


def nb04_build_classifier(fn) -> CheckResult:
    """Exercise 3: ``fn(model, classnames, templates) -> (C, D)`` template-ensemble classifier."""
    model = _HashText()
    classnames = ["cat", "dog", "car"]
    templates = ["a photo of a {}.", "an emoji of a {}.", "a drawing of a {}.", "a {}."]
    C, T = len(classnames), len(templates)
    texts = [t.replace("{}", c) for c in classnames for t in templates]
    per_text = model.encode_text(texts).reshape(C, T, -1)  # (C, T, D)
    mean = per_text.mean(axis=1)
    expected = l2_normalize(mean)

    out, problem = call_learner(fn, model, list(classnames), list(templates))
    if problem:
        return report(False, "", problem)
    arr = as_numpy(out)
    if arr is not None and arr.shape == (C * T, model.dim):
        return report(False, "", f"got one row per prompt ({C * T} rows), not one per class ({C}).",
                      "Average the prompt embeddings of each class: reshape to (C, T, D) and take the mean over T.")
    problem = shape_problem(out, (C, model.dim))
    if problem:
        return report(False, "", problem, f"{C} classes and a {model.dim}-d text encoder give a ({C}, {model.dim}) array.")
    if np.allclose(arr, expected, atol=1e-4):
        return report(True, "one renormalised mean per class: the prompt ensemble of the CLIP paper.")
    if np.allclose(arr, mean, atol=1e-4):
        return report(False, "", "the directions are right but the rows are shorter than 1.",
                      "The mean of unit vectors is not a unit vector: normalise each class row again.")
    # The two ways to mix up the nesting: class-major texts reshaped (T, C), or
    # template-major texts reshaped (C, T).
    t_major = [t.replace("{}", c) for t in templates for c in classnames]
    mixed = [l2_normalize(model.encode_text(texts).reshape(T, C, -1).mean(axis=0)),
             l2_normalize(model.encode_text(t_major).reshape(C, T, -1).mean(axis=1))]
    if any(np.allclose(arr, m, atol=1e-4) for m in mixed):
        return report(False, "", "the rows mix prompts of different classes.",
                      "Build the texts class by class (all templates of class 0, then of class 1, ...) and "
                      "reshape to (C, T, D) in the same order.")
    first_only = model.encode_text([templates[0].replace("{}", c) for c in classnames])
    if np.allclose(arr, first_only, atol=1e-4):
        return report(False, "", "only the first template was used.", "Fill every template with every class name.")
    return report(False, "", "the class embeddings differ from the expected ones.",
                  "Steps: texts for every (class, template), encode, reshape (C, T, D), mean over T, L2-normalise rows.")


def nb04_overtake_k(answer, ks, probe_accuracies, zero_shot_accuracy: float, standard_errors=None) -> CheckResult:
    """Exercise 4: the smallest k at which the few-shot probe beats zero-shot (or "never").

    Args:
        answer: the learner's k (an int from ``ks``) or ``"never"``.
        ks: the measured k values, in increasing order.
        probe_accuracies: the probe's (mean) accuracy at each k.
        zero_shot_accuracy: the zero-shot accuracy to beat.
        standard_errors: the standard error of each mean, or None. When given, "beats" means
            clearly: mean - 2 * standard error > zero-shot.
    Returns:
        True when the answer is right.
    """
    ks = [int(k) for k in ks]
    accs = [float(a) for a in probe_accuracies]
    zs = float(zero_shot_accuracy)
    ses = [0.0] * len(ks) if standard_errors is None else [float(e) for e in standard_errors]
    if len(accs) != len(ks) or len(ses) != len(ks):
        raise ValueError(f"probe_accuracies and standard_errors: expected {len(ks)} values (one per k), "
                         f"got {len(accs)} and {len(ses)}")
    above = [k for k, a, e in zip(ks, accs, ses) if a - 2 * e > zs]
    truth = above[0] if above else "never"
    mean_above = [k for k, a in zip(ks, accs) if a > zs]
    if is_empty(answer):
        return report(False, "", EMPTY_MESSAGE)
    if isinstance(answer, str):
        answer = answer.strip().lower()
        if answer != "never":
            return report(False, "", f"expected an int from {ks} or 'never', got {answer!r}.")
    elif isinstance(answer, (int, np.integer)) and not isinstance(answer, bool):
        answer = int(answer)
        if answer not in ks:
            return report(False, "", f"{answer} is not one of the k values that were measured: {ks}.")
    else:
        return report(False, "", f"expected an int from {ks} or 'never', got {type(answer).__name__}.")
    noisy = standard_errors is not None
    if answer == truth:
        if truth == "never":
            msg = (f"the probe never beats zero-shot {'clearly ' if noisy else ''}in this range: the text prompts "
                   f"are worth more than {ks[-1]} labelled images per class here.")
        elif noisy:
            msg = (f"from k = {truth} the probe is ahead by more than the noise of the draws "
                   "(mean - 2 standard errors above zero-shot); a smaller k can look ahead by luck.")
        else:
            msg = f"from k = {truth} labelled images per class a linear probe beats the zero-shot classifier."
        return report(True, msg)
    if answer == "never":
        return report(False, "", "the probe does get above the zero-shot line in this range.",
                      "Compare each probe accuracy (minus two standard errors, if given) with the zero-shot "
                      "accuracy, from the smallest k up.")
    i = ks.index(answer)
    if noisy and answer in mean_above and accs[i] - 2 * ses[i] <= zs:
        return report(False, "", f"at k = {answer} the mean is above zero-shot, but by less than two standard "
                      "errors: within the noise of the draws.",
                      "Subtract 2 x the standard error from each mean before comparing it with zero-shot.")
    if accs[i] <= zs:
        return report(False, "", f"at k = {answer} the probe is still at or below zero-shot.",
                      "Find the first k whose probe accuracy is strictly higher than the zero-shot one.")
    return report(False, "", f"at k = {answer} the probe is above zero-shot, but it already was at a smaller k.",
                  "The question asks for the smallest such k.")
