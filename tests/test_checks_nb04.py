"""Tests of the notebook-04 exercise checks: the solutions pass; the wrong answers learners write are
rejected with a hint that names the mistake, on inputs where the mistake shows."""
import numpy as np
import pytest
from scipy import stats

import mmlab as mm
from mmlab import checks


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _softmax(z, axis=1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _stub(*args):
    raise NotImplementedError()


def verdict(capsys, result):
    """(passed, printed text) of one check call."""
    return result.passed, capsys.readouterr().out


def test_checks_are_exported():
    for name in ["nb04_more_classes", "nb04_zero_shot_probs", "nb04_build_classifier", "nb04_choose_names",
                 "nb04_draws_needed"]:
        assert callable(getattr(checks, name))


# --------------------------------------------------------------------------- exercise 1


COS3 = [0.712, 0.328, 0.463]    # chelsea's cosines with the cat, dog and tiger prompts (about ConSE's)


def _p3(z):
    return _softmax(np.asarray(z, dtype=np.float64)[None, :])[0]


def test_more_classes_right_answer(capsys):
    p = _p3(10 * np.array(COS3))
    ok, out = verdict(capsys, checks.nb04_more_classes(p[0], p[0] / p[1], COS3, 10))
    assert ok and "Correct" in out and "denominator" in out
    # from the printed, rounded logits (7.12, 3.28, 4.63), and rounded to 2 decimals: still right
    ok, _ = verdict(capsys, checks.nb04_more_classes(0.91, float(np.exp(7.12 - 3.28)), COS3, 10))
    assert ok
    ok, _ = verdict(capsys, checks.nb04_more_classes(np.float32(p[0]), np.array(p[0] / p[1]), COS3, 10))
    assert ok


_P = _p3(10 * np.array(COS3))
_RATIO = _P[0] / _P[1]


@pytest.mark.parametrize("p_cat, ratio, says", [
    (..., ..., "empty"),
    (0.9, ..., "empty"),                                           # the second answer not filled in
    ("down", "same", "expected one number"),                        # last round's words
    (True, 46.0, "expected one number"),
    ([0.9, 0.02, 0.08], 46.0, "expected one number"),               # the whole probability vector
    (_p3(10 * np.array(COS3[:2]))[0], _RATIO, "two classes"),       # the tiger left out of the denominator
    (_p3(np.array(COS3))[0], _RATIO, "without the logit scale"),    # softmax of the cosines
    (_p3(100 * np.array(COS3))[0], _RATIO, "applied twice"),        # scale 10 applied twice
    (1.0, _RATIO, "wrong axis"),                                    # softmax over axis 0 of a (1, 3) row
    (COS3[0], _RATIO, "cosine"),                                    # the cosine reported as the probability
    (7.12 / (7.12 + 3.28 + 4.63), _RATIO, "divided by their sum"),  # logits normalised without exp
    (100 * _P[0], _RATIO, "percentage"),
    (0.5, _RATIO, "not p(cat) over the three classes"),             # a guess: no diagnosis, still rejected
    (_P[0], COS3[0] / COS3[1], "ratio of the cosines"),
    (_P[0], np.exp(COS3[0] - COS3[1]), "logit scale is missing"),
    (_P[0], 10 * (COS3[0] - COS3[1]), "difference of the logits"),
    (_P[0], 1 / _RATIO, "upside down"),
    (_P[0], _P[0] / _P[2], "p(cat) / p(tiger)"),
    (_P[0], _P[0] - _P[1], "difference p(cat) - p(dog)"),
    (_P[0], 2 * _RATIO, "is not p(cat) / p(dog)"),
])
def test_more_classes_wrong_answers(capsys, p_cat, ratio, says):
    ok, out = verdict(capsys, checks.nb04_more_classes(p_cat, ratio, COS3, 10))
    assert not ok and says in out
    assert "Not yet" in out


@pytest.mark.parametrize("prediction, says", [
    (..., "empty"),                                # numbers given, prediction not written down
    (("up", "same"), "does not say what they show"),
    (("down", "down"), "does not say what they show"),   # "the dog loses share too", so the ratio must move
    (("same", "same"), "does not say what they show"),
    (("down", "up"), "does not say what they show"),
    (("same", "down"), "does not say what they show"),
    ("same down", "does not say what they show"),
    ("down", "expected two words"),
    (("lower", "same"), "expected two words"),
])
def test_more_classes_prediction_is_recorded(capsys, prediction, says):
    """Review 11: the up/down/same prediction the text asks for is now an answer the check compares."""
    ok, out = verdict(capsys, checks.nb04_more_classes(_P[0], _RATIO, COS3, 10, prediction=prediction))
    assert not ok and says in out, out
    # review 12: the hint must not give the direction away (the learner could copy it in on a second try)
    assert "went down" not in out and "stayed" not in out and "0.979" not in out and "46.4" not in out, out
    ok, out = verdict(capsys, checks.nb04_more_classes(_P[0], _RATIO, COS3, 10, prediction=["Down", "SAME"]))
    assert ok, out


@pytest.mark.parametrize("prediction", ["down same", "Down, same", " down  SAME "])
def test_more_classes_prediction_as_one_string(capsys, prediction):
    """Review 15: two words written as one string, as the stub's comment reads, are a right answer too."""
    ok, out = verdict(capsys, checks.nb04_more_classes(_P[0], _RATIO, COS3, 10, prediction=prediction))
    assert ok, out


def test_more_classes_messages_do_not_give_the_answer(capsys):
    _, out = verdict(capsys, checks.nb04_more_classes(0.5, _RATIO, COS3, 10))
    assert f"{_P[0]:.3f}" not in out and f"{_P[0]:.2f}" not in out
    _, out = verdict(capsys, checks.nb04_more_classes(_P[0], 1.0, COS3, 10))
    assert f"{_RATIO:.1f}" not in out and f"{_RATIO:.0f}" not in out


# --------------------------------------------------------------------------- exercise 2


def solution_probs(image_features, class_embeddings, logit_scale):
    return _softmax(logit_scale * _unit(image_features) @ _unit(class_embeddings).T)


def test_zero_shot_probs_solution_passes(capsys):
    ok, out = verdict(capsys, checks.nb04_zero_shot_probs(solution_probs))
    assert ok and "Correct" in out


def _calls_the_helper(i, c, s):
    return mm.zeroshot.predict_proba(i, c, s)


def _calls_classify_alias(i, c, s):
    from mmlab.zeroshot import predict_proba as p  # an alias is caught too

    return p(i, c, s)


def _no_scale(i, c, s):
    return _softmax(_unit(i) @ _unit(c).T)


def _wrong_axis(i, c, s):
    return _softmax(s * _unit(i) @ _unit(c).T, axis=0)


def _no_norm(i, c, s):
    return _softmax(s * i @ c.T)


def _only_images_normalised(i, c, s):
    return _softmax(s * _unit(i) @ c.T)


def _norm_over_columns(i, c, s):
    return _softmax(s * (i / np.linalg.norm(i, axis=0, keepdims=True)) @ (c / np.linalg.norm(c, axis=0, keepdims=True)).T)


def _no_softmax(i, c, s):
    return s * _unit(i) @ _unit(c).T


def _transposed(i, c, s):
    return solution_probs(i, c, s).T


def _naive_exp(i, c, s):
    e = np.exp(s * _unit(i) @ _unit(c).T)  # no max subtracted: overflows in float32 at scale 100
    return e / e.sum(axis=1, keepdims=True)


def _clipped_logits(i, c, s):
    e = np.exp(np.clip(s * _unit(i) @ _unit(c).T, -80, 80))  # "avoids overflow", but changes the logits
    return e / e.sum(axis=1, keepdims=True)


def _clipped_logits_50(i, c, s):
    z = np.clip(s * _unit(i) @ _unit(c).T, None, 50.0)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _in_place(i, c, s):
    i /= np.linalg.norm(i, axis=1, keepdims=True)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    return _softmax(s * i @ c.T)


def _not_rows_of_one(i, c, s):
    return solution_probs(i, c, s) * 0.5


def _global_max(i, c, s):
    z = s * _unit(i) @ _unit(c).T
    e = np.exp(z - z.max())  # the max of the whole matrix, not of each row
    return e / e.sum(axis=1, keepdims=True)


def _float64_global_max(i, c, s):
    z = s * _unit(i.astype(np.float64)) @ _unit(c.astype(np.float64)).T
    e = np.exp(z - z.max())  # the whole matrix's max, in float64: fine at 100, 0 / 0 at 1000
    return e / e.sum(axis=1, keepdims=True)


def _scale_shift(i, c, s):
    z = s * _unit(i) @ _unit(c).T
    e = np.exp(z - s)  # every exponent <= 0, but one constant for all rows: exp(-150) = 0 in float32
    return e / e.sum(axis=1, keepdims=True)


def _float64_no_shift(i, c, s):
    e = np.exp(s * _unit(i.astype(np.float64)) @ _unit(c.astype(np.float64)).T)  # no overflow at 100, at 1000 yes
    return e / e.sum(axis=1, keepdims=True)


def _mean_shift(i, c, s):
    z = s * _unit(i.astype(np.float64)) @ _unit(c.astype(np.float64)).T
    e = np.exp(z - z.mean(axis=1, keepdims=True))  # the row mean: max - mean can still exceed 709
    return e / e.sum(axis=1, keepdims=True)


def _longdouble_no_shift(i, c, s):
    e = np.exp(s * _unit(i.astype(np.longdouble)) @ _unit(c.astype(np.longdouble)).T)  # overflows near 11356
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float64)


