"""Exercise checks for notebook 04 (re-exported by mmlab.checks)."""
from __future__ import annotations

import re
import sys
import warnings

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
from ._nb04_cases import (
    _EXERCISE5_CASES,
    NAME_CANDIDATES,
    _call_with_deadline,
    _candidate_scores,
    _close_classes_case,
    _draws_needed,
    _exercise1_answers,
    _far_row_case,
    _LongHashText,
    _opposite_case,
    _probs_case,
    _why_mistake,
)

__all__ = [
    "nb04_build_classifier",
    "nb04_choose_names",
    "nb04_draws_needed",
    "nb04_more_classes",
    "nb04_zero_shot_probs",
]


def _library_functions(*names: str) -> dict:
    """The code objects of the ``mmlab.zeroshot`` helpers an exercise asks the learner to write."""
    from .. import zeroshot

    return {getattr(zeroshot, n).__code__: f"mm.zeroshot.{n}" for n in names}


def _call_watching(forbidden: dict, fn, *args, c_softmax: bool = False):
    """``call_learner(fn, *args)``, plus the names of the ``forbidden`` functions it called.

    A profile hook sees every Python call while ``fn`` runs, so an alias
    (``from mmlab.zeroshot import predict_proba as p``) is caught as well. With ``c_softmax``, a
    call of any C function whose name contains "softmax" or "logsumexp" (``torch.softmax``,
    ``Tensor.log_softmax``, ``torch.logsumexp``) is reported too.
    """
    seen: set[str] = set()

    def hook(frame, event, arg):
        if event == "call" and frame.f_code in forbidden:
            seen.add(forbidden[frame.f_code])
        elif c_softmax and event == "c_call":
            name = getattr(arg, "__name__", "")  # C-level softmaxes: torch.softmax, Tensor.softmax, ...
            if "softmax" in name or "logsumexp" in name:
                owner = getattr(arg, "__qualname__", name).split(".")[0].lstrip("_")
                seen.add(f"torch's {name}" if owner in ("VariableFunctionsClass", "Tensor") else name)

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an overflow is diagnosed below, not printed as a warning
            out, problem = call_learner(fn, *args)
    finally:
        sys.setprofile(previous)
    return out, problem, sorted(seen)


def _softmax_functions() -> dict:
    """The code objects of the library softmaxes exercise 2 asks the learner to write by hand."""
    from scipy import special

    from .. import embeddings

    out = {embeddings.softmax.__code__: "mm.embeddings.softmax", special.softmax.__code__: "scipy.special.softmax",
           special.log_softmax.__code__: "scipy.special.log_softmax",
           special.logsumexp.__code__: "scipy.special.logsumexp"}
    try:
        from sklearn.utils import extmath

        out[extmath.softmax.__code__] = "sklearn.utils.extmath.softmax"
    except ImportError:
        pass
    return out


def _helper_called(names: list[str]) -> CheckResult:
    return report(False, "", f"your function calls {' and '.join(names)}, the helper this exercise asks you to write.",
                  "Write the steps yourself with numpy (the helper is what later cells use, and what you can "
                  "compare with afterwards).")


# --------------------------------------------------------------------------- exercise 1

