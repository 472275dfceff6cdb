"""Tests of the notebook-02 exercise checks: solutions pass; the wrong answers learners write are
rejected, each with a hint that names the mistake, on inputs where the mistake shows."""
import numpy as np
import pytest
import torch

import mmlab as mm
from mmlab import checks
from mmlab.fusion import concat_embeddings, mean_of_present, product_fusion


def test_checks_are_exported():
    for name in ("nb02_concat_dot", "nb02_concat_embeddings", "nb02_product_fusion", "nb02_mean_of_present",
                 "nb02_predict_no_text"):
        assert callable(getattr(checks, name))


def _stub(*args):
    raise NotImplementedError()


# ---------------------------------------------------------------- exercise 1: predict

def test_concat_dot_solution_passes(capsys):
    assert checks.nb02_concat_dot("a").passed is True
    assert checks.nb02_concat_dot(" A ").passed is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer, needle", [
    (None, "still empty"), (..., "still empty"), ("e", "letters 'a', 'b', 'c' or 'd'"),
    ("b", "mean of the two cosines"),             # assumed the blocks were scaled
    ("c", "every coordinate contributes"),        # picked the larger cosine
    ("d", "length sqrt(2)"),                      # "normalised vectors have dot product at most 1"
    (1.4, "letter of your choice"),               # the number instead of its letter
])
def test_concat_dot_wrong_answers_get_hints(capsys, answer, needle):
    result = checks.nb02_concat_dot(answer)
    assert result.passed is False and not result
    assert needle in capsys.readouterr().out


# ------------------------------------------ exercise 4: predict the "no text" column

def test_predict_no_text_solution_passes(capsys):
    # the key: (a) attention, (c) product, (e) the MLP on the concatenation. In each the image's and audio's
    # effect on the class scores depends on the text (a softmax renormalised over what is left, a multiplier
    # set to 1, the text's part of every sum inside a ReLU); (b) and (d) add one term per modality.
    for answer in ("a, c, e", "e, c, a", "ace", " C and A and E ", ["c", "a", "e"], ("a", "e", "c"), "a c c e"):
        assert checks.nb02_predict_no_text(answer).passed is True, answer
    assert "Correct" in capsys.readouterr().out


def test_predict_no_text_docstring_keeps_the_key_out():
    doc = checks.nb02_predict_no_text.__doc__ or ""
    assert "(a) and (c)" not in doc and "ace" not in doc.replace(" ", "") and "multiplier" not in doc


@pytest.mark.parametrize("answer, needle", [
    (None, "still empty"), (..., "still empty"), ("f", "letters 'a' to 'e'"),
    ("intermediate (product)", "letters of the models"),  # the name instead of its letter
    ("a, c", "not the set of models"),  # the key of the earlier four-option version: the MLP forgotten
    ("a, c", "Judge the mechanism, not the damage"),
    ("c", "not the set of models"),
    ("a, c, e, d", "Judge the mechanism, not the damage"),  # hedging with concatenation
    ("b, c", "Judge the mechanism, not the damage"),  # "early fusion needs every block; zeros are the worst fill"
    ("c, d", "Judge the mechanism, not the damage"),  # "the best model with everything has the most to lose"
    ("a d", "ReLU over a sum"),
    ("b, d", "not the set of models"),   # the two "simple" models
    ("a, b, c, d, e", "Judge the mechanism, not the damage"),  # all of them
    ("e", "ReLU over a sum"),          # the MLP alone (the section 4 interaction model)
    (1.4, "letters 'a' to 'e'"),
])
def test_predict_no_text_wrong_answers_get_hints(capsys, answer, needle):
    result = checks.nb02_predict_no_text(answer)
    assert result.passed is False and not result
    out = capsys.readouterr().out
    assert needle in out
    # review 6, defect 10: the feedback never names which letter is wrong (no answer by elimination)
    assert not any(f"({k})" in out or f"in {k}" in out for k in "abcde")
    # review 7, defect 7: nor how many letters are extra or missing (no answer by trial)
    assert "left out" not in out and "you picked" not in out
    assert isinstance(answer, float) or not any(ch.isdigit() for ch in out)
    # review 8, defect 1: no per-model reason on a failing answer (a reason for an extra letter identifies it)
    assert "zero text block" not in out and "one term per modality" not in out