def _scipy_logsumexp(i, c, s):
    from scipy.special import logsumexp

    z = s * _unit(i) @ _unit(c).T
    return np.exp(z - logsumexp(z, axis=1, keepdims=True))


def _mm_softmax(i, c, s):
    return mm.embeddings.softmax(s * _unit(i) @ _unit(c).T, axis=1)


def _scipy_softmax(i, c, s):
    from scipy.special import softmax

    return softmax(s * _unit(i) @ _unit(c).T, axis=1)


def _torch_softmax(i, c, s):
    import torch

    return torch.softmax(torch.from_numpy(s * _unit(i) @ _unit(c).T), dim=1).numpy()


def _torch_method_softmax(i, c, s):
    import torch

    return torch.from_numpy(s * _unit(i) @ _unit(c).T).softmax(dim=-1).numpy()   # as in cell 7's open_clip code


def _torch_functional_softmax(i, c, s):
    import torch

    return torch.nn.functional.softmax(torch.from_numpy(s * _unit(i) @ _unit(c).T), dim=1).numpy()


def _sklearn_softmax(i, c, s):
    from sklearn.utils.extmath import softmax

    return softmax(s * _unit(i) @ _unit(c).T)


def _exp_scipy_log_softmax(i, c, s):
    from scipy.special import log_softmax

    return np.exp(log_softmax(s * _unit(i) @ _unit(c).T, axis=1))


