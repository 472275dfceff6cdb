"""The notebook-03 exercise checks: solutions pass, stubs and typical mistakes get specific hints."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss

import mmlab as mm


def _stub(*args):
    raise NotImplementedError()


# ------------------------------------------------------------------ exercise 2 (two extreme batches)
def _collapsed(b):
    return math.log(b)


def _perfect(b, s):
    return math.log(1 + (b - 1) * math.exp(-s))


def test_extreme_losses_solution_passes_in_any_numeric_type(capsys):
    assert mm.checks.nb03_extreme_losses(_collapsed, _perfect)
    assert mm.checks.nb03_extreme_losses(lambda b: torch.log(torch.tensor(float(b))),
                                         lambda b, s: np.log1p((b - 1) * np.exp(-s)))
    # written as the cross-entropy itself: -log of the softmax probability of the right pair
    assert mm.checks.nb03_extreme_losses(lambda b: -math.log(1 / b),
                                         lambda b, s: -math.log(math.exp(s) / (math.exp(s) + b - 1)))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("collapsed, words", [
    (None, "empty"),
    (_stub, "NotImplementedError"),
    (4.1589, "expected a function"),            # the number, not a function
    (lambda b: 4.1589, "for every B"),           # a number read off an output, for B = 64
    (lambda b: 1 / b, "probability"),
    (lambda b: 0.0, "all the probability"),
    (lambda b: 2 * math.log(b), "sum of the two directions"),
    (lambda b: math.log2(b), "base"),
    (lambda b: math.log10(b), "base"),
    (lambda b: -math.log(b), "never negative"),
    (lambda b: math.log(b - 1), "B - 1 negatives"),
    (lambda b: "log(b)", "expected a number"),
    (lambda b: math.sqrt(b), "does not match"),
    # measured, not derived: the library loss on made-up features
    (lambda b: mm.losses.clip_loss(torch.ones(b, 2) / 2 ** 0.5, torch.ones(b, 2) / 2 ** 0.5, 1.0).item(), "measures"),
])
def test_extreme_losses_collapsed_mistakes(capsys, collapsed, words):
    assert not mm.checks.nb03_extreme_losses(collapsed, _perfect)
    out = capsys.readouterr().out
    assert "Not yet" in out and words in out


def _perfect_by_list(b, s):
    """The perfect batch's row written out in pure Python: no library name, caught at a non-integer B."""
    row = [s] + [0.0] * (b - 1)
    return math.log(sum(math.exp(x) for x in row)) - s


@pytest.mark.parametrize("perfect, words", [
    (None, "empty"),
    (_stub, "NotImplementedError"),
    (lambda b, s: 0.0, "not 0"),                                          # "perfect features, zero loss"
    (lambda b, s: math.log(1 + b * math.exp(-s)), "off by one"),
    (lambda b, s: (b - 1) * math.exp(-s), "approximation"),              # right at large scale only
    (lambda b, s: math.log(b - 1) - s, "denominator"),
    (lambda b, s: math.log(1 + (b - 1) * math.exp(-2 * s)), "cosine 0"),
    (lambda b, s: 2 * _perfect(b, s), "sum of the two directions"),
    (lambda b, s: math.exp(-s), "negatives are missing"),
    (lambda b, s: math.log(b), "same value at scale 1 and at scale 10"),   # the scale ignored
    (lambda b, s: math.log(1 + (b - 1) / math.e), "same value at scale 1 and at scale 10"),
    (lambda b, s: 3.19, "same value"),                                     # read off the success message
    (lambda b, s: math.log(b) - s, "does not match"),
    (lambda b, s: F.cross_entropy(s * torch.eye(b), torch.arange(b)).item(), "measures"),
    # measured by hand: the perfect batch built and its row loss written out (no loss helper named)
    (lambda b, s: ((s * torch.eye(b))[0].exp().sum().log() - s).item(), "measures"),
    (lambda b, s: (np.log(np.exp(s * np.eye(b)[0]).sum()) - s).item(), "measures"),
    (lambda b, s: 0.0 if s >= 20 else _perfect(b, s), "not 0"),         # rounded to 0 at large scales
    (lambda b, s: round(_perfect(b, s), 6), "not 0"),                     # rounded: 0.000001 at scale 20
    (_perfect_by_list, "without a loop over B"),   # a row written out: fails at B = 64.5, told to write a formula
])
def test_extreme_losses_perfect_mistakes(capsys, perfect, words):
    assert not mm.checks.nb03_extreme_losses(_collapsed, perfect)
    out = capsys.readouterr().out
    assert "Not yet" in out and words in out


def test_extreme_losses_approximation_is_caught_only_because_small_scales_are_checked():
    """(B - 1) e^-s agrees with the truth to 0.2 % at scale 10: the check must include small scales."""
    assert math.isclose((64 - 1) * math.exp(-10), _perfect(64, 10.0), rel_tol=2e-3)
    assert not math.isclose((64 - 1) * math.exp(-1), _perfect(64, 1.0), rel_tol=0.5)


# ------------------------------------------------------------------ exercise 1 (the CLIP loss)
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


