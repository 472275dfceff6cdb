"""Exercise checks for notebook 02, fusion strategies (re-exported by mmlab.checks)."""
from __future__ import annotations

import itertools

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

__all__: list[str] = [
    "nb02_concat_dot",
    "nb02_concat_embeddings",
    "nb02_mean_of_present",
    "nb02_predict_no_text",
    "nb02_product_fusion",
]


# ------------------------------------------------------------------------ shared pieces



def _calls_helper(fn, helper_names: set[str]) -> str | None:
    """The mmlab helper the learner's function calls instead of doing the work, or None.

    Found by name (``mm.fusion.concat_embeddings``) or by identity, whatever the alias
    (``from mmlab.fusion import concat_embeddings as ce``).
    """
    import mmlab.fusion as fusion

    helpers = {getattr(fusion, name) for name in helper_names}
    glob = getattr(fn, "__globals__", {})
    closure = [c.cell_contents for c in (getattr(fn, "__closure__", None) or ()) if _filled(c)]
    for name in sorted(_names_used(fn)):
        if name in helper_names or any(glob.get(name) is h for h in helpers):
            return name
    for value in closure:
        if any(value is h for h in helpers):
            return getattr(value, "__name__", "a helper")
    return None


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty closure cell raises ValueError
    except ValueError:
        return False
    return True


def _replaced(given, originals) -> bool:
    """True when the learner put new objects into the dict or list it was given (``features[m] = ...``)."""
    keys = range(len(originals)) if isinstance(originals, list) else originals.keys()
    try:
        return len(given) != len(originals) or any(given[k] is not originals[k] for k in keys)
    except (KeyError, IndexError):
        return True


def _mutated(before: dict, after: dict) -> bool:
    """True when a dict of arrays or tensors the learner received was changed in place."""
    for key, value in before.items():
        new = as_numpy(after[key])
        if new is None or new.shape != value.shape or not np.array_equal(new, value, equal_nan=True):
            return True
    return False


# ------------------------------------------------------------ exercise 1: predict, then run

def nb02_concat_dot(answer) -> CheckResult:
    """Predict-then-run: text cosine 0.9, image cosine 0.5; plain concatenation of the
    normalised blocks; the dot product of the two fused vectors is (a) 1.4, (b) 0.7, (c) 0.9, (d) 1.0."""
    if is_empty(answer):
        return report(False, "", EMPTY_MESSAGE)
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        return report(False, "", f"you gave the number {answer!r}.",
                      "answer with the letter of your choice: 'a', 'b', 'c' or 'd'.")
    if not isinstance(answer, str) or answer.strip().lower() not in {"a", "b", "c", "d"}:
        return report(False, "", f"expected one of the letters 'a', 'b', 'c' or 'd', got {answer!r}.")
    answer = answer.strip().lower()
    hints = {
        "b": "0.7 is the mean of the two cosines; that needs each block scaled down by 1/sqrt(2), and nothing "
             "scales the blocks here. Write the dot product as a sum over coordinates and split it at the block "
             "boundary.",
        "c": "a dot product never picks one part; every coordinate contributes. Split the sum over coordinates "
             "at the block boundary.",
        "d": "the dot product of two unit vectors is at most 1, but these fused vectors are not unit vectors: each "
             "block has length 1, so the whole has length sqrt(2). Split the sum over coordinates at the block "
             "boundary.",
    }
    return report(
        answer == "a",
        "The dot product splits into one term per block, and each term is that modality's cosine: "
        "0.9 + 0.5 = 1.4, more than any cosine can be: the fused vector has length sqrt(2), not 1. "
        "Rescaling the blocks can make it a cosine again; by how much is exercise 2.",
        "not what the arithmetic gives.",
        hints.get(answer, ""),
    )


# ----------------------------------------------------------- exercise 2: concatenation

def _reference_concat(features: dict, weights: dict) -> np.ndarray:
    total = sum(weights.values())
    blocks = [x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(weights[m] / total)
              for m, x in features.items()]
    return np.concatenate(blocks, axis=1)