@pytest.mark.parametrize("first", ["abcde", "a, b, c, e", "a, c, d, e", "a b c d e", "b, d", "a, b, c", "c, d, e"])
def test_predict_no_text_wrong_answers_all_get_the_same_feedback(capsys, first):
    # review 8, defect 1: "abcde" printed the reasons for (b) and (d), and "ace" then passed on the second try;
    # every wrong letter set must now get the same text, so a failing answer says nothing about which letters
    checks.nb02_predict_no_text("a, c")
    baseline = capsys.readouterr().out
    assert checks.nb02_predict_no_text(first).passed is False
    assert capsys.readouterr().out == baseline


def test_predict_no_text_debrief_after_a_pass(capsys):
    assert checks.nb02_predict_no_text("a, c, e").passed is True
    out = capsys.readouterr().out
    assert "zero text block" in out and "one term per modality" in out


# --------------------------------------------------------- exercise 2: concatenation

def _solution_concat(features, weights):
    total = sum(weights.values())
    return np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(weights[m] / total)
                           for m, x in features.items()], axis=1)


def test_concat_solution_passes(capsys):
    assert checks.nb02_concat_embeddings(_solution_concat).passed is True
    assert "Correct" in capsys.readouterr().out


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


def _columns_normalised(features, weights):
    total = sum(weights.values())
    return np.concatenate([x / np.linalg.norm(x, axis=0, keepdims=True) * np.sqrt(weights[m] / total)
                           for m, x in features.items()], axis=1)


def _in_place(features, weights):
    total = sum(weights.values())
    for m, x in features.items():
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        x *= np.sqrt(weights[m] / total)
    return np.concatenate(list(features.values()), axis=1)


def _calls_the_helper(features, weights):
    return concat_embeddings(features, weights)


def _calls_the_helper_through_mm(features, weights):
    return mm.fusion.concat_embeddings(features, weights)


def _stacked_wrong_axis(features, weights):
    return np.concatenate(list(features.values()), axis=0)


def _scaled_then_normalised(f, w):
    total = sum(w.values())
    blocks = [x * np.sqrt(w[m] / total) for m, x in f.items()]
    return np.concatenate([b / np.linalg.norm(b, axis=1, keepdims=True) for b in blocks], axis=1)


def _weights_renormalised_in_place(features, weights):
    total = sum(weights.values())
    for m in weights:
        weights[m] /= total
    return np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(weights[m])
                           for m, x in features.items()], axis=1)


def _weights_popped(features, weights):  # consumes the dict as it goes
    total = sum(weights.values())
    return np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(weights.pop(m) / total)
                           for m, x in features.items()], axis=1)


def _dict_entries_reassigned(f, w):
    total = sum(w.values())
    for m in f:
        f[m] = f[m] / np.linalg.norm(f[m], axis=1, keepdims=True) * np.sqrt(w[m] / total)
    return np.concatenate(list(f.values()), axis=1)


