"""Exercise checks for notebook 02, fusion strategies (re-exported by mmlab.checks)."""
from __future__ import annotations

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

__all__: list[str] = [
    "nb02_concat_dot",
    "nb02_concat_embeddings",
    "nb02_late_mean",
    "nb02_most_robust",
]


def nb02_concat_dot(answer) -> CheckResult:
    """Predict-then-run: text cosine 0.8, image cosine 0.2; plain concatenation of the
    normalised blocks; the dot product of the two fused vectors is (a) 1.0, (b) 0.5, (c) 0.8."""
    if is_empty(answer):
        return report(False, "", EMPTY_MESSAGE)
    if not isinstance(answer, str) or answer.strip().lower() not in {"a", "b", "c"}:
        return report(False, "", f"expected one of the letters 'a', 'b' or 'c', got {answer!r}.")
    answer = answer.strip().lower()
    hints = {
        "b": "that would need each block scaled down by 1/sqrt(2). Nothing scales the blocks here: "
             "write the dot product as a sum over coordinates and split it at the block boundary.",
        "c": "a dot product never picks one part; every coordinate contributes. Split the sum over "
             "coordinates at the block boundary.",
    }
    return report(
        answer == "a",
        "The dot product splits into one term per block, and each term is that modality's cosine: "
        "0.8 + 0.2. The fused vector has length sqrt(2), so it is not a cosine any more; "
        "scaling each block by sqrt(1/M) makes it the mean.",
        "not what the arithmetic gives.",
        hints.get(answer, ""),
    )


def _reference_concat(features: dict, weights: dict) -> np.ndarray:
    total = sum(weights.values())
    blocks = [x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(weights[m] / total)
              for m, x in features.items()]
    return np.concatenate(blocks, axis=1)


def nb02_concat_embeddings(fn) -> CheckResult:
    """Check ``fn(features: dict[str, (N, D_m)], weights: dict[str, float]) -> (N, sum D_m)``:
    per-block L2 normalisation, scaling by sqrt(w_m / sum w), concatenation in dict order."""
    rng = np.random.default_rng(7)
    features = {"image": rng.normal(size=(5, 6)) * 4 + 1, "text": rng.normal(size=(5, 3)) * 0.5}
    weights = {"image": 1.0, "text": 3.0}
    out, problem = call_learner(fn, {m: x.copy() for m, x in features.items()}, dict(weights))
    if problem:
        return report(False, "", problem, "fn(features, weights) should return one (N, D_image + D_text) array.")
    problem = shape_problem(out, (5, 9))
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
    elif matches(raw) or not np.allclose(norms, norms[0], atol=1e-3):
        hint = "normalise each modality's rows to unit length before weighting (np.linalg.norm(..., axis=1, keepdims=True))."
    elif matches(blocks(lambda w: np.sqrt(w))) or np.allclose(norms, np.sqrt(total), atol=1e-3):
        hint = f"your rows have length {norms[0]:.2f}; divide the weights by their sum so the fused row has length 1."
    elif matches(np.concatenate([expected[:, 6:], expected[:, :6]], axis=1)):
        hint = "keep the blocks in the order of the features dict."
    else:
        hint = "check each block on its own: unit length, then times sqrt(w_m / sum of weights)."
    return report(False, "", "the fused vectors differ from the expected ones.", hint)


def nb02_late_mean(fn) -> CheckResult:
    """Check ``fn(probas: dict[str, (N, C)], present: dict[str, (N,) bool]) -> (N, C)``:
    the mean of the probabilities of the modalities present in each row.

    Absent rows hold zeros (as ``mm.fusion`` passes them: finite, never NaN), so only the
    ``present`` masks tell which rows to leave out; ``np.nanmean`` or a plain mean fails.
    """
    rng = np.random.default_rng(11)
    n, c = 6, 3
    probas = {m: rng.dirichlet(np.ones(c), size=n) for m in ("image", "text", "audio")}
    present = {"image": np.array([1, 1, 0, 1, 0, 1], bool), "text": np.array([1, 0, 1, 1, 0, 1], bool),
               "audio": np.array([0, 1, 1, 1, 1, 0], bool)}
    for m, p in probas.items():
        p[~present[m]] = 0.0  # an absent modality had nothing to classify: its rows are zeros
    out, problem = call_learner(fn, {m: p.copy() for m, p in probas.items()},
                                {m: k.copy() for m, k in present.items()})
    if problem:
        return report(False, "", problem, "fn(probas, present) should return one (N, C) array.")
    arr = as_numpy(out)
    if arr is not None and arr.shape == (n, c) and not np.isfinite(arr).all():
        return report(False, "", "your result contains NaN or inf.",
                      "every row has at least one modality present; divide by the number present in that row.")
    problem = shape_problem(out, (n, c))
    if problem:
        return report(False, "", problem, "average over modalities, not over samples or classes.")
    stack = np.stack([probas[m] for m in probas])  # (M, N, C), zeros where absent
    count = np.stack([present[m] for m in probas]).sum(0)[:, None]  # (N, 1)
    expected = stack.sum(0) / count
    if np.allclose(arr, expected, atol=1e-6):
        return report(True, "Each row averages only the classifiers that saw an input, and still sums to 1.")
    if np.allclose(arr, stack.sum(0) / len(probas), atol=1e-6):
        hint = ("you averaged over all modalities, so the zeros of an absent one pulled the row down (it sums to "
                "less than 1). The present masks say which rows to count: divide by the number present in that row.")
    elif not np.allclose(arr.sum(1), 1.0, atol=1e-4):
        hint = "each row of the result should sum to 1, like the probabilities it averages."
    else:
        hint = "row i should be the mean of probas[m][i] over the modalities m with present[m][i] True."
    return report(False, "", "the fused probabilities differ from the expected ones.", hint)


def nb02_most_robust(answer, accuracy_without: dict) -> CheckResult:
    """Interpret the table: which strategy keeps the highest accuracy when a modality is removed?

    Args:
        answer: the learner's strategy name (a key of ``accuracy_without``).
        accuracy_without: strategy name -> held-out accuracy with the modality removed.
    """
    if is_empty(answer):
        return report(False, "", EMPTY_MESSAGE)
    names = list(accuracy_without)
    if not isinstance(answer, str) or answer not in accuracy_without:
        return report(False, "", f"expected one of the strategy names {names}, got {answer!r}.",
                      "copy the name exactly as it appears in the table.")
    best = max(accuracy_without.values())
    ok = accuracy_without[answer] >= best - 1e-12
    return report(
        ok,
        f"{answer} keeps {accuracy_without[answer]:.1%} accuracy; ask yourself why its design copes.",
        f"{answer} keeps {accuracy_without[answer]:.1%}, but another strategy keeps more.",
        "read the column of the table for the missing modality, not the one with every modality present.",
    )