def nb02_concat_embeddings(fn) -> CheckResult:
    """Check ``fn(features: dict[str, (N, D_m)], weights: dict[str, float]) -> (N, sum D_m)``:
    the weighted multimodal embedding of exercise 2, the blocks in the features dict's order,
    the inputs left unchanged.

    The blocks have different scales and widths, the weights do not sum to 1 and the two dicts
    list the modalities in different orders, so the typical mistakes each show.
    """
    helper = _calls_helper(fn, {"concat_embeddings", "EarlyFusion"}) if callable(fn) else None
    if helper:
        return report(False, "", f"your function calls mmlab's {helper}, the helper this exercise asks you to write.",
                      "write it with numpy: np.linalg.norm(x, axis=1, keepdims=True), np.sqrt, np.concatenate.")
    rng = np.random.default_rng(7)
    # three modalities, the features dict in non-alphabetical order and the weights dict in a third order:
    # blocks in sorted(...) order, in the weights' order, or weights paired by position each show
    features = {"text": rng.normal(size=(5, 3)) * 0.5, "audio": rng.normal(size=(5, 4)) * 2 - 1,
                "image": rng.normal(size=(5, 6)) * 4 + 1}
    weights = {"audio": 0.5, "text": 3.0, "image": 1.0}
    width = sum(x.shape[1] for x in features.values())
    given = {m: x.copy() for m, x in features.items()}
    originals = dict(given)
    weights_given = dict(weights)
    out, problem = call_learner(fn, given, weights_given)
    if problem:
        return report(False, "", problem, "fn(features, weights) should return one (N, D_1 + D_2 + ...) array.")
    if weights_given != weights:
        return report(False, "", "your function changed the weights dict it was given (weights[m] /= ... works in place).",
                      "the caller's weights are then renormalised behind its back: compute the total once "
                      "(total = sum(weights.values())) and divide a copy, weights[m] / total, inside the loop.")
    if _replaced(given, originals):
        return report(False, "", "your function replaced entries of the features dict it was given (features[m] = ...).",
                      "the caller's dict then holds your scaled blocks: build a new list of blocks "
                      "(blocks.append(...)) and leave the features dict as it was.")
    if _mutated(features, given):
        return report(False, "", "your function changed the arrays it was given (x /= ... works in place).",
                      "build new arrays (x = x / ...) so the caller's features stay as they were.")
    problem = shape_problem(out, (5, width))
    if problem:
        return report(False, "", problem, "concatenate the blocks side by side (axis=1), in the dict's order.")
    out = as_numpy(out)
    expected = _reference_concat(features, weights)
    if np.allclose(out, expected, atol=1e-5):
        return report(True, "Each block is unit length times sqrt(w/sum w), so the fused vector has length 1 "
                            "and dot products are weighted means of per-modality cosines.")
    norms = np.linalg.norm(out, axis=1)
    total = sum(weights.values())
    unit = {m: x / np.linalg.norm(x, axis=1, keepdims=True) for m, x in features.items()}

    def blocks(scale, source=unit):  # concatenate source[m] * scale(w_m) in dict order
        return np.concatenate([source[m] * scale(weights[m]) for m in features], axis=1)

    def rows_unit(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    def matches(*candidates):
        return any(np.allclose(out, c, atol=1e-5) for c in candidates)

    # the typical mistakes, each with its own hint (see tests/test_checks_nb02.py)
    weights_ignored = (blocks(lambda w: 1.0), blocks(lambda w: np.sqrt(1 / len(weights))))
    normalised_after = (rows_unit(blocks(lambda w: 1.0, features)),
                        rows_unit(blocks(lambda w: np.sqrt(w / total), features)),
                        rows_unit(blocks(lambda w: w / total, features)))
    w_not_sqrt = (blocks(lambda w: w / total), blocks(lambda w: w),
                  rows_unit(blocks(lambda w: w)))
    raw = blocks(lambda w: np.sqrt(w / total), features)
    columns = {m: x / np.linalg.norm(x, axis=0, keepdims=True) for m, x in features.items()}
    if matches(*weights_ignored):
        hint = ("every block got the same scale, so the weights changed nothing: multiply block m by "
                "sqrt(weights[m] / sum of the weights).")
    elif matches(*normalised_after):
        hint = ("you normalised the whole concatenated row. Normalise each modality's rows on their own, "
                "before weighting and concatenating: otherwise the block with the larger numbers keeps most "
                "of the length, whatever the weights say.")
    elif matches(*w_not_sqrt):
        hint = ("you scaled block m by its weight w (or w/sum w). A dot product multiplies the scales of both "
                "vectors, so a block scaled by w counts w^2 in every cosine: scale by the square root, sqrt(w/sum w).")
    elif matches(blocks(lambda w: np.sqrt(w / total), columns)):
        hint = ("you normalised each column (axis=0). Each row is one emoji: normalise along axis=1, "
                "np.linalg.norm(x, axis=1, keepdims=True).")
    elif matches(raw) or not np.allclose(norms, norms[0], atol=1e-3):
        hint = "normalise each modality's rows to unit length before weighting (np.linalg.norm(..., axis=1, keepdims=True))."
    elif matches(blocks(lambda w: np.sqrt(w))) or not np.allclose(norms, 1.0, atol=1e-3):
        hint = (f"your rows have length {norms[0]:.2f}, not 1; divide the weights by their sum (not their largest "
                "value, not nothing) so that the squared scales add up to 1 and the fused row has length 1.")
    elif matches(np.concatenate([unit[m] * np.sqrt(w / total) for m, w in zip(features, weights.values())], axis=1)):
        hint = ("you paired the weights with the blocks by position (zip of the two dicts' values), but the weights "
                "dict need not list the modalities in the same order: look each weight up by name, weights[m].")
    elif matches(np.concatenate([unit[m] * np.sqrt(weights[m] / total) for m in sorted(features)], axis=1)):
        hint = ("your blocks are in sorted (alphabetical) order of the modality names, not in the features dict's "
                "order: iterate over features.items() (a later model reads block m at the position the dict gives it).")
    elif any(matches(np.concatenate([unit[m] * np.sqrt(weights[m] / total) for m in order], axis=1))
             for order in itertools.permutations(features)):
        hint = ("your blocks follow the order of the weights dict (or another order), not the features dict's: "
                "iterate over features.items() and look up weights[m].")
    else:
        hint = "check each block on its own: unit length, then times sqrt(w_m / sum of weights)."
    return report(False, "", "the fused vectors differ from the expected ones.", hint)


# -------------------------------------------------------- exercise 3: multiplicative fusion

def _reference_product(factors, mask):
    import torch

    fused = torch.ones_like(factors[0])
    for m, z in enumerate(factors):
        fused = fused * torch.where(mask[:, m:m + 1], 1 + z, torch.ones_like(z))
    return fused


def _product_second_case(fn):
    """Two modalities, R = 3, one row with no modality present: catches a hard-coded M = 3 and an
    empty product returned as 0. Returns (problem, hint) or None."""
    import torch

    gen = torch.Generator().manual_seed(11)
    factors = [torch.randn(4, 3, generator=gen) * 0.8 for _ in range(2)]
    mask = torch.tensor([[1, 1], [1, 0], [0, 1], [0, 0]], dtype=torch.bool)
    out, problem = call_learner(fn, [z.clone() for z in factors], mask.clone())
    if problem:
        return (f"with two modalities (the image+text model) your function fails: {problem}",
                "loop over the factors you are given (for m, z in enumerate(factors)), not over a fixed range(3).")
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (4, 3):
        return ("with two modalities and R = 3 the result should have shape (4, 3).",
                "take M from len(factors) and the shape from factors[0], never from fixed numbers.")
    expected = _reference_product(factors, mask).numpy()
    arr = out.detach().numpy().astype(float)
    if np.allclose(arr[:3], expected[:3], atol=1e-5) and not np.allclose(arr[3], 1.0, atol=1e-5):
        return ("a row with no modality present should be all ones (the empty product), "
                f"got {np.round(arr[3], 3).tolist()}.",
                "the empty product is 1, the neutral element: start from torch.ones_like(factors[0]).")
    if not np.allclose(arr, expected, atol=1e-5):
        return ("with two modalities (M = 2, R = 3) the fused vectors differ from the expected ones.",
                "loop over the factors you are given (for m, z in enumerate(factors)), not over a fixed range(3).")
    return None


def nb02_product_fusion(fn) -> CheckResult:
    """Check ``fn(factors: list of M tensors (B, R), mask: (B, M) bool tensor) -> (B, R)``:
    the multiplicative fusion step of exercise 3, with absent modalities handled as that exercise
    asks; the graph must reach the factors (the model trains through it).

    The rows cover every case: all present, one absent, two absent, so a wrong contribution of an
    absent modality, "mask ignored" and "mask inverted" all show; three modalities so that "only the first two"
    shows; values away from 0 and 1 so that "no 1 +" and "sum instead of product" show.
    """
    import torch

    helper = _calls_helper(fn, {"product_fusion", "IntermediateFusion"}) if callable(fn) else None
    if helper:
        return report(False, "", f"your function calls mmlab's {helper}, the helper this exercise asks you to write.",
                      "write it with torch: start from torch.ones_like(factors[0]) and multiply in one factor per modality.")
    gen = torch.Generator().manual_seed(5)
    factors = [torch.randn(5, 4, generator=gen) * 0.8 for _ in range(3)]
    mask = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 1, 1], [1, 0, 0], [0, 1, 0]], dtype=torch.bool)
    leaves = [z.clone().requires_grad_(True) for z in factors]
    given = [z * 1.0 for z in leaves]  # not leaves, so an in-place edit runs (and is caught below)
    originals = list(given)
    mask_given = mask.clone()
    out, problem = call_learner(fn, given, mask_given)
    if problem:
        hint = ("mask[:, m] has shape (B,), which does not line up with the (B, R) factor: keep the column "
                "as (B, 1) with mask[:, m:m + 1] (or mask[:, m, None])." if "must match" in problem or
                "broadcast" in problem else "fn(factors, mask) should return one (B, R) tensor.")
        return report(False, "", problem, hint)
    if _replaced(given, originals):
        return report(False, "", "your function replaced entries of the factors list it was given (factors[m] = ...).",
                      "the model's list then holds your tensors: keep the result in a new variable "
                      "(fused = fused * ...) and leave the list as it was.")
    if _mutated({i: z.numpy() for i, z in enumerate(factors)}, {i: z.detach() for i, z in enumerate(given)}):
        return report(False, "", "your function changed the factor tensors it was given (z += 1 works in place).",
                      "build new tensors (1 + z) so the model's factors stay as they were.")
    if not torch.equal(mask_given, mask):
        return report(False, "", "your function changed the mask it was given (mask[...] = ... works in place).",
                      "the model reuses that mask for the rest of the batch: read from it, or work on a copy "
                      "(mask.clone()), and leave the caller's mask as it was.")
    if not isinstance(out, torch.Tensor):
        return report(False, "", f"expected a torch tensor, got a {type(out).__name__}.",
                      "stay in torch (torch.where, *, torch.ones_like): the model trains through this step, "
                      "and a numpy array carries no gradient.")
    problem = shape_problem(out, (5, 4))
    if problem and out.shape == (5, 4) and not torch.isfinite(out).all():
        return report(False, "", problem,
                      "1 + z is negative wherever z < -1, and the log of a negative number is NaN: a product "
                      "computed as exp(sum(log(1 + z))) (or log1p) breaks there. Multiply the factors directly.")
    if problem:
        return report(False, "", problem, "multiply over the modalities, keeping one (B, R) row per sample.")
    if not out.requires_grad:
        return report(False, "", "your result carries no gradient (.detach(), .numpy() or torch.no_grad()).",
                      "the encoders learn through this product: keep every operation in torch, on the tensors given.")
    arr = out.detach().numpy().astype(float)
    with torch.no_grad():
        expected = _reference_product(factors, mask).numpy()
    if np.allclose(arr, expected, atol=1e-5):
        out.sum().backward()
        if any(z.grad is None for z in leaves):
            return report(False, "", "the gradient does not reach every factor.",
                          "compute the result from the factors themselves, not from copies.")
        second = _product_second_case(fn)
        if second:
            return report(False, "", second[0], second[1])
        return report(True, "An absent modality contributes the factor 1, the neutral element of a product; "
                            "expanded, (1 + z_a)(1 + z_b) = 1 + z_a + z_b + z_a z_b: one term per modality "
                            "and one per pair, the interaction an additive model lacks.")
    zs = [z.numpy().astype(float) for z in factors]
    keep = mask.numpy()[:, :, None]  # (B, M, 1)

    def prod(values):
        return np.prod(np.stack(values, axis=1), axis=1)

    one_plus = [1 + z for z in zs]
    candidates = {
        "zero": prod([np.where(keep[:, m], one_plus[m], 0.0) for m in range(3)]),
        "ignored": prod(one_plus),
        "inverted": prod([np.where(~keep[:, m], one_plus[m], 1.0) for m in range(3)]),
        "no_one": prod([np.where(keep[:, m], zs[m], 1.0) for m in range(3)]),
        "no_one_zero": prod([np.where(keep[:, m], zs[m], 0.0) for m in range(3)]),
        "sum": sum(np.where(keep[:, m], one_plus[m], 0.0) for m in range(3)),
        "sum1": 1 + sum(np.where(keep[:, m], zs[m], 0.0) for m in range(3)),
        "two": prod([np.where(keep[:, m], one_plus[m], 1.0) for m in range(2)]),
        "first": prod([one_plus[0]] + [np.where(keep[:, m], one_plus[m], 1.0) for m in (1, 2)]),
    }
    found = next((k for k, c in candidates.items() if np.allclose(arr, c, atol=1e-5)), None)
    hints = {
        "zero": "an absent modality became the factor 0, which wipes out every other modality's term in that row "
                "(rows 2-5 here). The neutral element of a product is 1: an absent modality must contribute 1.",
        "ignored": "you used every factor in every row, ignoring the mask: an absent modality must contribute 1, "
                   "whatever its (meaningless) factor holds.",
        "inverted": "you kept the factors of the absent modalities: mask is True where a modality is present.",
        "no_one": "you multiplied the z_m themselves. Without the 1 + the product keeps only the joint term "
                  "z_a z_b z_c and loses each modality's own term: multiply (1 + z_m).",
        "no_one_zero": "you multiplied the z_m themselves and zeroed the absent ones. Multiply (1 + z_m), "
                       "and let an absent modality contribute 1.",
        "sum": "you added the factors: that is additive fusion again, with no product term. Multiply them.",
        "sum1": "you added the factors: that is additive fusion again, with no product term. Multiply them.",
        "two": "you used only the first two modalities: multiply over every modality in the list.",
        "first": "you started from 1 + factors[0] without checking the mask, so the first modality counts even in "
                 "rows where it is absent (rows 3 and 5 here): start from torch.ones_like(factors[0]) and mask every "
                 "modality, the first included.",
    }
    return report(False, "", "the fused vectors differ from the expected ones.",
                  hints.get(found or "", "row b should be the product over the modalities m with mask[b, m] True "
                                   "of (1 + factors[m][b]), and 1 where none is present."))


