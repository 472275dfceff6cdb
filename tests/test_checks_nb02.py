"""Tests of the notebook-02 exercise checks: solutions pass, stubs and typical mistakes get hints."""
import numpy as np
import pytest

from mmlab import checks
from mmlab.fusion import concat_embeddings


def test_checks_are_exported():
    for name in ("nb02_concat_dot", "nb02_concat_embeddings", "nb02_late_mean", "nb02_most_robust"):
        assert callable(getattr(checks, name))


# ---------------------------------------------------------------- exercise 1: predict

def test_concat_dot_solution_passes(capsys):
    assert checks.nb02_concat_dot("a").passed is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer, needle", [
    (None, "still empty"), (..., "still empty"), ("d", "letters 'a', 'b' or 'c'"), (1.0, "letters"),
    ("b", "1/sqrt(2)"), ("c", "every coordinate contributes"),
])
def test_concat_dot_wrong_answers_get_hints(capsys, answer, needle):
    assert checks.nb02_concat_dot(answer).passed is False
    assert needle in capsys.readouterr().out


# --------------------------------------------------------- exercise 2: concatenation

def _solution_concat(features, weights):
    total = sum(weights.values())
    return np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(weights[m] / total)
                           for m, x in features.items()], axis=1)


def test_concat_solution_and_library_pass(capsys):
    assert checks.nb02_concat_embeddings(_solution_concat).passed is True
    assert checks.nb02_concat_embeddings(lambda f, w: concat_embeddings(f, w)).passed is True
    assert "Correct" in capsys.readouterr().out


def _stub(features, weights):
    raise NotImplementedError()


def _no_normalisation(features, weights):
    total = sum(weights.values())
    return np.concatenate([x * np.sqrt(weights[m] / total) for m, x in features.items()], axis=1)


def _no_sqrt(features, weights):
    total = sum(weights.values())
    return np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) * weights[m] / total
                           for m, x in features.items()], axis=1)


def _no_total(features, weights):
    return np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(weights[m])
                           for m, x in features.items()], axis=1)


def _weights_ignored(features, weights):
    return np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(1 / len(features))
                           for x in features.values()], axis=1)


def _normalised_after_concatenating(features, weights):
    total = sum(weights.values())
    fused = np.concatenate([x * np.sqrt(weights[m] / total) for m, x in features.items()], axis=1)
    return fused / np.linalg.norm(fused, axis=1, keepdims=True)


def _w_instead_of_sqrt_w(features, weights):
    return np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) * weights[m]
                           for m, x in features.items()], axis=1)


def _stacked_wrong_axis(features, weights):
    return np.concatenate(list(features.values()), axis=0)


@pytest.mark.parametrize("fn, needle", [
    (None, "still empty"),
    (_stub, "NotImplementedError"),
    (_no_normalisation, "normalise each modality"),
    (_no_sqrt, "square root"),
    (_no_total, "divide the weights by their sum"),
    (_weights_ignored, "the weights changed nothing"),
    (lambda f, w: np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) for x in f.values()], axis=1),
     "the weights changed nothing"),
    (_normalised_after_concatenating, "you normalised the whole concatenated row"),
    (lambda f, w: _normalised_after_concatenating(f, {m: 1.0 for m in f}), "you normalised the whole concatenated row"),
    (_w_instead_of_sqrt_w, "scale by the square root"),
    (lambda f, w: _solution_concat(dict(reversed(list(f.items()))), w), "order of the features dict"),
    (lambda f, w: np.zeros((5, 9)) + 1.0, "differ"),
])
def test_concat_typical_mistakes_get_specific_hints(capsys, fn, needle):
    assert checks.nb02_concat_embeddings(fn).passed is False
    assert needle in capsys.readouterr().out


def test_concat_wrong_axis_reports_the_shape(capsys):
    # the blocks have different widths, so concatenating along rows fails inside the learner's code
    assert checks.nb02_concat_embeddings(_stacked_wrong_axis).passed is False
    assert "raised ValueError" in capsys.readouterr().out


# ------------------------------------------------------------- exercise 3: late mean

def _solution_late_mean(probas, present):
    total = sum(np.where(present[m][:, None], p, 0.0) for m, p in probas.items())
    count = sum(present[m].astype(float) for m in probas)[:, None]
    return total / count


def test_late_mean_solution_passes(capsys):
    assert checks.nb02_late_mean(_solution_late_mean).passed is True
    assert "Correct" in capsys.readouterr().out


def test_late_mean_without_the_mask_fails(capsys):
    # absent rows are zeros, not NaN: nanmean (or a plain mean) cannot tell them from data
    assert checks.nb02_late_mean(lambda p, k: np.nanmean(np.stack(list(p.values())), axis=0)).passed is False
    assert "divide by the number present in that row" in capsys.readouterr().out


def _divide_by_all(probas, present):
    return sum(np.where(present[m][:, None], p, 0.0) for m, p in probas.items()) / len(probas)


@pytest.mark.parametrize("fn, needle", [
    (None, "still empty"),
    (_stub, "NotImplementedError"),
    (lambda p, k: np.mean(np.stack(list(p.values())), axis=0), "zeros of an absent one"),
    (lambda p, k: sum(p.values()) / sum(k.values())[:, None] * np.nan, "NaN"),
    (_divide_by_all, "number present in that row"),
    (lambda p, k: np.nanmean(np.stack(list(p.values())), axis=1), "expected shape (6, 3)"),
    (lambda p, k: np.nan_to_num(next(iter(p.values()))) + 0.0, "sum to 1"),
])
def test_late_mean_typical_mistakes_get_specific_hints(capsys, fn, needle):
    assert checks.nb02_late_mean(fn).passed is False
    assert needle in capsys.readouterr().out


def test_late_mean_wrong_but_normalised_gets_the_definition(capsys):
    def first_present_only(probas, present):
        return np.where(present["text"][:, None], probas["text"], 1 / 3)

    assert checks.nb02_late_mean(first_present_only).passed is False
    assert "mean of probas[m][i]" in capsys.readouterr().out


# ---------------------------------------------------------- exercise 4: interpretation

TABLE = {"early fusion (zeros)": 0.41, "late fusion (mean)": 0.77, "intermediate (attention)": 0.63}


def test_most_robust_right_answer_passes(capsys):
    assert checks.nb02_most_robust("late fusion (mean)", TABLE).passed is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer, needle", [
    (None, "still empty"),
    ("late", "expected one of the strategy names"),
    ("intermediate (attention)", "another strategy keeps more"),
])
def test_most_robust_wrong_answers_get_hints(capsys, answer, needle):
    assert checks.nb02_most_robust(answer, TABLE).passed is False
    out = capsys.readouterr().out
    assert needle in out
    assert answer is None or "Hint" in out