@pytest.mark.parametrize("fn, needle", [
    (None, "still empty"),
    (_stub, "NotImplementedError"),
    (_calls_the_helper, "calls mmlab's concat_embeddings"),           # issue 23: the helper called, not written
    (_calls_the_helper_through_mm, "calls mmlab's concat_embeddings"),
    (lambda f, w: concat_embeddings(f, w), "calls mmlab's concat_embeddings"),
    (_no_normalisation, "normalise each modality"),
    (_no_sqrt, "square root"),
    (_no_total, "divide the weights by their sum"),
    (_weights_ignored, "the weights changed nothing"),
    (lambda f, w: np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) for x in f.values()], axis=1),
     "the weights changed nothing"),
    (_normalised_after_concatenating, "you normalised the whole concatenated row"),
    (lambda f, w: _normalised_after_concatenating(f, {m: 1.0 for m in f}), "you normalised the whole concatenated row"),
    (_w_instead_of_sqrt_w, "scale by the square root"),
    (_columns_normalised, "axis=1"),
    (_in_place, "changed the arrays it was given"),
    (lambda f, w: _solution_concat(dict(reversed(list(f.items()))), w), "not the features dict's"),
    # found passing by an outside reader: weights matched to the blocks by position, or blocks in the weights' order
    (lambda f, w: np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(v / sum(w.values()))
                                  for x, v in zip(f.values(), w.values())], axis=1), "by position"),
    (lambda f, w: np.concatenate([f[m] / np.linalg.norm(f[m], axis=1, keepdims=True) * np.sqrt(v / sum(w.values()))
                                  for m, v in w.items()], axis=1), "not the features dict's"),
    (lambda f, w: np.zeros((5, 13)) + 1.0, "differ"),
    # found passing by a second outside reader: blocks in alphabetical order of the names
    (lambda f, w: _solution_concat({m: f[m] for m in sorted(f)}, w), "sorted (alphabetical) order"),
    # run by the third outside reader: scaled then normalised (the weights vanish), weights over their max,
    # w / sqrt(sum w^2), and the dict's entries reassigned (which got the in-place hint before)
    (_scaled_then_normalised, "the weights changed nothing"),
    (lambda f, w: np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(w[m] / max(w.values()))
                                  for m, x in f.items()], axis=1), "not their largest value"),
    (lambda f, w: np.concatenate([x / np.linalg.norm(x, axis=1, keepdims=True) * w[m] / np.sqrt(sum(v * v for v in w.values()))
                                  for m, x in f.items()], axis=1), "scale by the square root"),
    (_dict_entries_reassigned, "replaced entries of the features dict"),
    (lambda f, w: np.concatenate([f[m] / np.linalg.norm(f[m], axis=1, keepdims=True) * np.sqrt(w[m] / sum(w.values()))
                                  for m in sorted(f)], axis=1), "sorted (alphabetical) order"),
    # found passing by the fifth outside reader: the right output, but the caller's weights renormalised in place
    (_weights_renormalised_in_place, "changed the weights dict"),
    (_weights_popped, "changed the weights dict"),
])
def test_concat_typical_mistakes_get_specific_hints(capsys, fn, needle):
    assert checks.nb02_concat_embeddings(fn).passed is False
    assert needle in capsys.readouterr().out


def test_concat_wrong_axis_reports_the_shape(capsys):
    # the blocks have different widths, so concatenating along rows fails inside the learner's code
    assert checks.nb02_concat_embeddings(_stacked_wrong_axis).passed is False
    assert "raised ValueError" in capsys.readouterr().out


def test_concat_helper_is_found_under_an_alias(capsys):
    alias = concat_embeddings
    assert checks.nb02_concat_embeddings(lambda f, w: alias(f, w)).passed is False
    assert "calls mmlab's concat_embeddings" in capsys.readouterr().out


# ---------------------------------------------------- exercise 3: multiplicative fusion

def _solution_product(factors, mask):
    fused = torch.ones_like(factors[0])
    for m, z in enumerate(factors):
        fused = fused * torch.where(mask[:, m:m + 1], 1 + z, torch.ones_like(z))
    return fused


def test_product_solution_and_a_second_correct_form_pass(capsys):
    assert checks.nb02_product_fusion(_solution_product).passed is True

    def with_prod(factors, mask):  # another correct way: stack, replace absent by 0, then prod of 1 + z
        z = torch.stack(factors, dim=1) * mask[:, :, None]
        return torch.prod(1 + z, dim=1)

    assert checks.nb02_product_fusion(with_prod).passed is True
    assert capsys.readouterr().out.count("Correct") == 2


def _absent_as_zero(factors, mask):
    fused = torch.ones_like(factors[0])
    for m, z in enumerate(factors):
        fused = fused * (1 + z) * mask[:, m:m + 1]
    return fused


def _mask_ignored(factors, mask):
    fused = torch.ones_like(factors[0])
    for z in factors:
        fused = fused * (1 + z)
    return fused


def _mask_inverted(factors, mask):
    return _solution_product(factors, ~mask)