def _torch_logsumexp(i, c, s):
    import torch

    z = torch.from_numpy(s * _unit(i) @ _unit(c).T)
    return torch.exp(z - torch.logsumexp(z, 1, keepdim=True)).numpy()


def _torch_method_logsumexp(i, c, s):
    import torch

    z = torch.from_numpy(s * _unit(i) @ _unit(c).T)
    return (z - z.logsumexp(dim=1, keepdim=True)).exp().numpy()


@pytest.mark.parametrize("fn, says", [
    (_stub, "NotImplementedError"),
    (..., "empty"),
    (_calls_the_helper, "calls mm.zeroshot.predict_proba"),
    (_calls_classify_alias, "calls mm.zeroshot.predict_proba"),
    (_no_scale, "logit_scale"),
    (_wrong_axis, "axis=1"),
    (_no_norm, "L2-normalised"),
    (_only_images_normalised, "L2-normalised"),
    (_norm_over_columns, "normalised the columns"),
    (_no_softmax, "softmax"),
    (_transposed, "One row per image"),
    (_naive_exp, "float32"),
    (_clipped_logits, "clipped the logits"),
    (_clipped_logits_50, "clipped the logits"),
    (_in_place, "changed its inputs in place"),
    (_not_rows_of_one, "do not sum to 1"),
    # found passing by the third outside reader
    (_global_max, "largest logit of the whole matrix"),
    (_float64_no_shift, "float64 only postpones the overflow"),
    (_mm_softmax, "calls mm.embeddings.softmax: this exercise asks you to write the softmax yourself"),
    (_scipy_softmax, "calls scipy.special.softmax"),
    # found passing by the fourth outside reader: other libraries' softmaxes
    (_torch_softmax, "calls torch's softmax"),
    (_torch_method_softmax, "calls torch's softmax"),
    (_torch_functional_softmax, "calls torch's softmax"),
    (_sklearn_softmax, "calls sklearn.utils.extmath.softmax"),
    (_exp_scipy_log_softmax, "calls scipy.special.log_softmax"),
    # found passing by the sixth outside reader: shifts that are not the row maximum, wider floats, logsumexp
    (_mean_shift, "shifting by the row's mean"),
    (_longdouble_no_shift, "a wider float (float64, np.longdouble) only postpones the overflow"),
    (_scipy_logsumexp, "calls scipy.special.logsumexp"),
    # found passing by the eighth outside reader: torch's log-sum-exp (function and method)
    (_torch_logsumexp, "calls torch's logsumexp"),
    (_torch_method_logsumexp, "calls torch's logsumexp"),
    # found passing with the wrong diagnosis by the ninth outside reader: whole-matrix max in float64
    (_float64_global_max, "largest logit of the whole matrix, or logit_scale"),
    # found with the wrong diagnosis by the eleventh outside reader: a shift by logit_scale, the largest logit possible
    (_scale_shift, "or logit_scale itself"),
])
def test_zero_shot_probs_typical_mistakes(capsys, fn, says):
    ok, out = verdict(capsys, checks.nb04_zero_shot_probs(fn))
    assert not ok and says in out, out


def test_zero_shot_probs_global_max_hint_names_the_fix(capsys):
    _, out = verdict(capsys, checks.nb04_zero_shot_probs(_global_max))
    assert "z.max(axis=1, keepdims=True)" in out