# ------------------------------------------------ exercise 5: late fusion over what is present

def _reference_mean_of_present(probas, present, weights):
    num = sum(weights[m] * np.where(present[m][:, None], p, 0.0) for m, p in probas.items())
    den = np.sum([weights[m] * present[m] for m in probas], axis=0)[:, None]  # (N, 1)
    return num / den


def _paired_by_position(arr, probas, present, weights) -> bool:
    """True when arr is the weighted mean computed with the three dicts zipped by position."""
    triples = list(zip(probas.values(), present.values(), weights.values()))
    with np.errstate(invalid="ignore", divide="ignore"):
        for select in (lambda p, k: np.where(k[:, None], p, 0.0), lambda p, k: np.nan_to_num(p) * k[:, None]):
            num = sum(w * select(p, k) for p, k, w in triples)
            zipped = num / np.sum([w * k for p, k, w in triples], axis=0)[:, None]
            if np.allclose(arr, zipped, atol=1e-6, equal_nan=True):
                return True
    return False


def _mean_other_names_case(fn):
    """Other modality names, four of them, in other orders: catches names or a count hard-coded from the
    notebook (image, text, audio). Returns (problem, hint) or None."""
    rng = np.random.default_rng(12)
    mods = ("video", "depth", "caption", "imu")
    probas = {m: rng.dirichlet(np.ones(2), size=4) for m in mods}
    present = {"imu": np.array([1, 0, 0, 1], bool), "caption": np.array([0, 1, 1, 1], bool),
               "video": np.array([1, 1, 0, 0], bool), "depth": np.array([1, 0, 1, 0], bool)}
    weights = {"depth": 0.5, "imu": 0.3, "video": 1.0, "caption": 0.2}
    for m, p in probas.items():
        p[~present[m]] = np.nan
    out, problem = call_learner(fn, {m: p.copy() for m, p in probas.items()}, {m: k.copy() for m, k in present.items()},
                                dict(weights))
    hint = ("loop over the modalities you are given (for m, p in probas.items()) and look up present[m] and "
            "weights[m] by name; never write the notebook's names or their number into the function.")
    if problem:
        return f"with modalities named video, depth, caption and imu your function fails: {problem}", hint
    arr = as_numpy(out)
    if arr is None or arr.shape != (4, 2) or not np.allclose(arr, _reference_mean_of_present(probas, present, weights),
                                                             atol=1e-6):
        return "with four modalities named video, depth, caption and imu the fused probabilities differ.", hint
    return None