def _text_detached(i, t, s):
    return _solution_clip(i, t.detach(), s)


def _text_no_grad(i, t, s):
    with torch.no_grad():
        t = t * 1.0
    return _solution_clip(i, t, s)


def _text_via_numpy(i, t, s):
    return _solution_clip(i, torch.from_numpy(t.detach().numpy()), s)


def _image_detached(i, t, s):
    return _solution_clip(i.detach(), t, s)


def _t2i_detached(i, t, s):
    logits = s * i @ t.T
    ar = torch.arange(len(i))
    return (F.cross_entropy(logits, ar) + F.cross_entropy(logits.detach().T, ar)) / 2


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


def _global_max_softmax(i, t, s):
    """Review 10: a hand-written softmax shifted by ONE max of the whole matrix: right at scale 7 and on an
    all-aligned or all-bad batch, NaN at scale 100 where some rows reach +100 and others sit at -100."""
    logits = s * i @ t.T

    def direction(m):
        p = torch.exp(m - m.max())
        return -torch.log(p.diagonal() / p.sum(dim=1)).mean()

    return (direction(logits) + direction(logits.T)) / 2


def _log_of_softmax(i, t, s):
    logits = s * i @ t.T
    return -(logits.softmax(1).diagonal().log().mean() + logits.T.softmax(1).diagonal().log().mean()) / 2


def _via_clip_logits(i, t, s):
    logits = mm.losses.clip_logits(i, t, s)
    logits = logits[0] if isinstance(logits, tuple) else logits
    ar = torch.arange(len(i))
    return (F.cross_entropy(logits, ar) + F.cross_entropy(logits.T, ar)) / 2


def _arange_six(i, t, s):
    logits = s * i @ t.T
    ar = torch.arange(6)
    return (F.cross_entropy(logits, ar) + F.cross_entropy(logits.T, ar)) / 2


def _in_place_normalised(i, t, s):
    i /= i.norm(dim=1, keepdim=True)
    t /= t.norm(dim=1, keepdim=True)
    return _solution_clip(i, t, s)


def _masked_arange_six(i, t, captions, s):
    same = torch.tensor([[a == b for b in captions] for a in captions]) & ~torch.eye(len(captions), dtype=torch.bool)
    logits = (s * i @ t.T).masked_fill(same, -float("inf"))
    ar = torch.arange(6)
    return (F.cross_entropy(logits, ar) + F.cross_entropy(logits.T, ar)) / 2


def _masked_fixed_mask(i, t, captions, s):
    """The mask of the batch of 6 written out by hand: right there, wrong for any other groups."""
    c = ["cat", "dog", "cat", "car", "dog", "cat"]
    same = torch.tensor([[a == b for b in c] for a in c]) & ~torch.eye(6, dtype=torch.bool)
    logits = s * i @ t.T
    logits = logits.masked_fill(same, -float("inf")) if len(i) == 6 else logits
    ar = torch.arange(len(i))
    return (F.cross_entropy(logits, ar) + F.cross_entropy(logits.T, ar)) / 2


def test_clip_loss_solution_and_library_pass(capsys):
    assert mm.checks.nb03_clip_loss(_solution_clip)
    assert "Correct" in capsys.readouterr().out


def _renormalised(i, t, s):
    """Review 5: F.normalize inside the loss (open_clip normalises in the model). Right value; the gradient lacks
    only its radial part, which the heads' own normalisation removes in training: accepted, with a note."""
    return _solution_clip(F.normalize(i, dim=1), F.normalize(t, dim=1), s)


def test_clip_loss_renormalising_inputs_is_accepted_and_named(capsys):
    assert mm.checks.nb03_clip_loss(_renormalised)
    out = capsys.readouterr().out
    assert "Correct" in out and "normalise the unit inputs again" in out
    assert "detach" not in out
    # but a detached side on top of the re-normalisation is still caught
    assert not mm.checks.nb03_clip_loss(lambda i, t, s: _renormalised(i, t.detach(), s))
    assert "gradient is not" in capsys.readouterr().out
    # and the plain solution gets no such note
    assert mm.checks.nb03_clip_loss(_solution_clip)
    assert "again" not in capsys.readouterr().out


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
    (_text_detached, "gradient is not"),      # review 4: one side cut off passed
    (_text_no_grad, "gradient is not"),
    (_text_via_numpy, "gradient is not"),
    (_image_detached, "gradient is not"),
    (_t2i_detached, "gradient is not"),       # one direction's term cut off
    (_exp_scale, "exp(logit_scale)"),
    (_double_softmax, "two softmaxes"),
    (_double_softmax_each_way, "two softmaxes"),
    (lambda i, t, s: torch.tensor(1.0), "differs"),
    # review 10: one global max shift (NaN on a mixed batch at scale 100), and the package's helpers
    (_global_max_softmax, "overflows float32"),
    # review 13: the log of torch's softmax: the positive's probability underflows to 0, log(0) = -inf
    (_log_of_softmax, "underflows to 0"),
    (lambda i, t, s: mm.losses.masked_clip_loss(i, t, range(len(i)), s), "write the loss yourself"),
    (_via_clip_logits, "write the loss yourself"),
    # review 14: the batch of 6 hard-coded (crashes at B = 8 in the notebook), and the inputs normalised in place
    (_arange_six, "batch size from outside the function"),
    (_in_place_normalised, "changed the features it was given"),
])
def test_clip_loss_mistakes_get_specific_hints(capsys, fn, words):
    assert not mm.checks.nb03_clip_loss(fn)
    out = capsys.readouterr().out
    assert "Not yet" in out and words in out