def test_zero_shot_probs_log_sum_exp_by_hand_passes(capsys):
    def log_sum_exp(i, c, s):   # a correct stable softmax written another way, with numpy only
        z = s * _unit(i) @ _unit(c).T
        m = z.max(axis=1, keepdims=True)
        return np.exp(z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))))

    ok, out = verdict(capsys, checks.nb04_zero_shot_probs(log_sum_exp))
    assert ok, out


def test_zero_shot_probs_numpy_logaddexp_passes(capsys):
    """np.logaddexp is a numpy building block, like np.exp: a stable softmax built from it is the learner's own."""
    def logaddexp(i, c, s):
        z = s * _unit(i) @ _unit(c).T
        return np.exp(z - np.logaddexp.reduce(z, axis=1, keepdims=True))

    ok, out = verdict(capsys, checks.nb04_zero_shot_probs(logaddexp))
    assert ok, out


def test_zero_shot_probs_docstring_does_not_give_the_fix():
    doc = checks.nb04_zero_shot_probs.__doc__
    assert "maximum" not in doc and "max(" not in doc and "largest" not in doc and "subtract" not in doc.lower()


def test_zero_shot_probs_naive_exp_hint_names_the_fix(capsys):
    _, out = verdict(capsys, checks.nb04_zero_shot_probs(_naive_exp))
    assert "Subtract each row's largest logit" in out
    assert "RuntimeWarning" not in out  # the overflow is explained, not printed as a warning


# --------------------------------------------------------------------------- exercise 3


def solution_classifier(model, classnames, templates):
    texts = [t.format(c) for c in classnames for t in templates]
    emb = model.encode_text(texts).reshape(len(classnames), len(templates), -1)
    emb = emb / np.linalg.norm(emb, axis=2, keepdims=True)
    mean = emb.mean(axis=1)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)


def test_build_classifier_solution_passes(capsys):
    ok, out = verdict(capsys, checks.nb04_build_classifier(solution_classifier))
    assert ok and "Correct" in out


def _loop_per_class(model, classnames, templates):
    rows = []
    for c in classnames:  # one class at a time, summed, then normalised: also right
        e = model.encode_text([t.format(c) for t in templates])
        rows.append((e / np.linalg.norm(e, axis=1, keepdims=True)).sum(axis=0))
    rows = np.array(rows)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_build_classifier_other_right_ways_pass(capsys):
    ok, _ = verdict(capsys, checks.nb04_build_classifier(_loop_per_class))
    assert ok


def _library(model, classnames, templates):
    return mm.zeroshot.build_classifier(model, classnames, templates)


def _unit(e):
    return e / np.linalg.norm(e, axis=-1, keepdims=True)


def _no_renorm(model, classnames, templates):
    texts = [t.format(c) for c in classnames for t in templates]
    return _unit(model.encode_text(texts)).reshape(len(classnames), len(templates), -1).mean(axis=1)


def _no_prompt_norm(model, classnames, templates):  # review 14: averages raw prompts, then normalises
    texts = [t.format(c) for c in classnames for t in templates]
    return _unit(model.encode_text(texts).reshape(len(classnames), len(templates), -1).mean(axis=1))


def _no_norm_at_all(model, classnames, templates):
    texts = [t.format(c) for c in classnames for t in templates]
    return model.encode_text(texts).reshape(len(classnames), len(templates), -1).mean(axis=1)


def _no_mean(model, classnames, templates):
    return model.encode_text([t.format(c) for c in classnames for t in templates])


def _mean_over_classes(model, classnames, templates):
    texts = [t.format(c) for c in classnames for t in templates]
    m = _unit(model.encode_text(texts)).reshape(len(classnames), len(templates), -1).mean(axis=0)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def _wrong_order(model, classnames, templates):
    texts = [t.format(c) for t in templates for c in classnames]  # template-major
    emb = _unit(model.encode_text(texts)).reshape(len(classnames), len(templates), -1)  # but a class-major reshape
    m = emb.mean(axis=1)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def _first_only(model, classnames, templates):
    return model.encode_text([templates[0].format(c) for c in classnames])


def _edits_input(model, classnames, templates):
    templates.append("{}")  # "also try the bare name", added to the caller's list
    return solution_classifier(model, classnames, templates[:-1])


@pytest.mark.parametrize("fn, says", [
    (_stub, "NotImplementedError"),
    (_library, "calls mm.zeroshot.build_classifier"),
    (_no_renorm, "normalise each class row"),
    (_no_prompt_norm, "averaged before each was normalised"),
    (_no_norm_at_all, "differ from the expected"),
    (_no_mean, "one row per prompt"),
    (_mean_over_classes, "averaged over the classes"),
    (_wrong_order, "mix prompts of different classes"),
    (_first_only, "only the first template"),
    (_edits_input, "changed the classnames or templates"),
])
def test_build_classifier_typical_mistakes(capsys, fn, says):
    ok, out = verdict(capsys, checks.nb04_build_classifier(fn))
    assert not ok and says in out, out