def _no_one(factors, mask):
    fused = torch.ones_like(factors[0])
    for m, z in enumerate(factors):
        fused = fused * torch.where(mask[:, m:m + 1], z, torch.ones_like(z))
    return fused


def _sum(factors, mask):
    return 1 + sum(z * mask[:, m:m + 1] for m, z in enumerate(factors))


def _first_two(factors, mask):
    return _solution_product(factors[:2], mask[:, :2])


def _in_place_product(factors, mask):
    for z in factors:
        z += 1  # changes the model's factors
    fused = torch.ones_like(factors[0])
    for m, z in enumerate(factors):
        fused = fused * torch.where(mask[:, m:m + 1], z, torch.ones_like(z))
    return fused


def _column_not_kept(factors, mask):  # mask[:, m] is (B,): it does not broadcast against (B, R)
    fused = torch.ones_like(factors[0])
    for m, z in enumerate(factors):
        fused = fused * torch.where(mask[:, m], 1 + z, torch.ones_like(z))
    return fused


def _detached(factors, mask):
    return _solution_product([z.detach() for z in factors], mask)


def _numpy(factors, mask):
    return _solution_product(factors, mask).detach().numpy()


def _list_entries_reassigned(factors, mask):
    for m in range(len(factors)):
        factors[m] = torch.where(mask[:, m:m + 1], 1 + factors[m], torch.ones_like(factors[m]))
    fused = torch.ones_like(factors[0])
    for z in factors:
        fused = fused * z
    return fused


def _mask_overwritten(factors, mask):  # right values, but marks every modality present in the caller's mask
    out = _solution_product(factors, mask)
    mask[:] = True
    return out


def _hard_coded_three(factors, mask):
    fused = torch.ones_like(factors[0])
    for m in range(3):
        fused = fused * torch.where(mask[:, m:m + 1], 1 + factors[m], torch.ones_like(factors[m]))
    return fused


def _empty_row_zero(factors, mask):
    fused = _solution_product(factors, mask)
    return fused * mask.any(dim=1, keepdim=True)  # "no modality, no evidence": 0 instead of the empty product


@pytest.mark.parametrize("fn, needle", [
    (None, "still empty"),
    (_stub, "NotImplementedError"),
    (lambda f, k: product_fusion(f, k), "calls mmlab's product_fusion"),
    (lambda f, k: mm.fusion.product_fusion(f, k), "calls mmlab's product_fusion"),
    (_absent_as_zero, "neutral element of a product is 1"),
    (_mask_ignored, "ignoring the mask"),
    (_mask_inverted, "True where a modality is present"),
    (_no_one, "Without the 1 +"),
    (_sum, "additive fusion again"),
    (_first_two, "every modality"),
    (_in_place_product, "changed the factor tensors"),
    (_list_entries_reassigned, "replaced entries of the factors list"),
    (_mask_overwritten, "changed the mask it was given"),
    (_detached, "no gradient"),
    (_numpy, "a numpy array carries no gradient"),
    (lambda f, k: torch.ones(5, 4), "no gradient"),
    (_column_not_kept, "mask[:, m:m + 1]"),
    # found with the generic hint by an outside reader: the first factor not masked; a product through logs
    (lambda f, k: (1 + f[0]) * torch.where(k[:, 1:2], 1 + f[1], torch.ones_like(f[1]))
     * torch.where(k[:, 2:3], 1 + f[2], torch.ones_like(f[2])), "the first included"),
    (lambda f, k: torch.exp(sum(torch.log1p(z) * k[:, m:m + 1] for m, z in enumerate(f))), "log of a negative"),
    (lambda f, k: f[0] * f[1], "row b should be the product"),
    # found passing by outside review 4: modalities hard-coded to three; the empty product returned as 0
    (_hard_coded_three, "fixed range(3)"),
    (_empty_row_zero, "the empty product"),
])
def test_product_typical_mistakes_get_specific_hints(capsys, fn, needle):
    assert checks.nb02_product_fusion(fn).passed is False
    assert needle in capsys.readouterr().out