# ------------------------------------------------------------------ exercise 4 (semi-hard mining)
def _solution_semi(sim):
    own = torch.eye(len(sim), dtype=torch.bool)
    below = (sim < sim.diagonal()[:, None]) & ~own
    closest = sim.masked_fill(~below, -float("inf")).argmax(dim=1)
    farthest = sim.masked_fill(own, float("inf")).argmin(dim=1)
    return torch.where(below.any(dim=1), closest, farthest)


def _semi_variant(strict=True, fallback="farthest", fill=-float("inf"), keepdim=True, skip_diagonal=True):
    def fn(sim):
        own = torch.eye(len(sim), dtype=torch.bool)
        pos = sim.diagonal()[:, None] if keepdim else sim.diagonal()
        below = (sim < pos) if strict else (sim <= pos)
        if skip_diagonal:
            below = below & ~own
        closest = sim.masked_fill(~below, fill).argmax(dim=1)
        if fallback == "none":
            return closest
        other = (sim.masked_fill(own, -float("inf")).argmax(dim=1) if fallback == "hardest"
                 else sim.argmin(dim=1) if fallback == "with-positive"
                 else sim.masked_fill(own, float("inf")).argmin(dim=1))
        return torch.where(below.any(dim=1), closest, other)
    return fn


def _semi_in_place(sim):
    own = torch.eye(len(sim), dtype=torch.bool)
    pos = sim.diagonal().clone()[:, None]
    below = (sim < pos) & ~own
    farthest = sim.masked_fill(own, float("inf")).argmin(dim=1)
    closest = sim.masked_fill_(~below, -float("inf")).argmax(dim=1)   # damages the caller's matrix
    return torch.where(below.any(dim=1), closest, farthest)


def _semi_python_lists(sim):
    """Written with loops over rows and columns: correct, and accepted."""
    out = []
    for i, row in enumerate(sim.tolist()):
        below = [j for j, v in enumerate(row) if j != i and v < row[i]]
        others = [j for j in range(len(row)) if j != i]
        out.append(max(below, key=lambda j: row[j]) if below else min(others, key=lambda j: row[j]))
    return torch.tensor(out)


@pytest.mark.parametrize("fn, words", [
    (None, "empty"),
    (_stub, "NotImplementedError"),
    (lambda s: s.masked_fill(torch.eye(len(s), dtype=torch.bool), -float("inf")).argmax(dim=1), "hardest negatives"),
    (_semi_variant(strict=False), "`<=` instead of `<`"),                       # the tie row
    (_semi_variant(strict=False, skip_diagonal=False), "own positive"),          # <= lets the diagonal in
    (_semi_variant(fallback="none"), "arbitrary column"),                        # forgot the row without candidates
    (_semi_variant(fallback="hardest"), "fell back to the hardest"),
    (_semi_variant(fallback="with-positive"), "returns the positive itself"),
    (_semi_variant(fill=0.0), "filled the excluded cells with 0"),
    # review 13: the lowest cosine as the fill passes on cosines, fails on a general similarity matrix
    (_semi_variant(fill=-1.0), "fill of -1"),
    (_semi_variant(fill=-2.0), "values below -1"),
    (_semi_variant(keepdim=False), "broadcasts"),                                # diagonal() without [:, None]
    (lambda s: _solution_semi(s.T), "wrong axis"),
    (lambda s: s.max(dim=1).values, "integer"),
    (lambda s: torch.zeros(3, dtype=torch.long), "shape"),
    (_semi_in_place, "in-place"),
    (lambda s: mm.losses.semi_hard_negatives(s, torch.eye(len(s)), torch.arange(len(s))), "mm.losses.semi_hard"),
    (lambda s: mm.losses.semi_hard_columns(s), "mm.losses.semi_hard_columns"),
])
def test_semi_hard_negatives_mistakes(capsys, fn, words):
    assert not mm.checks.nb03_semi_hard_negatives(fn)
    out = capsys.readouterr().out
    assert "Not yet" in out and words in out


def test_semi_hard_negatives_solutions_pass(capsys):
    assert mm.checks.nb03_semi_hard_negatives(_solution_semi)
    assert mm.checks.nb03_semi_hard_negatives(lambda s: _solution_semi(s).numpy())
    assert mm.checks.nb03_semi_hard_negatives(_semi_python_lists)
    # a huge finite fill instead of -inf is as good
    assert mm.checks.nb03_semi_hard_negatives(_semi_variant(fill=-1e9))
    assert "Correct" in capsys.readouterr().out


