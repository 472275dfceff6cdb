"""Tests of the notebook-04 exercise checks: solutions pass, stubs and typical mistakes get a hint."""
import numpy as np
import pytest

import mmlab as mm
from mmlab import checks


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _softmax(z, axis=1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _stub(*args):
    raise NotImplementedError()


def test_checks_are_exported():
    for name in ["nb04_more_classes", "nb04_zero_shot_probs", "nb04_build_classifier", "nb04_overtake_k"]:
        assert callable(getattr(checks, name))


# --------------------------------------------------------------------------- exercise 1


def test_more_classes(capsys):
    assert checks.nb04_more_classes("down").passed is True
    assert "Correct" in capsys.readouterr().out
    assert checks.nb04_more_classes(...).passed is False
    assert "empty" in capsys.readouterr().out
    assert checks.nb04_more_classes("up").passed is False
    assert "denominator" not in capsys.readouterr().out.split("Hint")[0]  # the problem line does not give it away
    assert checks.nb04_more_classes("maybe").passed is False
    assert "'up', 'down' or 'same'" in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 2


def solution_probs(image_features, class_embeddings, logit_scale):
    return _softmax(logit_scale * _unit(image_features) @ _unit(class_embeddings).T)


def test_zero_shot_probs_solution_and_library_pass(capsys):
    assert checks.nb04_zero_shot_probs(solution_probs).passed is True
    assert checks.nb04_zero_shot_probs(mm.zeroshot.predict_proba).passed is True
    assert capsys.readouterr().out.count("Correct") == 2


def test_zero_shot_probs_stub_and_mistakes(capsys):
    assert checks.nb04_zero_shot_probs(_stub).passed is False
    assert "NotImplementedError" in capsys.readouterr().out
    assert checks.nb04_zero_shot_probs(...).passed is False
    assert "empty" in capsys.readouterr().out

    def no_scale(i, c, s):
        return _softmax(_unit(i) @ _unit(c).T)
    assert checks.nb04_zero_shot_probs(no_scale).passed is False
    assert "logit_scale" in capsys.readouterr().out

    def wrong_axis(i, c, s):
        return _softmax(s * _unit(i) @ _unit(c).T, axis=0)
    assert checks.nb04_zero_shot_probs(wrong_axis).passed is False
    assert "axis=1" in capsys.readouterr().out

    def no_norm(i, c, s):
        return _softmax(s * i @ c.T)
    assert checks.nb04_zero_shot_probs(no_norm).passed is False
    assert "normalised" in capsys.readouterr().out

    def no_softmax(i, c, s):
        return s * _unit(i) @ _unit(c).T
    assert checks.nb04_zero_shot_probs(no_softmax).passed is False
    assert "softmax" in capsys.readouterr().out

    def transposed(i, c, s):
        return solution_probs(i, c, s).T
    assert checks.nb04_zero_shot_probs(transposed).passed is False
    assert "One row per image" in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 3


def solution_classifier(model, classnames, templates):
    texts = [t.format(c) for c in classnames for t in templates]
    emb = model.encode_text(texts).reshape(len(classnames), len(templates), -1)
    mean = emb.mean(axis=1)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)


def test_build_classifier_solution_and_library_pass(capsys):
    assert checks.nb04_build_classifier(solution_classifier).passed is True
    assert checks.nb04_build_classifier(mm.zeroshot.build_classifier).passed is True
    assert capsys.readouterr().out.count("Correct") == 2


def test_build_classifier_stub_and_mistakes(capsys):
    assert checks.nb04_build_classifier(_stub).passed is False
    assert "NotImplementedError" in capsys.readouterr().out

    def no_renorm(model, classnames, templates):
        texts = [t.format(c) for c in classnames for t in templates]
        return model.encode_text(texts).reshape(len(classnames), len(templates), -1).mean(axis=1)

    assert checks.nb04_build_classifier(no_renorm).passed is False
    assert "normalise each class row" in capsys.readouterr().out

    def no_mean(model, classnames, templates):
        return model.encode_text([t.format(c) for c in classnames for t in templates])

    assert checks.nb04_build_classifier(no_mean).passed is False
    assert "one row per prompt" in capsys.readouterr().out

    def wrong_order(model, classnames, templates):
        texts = [t.format(c) for t in templates for c in classnames]  # template-major
        emb = model.encode_text(texts).reshape(len(classnames), len(templates), -1)  # but class-major reshape
        m = emb.mean(axis=1)
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    assert checks.nb04_build_classifier(wrong_order).passed is False
    assert "mix prompts of different classes" in capsys.readouterr().out

    def first_only(model, classnames, templates):
        return model.encode_text([templates[0].format(c) for c in classnames])

    assert checks.nb04_build_classifier(first_only).passed is False
    assert "only the first template" in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 4


def test_overtake_k(capsys):
    ks, accs = [1, 2, 4, 8], [0.2, 0.35, 0.5, 0.6]
    assert checks.nb04_overtake_k(4, ks, accs, 0.4).passed is True
    assert "Correct" in capsys.readouterr().out
    assert checks.nb04_overtake_k(..., ks, accs, 0.4).passed is False
    assert "empty" in capsys.readouterr().out
    assert checks.nb04_overtake_k(2, ks, accs, 0.4).passed is False
    assert "still at or below" in capsys.readouterr().out
    assert checks.nb04_overtake_k(8, ks, accs, 0.4).passed is False
    assert "smallest" in capsys.readouterr().out
    assert checks.nb04_overtake_k(3, ks, accs, 0.4).passed is False
    assert "not one of the k values" in capsys.readouterr().out
    assert checks.nb04_overtake_k("never", ks, accs, 0.4).passed is False
    assert "does get above" in capsys.readouterr().out
    # When the probe never catches up, "never" is the answer.
    assert checks.nb04_overtake_k("never", ks, accs, 0.9).passed is True
    assert checks.nb04_overtake_k(8, ks, accs, 0.9).passed is False


def test_overtake_k_with_error_bars(capsys):
    # k = 1 is above zero-shot on average but within two standard errors of it: not "clearly".
    ks, accs, ses = [1, 2, 4, 8], [0.26, 0.25, 0.31, 0.37], [0.013, 0.017, 0.019, 0.01]
    assert checks.nb04_overtake_k(4, ks, accs, 0.254, ses).passed is True
    assert "noise" in capsys.readouterr().out
    assert checks.nb04_overtake_k(1, ks, accs, 0.254, ses).passed is False
    out = capsys.readouterr().out
    assert "within the noise" in out and "standard error" in out
    assert checks.nb04_overtake_k(2, ks, accs, 0.254, ses).passed is False
    assert "still at or below" in capsys.readouterr().out
    assert checks.nb04_overtake_k(8, ks, accs, 0.254, ses).passed is False
    assert "smallest" in capsys.readouterr().out
    assert checks.nb04_overtake_k("never", ks, accs, 0.5, ses).passed is True
    with pytest.raises(ValueError, match="standard_errors"):
        checks.nb04_overtake_k(4, ks, accs, 0.254, ses[:2])