# --------------------------------------------------------------------------- exercise 4 (real ConSE, lit-emoji)


@pytest.fixture(scope="module")
def flags():
    """ConSE and lit-emoji with their embeddings of the training emoji, and the notebook's subgroup names."""
    emoji = mm.data.load_emoji()
    train_idx, _ = mm.data.split_by_id(emoji.ids)
    subgroups = sorted(set(emoji.subgroups))
    y = np.array([subgroups.index(emoji.subgroups[i]) for i in train_idx])
    names = [s.replace("&", "and").replace("-", " ").lower() for s in subgroups]   # the notebook's readable()
    images = [emoji.images[i] for i in train_idx]
    conse, lit = mm.models.load("conse"), mm.models.load("lit-emoji")
    return (conse, conse.encode_image(images, progress=False), y, subgroups, names,
            mm.zeroshot.get_templates("simple-imagenet"), lit, lit.encode_image(images, progress=False))


def _measure(flags, *, X=None, y=None, what="country"):
    """{letter: a recall} measured the way a learner would, on ConSE; ``what`` picks the (right or wrong) number."""
    conse, X_tr, y_tr, subgroups, names, templates, _, _ = flags
    X, y = (X_tr if X is None else X), (y_tr if y is None else y)
    country, flag = subgroups.index("country-flag"), subgroups.index("flag")
    W_old = mm.zeroshot.build_classifier(conse, names, templates)
    out = {}
    for letter, renamed in mm.zeroshot.FLAG_RENAMINGS.items():
        W = W_old.copy()
        W[[subgroups.index(s) for s in renamed]] = mm.zeroshot.build_classifier(conse, list(renamed.values()), templates)
        pred = (X @ W.T).argmax(axis=1)
        out[letter] = {"country": (pred[y == country] == country).mean(), "accuracy": (pred == y).mean(),
                       "flag": (pred[y == flag] == flag).mean(),
                       "precision": (y[pred == country] == country).mean() if (pred == country).any() else 0.0}[what]
    return {k: float(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def recall(flags):
    return _measure(flags)


def _check(flags, fixes, ship, answer_recall):
    conse, X, y, subgroups, names, templates, _, _ = flags
    return checks.nb04_choose_names(answer_recall, fixes, ship, conse, X, y, subgroups, names, templates)


@pytest.mark.slow
@pytest.mark.parametrize("fixes, ship", [
    ({"B", "C", "E"}, "C"),
    ("B, C, E", "c"),           # letters as a string, lower case
    (["E", "B", "C"], "C"),
    ({"B", "C", "E"}, "B"),     # which fixer to ship is a judgement the check does not grade (review 11)
    ({"B", "C", "E"}, "E"),
])
def test_choose_names_right_answer_passes(capsys, flags, recall, fixes, ship):
    ok, out = verdict(capsys, _check(flags, fixes, ship, recall))
    assert ok, out
    assert "country-flag recall 0.00 ->" in out  # the collision shows on this data before the fix
    rounded = {k.lower(): round(v, 2) for k, v in recall.items()}   # lower-case keys, values rounded to 2 places
    ok, out = verdict(capsys, _check(flags, fixes, ship, rounded))
    assert ok, out


def test_choose_names_candidates_are_the_five_of_the_notebook():
    NAME_CANDIDATES = mm.zeroshot.FLAG_RENAMINGS
    assert sorted(NAME_CANDIDATES) == ["A", "B", "C", "D", "E"]
    assert NAME_CANDIDATES["C"]["flag"] == "chequered, pirate or rainbow flag"
    assert NAME_CANDIDATES["A"] == {"country-flag": "national flag"}
    assert "flagpole" in NAME_CANDIDATES["D"]["flag"]


@pytest.mark.slow
@pytest.mark.parametrize("fixes, ship, says", [
    (..., "C", "empty"),
    ({"B", "C", "E"}, ..., "empty"),
    ({"B", "C", "F"}, "C", "should be the letters"),
    (3, "C", "should be the letters"),
    ({"B", "C", "E"}, "CE", "should be one letter"),
    # the country-flag-only rename and the name keyed to ConSE's misreading (free renames to earlier readers)
    ({"A", "B", "C", "E"}, "C", "does not agree with your own recalls"),
    ({"B", "C", "D", "E"}, "C", "does not agree with your own recalls"),
    ({"A", "B", "C", "D", "E"}, "C", "does not agree with your own recalls"),
    # thinking only the describing name fixes it: every specific name does on ConSE
    ({"C"}, "C", "does not agree with your own recalls"),
    ({"B", "C"}, "C", "does not agree with your own recalls"),
    ({"B", "C", "E"}, "D", "does not fix the collision on ConSE"),
    ({"B", "C", "E"}, "A", "does not fix the collision on ConSE"),
])
def test_choose_names_typical_mistakes(capsys, flags, recall, fixes, ship, says):
    ok, out = verdict(capsys, _check(flags, fixes, ship, recall))
    assert not ok and says in out, out


@pytest.mark.slow
@pytest.mark.parametrize("case, says", [
    ("missing", "should be a dict with one number per candidate"),
    ("letters only", "should be a dict with one number per candidate"),
    ("a set", "should be a dict with one number per candidate"),
    ("guessed 0.4", "differs by more than 0.005"),
    ("guessed 0 and 1", "differs by more than 0.005"),
    ("80 group templates", "Did you use `SUB_TEMPLATES`"),    # C 0.389 against 0.40 passed in review 11
    ("one decimal", "keep two decimals"),                    # E 0.4 against 0.38 passed in review 11
    ("subgroup accuracy", "not the subgroup accuracy"),
    ("recall of flag", "not the recall of `flag`"),
    ("precision", "differs by more than 0.005"),
    ("test split", "not the test split"),
    ("percent", "differs by more than 0.005"),
])
def test_choose_names_recall_must_be_measured(capsys, flags, recall, case, says):
    """Review 7: {A..E} -> {B,C,D,E} -> {B,C,E} passed by guessing from per-letter feedback; now every answer needs
    the measured recalls, and a wrong recall is rejected with a hint naming the mistake."""
    _, _, _, subgroups, _, _, _, _ = flags
    emoji = mm.data.load_emoji()
    _, test_idx = mm.data.split_by_id(emoji.ids)
    conse = flags[0]
    if case == "test split":
        X_te = conse.encode_image([emoji.images[i] for i in test_idx], progress=False)
        y_te = np.array([subgroups.index(emoji.subgroups[i]) for i in test_idx])
        given = _measure(flags, X=X_te, y=y_te)
    elif case == "80 group templates":
        conse, X_tr, y_tr, _, names, _, _, _ = flags
        given = _measure((conse, X_tr, y_tr, subgroups, names, mm.zeroshot.get_templates("openai-imagenet"), None, None))
    elif case == "one decimal":
        given = {k: round(v, 1) for k, v in recall.items()}
    else:
        given = {"missing": {k: v for k, v in recall.items() if k != "A"},
                 "letters only": {k: "fixes" for k in recall}, "a set": set(recall),
                 "guessed 0.4": {k: 0.4 for k in recall},
                 "guessed 0 and 1": {k: float(k in "BCE") for k in recall},
                 "subgroup accuracy": _measure(flags, what="accuracy"), "recall of flag": _measure(flags, what="flag"),
                 "precision": _measure(flags, what="precision"),
                 "percent": {k: 100 * v for k, v in recall.items()}}[case]
    ok, out = verdict(capsys, _check(flags, {"B", "C", "E"}, "C", given))
    assert not ok and says in out, out
    if case == "missing":
        assert "differs" not in out, out


@pytest.mark.slow
def test_choose_names_guessing_sequence_fails(capsys, flags):
    """Review 7's guessing sequence, now with made-up recalls that agree with each guess: none passes."""
    for fixes in [{"A", "B", "C", "D", "E"}, {"B", "C", "D", "E"}, {"B", "C", "E"}]:
        made_up = {k: (0.5 if k in fixes else 0.0) for k in "ABCDE"}
        ok, out = verdict(capsys, _check(flags, fixes, "C", made_up))
        assert not ok and "differs by more than 0.005" in out, out


@pytest.mark.slow
@pytest.mark.parametrize("fixes, ship", [({"B", "C", "E"}, "D"), ({"B", "C", "E"}, "A"), ({"B", "C"}, "C"),
                                         ({"B", "C", "D", "E"}, "C"), ({"C", "E"}, "C"), ({"A", "B", "C", "E"}, "C")])
def test_choose_names_failures_say_what_to_measure_not_the_scores(capsys, flags, recall, fixes, ship):
    """A failure names the mistake, never another candidate's score, letter or how many were left out (reviews 6, 7)."""
    _, out = verdict(capsys, _check(flags, fixes, ship, recall))
    assert "of the 7" not in out and "recall 0." not in out and "left out" not in out, out
    assert "pirate" not in out and "pride" not in out and "flagpole" not in out and "bare word" not in out, out
    for x in "ABCDE":   # no candidate named by its letter ("Hint: A name ..." is English, not candidate A)
        assert f" {x} does" not in out and f" {x} finds" not in out and f" {x}," not in out, out
        assert x == "A" or f" {x} " not in out, out


@pytest.mark.slow
def test_choose_names_names_changed_in_place(capsys, flags, recall):
    """Review 11: `names = sub_names; names[i] = ...` renames the notebook's list too; the right recalls measured
    that way were rejected as a template mistake; a changed list is named."""
    conse, X, y, subgroups, names, templates, _, _ = flags
    changed = list(names)
    changed[subgroups.index("country-flag")], changed[subgroups.index("flag")] = "flag of a country", "pride flag"
    ok, out = verdict(capsys, checks.nb04_choose_names(recall, {"B", "C", "E"}, "C", conse, X, y, subgroups, changed,
                                                       templates))
    assert not ok and "changed in place" in out and "templates" not in out, out
    ok, out = verdict(capsys, checks.nb04_choose_names(recall, {"B", "C", "E"}, "C", conse, X, y, subgroups,
                                                       tuple(names), templates))
    assert ok, out



@pytest.mark.slow
def test_choose_names_aliasing_answer_is_caught(capsys, flags, recall):
    """Review 12: the exact aliasing answer, `names = sub_names` then `names[i] = ...` per candidate, measures the
    right recalls (A comes first, and every later candidate renames both rows) but leaves `sub_names` renamed.
    The notebook passes `sub_names` itself to the check, so the mutation is seen and named."""
    conse, X, y, subgroups, names, templates, _, _ = flags
    sub_names = list(names)
    W_sub = mm.zeroshot.build_classifier(conse, sub_names, templates)
    given = {}
    for letter, renamed in mm.zeroshot.FLAG_RENAMINGS.items():
        aliased = sub_names                           # the mistake: no copy
        for s_, n in renamed.items():
            aliased[subgroups.index(s_)] = n
        W = W_sub.copy()
        W[[subgroups.index(s_) for s_ in renamed]] = mm.zeroshot.build_classifier(conse, list(renamed.values()),
                                                                                  templates)
        pred = (X @ W.T).argmax(axis=1)
        country = subgroups.index("country-flag")
        given[letter] = float((pred[y == country] == country).mean())
    assert all(abs(given[k] - recall[k]) < 1e-9 for k in given)     # the recalls alone cannot show the mistake
    assert sub_names != list(names)
    ok, out = verdict(capsys, checks.nb04_choose_names(given, {"B", "C", "E"}, "C", conse, X, y, subgroups, sub_names,
                                                       templates, why=3))
    assert not ok and "changed in place" in out and "sub_names = list(old_names)" in out, out


@pytest.mark.slow
@pytest.mark.parametrize("why, says", [
    (..., "empty"),
    (1, "does not explain your own recalls"),      # "the templates wash the new name out"
    (2, "does not explain your own recalls"),      # "only the image matters"
    ("2", "does not explain your own recalls"),
    (4, "does not explain your own recalls"),      # the obvious culprit, the renamed class itself
    (5, "should be one number, 1 to 4"),
    ("the templates", "should be one number, 1 to 4"),
])
def test_choose_names_why_is_graded(capsys, flags, recall, why, says):
    """Review 12: exercise 4's reasoning question, why some candidates change nothing on ConSE, is graded; each
    wrong mechanism is rejected with a hint naming its flaw, and no hint names the right mechanism."""
    conse, X, y, subgroups, names, templates, _, _ = flags
    ok, out = verdict(capsys, checks.nb04_choose_names(recall, {"B", "C", "E"}, "C", conse, X, y, subgroups, names,
                                                       templates, why=why))
    assert not ok and says in out, out
    assert "flagpole" not in out and "bare word" not in out and "mechanism 3" not in out, out
    # review 13: no hint points at the right mechanism (the `flag` class's name, what ConSE reads in a flag)
    for words in ("names of a and d", "`flag` name", "reading", "section 4", "other* class", "other class",
                  "matches", "what conse sees"):
        assert words not in out.lower(), (words, out)
    for right in (3, "3", " 3."):
        ok, out = verdict(capsys, checks.nb04_choose_names(recall, {"B", "C", "E"}, "C", conse, X, y, subgroups,
                                                           names, templates, why=right))
        assert ok, out


# --------------------------------------------------------------------------- exercise 5


def solution_draws_needed(sd, half_width):
    r = 2
    while stats.t.ppf(0.975, r - 1) * sd / np.sqrt(r) > half_width:
        r += 1
    return r


def test_draws_needed_solution_passes(capsys):
    ok, out = verdict(capsys, checks.nb04_draws_needed(solution_draws_needed))
    assert ok and "Correct" in out


def test_draws_needed_other_right_ways_pass(capsys):
    def with_for(sd, half_width):            # a for loop, an np.int64 answer
        for r in np.arange(2, 10_000):
            if stats.t.ppf(0.975, r - 1) * sd / np.sqrt(r) <= half_width:
                return r

    def vectorised(sd, half_width):
        r = np.arange(2, 10_000)
        return int(r[np.argmax(stats.t.ppf(0.975, r - 1) * sd / np.sqrt(r) <= half_width)])

    for fn in (with_for, vectorised):
        ok, out = verdict(capsys, checks.nb04_draws_needed(fn))
        assert ok, out


def _loop(*, mult=None, df=lambda r: r - 1, se=True, start=2, shift=0, width=1.0):
    def fn(sd, half_width):
        r = start
        while (mult if mult else stats.t.ppf(0.975, df(r))) * (sd / np.sqrt(r) if se else sd) * width > half_width:
            r += 1
        return r + shift
    return fn


def _closed_form(m, rnd=np.ceil):
    return lambda sd, half_width: int(rnd((m * sd / half_width) ** 2))


def _float_answer(sd, half_width):
    return float(solution_draws_needed(sd, half_width)) + 0.5


def _hard_coded(sd, half_width):
    return 31   # the R the notebook prints for k = 1


@pytest.mark.parametrize("fn, says", [
    (_stub, "NotImplementedError"),
    (..., "empty"),
    (_loop(mult=1.96), "one multiplier for every R"),
    (_loop(mult=2.26), "one multiplier for every R"),            # t read off section 5's 10 draws
    (_closed_form(1.96), "one multiplier for every R"),           # (z sd / h)^2, rounded up
    (_closed_form(2.262), "one multiplier for every R"),
    (_closed_form(2.0), "one multiplier for every R"),
    (_loop(df=lambda r: r), "R degrees of freedom"),
    (_loop(start=1), "you returned R = 1"),                     # t with 0 degrees of freedom is nan
    (_loop(start=3), "your loop starts at R = 3"),               # "an interval needs 3 draws" (review 5)
    (_loop(start=4), "your loop starts at R = 4"),
    (lambda sd, half_width: next(r for r in range(2, 10_000)
                                 if stats.t.ppf(0.95, r - 1) * sd / np.sqrt(r) <= half_width), "one-sided"),
    (_loop(width=2.0), "the whole interval"),                   # 2 t SE <= half_width
    (_loop(shift=-1), "one draw short"),
    (_loop(shift=1), "one draw too many"),
    (_loop(se=False), "did not finish"),                        # sd of one draw: never shrinks
    (_float_answer, "expected a whole number"),
    (lambda sd, half_width: (1.96 * sd / half_width) ** 2, "expected a whole number"),   # not rounded at all
    (_closed_form(1.96, rnd=np.floor), "one multiplier for every R"),   # int() truncates: still a fixed z
    (_hard_coded, "differs from the smallest number of draws"),
    (_loop(mult=1.0), "differs from the smallest number of draws"),     # one standard error
    # found passing by the eighth outside reader: a loop capped below the R some cases need
    (lambda sd, half_width: next((r for r in range(2, 100)
                                  if stats.t.ppf(0.975, r - 1) * sd / np.sqrt(r) <= half_width), 100),
     "never returns more than 100 draws"),
    (lambda sd, half_width: next((r for r in range(2, 300)
                                  if stats.t.ppf(0.975, r - 1) * sd / np.sqrt(r) <= half_width), 300),
     "never returns more than 300 draws"),
])
def test_draws_needed_typical_mistakes(capsys, fn, says):
    ok, out = verdict(capsys, checks.nb04_draws_needed(fn))
    assert not ok and says in out, out


def test_draws_needed_cases_separate_the_mistakes():
    """On the check's data, t with R degrees of freedom and a fixed t each give another R somewhere."""
    from mmlab.exercises._nb04_cases import _EXERCISE5_CASES, _draws_needed

    truth = [_draws_needed(sd, h) for sd, h in _EXERCISE5_CASES]
    assert truth != [_draws_needed(sd, h, df_shift=0) for sd, h in _EXERCISE5_CASES]
    assert truth != [_draws_needed(sd, h, multiplier=2.262) for sd, h in _EXERCISE5_CASES]
    assert _draws_needed(0.043, 0.016) == 31     # the notebook's k = 1
    assert min(truth) == 2                          # a loop started at R = 3 must fail somewhere
    assert max(truth) > 400                         # a loop capped at range(2, 100) or (2, 300) must fail


@pytest.mark.slow
def test_choose_names_wrong_templates_say_so(capsys, flags):
    """Review 9: recalls measured with other templates show no fix; answering fixes = set() must hear 'templates'."""
    conse, X, y, subgroups, names, _, _, _ = flags
    other = ["{}"]   # the bare class name, not SUB_TEMPLATES
    W_old = mm.zeroshot.build_classifier(conse, names, other)
    country = subgroups.index("country-flag")
    wrong = {}
    for letter, renamed in mm.zeroshot.FLAG_RENAMINGS.items():
        W = W_old.copy()
        W[[subgroups.index(s) for s in renamed]] = mm.zeroshot.build_classifier(conse, list(renamed.values()), other)
        pred = (X @ W.T).argmax(axis=1)
        wrong[letter] = float((pred[y == country] == country).mean())
    ok, out = verdict(capsys, _check(flags, set(), "C", wrong))
    assert not ok and "Did you use `SUB_TEMPLATES`" in out, out
    ok, out = verdict(capsys, _check(flags, set(), "C", {k: 0.0 for k in wrong}))
    assert not ok and "Did you use `SUB_TEMPLATES`" in out, out