def nb04_more_classes(answer_p_cat, answer_ratio=None, cosines=None, logit_scale=None,
                      prediction=None) -> CheckResult:
    """Exercise 1: p(cat) and p(cat) / p(dog) once a third class ("a photo of a tiger") is added.

    ``cosines``: chelsea's cosines with the cat, dog and tiger prompts; ``logit_scale``: the model's.
    p(cat) is accepted within 0.005, the ratio within 2 % (the printed logits are rounded).
    ``prediction``: the learner's recorded prediction for (p(cat), the ratio), each "up", "down" or "same";
    checked once the numbers are right.
    """
    if is_empty(answer_p_cat) or is_empty(answer_ratio) or (prediction is not None and is_empty(prediction)):
        return report(False, "", EMPTY_MESSAGE)
    given = []
    for name, answer in (("answer_p_cat", answer_p_cat), ("answer_ratio", answer_ratio)):
        try:
            value = float(answer) if not isinstance(answer, (bool, str)) and np.ndim(answer) == 0 else np.nan
        except (TypeError, ValueError):
            value = np.nan
        if not np.isfinite(value):
            return report(False, "", f"{name}: expected one number, got {answer!r}.")
        given.append(value)
    p_cat, ratio = given
    p_ref, r_ref, p_mistakes, r_mistakes = _exercise1_answers(cosines, logit_scale)
    p_ok, r_ok = abs(p_cat - p_ref) <= 0.005, abs(ratio - r_ref) <= 0.02 * r_ref
    words = _prediction_words(prediction)
    if prediction is not None and words is None:
        return report(False, "", f"answer_prediction: expected two words, each 'up', 'down' or 'same' (for p(cat), "
                      f"then for the ratio); got {prediction!r}.")
    if p_ok and r_ok and words is not None and words != ("down", "same"):
        return report(False, "", f"your numbers are right, but answer_prediction = {words} does not say what they "
                      "show.", "Compare each of your two numbers with its two-class value in section 1, and work out "
                      "from the softmax why each moved as it did.")
    if p_ok and r_ok:
        return report(True, "the cat's logit does not change, but the softmax denominator gains a positive term "
                      "exp(logit_scale * cos(image, tiger)), so p(cat) falls; the denominator cancels in "
                      "p(cat) / p(dog) = exp(l_cat - l_dog), so the ratio stays. Zero-shot probabilities are "
                      "relative to the list of classes you chose.")
    if not p_ok:
        why = next((m for v, m in p_mistakes if abs(p_cat - v) <= 0.005), None)
        return report(False, "", f"answer_p_cat = {p_cat:.4g} is not p(cat) over the three classes"
                      + (f": {why}." if why else "."),
                      "Make the three logits (logit scale x cosine, one per class) and take the softmax over "
                      "them: exp of each, divided by the sum of the three.")
    why = next((m for v, m in r_mistakes if abs(ratio - v) <= 0.02 * abs(v)), None)
    return report(False, "", f"answer_p_cat is right, but answer_ratio = {ratio:.4g} is not p(cat) / p(dog)"
                  + (f": {why}." if why else "."),
                  "Divide the two probabilities, or write both as exp(logit) / Z with the same Z: what is left?")


def _prediction_words(prediction) -> tuple[str, ...] | None:
    """("down", "same") from a pair of words (any case; a sequence or one string); None if unreadable."""
    if prediction is None:
        return None
    if isinstance(prediction, str):  # "down same" or "down, same" is as natural as a tuple
        prediction = prediction.replace(",", " ").split()
    try:
        words = tuple(str(w).strip().lower() for w in prediction)
    except TypeError:
        return None
    return words if len(words) == 2 and all(w in ("up", "down", "same") for w in words) else None


# --------------------------------------------------------------------------- exercise 2