def test_product_reference_is_the_helper():
    gen = torch.Generator().manual_seed(0)
    factors = [torch.randn(4, 3, generator=gen) for _ in range(2)]
    mask = torch.tensor([[1, 1], [1, 0], [0, 1], [1, 1]], dtype=torch.bool)
    torch.testing.assert_close(product_fusion(factors, mask), _solution_product(factors, mask))


# ------------------------------------------- exercise 4: late fusion over what is present

def _solution_mean_of_present(probas, present, weights):
    num = sum(weights[m] * np.where(present[m][:, None], p, 0.0) for m, p in probas.items())
    den = sum(weights[m] * present[m] for m in probas)[:, None]
    return num / den


def test_mean_of_present_solution_passes(capsys):
    assert checks.nb02_mean_of_present(_solution_mean_of_present).passed is True

    def renormalised_after(probas, present, weights):  # also right: each p sums to 1
        fused = sum(weights[m] * np.where(present[m][:, None], p, 0.0) for m, p in probas.items())
        return fused / fused.sum(axis=1, keepdims=True)

    assert checks.nb02_mean_of_present(renormalised_after).passed is True
    assert capsys.readouterr().out.count("Correct") == 2


def _mask_multiplied(probas, present, weights):  # NaN * 0 is NaN
    num = sum(weights[m] * p * present[m][:, None] for m, p in probas.items())
    den = sum(weights[m] * present[m] for m in probas)[:, None]
    return num / den


def _nanmean(probas, present, weights):  # finds the absent rows, forgets the weights
    return np.nanmean(np.stack(list(probas.values())), axis=0)


def _plain_mean_of_present(probas, present, weights):
    num = sum(np.where(present[m][:, None], p, 0.0) for m, p in probas.items())
    return num / sum(present[m] for m in probas)[:, None]


def _divide_by_all_weights(probas, present, weights):  # not renormalised over what is present
    num = sum(weights[m] * np.where(present[m][:, None], p, 0.0) for m, p in probas.items())
    return num / sum(weights.values())


def _divide_by_count(probas, present, weights):
    num = sum(weights[m] * np.where(present[m][:, None], p, 0.0) for m, p in probas.items())
    return num / sum(present[m] for m in probas)[:, None]


def _nansum_weighted(probas, present, weights):  # nansum, then the total weight
    return np.nansum(np.stack([weights[m] * p for m, p in probas.items()]), axis=0) / sum(weights.values())


def _mask_not_a_column(probas, present, weights):  # (N,) against (N, C) does not broadcast
    num = sum(weights[m] * np.where(present[m], p, 0.0) for m, p in probas.items())
    return num / sum(weights[m] * present[m] for m in probas)


def _zeroed_in_place(probas, present, weights):
    for m, p in probas.items():
        p[~present[m]] = 0.0
    return _solution_mean_of_present(probas, present, weights)


def _zipped_by_position(probas, present, weights):  # pairs the three dicts by key position, not by name
    triples = list(zip(probas.values(), present.values(), weights.values()))
    num = sum(w * np.where(k[:, None], p, 0.0) for p, k, w in triples)
    return num / sum(w * k for p, k, w in triples)[:, None]


def _zipped_nan_to_num(probas, present, weights):
    triples = list(zip(probas.values(), present.values(), weights.values()))
    num = sum(w * np.nan_to_num(p) * k[:, None] for p, k, w in triples)
    return num / sum(w * k for p, k, w in triples)[:, None]


def _names_hard_coded(probas, present, weights):  # found passing by outside review 7: the notebook's names
    num = sum(weights[m] * np.where(present[m][:, None], probas[m], 0.0) for m in ("image", "text", "audio"))
    return num / sum(weights[m] * present[m] for m in ("image", "text", "audio"))[:, None]


def _three_hard_coded(probas, present, weights):  # the names taken from the dict, but only the first three
    names = list(probas)[:3]
    num = sum(weights[m] * np.where(present[m][:, None], probas[m], 0.0) for m in names)
    return num / sum(weights[m] * present[m] for m in names)[:, None]