def test_semi_hard_matrix_separates_every_mistake():
    """The check's matrix: every wrong variant of the table above differs from the right answer on it."""
    from mmlab.exercises._nb03_reference import _semi_hard_matrix, _semi_hard_ref

    sim = _semi_hard_matrix()
    right = _semi_hard_ref(sim)
    assert torch.equal(right, mm.losses.semi_hard_columns(sim))
    assert torch.equal(right, mm.losses.semi_hard_negatives(sim, torch.eye(len(sim)), torch.arange(len(sim))))
    for kw in [dict(strict=False), dict(fallback="none"), dict(fallback="hardest"),
               dict(fallback="farthest-with-positive"), dict(fill=0.0), dict(wrong_broadcast=True)]:
        assert not torch.equal(_semi_hard_ref(sim, **kw), right), kw


# ------------------------------------------------------------------ exercise 3 (duplicate-masked loss)
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


def _rows_only_masked(i, t, groups, s):
    same = torch.tensor([[a == b for b in groups] for a in groups]) & ~torch.eye(len(groups), dtype=torch.bool)
    logits = s * i @ t.T
    ar = torch.arange(len(i))
    return (F.cross_entropy(logits.masked_fill(same, -float("inf")), ar) + F.cross_entropy(logits.T, ar)) / 2


def _one_triangle_masked(i, t, groups, s):
    """A loop that marks (i, j) for j > i only: the later member of a group still sees the earlier one."""
    b = len(groups)
    mask = torch.zeros(b, b, dtype=torch.bool)
    for a in range(b):
        for c in range(a + 1, b):
            mask[a, c] = groups[a] == groups[c]
    logits = (s * i @ t.T).masked_fill(mask, -float("inf"))
    ar = torch.arange(b)
    return (F.cross_entropy(logits, ar) + F.cross_entropy(logits.T, ar)) / 2


def _exp_sum_masked(i, t, groups, s):
    """Review 5: the right loss by hand, log(sum(exp(logits) * keep)): e^-100 underflows in float32."""
    same = torch.tensor([[a == b for b in groups] for a in groups])
    keep = ~(same & ~torch.eye(len(groups), dtype=torch.bool))
    logits = s * i @ t.T
    rows = -(logits.diagonal() - torch.log((torch.exp(logits) * keep).sum(dim=1))).mean()
    cols = -(logits.diagonal() - torch.log((torch.exp(logits.T) * keep.T).sum(dim=1))).mean()
    return (rows + cols) / 2


def _exp_sum_masked_stable(i, t, groups, s):
    """The same by hand, but with the row maximum subtracted first (a stable logsumexp): right."""
    same = torch.tensor([[a == b for b in groups] for a in groups])
    keep = ~(same & ~torch.eye(len(groups), dtype=torch.bool))
    logits = s * i @ t.T

    def direction(m, k):
        top = m.max(dim=1, keepdim=True).values
        return -(m.diagonal() - top[:, 0] - torch.log((torch.exp(m - top) * k).sum(dim=1))).mean()

    return (direction(logits, keep) + direction(logits.T, keep.T)) / 2


def _global_max_masked(i, t, groups, s):
    """Review 10: the masked loss by hand with ONE max of the whole matrix subtracted: NaN on a mixed batch."""
    same = torch.tensor([[a == b for b in groups] for a in groups])
    keep = ~(same & ~torch.eye(len(groups), dtype=torch.bool))
    logits = s * i @ t.T

    def direction(m, k):
        p = torch.exp(m - m.max()) * k
        return -torch.log(p.diagonal() / p.sum(dim=1)).mean()

    return (direction(logits, keep) + direction(logits.T, keep.T)) / 2


def _log_of_masked_softmax(i, t, groups, s):
    """Review 11: log(softmax(masked logits)): the value is right, the gradient NaN (log 0 = -inf, 0 x inf)."""
    same = torch.tensor([[a == b for b in groups] for a in groups]) & ~torch.eye(len(groups), dtype=torch.bool)
    logits = (s * i @ t.T).masked_fill(same, -float("inf"))
    return -(torch.log(torch.softmax(logits, 1)).diagonal().mean() + torch.log(torch.softmax(logits.T, 1)).diagonal().mean()) / 2


def _masked_by_identity(i, t, captions, s):
    """Review 13: labels compared with `is`: right for literal strings (interned), wrong for ids above 256
    from tolist() (section 7) or strings built at run time."""
    same = torch.tensor([[a is b for b in captions] for a in captions]) & ~torch.eye(len(captions), dtype=torch.bool)
    logits = (s * i @ t.T).masked_fill(same, -float("inf"))
    ar = torch.arange(len(i))
    return (F.cross_entropy(logits, ar) + F.cross_entropy(logits.T, ar)) / 2