def nb04_zero_shot_probs(fn) -> CheckResult:
    """Exercise 2: ``fn(image_features, class_embeddings, logit_scale) -> (N, C)`` probabilities.

    Tried on rows that are not unit length (scale 20, float64), then on float32 embeddings at
    CLIP's scale of 100 with an image almost equal to a class, with two classes close to one image,
    with an image whose cosines are all negative beside one that sits on a class, and at scales of
    1000 and 100000 with cosines of +1 and -1 in one row; the inputs are watched for in-place changes.
    Library softmaxes and log-sum-exps (scipy's, torch's, scikit-learn's) are refused: the softmax is
    the exercise. numpy's own building blocks (np.exp, np.max, np.logaddexp) are allowed.
    """
    forbidden = {**_library_functions("predict_proba", "classify"), **_softmax_functions()}
    img, cls = _probs_case(4, 5, 3, 8, np.float64)
    scale = 20.0
    cos = l2_normalize(img) @ l2_normalize(cls).T  # (5, 3)
    expected = softmax(scale * cos)
    img_in, cls_in = img.copy(), cls.copy()
    out, problem, helpers = _call_watching(forbidden, fn, img_in, cls_in, scale, c_softmax=True)
    if any(h.startswith("mm.zeroshot") for h in helpers):
        return _helper_called([h for h in helpers if h.startswith("mm.zeroshot")])
    if helpers:
        return report(False, "", f"your function calls {' and '.join(helpers)}: this exercise asks you to write "
                      "the softmax yourself.",
                      "Subtract each row's largest logit, take exp, divide by the row sums: three lines of numpy, "
                      "and the step that keeps CLIP's scale of 100 from overflowing.")
    if problem:
        return report(False, "", problem)
    arr = as_numpy(out)
    if arr is not None and arr.shape == (3, 5):
        return report(False, "", "got shape (3, 5) for 5 images and 3 classes.",
                      "One row per image, one column per class: compare images with classes, not the reverse.")
    problem = shape_problem(out, (5, 3))
    if problem:
        return report(False, "", problem, "5 images and 3 classes should give a (5, 3) array.")
    if not (np.array_equal(img_in, img) and np.array_equal(cls_in, cls)):
        return report(False, "", "your function changed its inputs in place (e.g. with /=).",
                      "The caller's embeddings must stay as they were: normalise into new arrays "
                      "(x = x / norm), not in place (x /= norm).")
    if not np.allclose(arr, expected, atol=1e-4):
        return _wrong_probs(arr, img, cls, scale, cos)
    # CLIP's case: float32 embeddings, scale 100, an image almost on a class embedding.
    img32, cls32 = _probs_case(5, 4, 6, 16, np.float32)
    img32[0] = cls32[2] * 1.7 + 0.01 * img32[0]
    cos32 = l2_normalize(img32.astype(np.float64)) @ l2_normalize(cls32.astype(np.float64)).T
    out, problem, _ = _call_watching(forbidden, fn, img32.copy(), cls32.copy(), 100.0)
    arr = as_numpy(out)
    if problem or arr is None or arr.shape != (4, 6) or not np.isfinite(arr).all():
        return report(False, "", "with float32 embeddings at CLIP's logit scale of 100 your probabilities "
                      + ("contain NaN or inf" if problem is None and arr is not None and arr.shape == (4, 6)
                         else f"fail ({problem or 'wrong shape'})") + ": exp(100 x 0.99) is larger than "
                      "float32 can hold.",
                      "Subtract each row's largest logit before exp: softmax(z) = softmax(z - max(z)), and "
                      "exp never overflows.")
    if not np.allclose(arr, softmax(100.0 * cos32), atol=1e-3):
        return report(False, "", "right on the first test, wrong at logit scale 100 with float32 embeddings.",
                      "Check the steps that depend on the scale and the dtype: cosine, times logit_scale, "
                      "stable softmax along axis=1.")
    # Two classes close to the image (cosines 0.95 and 0.90) at scale 100: the answer is about 0.993 / 0.007.
    # Clipping the logits (to avoid overflow) instead of shifting them makes the two equal.
    img2, cls2 = _close_classes_case()
    cos2 = l2_normalize(img2.astype(np.float64)) @ l2_normalize(cls2.astype(np.float64)).T
    out, problem, _ = _call_watching(forbidden, fn, img2.copy(), cls2.copy(), 100.0)
    arr = as_numpy(out)
    if problem or arr is None or arr.shape != (2, 5) or not np.allclose(arr, softmax(100.0 * cos2), atol=1e-3):
        clipped = arr is not None and arr.shape == (2, 5) and any(
            np.allclose(arr, softmax(np.clip(100.0 * cos2, -lim, lim)), atol=1e-3) for lim in (50, 60, 70, 80, 85, 88))
        if clipped:
            return report(False, "", "you clipped the logits to avoid overflow: an image with cosines 0.95 and 0.90 "
                          "to two classes gets 0.5 / 0.5 instead of 0.993 / 0.007.",
                          "Clipping changes the logits; subtracting each row's largest logit does not change the "
                          "softmax: softmax(z) = softmax(z - max(z)).")
        return report(False, "", "wrong at logit scale 100 when two classes are both close to the image "
                      "(cosines 0.95 and 0.90): the right answer is about 0.993 / 0.007"
                      + (f" ({problem})" if problem else "") + ".",
                      "Cosine, times logit_scale, then softmax(z - max(z)) along axis=1; do not clip or round the logits.")
    # Two images at scale 100 in float32: one on a class (largest logit 100), one whose cosines are all
    # -0.5 (logits -50). Shifted by the largest logit of the whole matrix, the second row is exp(-150),
    # which is 0 in float32: 0 / 0.
    img3, cls3 = _far_row_case()
    cos3 = l2_normalize(img3.astype(np.float64)) @ l2_normalize(cls3.astype(np.float64)).T
    out, problem, _ = _call_watching(forbidden, fn, img3.copy(), cls3.copy(), 100.0)
    arr = as_numpy(out)
    if problem or arr is None or arr.shape != (2, 4) or not np.allclose(arr, softmax(100.0 * cos3), atol=1e-3):
        if arr is not None and arr.shape == (2, 4) and np.isfinite(arr[0]).all() and not np.isfinite(arr[1]).all():
            return report(False, "", "an image whose cosines are all negative, next to an image that sits on a class, "
                          "gets NaN: you subtracted one number from every row (the largest logit of the whole matrix, "
                          "or logit_scale itself, the largest logit possible), not each row's own largest logit; "
                          "this row's logits are -50, so its row becomes exp(-150) = 0 in float32, then 0 / 0.",
                          "Subtract each row's own largest logit: z - z.max(axis=1, keepdims=True).")
        return report(False, "", "wrong for an image whose cosines to every class are negative, next to an image "
                      "that sits on a class (scale 100, float32)" + (f" ({problem})" if problem else "") + ".",
                      "Cosine, times logit_scale, then softmax(z - max(z)) with the largest logit of each row "
                      "(axis=1, keepdims=True).")
    # Scale 1000: a float64 cast without the shift only postpones the overflow (exp(710) is inf in float64).
    # Cosines +1, -1 and 0 in one row at scale 1000: the largest logit is 1000 above the row's mean, so a shift by
    # the mean (or by anything but the row's largest logit) still overflows, even in float64.
    # Scale 100000: a wider float (np.longdouble) without a shift overflows too (exp(11357) is inf in it).
    img4, cls4 = _opposite_case()
    cos4 = l2_normalize(img4) @ l2_normalize(cls4).T
    shift_hint = ("Subtract each row's largest logit before exp: softmax(z) = softmax(z - max(z)), and exp "
                  "never overflows, at any scale.")
    extreme = [  # (images, classes, cosines, scale, [what NaN is called, what a wrong answer is called], why, hint)
        (img2, cls2, cos2, 1000.0, ["at a logit scale of 1000 your probabilities contain NaN or inf",
                                    "at a logit scale of 1000 your probabilities are wrong"],
         ": computing in float64 only postpones the overflow (exp(710) is too large even for float64).", shift_hint),
        (img4, cls4, cos4, 1000.0, ["an image with cosines +1, -1 and 0 to three classes, at a logit scale of 1000, "
                                    "gets NaN or inf",
                                    "an image with cosines +1, -1 and 0 to three classes, at a logit scale of 1000, "
                                    "gets a wrong answer"],
         ": its logits are 1000, -1000 and 0, so shifting by the row's mean (0 here) or by any value "
         "below its largest logit leaves exp(1000), which is inf even in float64.",
         "Which value, subtracted from every logit of a row, makes the largest exponent exactly 0? "
         "Only that shift is safe at every scale."),
        (img2, cls2, cos2, 1e5, ["at a logit scale of 100000 your probabilities contain NaN or inf",
                                 "at a logit scale of 100000 your probabilities are wrong"],
         ": a wider float (float64, np.longdouble) only postpones the overflow, it does not remove it.",
         "Make the exponents small whatever the scale: softmax(z) = softmax(z - c) for any c in a row; "
         "which c keeps every exponent at or below 0?"),
    ]
    for im, cl, cs, sc, (nan_words, wrong_words), why, hint in extreme:
        out, problem, _ = _call_watching(forbidden, fn, im.copy(), cl.copy(), sc)
        arr = as_numpy(out)
        if problem or arr is None or arr.shape != cs.shape or not np.allclose(arr, softmax(sc * cs), atol=1e-3):
            if problem is None and _whole_matrix_max(arr, cs, sc):
                return report(False, "", _WHOLE_MAX, "Subtract each row's own largest logit: z - z.max(axis=1, keepdims=True).")
            nan = problem is None and arr is not None and arr.shape == cs.shape and not np.isfinite(arr).all()
            return report(False, "", (nan_words if nan else f"{wrong_words} ({problem or 'see the hint'})") + why, hint)
    return report(True, "softmax(logit_scale x cosine), one row per image, stable at CLIP's scale of 100: "
                  "that is CLIP's zero-shot head.")


