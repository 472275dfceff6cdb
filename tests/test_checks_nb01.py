"""Tests of the notebook-01 exercise checks: solutions pass, stubs and typical mistakes get hints."""
import numpy as np
import pytest

from mmlab import checks
from mmlab.embeddings import cosine_similarity


def test_checks_are_exported():
    for name in ("nb01_predict_closest", "nb01_cosine_similarity", "nb01_nearest_neighbours",
                 "nb01_majority_baseline", "nb01_no_better_than_baseline"):
        assert callable(getattr(checks, name))


# ---------------------------------------------------------------- exercise 1: predict

SIMS = {"a": 0.41, "b": 0.83, "c": 0.57}


def test_predict_closest_right_pick_passes(capsys):
    assert checks.nb01_predict_closest("b", SIMS).passed is True
    assert checks.nb01_predict_closest(" B ", SIMS).passed is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer, sims, needle", [
    (None, SIMS, "still empty"), (..., SIMS, "still empty"), ("d", SIMS, "expected one of"),
    (2, SIMS, "expected one of"), ("a", SIMS, "ranks 3 of 3"), ("c", SIMS, "ranks 2 of 3"),
    ("a", None, "dict of measured similarities"), ("a", {}, "dict of measured similarities"),
])
def test_predict_closest_wrong_answers_get_hints(capsys, answer, sims, needle):
    assert checks.nb01_predict_closest(answer, sims).passed is False
    out = capsys.readouterr().out
    assert needle in out and "Correct" not in out


def test_predict_closest_does_not_name_the_winner(capsys):
    checks.nb01_predict_closest("a", SIMS)
    out = capsys.readouterr().out
    assert "'b'" not in out and " b " not in out


# ------------------------------------------------------------ exercise 2: cosine by hand