def test_masked_clip_loss_solution_passes(capsys):
    assert mm.checks.nb03_masked_clip_loss(_exp_sum_masked_stable)
    assert mm.checks.nb03_masked_clip_loss(_masked)
    assert mm.checks.nb03_masked_clip_loss(lambda i, t, c, s: _masked(i, t, c, s, fill=-1e9))
    assert "Correct" in capsys.readouterr().out
    # and the package's reference is right (it is the fallback of later cells)
    captions = ["cat", "dog", "cat", "car", "dog", "cat"]
    g = torch.Generator().manual_seed(0)
    i = F.normalize(torch.randn(6, 4, generator=g), dim=1)
    t = F.normalize(torch.randn(6, 4, generator=g), dim=1)
    torch.testing.assert_close(mm.losses.masked_clip_loss(i, t, captions, 3.0), _masked(i, t, captions, 3.0))


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
    (lambda i, t, c, s: _masked(i, t, c, s).detach(), "no gradient"),
    (lambda i, t, c, s: torch.tensor(_masked(i, t, c, s).item()), "no gradient"),   # rebuilt from a number
    (lambda i, t, c, s: _masked(i, t.detach(), c, s), "gradient is not"),          # one side cut off
    (lambda i, t, c, s: mm.losses.masked_clip_loss(i, t, c, s), "helper"),
    (_rows_only_masked, "unmasked logits"),
    (lambda i, t, c, s: _masked(i, t, c, s, diagonal=True, fill=-1e9), "diagonal"),   # the positives masked too
    (_one_triangle_masked, "one triangle"),
    (lambda i, t, c, s: 2 * _masked(i, t, c, s), "sum of the two directions"),
    # "the lowest a scaled cosine can be": passes at scale 10 (e^-10 is tiny), 8 % off at scale 1
    (lambda i, t, c, s: _masked(i, t, c, s, fill=-s), "-logit_scale"),
    (lambda i, t, c, s: _masked(i, t, c, s, fill=-1.0 * s), "still"),
    # a finite constant fill: below every logit of a good batch at scale 10 and 1, above them in a bad one at 100
    (lambda i, t, c, s: _masked(i, t, c, s, fill=-20.0), "finite number"),
    (lambda i, t, c, s: _masked(i, t, c, s, fill=-30.0), "finite number"),
    (lambda i, t, c, s: _masked(i, t, c, s, fill=-100.0), "finite number"),
    # review 5: the right formula by hand, exp then log: underflows at scale 100, told so (not "finite fill")
    (_exp_sum_masked, "underflows"),
    (lambda i, t, c, s: _masked(i, t, c, s, fill=-100.0), "ABOVE the other logits"),
    (_global_max_masked, "one max of the whole matrix"),   # review 10
    (_log_of_masked_softmax, "NaN or inf entries"),          # review 11: not blamed on .detach()
    (_masked_by_identity, "`is` tests identity"),           # review 13: passed with literal string labels
    (_masked_arange_six, "batch size from outside the function"),   # review 14: only batches of 6 were checked
    (_masked_fixed_mask, "batch of 8"),
])
def test_masked_clip_loss_mistakes(capsys, fn, words):
    assert not mm.checks.nb03_masked_clip_loss(fn)
    out = capsys.readouterr().out
    assert "Not yet" in out and words in out


# ------------------------------------------------------------------ exercise 5 (centring)
def _centre(z):
    c = z - z.mean(axis=0)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def _centre_in_place(z):
    z -= z.mean(axis=0)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    return z


def test_centre_solution_passes(capsys):
    assert mm.checks.nb03_centre(_centre)
    assert mm.checks.nb03_centre(lambda z: mm.embeddings.l2_normalize(z - z.mean(axis=0), name="z"))
    assert mm.checks.nb03_centre(lambda z: _centre_in_place(z.copy()))  # in place on its own copy is fine
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("fn, words", [
    (None, "empty"),
    (_stub, "NotImplementedError"),
    (lambda z: z - z.mean(axis=0), "no longer unit length"),
    (lambda z: z - z.mean(axis=1, keepdims=True), "own mean"),
    (lambda z: z, "unchanged"),
    (lambda z: z[:3], "shape"),
    (lambda z: _centre(z) * 2, "differs"),
    (_centre_in_place, "in place"),
    (lambda z: (z - z.mean(axis=0)) / np.linalg.norm(z - z.mean(axis=0)), "whole matrix"),
    (lambda z: (z - z.mean(axis=0)) / z.std(axis=0), "standardised"),
    # normalised first, centred second: the order swapped
    (lambda z: z / np.linalg.norm(z, axis=1, keepdims=True) - z.mean(axis=0), "no longer unit length"),
    (lambda z: mm.lit.centre(z), "calls the package"),
    (lambda z: (z - z.mean(axis=0)) / np.linalg.norm(z - z.mean(axis=0), axis=0), "each column"),
])
def test_centre_mistakes(capsys, fn, words):
    assert not mm.checks.nb03_centre(fn)
    out = capsys.readouterr().out
    assert "Not yet" in out and words in out


def _ranking_right(q, V, image_mean, text_mean, side):
    return np.zeros(len(V)) if side == "image" else -(V @ text_mean)


def test_centring_ranking(capsys):
    assert mm.checks.nb03_centring_ranking(_ranking_right)
    # a scalar 0 for the image side broadcasts; torch output is fine
    assert mm.checks.nb03_centring_ranking(lambda q, V, mi, mt, side: 0.0 if side == "image" else -(V @ mt))
    assert mm.checks.nb03_centring_ranking(
        lambda q, V, mi, mt, side: torch.from_numpy(_ranking_right(q, V, mi, mt, side)))
    assert "Correct" in capsys.readouterr().out