def _whole_matrix_max(arr, cos, scale: float) -> bool:
    """True when ``arr`` is what subtracting the largest logit of the whole matrix gives (any float width)."""
    if arr is None or arr.shape != cos.shape or np.allclose(arr, softmax(scale * cos), atol=1e-3):
        return False
    z = scale * cos.astype(np.float64)
    with np.errstate(all="ignore"):
        e = np.exp(z - z.max())
        ref = e / e.sum(axis=1, keepdims=True)
    return bool(np.allclose(np.asarray(arr, dtype=np.float64), ref, atol=1e-3, equal_nan=True))


_WHOLE_MAX = ("you subtracted one number from every row (the largest logit of the whole matrix, or logit_scale, "
              "the largest logit possible), not each row's own largest logit: at this scale an image whose "
              "logits all lie far below another image's largest one gets exp(-a large number) = 0 in every class, "
              "then 0 / 0 (a wider float only postpones that).")


def _wrong_probs(arr, img, cls, scale, cos) -> CheckResult:
    """The hint for a wrong (5, 3) answer, by which common mistake it matches."""
    if np.allclose(arr, softmax(scale * cos, axis=0), atol=1e-4):
        return report(False, "", "each column sums to 1, not each row.",
                      "The probabilities are over classes, so the softmax runs along axis=1.")
    if np.allclose(arr, softmax(cos), atol=1e-4):
        return report(False, "", "your probabilities are far too flat.",
                      "Cosines lie in [-1, 1]; CLIP multiplies them by logit_scale before the softmax.")
    unnormalised = [img @ cls.T, img @ l2_normalize(cls).T, l2_normalize(img) @ cls.T]
    if any(np.allclose(arr, softmax(scale * s), atol=1e-4) for s in unnormalised):
        return report(False, "", "the test embeddings are not unit length, and your answer depends on their length.",
                      "Cosine similarity needs L2-normalised rows: divide each row of both inputs by its norm first.")
    columns = l2_normalize(img.T).T @ l2_normalize(cls.T)  # normalised along axis 0 by mistake
    if np.allclose(arr, softmax(scale * columns), atol=1e-4):
        return report(False, "", "you normalised the columns (axis=0), not the rows.",
                      "Each embedding is a row: take its norm along axis=1 (keepdims=True).")
    if np.allclose(arr, scale * cos, atol=1e-4) or np.allclose(arr, cos, atol=1e-4):
        return report(False, "", "the rows do not sum to 1: these are scores, not probabilities.",
                      "Turn the scaled similarities into probabilities with a softmax over the classes.")
    if not np.allclose(arr.sum(axis=1), 1.0, atol=1e-4):
        return report(False, "", "the rows do not sum to 1.", "End with a softmax over the classes (axis=1).")
    return report(False, "", "the probabilities differ from the expected ones.",
                  "Steps: normalise both, cosine matrix (N, C), multiply by logit_scale, softmax along axis=1.")