def nb02_mean_of_present(fn) -> CheckResult:
    """Check ``fn(probas: dict[str, (N, C)], present: dict[str, (N,) bool], weights: dict[str, float]) -> (N, C)``:
    per row, the weighted mean of the probabilities of the modalities present, the weights
    renormalised over them. Absent rows hold NaN, as ``LateFusion.predict_proba_by_modality`` gives.

    The weights are unequal (so a plain mean fails), some rows lack one or two modalities (so
    dividing by the sum of all weights fails) and absent rows are NaN (so ``p * mask`` fails); a second
    case uses other modality names.
    """
    helper = _calls_helper(fn, {"mean_of_present", "LateFusion"}) if callable(fn) else None
    if helper:
        return report(False, "", f"your function calls mmlab's {helper}, the helper this exercise asks you to write.",
                      "write it with numpy: np.where on the masks, a weighted sum, and a division per row.")
    rng = np.random.default_rng(11)
    n, c = 6, 3
    mods = ("image", "text", "audio")
    probas = {m: rng.dirichlet(np.ones(c), size=n) for m in mods}
    # present and weights list the modalities in other orders than probas (as in the notebook): look up by name
    present = {"audio": np.array([0, 1, 1, 1, 1, 0], bool), "image": np.array([1, 1, 0, 1, 0, 1], bool),
               "text": np.array([1, 0, 1, 1, 0, 1], bool)}
    weights = {"text": 1.2, "audio": 0.2, "image": 0.6}  # summing to 2: a renormalisation in place shows
    for m, p in probas.items():
        p[~present[m]] = np.nan  # an absent modality had nothing to classify
    given = {m: p.copy() for m, p in probas.items()}
    originals = dict(given)
    present_given = {m: k.copy() for m, k in present.items()}
    present_originals = dict(present_given)
    weights_given = dict(weights)
    out, problem = call_learner(fn, given, present_given, weights_given)
    if problem:
        hint = ("present[m] has shape (N,), which does not line up with the (N, C) probabilities: use "
                "present[m][:, None] to make it (N, 1)." if "broadcast" in problem
                else "fn(probas, present, weights) should return one (N, C) array.")
        return report(False, "", problem, hint)
    if _replaced(given, originals):
        return report(False, "", "your function replaced entries of the probas dict it was given (probas[m] = ...).",
                      "the caller's dict then holds your filled arrays: keep them in a new dict or variable "
                      "and leave probas as it was.")
    if _mutated(probas, given):
        return report(False, "", "your function changed the probability arrays it was given (p[...] = 0 works in place).",
                      "use np.where(present[m][:, None], p, 0.0), which makes a new array.")
    if _replaced(present_given, present_originals):
        return report(False, "", "your function replaced entries of the present dict it was given (present[m] = ...).",
                      "the caller's masks then change shape or value (in the notebook they belong to the caller): "
                      "reshape into a new variable, k = present[m][:, None], and leave present as it was.")
    if _mutated(present, present_given):
        return report(False, "", "your function changed the present masks it was given in place.",
                      "build new arrays from them (np.where, present[m][:, None]) and leave the caller's masks as they were.")
    if weights_given != weights:
        return report(False, "", "your function changed the weights dict it was given (weights[m] /= ... works in place).",
                      "in the notebook that dict is the fitted model's weights_, which you would overwrite: renormalise "
                      "per row into a new array (the sum of the weights present in that row) and leave weights as it was.")
    arr = as_numpy(out)
    if arr is not None and arr.shape == (n, c) and _paired_by_position(arr, probas, present, weights):
        return report(False, "", "the fused probabilities differ from the expected ones.",
                      "you paired probas, present and weights by position (zip of the dicts' values), but the three "
                      "dicts need not list the modalities in the same order: loop over probas.items() and look up "
                      "present[m] and weights[m] by name.")
    if arr is not None and arr.shape == (n, c) and not np.isfinite(arr).all():
        return report(False, "", "your result contains NaN.",
                      "the rows of an absent modality are NaN, and NaN * 0 is still NaN: select with "
                      "np.where(present[m][:, None], p, 0.0) instead of multiplying by the mask.")
    problem = shape_problem(out, (n, c))
    if problem:
        return report(False, "", problem, "combine over modalities, keeping one row per sample and one column per class.")
    expected = _reference_mean_of_present(probas, present, weights)
    if np.allclose(arr, expected, atol=1e-6):
        other = _mean_other_names_case(fn)
        if other:
            return report(False, "", *other)
        return report(True, "Each row is the weighted mean of the classifiers that saw an input, the weights "
                            "renormalised over them, so it still sums to 1.")
    filled = {m: np.where(present[m][:, None], p, 0.0) for m, p in probas.items()}
    count = np.sum([present[m] for m in mods], axis=0)[:, None].astype(float)  # (N, 1)
    unweighted = sum(filled.values()) / count
    over_all = sum(weights[m] * filled[m] for m in mods) / sum(weights.values())
    over_all_m = sum(weights[m] * filled[m] for m in mods) / len(mods)
    over_count = sum(weights[m] * filled[m] for m in mods) / count
    if np.allclose(arr, unweighted, atol=1e-6):
        hint = "you took the plain mean of the present modalities: weight each one by weights[m] (and divide by the " \
               "sum of the weights present in that row)."
    elif any(np.allclose(arr, x, atol=1e-6) for x in (over_all, over_all_m)):
        hint = "you divided by the weights of every modality, present or not, so rows with a modality absent sum to " \
               "less than 1. Renormalise per row: divide by the sum of the weights of the modalities present there."
    elif np.allclose(arr, over_count, atol=1e-6):
        hint = "you divided by the number of modalities present; with weights, divide by the sum of their weights."
    elif not np.allclose(arr.sum(1), 1.0, atol=1e-4):
        hint = "each row of the result should sum to 1, like the probabilities it combines."
    else:
        hint = "row i should be sum of weights[m] * probas[m][i] over the modalities present in row i, divided by " \
               "the sum of those weights."
    return report(False, "", "the fused probabilities differ from the expected ones.", hint)