def _full_shift(q, V, mi, mt, side):   # centred score minus the original: includes the constant terms
    qc = q - mt if side != "image" else q
    Vc = V - mi if side != "text" else V
    return Vc @ qc - V @ q


@pytest.mark.parametrize("answer, words", [
    (..., "empty"),
    ({"image": False, "text": True, "both": True}, "expected a function"),   # the old dict answer
    (_full_shift, "same for every image"),                                     # constants kept
    (lambda q, V, mi, mt, side: np.zeros(len(V)), "differs"),                 # "a shift never matters"
    (lambda q, V, mi, mt, side: -(V @ mt), "side='image'"),                   # "centring changes everything"
    (lambda q, V, mi, mt, side: -(V @ mt) if side == "text" else np.zeros(len(V)), "side='both'"),  # "shifts cancel"
    (lambda q, V, mi, mt, side: np.zeros(len(V)) if side == "image" else V @ mt, "sign"),
    (lambda q, V, mi, mt, side: np.zeros(len(V)) if side == "text" else -(V @ mi), "side='image'"),  # sides swapped
    (lambda q, V, mi, mt, side: np.zeros(len(V)) if side == "image" else -(V @ mt - q @ mi), "same for every image"),
    (lambda q, V, mi, mt, side: 0.0, "differs"),
    (lambda q, V, mi, mt, side: -(V @ mt).sum(), "same for every image"),  # one number, not one per image
])
def test_centring_ranking_mistakes(capsys, answer, words):
    assert not mm.checks.nb03_centring_ranking(answer)
    out = capsys.readouterr().out
    assert "Not yet" in out and words in out


def test_centring_ranking_claim_holds():
    """The facts the answer rests on: centring the images never reorders them; centring the query, or both, can."""
    rng = np.random.default_rng(0)
    q = rng.normal(size=(5, 8))
    v = rng.normal(size=(30, 8)) + 1.0
    t = rng.normal(size=(5, 8)) + 1.0
    assert (np.argsort(-(q @ v.T), axis=1) == np.argsort(-(q @ (v - v.mean(0)).T), axis=1)).all()
    assert not (np.argsort(-(t @ v.T), axis=1) == np.argsort(-((t - t.mean(0)) @ v.T), axis=1)).all()
    assert not (np.argsort(-(t @ v.T), axis=1) == np.argsort(-((t - t.mean(0)) @ (v - v.mean(0)).T), axis=1)).all()


def _perfect_by_log_softmax(b, scale):
    return -F.log_softmax(scale * torch.eye(b), 1)[0, 0].item()


def _collapsed_by_log_softmax(b, scale):
    return -F.log_softmax(torch.zeros(b, b), 1)[0, 0].item()


def _perfect_by_module(b, scale):
    return torch.nn.CrossEntropyLoss()(scale * torch.eye(b), torch.arange(b)).item()


def _perfect_by_logsumexp(b, scale):
    row = scale * torch.eye(b)[0]
    return (torch.logsumexp(row, 0) - row[0]).item()


def _perfect_by_softmax(b, scale):
    return -math.log(torch.softmax(scale * torch.eye(b), 1)[0, 0].item())


def _perfect_by_nll(b, scale):
    return F.nll_loss(torch.log_softmax(scale * torch.eye(b), 1), torch.arange(b)).item()


@pytest.mark.parametrize("perfect", [_perfect_by_log_softmax, _perfect_by_module, _perfect_by_logsumexp,
                                     _perfect_by_softmax, _perfect_by_nll])
def test_extreme_losses_refuse_other_measuring_tools(capsys, perfect):
    collapsed = lambda b, s: math.log(b)  # noqa: E731
    assert not mm.checks.nb03_extreme_losses(collapsed, perfect)
    assert "measure" in capsys.readouterr().out


def test_extreme_losses_refuse_measured_collapsed(capsys):
    perfect = lambda b, s: math.log(1 + (b - 1) * math.exp(-s))  # noqa: E731
    assert not mm.checks.nb03_extreme_losses(_collapsed_by_log_softmax, perfect)
    assert "measure" in capsys.readouterr().out


def test_clip_loss_refuses_the_library_losses(capsys):
    """Exercise 1 asks for the loss itself: calling mm.losses.clip_loss or open_clip's ClipLoss is refused."""
    def via_mm(i, t, s):
        return mm.losses.clip_loss(i, t, s)

    def via_open_clip(i, t, s):
        return ClipLoss()(i, t, torch.as_tensor(s))

    for fn in (mm.losses.clip_loss, via_mm, via_open_clip):
        assert not mm.checks.nb03_clip_loss(fn)
        out = capsys.readouterr().out
        assert "Not yet" in out and "write the loss yourself" in out


def test_extreme_losses_a_loop_over_b_is_told_to_write_a_closed_formula(capsys):
    """Found refused as 'measured' by an outside reader: an honest derivation written as a sum over range(B - 1)."""
    def perfect_by_sum(b, s):
        return math.log(math.exp(s) + sum(math.exp(0) for _ in range(b - 1))) - s

    assert not mm.checks.nb03_extreme_losses(_collapsed, perfect_by_sum)
    out = capsys.readouterr().out
    assert "Not yet" in out and "without a loop over B" in out and "measures" not in out