# --------------------------------------------------------------------------- exercise 3


def nb04_build_classifier(fn) -> CheckResult:
    """Exercise 3: ``fn(model, classnames, templates) -> (C, D)`` template-ensemble classifier."""
    model = _LongHashText()  # prompt embeddings of unequal length, as some encoders give
    classnames = ["cat", "dog", "car"]
    templates = ["a photo of a {}.", "an emoji of a {}.", "a drawing of a {}.", "a {}."]
    C, T = len(classnames), len(templates)
    texts = [t.replace("{}", c) for c in classnames for t in templates]
    raw = model.encode_text(texts)  # (C * T, D)
    mean = l2_normalize(raw).reshape(C, T, -1).mean(axis=1)
    expected = l2_normalize(mean)

    names_in, templates_in = list(classnames), list(templates)
    out, problem, helpers = _call_watching(_library_functions("build_classifier", "classify"), fn, model,
                                           names_in, templates_in)
    if helpers:
        return _helper_called(helpers)
    if problem:
        return report(False, "", problem)
    if names_in != classnames or templates_in != templates:
        return report(False, "", "your function changed the classnames or templates list it was given.",
                      "Build new lists (a list comprehension) instead of appending to or editing the inputs.")
    arr = as_numpy(out)
    if arr is not None and arr.shape == (C * T, model.dim):
        return report(False, "", f"got one row per prompt ({C * T} rows), not one per class ({C}).",
                      "Average the prompt embeddings of each class: reshape to (C, T, D) and take the mean over T.")
    if arr is not None and arr.shape == (T, model.dim):
        return report(False, "", f"got {T} rows, one per template: you averaged over the classes.",
                      "With the embeddings shaped (C, T, D), the templates are axis 1: mean(axis=1).")
    problem = shape_problem(out, (C, model.dim))
    if problem:
        return report(False, "", problem, f"{C} classes and a {model.dim}-d text encoder give a ({C}, {model.dim}) array.")
    if np.allclose(arr, expected, atol=1e-4):
        return report(True, "one renormalised mean per class: the prompt ensemble of the CLIP paper.")
    if np.allclose(arr, mean, atol=1e-4):
        return report(False, "", "the directions are right but the rows are shorter than 1.",
                      "The mean of unit vectors is not a unit vector: normalise each class row again.")
    if np.allclose(arr, l2_normalize(raw.reshape(C, T, -1).mean(axis=1)), atol=1e-4):
        return report(False, "", "the prompts were averaged before each was normalised: longer prompt "
                      "embeddings outweigh shorter ones.", "L2-normalise each prompt's embedding, then average.")
    # The two ways to mix up the nesting: class-major texts reshaped (T, C), or
    # template-major texts reshaped (C, T).
    t_major = [t.replace("{}", c) for t in templates for c in classnames]
    mixed = [l2_normalize(l2_normalize(model.encode_text(texts)).reshape(T, C, -1).mean(axis=0)),
             l2_normalize(l2_normalize(model.encode_text(t_major)).reshape(C, T, -1).mean(axis=1))]
    if any(np.allclose(arr, m, atol=1e-4) for m in mixed):
        return report(False, "", "the rows mix prompts of different classes.",
                      "Build the texts class by class (all templates of class 0, then of class 1, ...) and "
                      "reshape to (C, T, D) in the same order.")
    first_only = model.encode_text([templates[0].replace("{}", c) for c in classnames])
    if np.allclose(arr, first_only, atol=1e-4) or np.allclose(arr, l2_normalize(first_only), atol=1e-4):
        return report(False, "", "only the first template was used.", "Fill every template with every class name.")
    return report(False, "", "the class embeddings differ from the expected ones.",
                  "Steps: texts for every (class, template), encode, normalise each, reshape (C, T, D), mean over T, "
                  "L2-normalise rows.")