def _present_made_columns(probas, present, weights):  # right values, the caller's masks now (N, 1)
    for m in present:
        present[m] = present[m][:, None]
    num = sum(weights[m] * np.where(present[m], p, 0.0) for m, p in probas.items())
    return num / sum(weights[m] * present[m] for m in probas)


def _present_flipped_in_place(probas, present, weights):  # uses the masks, then "cleans up" in place
    out = _solution_mean_of_present(probas, present, weights)
    for k in present.values():
        k[:] = True
    return out


def _mean_weights_renormalised_in_place(probas, present, weights):
    total = sum(weights.values())
    for m in weights:
        weights[m] /= total
    return _solution_mean_of_present(probas, present, weights)


def _probas_entries_reassigned(probas, present, weights):
    for m in probas:
        probas[m] = np.where(present[m][:, None], probas[m], 0.0)
    num = sum(weights[m] * p for m, p in probas.items())
    return num / sum(weights[m] * present[m] for m in probas)[:, None]


@pytest.mark.parametrize("fn, needle", [
    (None, "still empty"),
    (_stub, "NotImplementedError"),
    (lambda p, k, w: mean_of_present(p, k, w), "calls mmlab's mean_of_present"),
    (lambda p, k, w: mm.fusion.mean_of_present(p, k, w), "calls mmlab's mean_of_present"),
    (_mask_multiplied, "NaN * 0 is still NaN"),
    (lambda p, k, w: sum(w[m] * x for m, x in p.items()), "NaN * 0 is still NaN"),  # the mask forgotten
    (_nanmean, "plain mean of the present modalities"),
    (_plain_mean_of_present, "plain mean of the present modalities"),
    (_divide_by_all_weights, "Renormalise per row"),
    (_nansum_weighted, "Renormalise per row"),
    (_divide_by_count, "divide by the sum of their weights"),
    (_zeroed_in_place, "changed the probability arrays"),
    (_probas_entries_reassigned, "replaced entries of the probas dict"),
    (lambda p, k, w: np.nan_to_num(np.stack(list(p.values()))).mean(axis=1), "expected shape (6, 3)"),
    (lambda p, k, w: np.full((6, 3), 0.5), "sum to 1"),
    (_mask_not_a_column, "present[m][:, None]"),
    (_zipped_by_position, "by position"),  # found passing by an outside reader (the notebook's dicts differ in order)
    (_zipped_nan_to_num, "by position"),
    # found passing by the fifth outside reader: right values, the caller's present masks or weights changed
    (_present_made_columns, "replaced entries of the present dict"),
    (_present_flipped_in_place, "changed the present masks"),
    (_mean_weights_renormalised_in_place, "changed the weights dict"),
    # found passing by the seventh outside reader: the notebook's modality names written into the function
    (_names_hard_coded, "named video, depth, caption and imu your function fails: calling your function raised "
                        "KeyError"),
    (_names_hard_coded, "never write the notebook's names"),
    (_three_hard_coded, "four modalities named video"),
])
def test_mean_of_present_typical_mistakes_get_specific_hints(capsys, fn, needle):
    assert checks.nb02_mean_of_present(fn).passed is False
    assert needle in capsys.readouterr().out


def test_mean_of_present_reference_is_the_helper_and_late_fusion():
    rng = np.random.default_rng(0)
    probas = {m: rng.dirichlet(np.ones(4), size=5) for m in ("a", "b")}
    present = {"a": np.array([1, 0, 1, 1, 0], bool), "b": np.array([1, 1, 0, 1, 1], bool)}
    for m, p in probas.items():
        p[~present[m]] = np.nan
    weights = {"a": 0.25, "b": 0.75}
    np.testing.assert_allclose(mean_of_present(probas, present, weights),
                               _solution_mean_of_present(probas, present, weights), atol=1e-12)


def test_every_check_says_not_yet_on_an_unsolved_stub(capsys):
    for check in (checks.nb02_concat_embeddings, checks.nb02_product_fusion, checks.nb02_mean_of_present):
        assert not check(_stub)
    assert checks.nb02_concat_dot(...).passed is False
    assert capsys.readouterr().out.count("Not yet") == 4