# ------------------------------------------------------------------ review 6: the gradient to logit_scale
def _clip_scale_as_new_tensor(i, t, s):
    return _solution_clip(i, t, torch.tensor(s))          # "make it a tensor": a copy, cut from the parameter


def _clip_scale_as_float(i, t, s):
    return _solution_clip(i, t, float(s))                 # "handle a float": cuts the gradient too


def _clip_scale_item(i, t, s):
    return _solution_clip(i, t, s.item() if isinstance(s, torch.Tensor) else s)


def _clip_scale_detached(i, t, s):
    return _solution_clip(i, t, s.detach() if isinstance(s, torch.Tensor) else s)


@pytest.mark.parametrize("fn", [_clip_scale_as_new_tensor, _clip_scale_as_float, _clip_scale_item,
                                 _clip_scale_detached])
def test_clip_loss_refuses_a_scale_cut_from_its_gradient(capsys, fn):
    """Review 6: CLIP trains its scale through the loss; the value alone cannot show the cut."""
    assert not mm.checks.nb03_clip_loss(fn)
    out = capsys.readouterr().out
    assert "Not yet" in out and "learnable logit_scale" in out and "d loss / d scale" in out


@pytest.mark.parametrize("fn", [
    lambda i, t, c, s: _masked(i, t, c, torch.tensor(s)),
    lambda i, t, c, s: _masked(i, t, c, float(s)),
    lambda i, t, c, s: _masked(i, t, c, s.detach() if isinstance(s, torch.Tensor) else s),
])
def test_masked_clip_loss_refuses_a_scale_cut_from_its_gradient(capsys, fn):
    """Review 6: cell 68 trains with a learnable scale; a cut one would confound its hard-vs-masked comparison."""
    assert not mm.checks.nb03_masked_clip_loss(fn)
    out = capsys.readouterr().out
    assert "Not yet" in out and "learnable logit_scale" in out


def test_losses_pass_with_a_learnable_scale_tensor(capsys):
    assert mm.checks.nb03_clip_loss(lambda i, t, s: _solution_clip(i, t, torch.as_tensor(s)))
    assert mm.checks.nb03_masked_clip_loss(lambda i, t, c, s: _masked(i, t, c, torch.as_tensor(s)))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("perfect", [
    lambda b, s: float(torch.logsumexp(torch.tensor([0.0, math.log(b - 1) - s]), 0)),   # review 6: exact, stable
    lambda b, s: -float(torch.log_softmax(torch.tensor([s, math.log(b - 1)]), 0)[0]),
    lambda b, s: -math.log(float(torch.softmax(torch.tensor([s, math.log(b - 1)]), 0)[0])),
])
def test_extreme_losses_accept_a_closed_form_written_with_logsumexp(capsys, perfect):
    """A formula of B through a stable logsumexp over two terms is a derivation, not a measurement."""
    assert mm.checks.nb03_extreme_losses(_collapsed, perfect)
    assert "Correct" in capsys.readouterr().out


def test_extreme_losses_float32_cancellation_is_told_so(capsys):
    """Review 11: logsumexp([s, log(B-1)]) - s in float32 cancels to 0 at scale 20: the hint names float32."""
    perfect = lambda b, s: float(torch.logsumexp(torch.tensor([s, math.log(b - 1)]), 0) - s)  # noqa: E731
    assert not mm.checks.nb03_extreme_losses(_collapsed, perfect)
    out = capsys.readouterr().out
    assert "Not yet" in out and "float32" in out


# ------------------------------------------------------------------ review 7
def _clip_exp_by_hand(i, t, s):
    """The right formula with a softmax exponentiated by hand: passes at scale 7, nan at scale 100."""
    logits = s * i @ t.T
    p = logits.exp() / logits.exp().sum(1, keepdim=True)
    q = logits.exp() / logits.exp().sum(0, keepdim=True)
    return -(p.diag().log().mean() + q.diag().log().mean()) / 2


def _clip_exp_by_hand_log(i, t, s):
    """The same with -log(e^diag / sum e^row) written out: inf - inf at scale 100."""
    logits = s * i @ t.T
    return -((logits.diag() - logits.exp().sum(1).log()).mean() + (logits.diag() - logits.exp().sum(0).log()).mean()) / 2


@pytest.mark.parametrize("fn", [_clip_exp_by_hand, _clip_exp_by_hand_log])
def test_clip_loss_refuses_a_softmax_exponentiated_by_hand(capsys, fn):
    """Review 7: the one wrong answer that passed; the notebook itself runs the loss at scale 100."""
    assert not mm.checks.nb03_clip_loss(fn)
    out = capsys.readouterr().out
    assert "Not yet" in out and "logit_scale 100" in out and "overflows" in out and "F.cross_entropy" in out