def _solution_cosine(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def test_cosine_solution_and_library_pass(capsys):
    assert checks.nb01_cosine_similarity(_solution_cosine).passed is True
    assert checks.nb01_cosine_similarity(cosine_similarity).passed is True
    assert "Correct" in capsys.readouterr().out


def _stub(a, b):
    raise NotImplementedError()


@pytest.mark.parametrize("fn, needle", [
    (None, "still empty"),
    (_stub, "NotImplementedError"),
    (lambda a, b: a @ b.T, "plain dot product"),
    (lambda a, b: (a / np.linalg.norm(a, axis=1, keepdims=True)) @ b.T, "only one of the two"),
    (lambda a, b: (a / np.linalg.norm(a, axis=0)) @ (b / np.linalg.norm(b, axis=0)).T, "axis=1"),
    (lambda a, b: _solution_cosine(a, b).T, "(M, N)"),
    (lambda a, b: _solution_cosine(a, b)[0], "expected shape (4, 3)"),
    (lambda a, b: 1 - _solution_cosine(a, b), "differ"),
    (lambda a, b: undefined_name, "NameError"),  # noqa: F821
])
def test_cosine_wrong_answers_get_hints(capsys, fn, needle):
    assert checks.nb01_cosine_similarity(fn).passed is False
    out = capsys.readouterr().out
    assert needle in out and "Correct" not in out


def test_cosine_that_only_works_once_fails(capsys):
    calls = []

    def cached(a, b):
        calls.append(1)
        if len(calls) == 1:
            return _solution_cosine(a, b)
        return a @ b.T  # forgets to normalise on the second call

    assert checks.nb01_cosine_similarity(cached).passed is False
    assert "after scaling" in capsys.readouterr().out


# ---------------------------------------------------------- exercise 3: nearest neighbours

def _solution_knn(query, corpus, k):
    scores = _solution_cosine(query[None], corpus)[0]
    return np.argsort(-scores)[:k]


def test_nearest_neighbours_solution_passes(capsys):
    assert checks.nb01_nearest_neighbours(_solution_knn).passed is True
    assert checks.nb01_nearest_neighbours(lambda q, c, k: list(_solution_knn(q, c, k))).passed is True
    assert "Correct" in capsys.readouterr().out


def _knn_stub(query, corpus, k):
    raise NotImplementedError()


@pytest.mark.parametrize("fn, needle", [
    (None, "still empty"),
    (_knn_stub, "NotImplementedError"),
    (lambda q, c, k: np.argsort(-(c @ q))[:k], "plain dot product"),
    (lambda q, c, k: np.argsort(_solution_cosine(q[None], c)[0])[:k], "least similar"),
    (lambda q, c, k: np.sort(_solution_cosine(q[None], c)[0])[::-1][:k], "scores, not the row indices"),
    (lambda q, c, k: _solution_knn(q, c, k)[::-1], "wrong order"),
    (lambda q, c, k: _solution_knn(q, c, k + 1), "expected shape (3,)"),
    (lambda q, c, k: np.argsort(((c - q) ** 2).sum(1))[:k], "not the k most similar"),
])
def test_nearest_neighbours_wrong_answers_get_hints(capsys, fn, needle):
    assert checks.nb01_nearest_neighbours(fn).passed is False
    out = capsys.readouterr().out
    assert needle in out and "Correct" not in out


# ------------------------------------------------------------ exercise 4: the baseline

TRAIN = ["food"] * 5 + ["animal"] * 3 + ["flag"] * 2
TEST = ["food", "animal", "animal", "animal", "flag", "food"]  # majority in train: food -> 2/6


def test_majority_baseline_solution_passes(capsys):
    assert checks.nb01_majority_baseline(2 / 6, TRAIN, TEST).passed is True
    assert checks.nb01_majority_baseline(np.float32(2 / 6), TRAIN, TEST).passed is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("value, needle", [
    (None, "still empty"),
    (100 * 2 / 6, "not a percentage"),
    (1 / 3 + 0.1, "most common label"),
    (1 / 3 * 0 + 3 / 6, "training labels"),  # majority taken from the test labels ("animal": 3/6)
    ([0.1, 0.2], "single number"),
    ("0.33", "single number"),
])
def test_majority_baseline_wrong_answers_get_hints(capsys, value, needle):
    assert checks.nb01_majority_baseline(value, TRAIN, TEST).passed is False
    out = capsys.readouterr().out
    assert needle in out and "Correct" not in out


def test_majority_baseline_uniform_guess_gets_a_hint(capsys):
    train = ["a"] * 6 + ["b"] * 2 + ["c"] * 2
    test = ["a", "a", "a", "a", "b", "c"]  # majority 4/6, uniform 1/3
    assert checks.nb01_majority_baseline(1 / 3, train, test).passed is False
    assert "same size" in capsys.readouterr().out


# --------------------------------------------------------------- exercise 5: interpret

ACC = {"text": 0.93, "image": 0.94, "audio": 0.57}


def test_no_better_than_baseline_solution_passes(capsys):
    assert checks.nb01_no_better_than_baseline("audio", ACC, 0.62).passed is True
    assert checks.nb01_no_better_than_baseline("Audio", ACC, np.float64(0.62)).passed is True
    assert "Correct" in capsys.readouterr().out


def test_no_better_than_baseline_allows_a_gap_within_the_noise(capsys):
    # standardised MFCC vectors score 0.64 against 0.62: within the ~4-point noise of ~140 clips
    assert checks.nb01_no_better_than_baseline("audio", {**ACC, "audio": 0.64}, 0.62).passed is True
    assert checks.nb01_no_better_than_baseline("audio", {**ACC, "audio": 0.70}, 0.62).passed is False
    assert checks.nb01_no_better_than_baseline("audio", {**ACC, "audio": 0.70}, 0.62, margin=0.1).passed is True
    assert "clearly above" in capsys.readouterr().out


@pytest.mark.parametrize("answer, acc, baseline, needle", [
    (None, ACC, 0.62, "still empty"), ("video", ACC, 0.62, "expected one of"),
    ("text", ACC, 0.62, "clearly above the baseline"), ("image", ACC, 0.62, "most common group"),
    ("text", None, 0.62, "dict of measured accuracies"), ("audio", ACC, None, "baseline accuracy"),
    ("audio", ACC, 0.40, "clearly above"),  # with a lower baseline audio would be informative
])
def test_no_better_than_baseline_wrong_answers_get_hints(capsys, answer, acc, baseline, needle):
    assert checks.nb01_no_better_than_baseline(answer, acc, baseline).passed is False
    out = capsys.readouterr().out
    assert needle in out and "Correct" not in out