# --------------------------------------------------------------------------- exercise 4


def _letters(answer) -> list[str] | None:
    """The candidate letters in ``answer`` ("BCE", "B, C", {"B", "C"}, ["b"]), upper case; None if unreadable."""
    if isinstance(answer, str):
        return [c.upper() for c in re.findall(r"[A-Za-z]", answer)]
    try:
        items = list(answer)
    except TypeError:
        return None
    if not all(isinstance(x, str) and len(x.strip()) == 1 for x in items):
        return None
    return [x.strip().upper() for x in items]


# Recalls are asked to two decimals: rounding moves them by at most 0.005.
_RECALL_TOL = 0.0051


def _readable(label: str) -> str:
    """The notebook's class name for a subgroup label (section 4's ``readable``)."""
    return label.replace("&", "and").replace("-", " ").lower()


def _recalls(answer, valid: list[str]) -> dict | None:
    """``answer`` as {letter: float} over exactly the letters ``valid`` (keys in any case); None if unreadable."""
    if not isinstance(answer, dict):
        return None
    out = {}
    for key, value in answer.items():
        if not isinstance(key, str) or isinstance(value, bool):
            return None
        try:
            out[key.strip().upper()] = float(value)
        except (TypeError, ValueError):
            return None
    return out if sorted(out) == valid and all(np.isfinite(v) for v in out.values()) else None