# ------------------------------------------- exercise 4: predict the "no text" column

def _letters(answer) -> set[str] | None:
    """The set of option letters in an answer ("b, d", "bd", "d and b", ["b", "d"]), or None if it is not one."""
    import re

    if isinstance(answer, (list, tuple, set, frozenset)):
        if not all(isinstance(a, str) for a in answer):
            return None
        answer = " ".join(answer)
    if not isinstance(answer, str):
        return None
    words = [w for w in re.split(r"[^a-z]+", answer.lower()) if w and w != "and"]
    if len(words) == 1 and len(words[0]) <= 5:
        words = list(words[0])  # "ace"
    if not words or any(w not in set(_NO_TEXT_OPTIONS) for w in words):
        return None
    return set(words)


_NO_TEXT_OPTIONS = "abcde"


def nb02_predict_no_text(answer) -> CheckResult:
    """Predict-then-run, a mechanism question: with the text missing for every test emoji, in which of
    five models does the text's absence change how the image and the audio are used? Answer with the
    letters of all the models that apply."""
    if is_empty(answer):
        return report(False, "", EMPTY_MESSAGE)
    picked = _letters(answer)
    if picked is None:
        return report(False, "", f"expected some of the letters 'a' to 'e', got {answer!r}.",
                      "answer with the letters of the models, e.g. \"b, d\".")
    key = set("ace")
    question = ("For each model ask: with the text present, does the image's effect on the class scores depend "
                "on the text? (the softmax's denominator, a factor it multiplies, a ReLU over a sum)")
    debrief = ("In (b) and (d) they do not: early fusion given a zero text block shifts every class score by "
               "minus the text's average term (its accuracy can fall far), but its image and audio terms are added "
               "up exactly as trained; intermediate concat encodes each modality on its own and its linear head adds "
               "one term per modality, so without the text the image's and audio's terms are still the ones it "
               "learned.")
    if picked == key:
        return report(True, "In all three the image's and audio's effect depends on the text: attention's softmax "
                            "renormalises over what is left, the product loses the text factor the others multiplied, "
                            "and the MLP's hidden units lose the text's part of every sum inside their ReLU. "
                            + debrief + " Check the accuracies below: the mechanism is shared, the damage is not.")
    # a wrong answer gets the same feedback whatever it is: no count of extra or missing letters and no
    # per-model reason (a reason for an extra letter would identify it, and "abcde" then "ace" would pass)
    why = ("Judge the mechanism, not the damage: a model can lose much accuracy without the text while its image "
           "and audio terms stay as trained, and keep much while they change.")
    return report(False, "", "that is not the set of models in which the image's and audio's contributions change.",
                  " ".join([why, question]))
