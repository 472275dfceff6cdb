"""The notebook-03 exercise checks: solutions pass, stubs and typical mistakes get specific hints."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mmlab as mm


def _stub(*args):
    raise NotImplementedError()


# ------------------------------------------------------------------ exercise 1
def test_uninformative_loss(capsys):
    assert mm.checks.nb03_uninformative_loss(math.log(64), 64)
    assert "Correct" in capsys.readouterr().out
    assert not mm.checks.nb03_uninformative_loss(..., 64)
    assert "empty" in capsys.readouterr().out
    assert not mm.checks.nb03_uninformative_loss(1 / 64, 64)
    assert "probability" in capsys.readouterr().out
    assert not mm.checks.nb03_uninformative_loss(0, 64)
    assert "softmax" in capsys.readouterr().out
    assert not mm.checks.nb03_uninformative_loss(math.log2(64), 64)
    assert "base" in capsys.readouterr().out
    assert not mm.checks.nb03_uninformative_loss(2 * math.log(64), 64)
    assert "average" in capsys.readouterr().out
    assert not mm.checks.nb03_uninformative_loss("log(64)", 64)
    assert "expected a number" in capsys.readouterr().out


# ------------------------------------------------------------------ exercise 2
def _solution_clip(image_features, text_features, logit_scale):
    logits = logit_scale * image_features @ text_features.T
    t = torch.arange(len(logits))
    return (F.cross_entropy(logits, t) + F.cross_entropy(logits.T, t)) / 2


def _one_direction(i, t, s):
    return F.cross_entropy(s * i @ t.T, torch.arange(len(i)))


def _summed(i, t, s):
    logits = s * i @ t.T
    ar = torch.arange(len(i))
    return F.cross_entropy(logits, ar) + F.cross_entropy(logits.T, ar)


def _no_scale(i, t, s):
    return _solution_clip(i, t, 1.0)


def _divided(i, t, s):
    return _solution_clip(i, t, 1 / s)


def _sum_reduction(i, t, s):
    logits = s * i @ t.T
    ar = torch.arange(len(i))
    return (F.cross_entropy(logits, ar, reduction="sum") + F.cross_entropy(logits.T, ar, reduction="sum")) / 2


def _as_float(i, t, s):
    return float(_solution_clip(i, t, s))


def _per_row(i, t, s):
    logits = s * i @ t.T
    return F.cross_entropy(logits, torch.arange(len(i)), reduction="none")


def _detached(i, t, s):
    return _solution_clip(i, t, s).detach()


def test_clip_loss_solution_and_library_pass(capsys):
    assert mm.checks.nb03_clip_loss(_solution_clip)
    assert mm.checks.nb03_clip_loss(mm.losses.clip_loss)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("fn, words", [
    (None, "empty"),
    (_stub, "NotImplementedError"),
    (_one_direction, "one direction"),
    (_summed, "twice"),
    (_no_scale, "logit_scale"),
    (_divided, "divided"),
    (_sum_reduction, "batch size"),
    (_as_float, "torch tensor"),
    (_per_row, "scalar"),
    (_detached, "gradient"),
    (lambda i, t, s: torch.tensor(1.0), "differs"),
])
def test_clip_loss_mistakes_get_specific_hints(capsys, fn, words):
    assert not mm.checks.nb03_clip_loss(fn)
    out = capsys.readouterr().out
    assert "Not yet" in out and words in out


# ------------------------------------------------------------------ exercise 3
def _solution_hard(sim):
    return sim.masked_fill(torch.eye(len(sim), dtype=torch.bool), -float("inf")).argmax(dim=1)


@pytest.mark.parametrize("fn, words", [
    (None, "empty"),
    (_stub, "NotImplementedError"),
    (lambda s: s.argmax(dim=1), "diagonal"),
    (lambda s: s.masked_fill(torch.eye(len(s), dtype=torch.bool), float("inf")).argmin(dim=1), "LEAST"),
    (lambda s: s.masked_fill(torch.eye(len(s), dtype=torch.bool), -float("inf")).argmax(dim=0), "axis"),
    (lambda s: s.max(dim=1).values, "integer"),
    (lambda s: torch.zeros(3, dtype=torch.long), "shape"),
])
def test_hardest_negatives_mistakes(capsys, fn, words):
    assert not mm.checks.nb03_hardest_negatives(fn)
    out = capsys.readouterr().out
    assert words in out


def test_hardest_negatives_solution_and_library_pass(capsys):
    assert mm.checks.nb03_hardest_negatives(_solution_hard)
    # the library helper works on distances; 1 - sim turns similarity into a distance ranking
    assert mm.checks.nb03_hardest_negatives(lambda s: _solution_hard(s).numpy())
    assert "Correct" in capsys.readouterr().out


# ------------------------------------------------------------------ exercise 4
def test_modality_gap(capsys):
    rng = np.random.default_rng(0)
    img = rng.normal(size=(20, 4)) + 1.0
    txt = rng.normal(size=(20, 4))
    gap = float(np.linalg.norm(img.mean(0) - txt.mean(0)))
    assert mm.checks.nb03_modality_gap(gap, img, txt)
    assert "Correct" in capsys.readouterr().out
    assert not mm.checks.nb03_modality_gap(..., img, txt)
    assert "empty" in capsys.readouterr().out
    assert not mm.checks.nb03_modality_gap(gap ** 2, img, txt)
    assert "squared" in capsys.readouterr().out
    assert not mm.checks.nb03_modality_gap(float(np.linalg.norm(img - txt, axis=1).mean()), img, txt)
    assert "centres" in capsys.readouterr().out
    assert not mm.checks.nb03_modality_gap(img.mean(0) - txt.mean(0), img, txt)
    assert "single number" in capsys.readouterr().out
    assert not mm.checks.nb03_modality_gap(0.0, img, txt)
    assert "not the distance" in capsys.readouterr().out
    with pytest.raises(ValueError, match="image_features"):
        mm.checks.nb03_modality_gap(1.0, img, txt[:, :3])