def nb04_choose_names(recall, fixes, ship, model, image_features, labels, subgroups, class_names,
                      templates, why=None) -> CheckResult:
    """Exercise 4: ConSE's country-flag recall with each candidate renaming, which fix the collision, which to ship.

    Args:
        recall: {letter: ConSE's country-flag recall on the training emoji with that candidate's names}, for
            every letter of ``NAME_CANDIDATES`` (A-E), to two decimals; compared with the check's own measurement.
        fixes: the letters whose names bring that recall to at least 0.2: a set, list or string of letters.
        ship: the one letter you would ship (your judgement; the next cell measures it).
        model, image_features, labels: the joint model (ConSE), the (N, D) image embeddings of the *training*
            emoji and their (N,) subgroup indices into ``subgroups``.
        subgroups, class_names, templates: the subgroup labels, their class names as section 4 made them (pass
            `sub_names` itself, so that a list renamed in place is seen), the prompt templates.
        why: the number of the mechanism the learner picks among the notebook's stated ones (graded when given).
    Returns:
        A ``CheckResult``, passed when the recalls and fixes are right and ``ship`` is one letter; a failure says
        what to measure or reconsider, never which candidate is wrong.
    """
    if is_empty(recall):
        return report(False, "", EMPTY_MESSAGE)
    valid = sorted(NAME_CANDIDATES)
    measure = ("For each candidate: make a renamed copy of the names (`names = list(old_names)`; `names = sub_names` "
               "is not a copy), build the classifier with `my_build_classifier(model, names, SUB_TEMPLATES)`, predict "
               "the training emoji (`X_train`) and take the share of the country flags (`ys_train == country_sub`) "
               "predicted as `country_sub`.")
    if list(class_names) != [_readable(s) for s in subgroups]:
        return report(False, "", "the class names passed to the check are no longer section 4's subgroup names: "
                      "they were changed in place (`names = sub_names` makes a second name for the same list, "
                      "so `names[i] = ...` renames `sub_names` too).",
                      "Undo it (`sub_names = list(old_names)`) and rename a copy: `names = list(old_names)`.")
    given = _recalls(recall, valid)
    if given is None:
        return report(False, "", "`answer_recall` should be a dict with one number per candidate, "
                      f"{{{', '.join(repr(x) + ': ...' for x in valid)}}}; got {recall!r}.", measure)
    # The recalls first: a learner who measured with other templates sees no fix and may answer fixes = set().
    first = _candidate_scores(model, image_features, labels, subgroups, class_names, templates)
    if any(abs(given[x] - first[x][1]) > _RECALL_TOL for x in valid):
        return report(False, "", "at least one of your recalls differs by more than 0.005 (two decimals) from what "
                      "the training emoji give with that candidate's names. Did you use `SUB_TEMPLATES`, as the "
                      "classifier it renames does, and keep two decimals?",
                      "Recall of `country-flag` is the share of the training country flags predicted as "
                      "`country-flag` (not the subgroup accuracy, not the recall of `flag`, not the test split). "
                      + measure)
    if is_empty(fixes) or is_empty(ship) or (why is not None and is_empty(why)):
        return report(False, "", EMPTY_MESSAGE)
    letters, chosen = _letters(fixes), _letters(ship) if isinstance(ship, str) else None
    if letters is None or any(x not in valid for x in letters):
        return report(False, "", f"`fixes` should be the letters of the candidates, e.g. {{'A', 'B'}}; got {fixes!r}.",
                      f"The candidates are {', '.join(valid)}.")
    if chosen is None or len(chosen) != 1 or chosen[0] not in valid:
        return report(False, "", f"`ship` should be one letter, one of {', '.join(valid)}; got {ship!r}.")
    truth = {x for x in valid if first[x][1] >= 0.2}
    if set(letters) != truth:
        return report(False, "", "`fixes` does not agree with your own recalls: a candidate fixes the collision "
                      "when its country-flag recall is at least 0.2.")
    if chosen[0] not in truth:
        return report(False, "", "the candidate in `ship` does not fix the collision on ConSE: ship one of your "
                      "`fixes`.")
    if why is not None:
        wrong = _why_mistake(why)
        if wrong is not None:
            return report(False, "", wrong[0], wrong[1])
    best = chosen[0]
    return report(True, f"{', '.join(sorted(truth))} fix the collision on ConSE (country-flag recall "
                  f"{first['old'][1]:.2f} -> {first[best][1]:.2f}, subgroup accuracy {first['old'][0]:.1%} -> "
                  f"{first[best][0]:.1%} on the training emoji with {best}). Which of them to ship is your judgement: "
                  "ConSE's training numbers cannot tell them apart; the next cell measures your choice on a second "
                  "model and on the test split.")


# --------------------------------------------------------------------------- exercise 5


