"""Exercise checks for notebook 01, single-modality embeddings (re-exported by mmlab.checks)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

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
    "nb01_cosine_similarity",
    "nb01_majority_baseline",
    "nb01_nearest_neighbours",
    "nb01_no_better_than_baseline",
    "nb01_predict_closest",
]


def _scores_dict(similarities, name: str) -> dict[str, float] | None:
    if not isinstance(similarities, Mapping) or not similarities:
        return None
    try:
        return {str(k): float(v) for k, v in similarities.items()}
    except (TypeError, ValueError):
        return None


def nb01_predict_closest(answer, similarities) -> CheckResult:
    """Predict-then-run: which candidate is closest to the query in the model's space?

    Args:
        answer: the learner's prediction, one key of ``similarities`` (e.g. "a").
        similarities: {key: cosine similarity of that candidate to the query}, measured
            in the notebook after the prediction was written down.
    """
    scores = _scores_dict(similarities, "similarities")
    if scores is None:
        return report(False, "", "the check needs the dict of measured similarities as its second argument.",
                      "run the cell above the check first and pass its dict, e.g. nb01_predict_closest(answer, sims).")
    if is_empty(answer):
        return report(False, "", EMPTY_MESSAGE)
    keys = list(scores)
    if not isinstance(answer, str) or answer.strip().lower() not in keys:
        return report(False, "", f"expected one of {keys}, got {answer!r}.")
    answer = answer.strip().lower()
    ranking = sorted(keys, key=lambda k: -scores[k])
    rank = ranking.index(answer) + 1
    if rank == 1:
        return report(True, f"Your pick has the highest cosine ({scores[answer]:.2f}). Now read the ranking of the "
                            "other candidates too: what does the model pay attention to, and what does it ignore?")
    return report(
        False, "",
        f"your pick ranks {rank} of {len(keys)} (cosine {scores[answer]:.2f}; the best is {scores[ranking[0]]:.2f}).",
        "compare the candidates with the query: which words they share, whether the words come in the same "
        "order, whether they mean the same. Which of these did the model react to? The numbers are in the cell above.",
    )


def _reference_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def nb01_cosine_similarity(fn) -> CheckResult:
    """Check ``fn(a: (N, D), b: (M, D)) -> (N, M)``, the cosine of every row of a with every row of b."""
    rng = np.random.default_rng(11)
    # Rows of very different lengths, so forgetting to normalise gives a different answer.
    a = rng.normal(size=(4, 6)) * rng.uniform(0.2, 5.0, size=(4, 1))
    b = rng.normal(size=(3, 6)) * rng.uniform(0.2, 5.0, size=(3, 1))
    out, problem = call_learner(fn, a.copy(), b.copy())
    if problem:
        return report(False, "", problem, "fn(a, b) should return a numpy array of shape (len(a), len(b)).")
    expected = _reference_cosine(a, b)
    if as_numpy(out) is not None and as_numpy(out).shape == (3, 4):
        return report(False, "", "your result has shape (M, N) = (3, 4); expected (N, M) = (4, 3).",
                      "rows of the result belong to a, columns to b: a_normalised @ b_normalised.T.")
    problem = shape_problem(out, (4, 3))
    if problem:
        return report(False, "", problem, "the result has one row per row of a and one column per row of b.")
    out = as_numpy(out)
    if np.allclose(out, expected, atol=1e-5):
        # A second, independent case: scaling a vector must not change its cosine.
        again, _ = call_learner(fn, a * 7.0, b[:1] * 0.01)
        if again is not None and np.allclose(as_numpy(again), expected[:, :1], atol=1e-5):
            return report(True, "Dividing each row by its length leaves only its direction; the dot product of "
                                "two unit vectors is the cosine of the angle between them.")
        return report(False, "", "right on the first input, wrong after scaling the vectors.",
                      "a cosine depends only on direction: normalise inside the function, every time.")
    norm_a = a / np.linalg.norm(a, axis=1, keepdims=True)
    norm_b = b / np.linalg.norm(b, axis=1, keepdims=True)
    col_a = a / np.linalg.norm(a, axis=0, keepdims=True)
    col_b = b / np.linalg.norm(b, axis=0, keepdims=True)
    if np.allclose(out, a @ b.T, atol=1e-5):
        hint = "that is the plain dot product: divide each row by its length first (np.linalg.norm(x, axis=1, keepdims=True))."
    elif np.allclose(out, norm_a @ b.T, atol=1e-5) or np.allclose(out, a @ norm_b.T, atol=1e-5):
        hint = "you normalised only one of the two inputs: both a and b need unit-length rows."
    elif np.allclose(out, col_a @ col_b.T, atol=1e-5):
        hint = "you normalised the columns; each embedding is a row, so take the norm along axis=1."
    elif np.abs(out).max() > 1 + 1e-5:
        hint = "a cosine lies between -1 and 1; some of your values do not, so something is not normalised."
    else:
        hint = "normalise each row of a and of b to length 1, then take all dot products with one matrix product."
    return report(False, "", "your values differ from the cosine similarities.", hint)


def nb01_nearest_neighbours(fn) -> CheckResult:
    """Check ``fn(query: (D,), corpus: (N, D), k: int) -> (k,)`` indices of the k most cosine-similar rows, best first."""
    rng = np.random.default_rng(5)
    corpus = rng.normal(size=(12, 8))
    query = corpus[3] + 0.3 * rng.normal(size=8)
    # Long vectors pointing elsewhere: a dot product ranks them high, a cosine does not.
    corpus[[0, 7]] = (0.4 * corpus[3] + rng.normal(size=(2, 8))) * 25.0
    cos = _reference_cosine(query[None], corpus)[0]
    best = np.argsort(-cos)
    dot = corpus @ query
    for k in (3, 1):
        out, problem = call_learner(fn, query.copy(), corpus.copy(), k)
        if problem:
            return report(False, "", problem, "fn(query, corpus, k) should return an array of k row indices.")
        problem = shape_problem(out, (k,))
        if problem:
            return report(False, "", problem, "return the indices of the k best rows, one number per neighbour.")
        arr = as_numpy(out)
        if not np.allclose(arr, np.round(arr)) or arr.min() < 0 or arr.max() >= len(corpus):
            if np.allclose(np.sort(arr)[::-1], np.sort(cos)[::-1][:k], atol=1e-5):
                return report(False, "", "you returned the similarity scores, not the row indices.",
                              "np.argsort gives positions; use them to pick the best rows.")
            return report(False, "", f"expected row indices between 0 and {len(corpus) - 1}, got {arr.tolist()}.",
                          "np.argsort returns indices; take the first k after sorting from best to worst.")
        idx = arr.astype(int)
        if np.array_equal(idx, best[:k]):
            continue
        if np.array_equal(idx, np.argsort(-dot)[:k]):
            hint = ("you ranked by the plain dot product, so long vectors win. Normalise the query and the "
                    "corpus rows first (or divide by the norms).")
        elif np.array_equal(idx, np.argsort(cos)[:k]) or np.array_equal(idx, best[::-1][:k]):
            hint = "those are the least similar rows: sort from the largest cosine down (np.argsort(-scores))."
        elif set(idx.tolist()) == set(best[:k].tolist()):
            hint = "the right rows in the wrong order: the most similar one comes first."
        else:
            hint = "compute the cosine of the query with every corpus row, then take the k largest."
        return report(False, "", f"with k={k} your neighbours are {idx.tolist()}, not the k most similar rows.", hint)
    return report(True, "Cosine search is one matrix-vector product and a sort; notebook 05 makes it fast for "
                        "millions of vectors.")


def nb01_majority_baseline(value, train_labels, test_labels) -> CheckResult:
    """Check the accuracy, on the test set, of always predicting the most common training label.

    Args:
        value: the learner's number (a fraction in [0, 1]).
        train_labels, test_labels: the labels of the split used in the notebook.
    """
    train, test = list(train_labels), list(test_labels)
    if not train or not test:
        return report(False, "", "the check needs the train and test labels as its second and third arguments.")
    if is_empty(value):
        return report(False, "", EMPTY_MESSAGE)
    arr = None if isinstance(value, (str, bytes)) else as_numpy(value)
    if arr is None or arr.size != 1:
        return report(False, "", f"expected a single number, got {type(value).__name__}.",
                      "compute one accuracy, e.g. with np.mean(...).")
    got = float(arr.reshape(()))
    majority = Counter(train).most_common(1)[0][0]
    expected = float(np.mean([t == majority for t in test]))
    if abs(got - expected) < 1e-3:
        return report(True, f"A classifier that learned nothing scores {expected:.2f}: an accuracy means "
                            "something only above this line.")
    n_groups = len(set(train) | set(test))
    test_majority = Counter(test).most_common(1)[0][0]
    test_expected = float(np.mean([t == test_majority for t in test]))
    if abs(got - expected * 100) < 0.1:
        hint = "give the accuracy as a fraction between 0 and 1, not a percentage."
    elif abs(got - 1 / n_groups) < 1e-3:
        hint = (f"1/{n_groups} is right only if every group were the same size; they are not. "
                "Always answer with the most common training label and see how often that is right.")
    elif test_majority != majority and abs(got - test_expected) < 1e-3:
        hint = "pick the most common label from the training labels: at prediction time the test labels are unknown."
    elif not 0 <= got <= 1:
        hint = "an accuracy is a fraction between 0 and 1."
    else:
        hint = ("find the most common label in the training labels (collections.Counter), then the fraction "
                "of test labels equal to it.")
    return report(False, "", f"{got:.3f} is not the majority-class accuracy.", hint)


def nb01_no_better_than_baseline(answer, accuracies, baseline, margin: float = 0.05) -> CheckResult:
    """Interpret the k-NN table: name a space whose accuracy is no better than the majority baseline.

    Args:
        answer: the learner's choice, one key of ``accuracies`` (e.g. "audio").
        accuracies: {space name: k-NN accuracy on the same test items}, measured in the notebook.
        baseline: the accuracy of always answering the most common training label.
        margin: how far above the baseline still counts as "no better": on the notebook's
            ~140 test clips one accuracy has a standard error of about 4 points.
    """
    scores = _scores_dict(accuracies, "accuracies")
    if scores is None:
        return report(False, "", "the check needs the dict of measured accuracies as its second argument.")
    try:
        baseline = float(baseline)
    except (TypeError, ValueError):
        return report(False, "", "the check needs the baseline accuracy (a number) as its third argument.")
    if is_empty(answer):
        return report(False, "", EMPTY_MESSAGE)
    keys = list(scores)
    if not isinstance(answer, str) or answer.strip().lower() not in [k.lower() for k in keys]:
        return report(False, "", f"expected one of {keys}, got {answer!r}.")
    answer = next(k for k in keys if k.lower() == answer.strip().lower())
    if scores[answer] <= baseline + margin:
        return report(True, f"{answer} reaches {scores[answer]:.2f} against a baseline of {baseline:.2f}, a gap "
                            "within the noise of the test set: its neighbours carry next to no information about "
                            "the label. Its space captures something else.")
    return report(False, "", f"{answer} reaches {scores[answer]:.2f}, clearly above the baseline of {baseline:.2f}.",
                  "compare each space's accuracy with the 'always the most common group' row, not with each other.")