@pytest.mark.parametrize("fn", [
    lambda i, t, s: -((s * i @ t.T).diag() - (s * i @ t.T).logsumexp(1)).mean() / 2
    - ((s * i @ t.T).diag() - (s * i @ t.T).logsumexp(0)).mean() / 2,                       # stable by hand
])
def test_clip_loss_accepts_stable_hand_written_losses_at_scale_100(capsys, fn):
    assert mm.checks.nb03_clip_loss(fn)
    assert "Correct" in capsys.readouterr().out


def test_clip_loss_refuses_the_log_of_a_softmax(capsys):
    """Review 11: log(softmax) is exact until a row's own pair sits ~104 below its highest logit at scale 100:
    then softmax underflows to 0 and the loss is inf (F.cross_entropy stays finite)."""
    def log_of_softmax(i, t, s):
        return -(torch.softmax(s * i @ t.T, 1).diag().log().mean() + torch.softmax(s * i @ t.T, 0).diag().log().mean()) / 2

    assert not mm.checks.nb03_clip_loss(log_of_softmax)
    out = capsys.readouterr().out
    assert "Not yet" in out and "logit_scale 100" in out and "own pairs point apart" in out and "inf" in out


def _masked_before_scaling(i, t, c, s):
    """Mask the cosines with -inf, then multiply by the scale: right value, nan gradient to the scale (0 x -inf)."""
    b = len(c)
    same = torch.tensor([[x == y for y in c] for x in c]) & ~torch.eye(b, dtype=torch.bool)
    logits = s * (i @ t.T).masked_fill(same, -float("inf"))
    targets = torch.arange(b)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def test_masked_clip_loss_masking_before_scaling_is_told_why_the_gradient_is_nan(capsys):
    """Review 7: the hint named float()/.item()/.detach(), none of which this learner used."""
    assert not mm.checks.nb03_masked_clip_loss(_masked_before_scaling)
    out = capsys.readouterr().out
    assert "Not yet" in out and "0 x -inf = nan" in out and "Multiply by the scale first, then mask" in out
    assert ".item()" not in out


def test_extreme_losses_loop_message_names_the_closed_formula_the_exercise_asks_for(capsys):
    """Review 7: a correct sum over range(B - 1) is told the exercise asks for a closed formula for any real B."""
    def perfect_by_loop(b, s):
        return math.log(1 + sum(math.exp(-s) for _ in range(b - 1)))

    assert not mm.checks.nb03_extreme_losses(_collapsed, perfect_by_loop)
    out = capsys.readouterr().out
    assert "Not yet" in out and "closed formula, valid for any real B" in out


# ------------------------------------------------------------------ review 9: the cap inside the loss
@pytest.mark.parametrize("fn", [
    lambda i, t, s: _solution_clip(i, t, torch.as_tensor(s).clamp(max=100.0)),
    lambda i, t, s: _solution_clip(i, t, torch.clamp(torch.as_tensor(s), 0, 100)),
    lambda i, t, s: _solution_clip(i, t, min(s, 100.0)),
    lambda i, t, s: _solution_clip(i, t, torch.as_tensor(s).clamp(1.0, 100.0)),
])
def test_clip_loss_refuses_the_cap_inside_the_loss(capsys, fn):
    """Review 9: open_clip clamps the parameter after the optimiser step; a clamp in forward zeroes the gradient."""
    assert not mm.checks.nb03_clip_loss(fn)
    out = capsys.readouterr().out
    assert "Not yet" in out and "clamp" in out and "150" in out


def test_capped_scale_case_has_a_nonzero_reference_gradient():
    import torch.nn.functional as F

    from mmlab.exercises._nb03_reference import _reference_clip_loss
    g = torch.Generator().manual_seed(3)
    img = F.normalize(torch.randn(6, 8, generator=g), dim=1).double()
    txt = F.normalize(img + 0.8 * torch.randn(6, 8, generator=g, dtype=torch.float64), dim=1)
    s = torch.tensor(150.0, dtype=torch.float64, requires_grad=True)
    grad, = torch.autograd.grad(sum(_reference_clip_loss(img, txt, s * 1.0)) / 2, s)
    assert abs(float(grad)) > 1e-3


# ------------------------------------------------------------------ the notebook's global B = 8 inside a loss
B = 8   # as in the notebook (cell 5): a learner's torch.arange(B) picks this up


def _clip_global_b(i, t, s):
    logits = s * i @ t.T
    return (F.cross_entropy(logits, torch.arange(B)) + F.cross_entropy(logits.T, torch.arange(B))) / 2


def _masked_global_b(i, t, groups, s):
    same = torch.tensor([[a == b for b in groups] for a in groups])
    logits = (s * i @ t.T).masked_fill(same & ~torch.eye(len(groups), dtype=torch.bool), -float("inf"))
    return (F.cross_entropy(logits, torch.arange(B)) + F.cross_entropy(logits.T, torch.arange(B))) / 2


@pytest.mark.parametrize("check, fn", [(mm.checks.nb03_clip_loss, _clip_global_b),
                                       (mm.checks.nb03_masked_clip_loss, _masked_global_b)])
def test_global_batch_size_is_named(capsys, check, fn):
    assert not check(fn)
    out = capsys.readouterr().out
    assert "Not yet" in out and "global B" in out and "len(image_features)" in out
