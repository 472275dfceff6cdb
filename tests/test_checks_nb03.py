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


def test_uninformative_loss_accepts_scalar_tensors_and_arrays(capsys):
    assert mm.checks.nb03_uninformative_loss(torch.tensor(math.log(64)), 64)
    assert mm.checks.nb03_uninformative_loss(np.float32(math.log(64)), 64)
    assert mm.checks.nb03_uninformative_loss(np.array(math.log(64)), 64)
    assert "Correct" in capsys.readouterr().out
    assert not mm.checks.nb03_uninformative_loss(torch.ones(3), 64)
    assert "shape" in capsys.readouterr().out


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


def _exp_scale(i, t, s):
    return _solution_clip(i, t, math.exp(s))


def _double_softmax(i, t, s):
    probs = (s * i @ t.T).softmax(dim=1)
    ar = torch.arange(len(i))
    return (F.cross_entropy(probs, ar) + F.cross_entropy(probs.T, ar)) / 2


def _double_softmax_each_way(i, t, s):
    logits = s * i @ t.T
    ar = torch.arange(len(i))
    return (F.cross_entropy(logits.softmax(dim=1), ar) + F.cross_entropy(logits.T.softmax(dim=1), ar)) / 2


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
    (_exp_scale, "exp(logit_scale)"),
    (_double_softmax, "two softmaxes"),
    (_double_softmax_each_way, "two softmaxes"),
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
    (lambda s: s.masked_fill(torch.eye(len(s), dtype=torch.bool), 0.0).argmax(dim=1), "with 0"),
    (lambda s: (s - torch.eye(len(s)) * s.diagonal()).argmax(dim=1), "with 0"),
    (lambda s: s.topk(2, dim=1).indices[:, 1], "second-best"),
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


def test_hardest_negatives_large_negative_mask_passes(capsys):
    assert mm.checks.nb03_hardest_negatives(
        lambda s: s.masked_fill(torch.eye(len(s), dtype=torch.bool), -1e9).argmax(dim=1))


# ------------------------------------------------------------------ exercise 2 (duplicate-masked loss)
def _masked(i, t, captions, s, fill=-float("inf"), diagonal=False, both=True):
    same = torch.tensor([[a == b for b in captions] for a in captions])
    mask = same if diagonal else same & ~torch.eye(len(captions), dtype=torch.bool)
    logits = (s * i @ t.T).masked_fill(mask, fill)
    ar = torch.arange(len(i))
    i2t = F.cross_entropy(logits, ar)
    return (i2t + F.cross_entropy(logits.T, ar)) / 2 if both else i2t


def _soft(i, t, captions, s):
    same = torch.tensor([[a == b for b in captions] for a in captions], dtype=i.dtype)
    target = same / same.sum(dim=1, keepdim=True)
    logits = s * i @ t.T
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def test_masked_clip_loss_solution_passes(capsys):
    assert mm.checks.nb03_masked_clip_loss(_masked)
    assert mm.checks.nb03_masked_clip_loss(lambda i, t, c, s: _masked(i, t, c, s, fill=-1e9))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("fn, words", [
    (None, "empty"),
    (_stub, "NotImplementedError"),
    (lambda i, t, c, s: _solution_clip(i, t, s), "still counted as negatives"),
    (lambda i, t, c, s: _masked(i, t, c, s, fill=0.0), "logit of 0"),
    (lambda i, t, c, s: _masked(i, t, c, s, diagonal=True), "diagonal"),
    (lambda i, t, c, s: _masked(i, t, c, s, both=False), "image->text"),
    (_soft, "soft-target"),
    (lambda i, t, c, s: float(_masked(i, t, c, s)), "torch tensor"),
    (lambda i, t, c, s: torch.ones(2), "scalar"),
    (lambda i, t, c, s: torch.tensor(3.0), "differs"),
])
def test_masked_clip_loss_mistakes(capsys, fn, words):
    assert not mm.checks.nb03_masked_clip_loss(fn)
    out = capsys.readouterr().out
    assert "Not yet" in out and words in out


# ------------------------------------------------------------------ exercise 4 (centring)
def _centre(z):
    c = z - z.mean(axis=0)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def test_centre_solution_passes(capsys):
    assert mm.checks.nb03_centre(_centre)
    assert mm.checks.nb03_centre(lambda z: mm.embeddings.l2_normalize(z - z.mean(axis=0), name="z"))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("fn, words", [
    (None, "empty"),
    (_stub, "NotImplementedError"),
    (lambda z: z - z.mean(axis=0), "no longer unit length"),
    (lambda z: z - z.mean(axis=1, keepdims=True), "own mean"),
    (lambda z: z, "unchanged"),
    (lambda z: z[:3], "shape"),
    (lambda z: _centre(z) * 2, "differs"),
])
def test_centre_mistakes(capsys, fn, words):
    assert not mm.checks.nb03_centre(fn)
    out = capsys.readouterr().out
    assert "Not yet" in out and words in out


def test_centring_ranking(capsys):
    assert mm.checks.nb03_centring_ranking("text")
    assert mm.checks.nb03_centring_ranking(" Text ")
    assert "Correct" in capsys.readouterr().out
    for wrong, words in [("image", "cannot reorder"), ("both", "cannot reorder"), ("neither", "does change"),
                         ("maybe", "expected one of"), (..., "empty")]:
        assert not mm.checks.nb03_centring_ranking(wrong)
        assert words in capsys.readouterr().out


def test_centring_ranking_claim_holds():
    """The fact the answer rests on: centring the images never reorders them; centring the query can."""
    rng = np.random.default_rng(0)
    q = rng.normal(size=(5, 8))
    v = rng.normal(size=(30, 8)) + 1.0
    t = rng.normal(size=(5, 8)) + 1.0
    assert (np.argsort(-(q @ v.T), axis=1) == np.argsort(-(q @ (v - v.mean(0)).T), axis=1)).all()
    assert not (np.argsort(-(t @ v.T), axis=1) == np.argsort(-((t - t.mean(0)) @ v.T), axis=1)).all()