def nb04_draws_needed(fn) -> CheckResult:
    """Exercise 5: ``fn(sd, half_width)``: how many draws make section 5's 95 % interval that narrow.

    The smallest R >= 2 with t * sd / sqrt(R) <= half_width, where t = scipy.stats.t.ppf(0.975, R - 1)
    depends on R itself, so there is no closed form: try R = 2, 3, ... A loop that never ends is
    stopped after a few seconds.
    """
    if is_empty(fn):
        return report(False, "", EMPTY_MESSAGE)
    answers = []
    for sd, half in _EXERCISE5_CASES:
        out, problem = _call_with_deadline(fn, (sd, half), 5.0)
        if problem and "TimeoutError" in problem:
            return report(False, "", f"with sd {sd} and half_width {half} your function did not finish.",
                          "Does your loop's half-width ever get small enough? It is t x sd / sqrt(R): the "
                          "standard error of a mean of R draws, not the sd of one draw, shrinks as R grows.")
        if problem:
            return report(False, "", problem)
        if isinstance(out, (np.integer, np.floating)):
            out = out.item()
        if isinstance(out, float) and out.is_integer():
            out = int(out)
        if isinstance(out, bool) or not isinstance(out, int):
            return report(False, "", f"expected a whole number of draws (an int), got {out!r}.",
                          "Draws come in whole numbers: return the smallest R that is enough, as an int.")
        answers.append(out)

    def run(**kw):
        return [_draws_needed(sd, half, **kw) for sd, half in _EXERCISE5_CASES]

    truth = run()
    if answers == truth:
        return report(True, "the half-width t x sd / sqrt(R) shrinks like 1 / sqrt(R), and t shrinks with R too "
                      "(4.30 for 3 draws, 2.26 for 10): about four times the draws for half the width, a "
                      "little fewer while the draws are few.")
    fixed_t = "you used one multiplier for every R (the normal 1.96, 2, or the 2.26 of 10 draws)."
    fixed_hint = ("t depends on R: scipy.stats.t.ppf(0.975, R - 1), 4.30 for 3 draws, 2.26 for 10. So there is "
                  "no closed form: try R = 2, 3, ... until t x sd / sqrt(R) <= half_width.")
    closed = [[int(rnd((m * sd / half) ** 2)) for sd, half in _EXERCISE5_CASES]   # (m sd / h)^2, rounded somehow
              for m in (1.96, 2.0, 2.26, 2.262) for rnd in (np.ceil, np.floor, np.round)]
    mistakes = [
        *[(run(multiplier=m), fixed_t, fixed_hint) for m in (1.96, 2.0, 2.26, 2.262)],
        *[(c, fixed_t, fixed_hint) for c in closed],
        (run(df_shift=0), "your t quantile has R degrees of freedom: slightly too small for few draws.",
         "The sd is estimated from the same R draws, which leaves R - 1 degrees of freedom: "
         "scipy.stats.t.ppf(0.975, R - 1)."),
        (run(q=0.95), "your t is one-sided (the 95 % quantile): the interval is too narrow.",
         "A two-sided 95 % interval leaves 2.5 % out on each side: scipy.stats.t.ppf(0.975, R - 1)."),
        ([1] * len(truth), "you returned R = 1: one draw has no standard deviation (t with 0 degrees of freedom "
         "is nan, and a comparison with nan is False).", "Start at R = 2."),
        ([_draws_needed(sd, half / 2) for sd, half in _EXERCISE5_CASES], "you made the whole interval, "
         "2 x t x SE, fit half_width.", "half_width is one side of the interval: mean +- half_width."),
        ([r - 1 for r in truth], "one draw short: with your R the half-width is still above half_width.",
         "Return the first R whose half-width is at most half_width (<=), not the last one above it."),
        ([r + 1 for r in truth], "one draw too many: a smaller R already gives a half-width <= half_width.",
         "Return R itself, not R + 1 (check where your loop increments R)."),
    ]
    start = min(answers)
    if start > 2 and answers == [max(r, start) for r in truth]:
        return report(False, "", f"your loop starts at R = {start}: with sd 1.0 and half_width 10.0 two draws are "
                      "already enough (t = 12.71 with 1 degree of freedom, half-width 12.71 / sqrt(2) = 8.98).",
                      "Two draws give an sd and an interval (with 1 degree of freedom): start at R = 2.")
    for variant, problem, hint in mistakes:
        if answers == variant:
            return report(False, "", problem, hint)
    cap = max(answers)
    if cap < max(truth) and answers == [min(r, cap) for r in truth]:
        return report(False, "", f"your function never returns more than {cap} draws: where more are needed "
                      f"(sd 0.043, half_width 0.004 needs {max(truth)}) it stops too early.",
                      "Do not cap the loop with a fixed range(...): keep increasing R (a while loop) until "
                      "t x sd / sqrt(R) <= half_width.")
    return report(False, "", "on some test data your R differs from the smallest number of draws that is enough.",
                  "For R = 2, 3, ...: half-width = scipy.stats.t.ppf(0.975, R - 1) x sd / sqrt(R); return the "
                  "first R where it is <= half_width.")
