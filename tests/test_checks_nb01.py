"""Tests of the notebook-01 exercise checks: solutions pass; the wrong answers learners really write
are rejected, each with a hint that names the mistake, on inputs where the mistake shows."""
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.dummy import DummyClassifier
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.metrics import balanced_accuracy_score as bas
from sklearn.metrics.pairwise import cosine_similarity as cs
from sklearn.neighbors import NearestNeighbors as NN
from sklearn.preprocessing import normalize as sk_normalize

import mmlab as mm
from mmlab import checks
from mmlab.embeddings import cosine_similarity


def _rejected(capsys, result, needle):
    out = capsys.readouterr().out
    assert result.passed is False, out
    assert needle in out, out
    assert "Correct" not in out
    return out


def test_checks_are_exported():
    for name in ("nb01_predict_closest", "nb01_predict_ranking", "nb01_cosine_similarity",
                 "nb01_nearest_neighbours", "nb01_majority_baseline", "nb01_balanced_accuracy"):
        assert callable(getattr(checks, name))


# ------------------------------------------------ exercise 1: cosine similarity by hand

def _solution_cosine(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def _cosine_in_place(a, b):
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def _cosine_sklearn(a, b):
    from sklearn.metrics.pairwise import cosine_similarity as sk_cosine
    return sk_cosine(a, b)


def _cosine_mmlab(a, b):
    return mm.embeddings.cosine_similarity(a, b)


def test_cosine_solution_passes(capsys):
    assert checks.nb01_cosine_similarity(_solution_cosine).passed is True
    assert checks.nb01_cosine_similarity(lambda a, b: _solution_cosine(a, b).tolist()).passed is True
    assert "Correct" in capsys.readouterr().out


def _stub(a, b):
    raise NotImplementedError()


@pytest.mark.parametrize("fn, needle", [
    (None, "still empty"),
    (_stub, "NotImplementedError"),
    (lambda a, b: a @ b.T, "plain dot product"),                                           # no normalisation
    (lambda a, b: (a / np.linalg.norm(a, axis=1, keepdims=True)) @ b.T, "only one of the two"),
    (lambda a, b: (a / np.linalg.norm(a, axis=0)) @ (b / np.linalg.norm(b, axis=0)).T, "axis=1"),  # wrong axis
    (lambda a, b: (a / np.linalg.norm(a)) @ (b / np.linalg.norm(b)).T, "differ"),          # one norm for the matrix
    (lambda a, b: _solution_cosine(a, b).T, "(M, N)"),                                      # transposed
    (lambda a, b: _solution_cosine(a, b)[0], "expected shape (4, 3)"),
    (lambda a, b: 1 - _solution_cosine(a, b), "differ"),                                    # the cosine distance
    (lambda a, b: np.abs(_solution_cosine(a, b)), "differ"),                                # negatives lost
    (_cosine_in_place, "changed the arrays"),                                               # in-place division
    (cosine_similarity, "library"),                                                         # the helper itself
    (_cosine_mmlab, "library (cosine_similarity)"),                                         # the helper called
    (_cosine_sklearn, "library (cosine_similarity)"),
    (lambda a, b: undefined_name, "NameError"),  # noqa: F821
])
def test_cosine_wrong_answers_get_hints(capsys, fn, needle):
    _rejected(capsys, checks.nb01_cosine_similarity(fn), needle)


def test_cosine_that_only_works_once_fails(capsys):
    calls = []

    def cached(a, b):
        calls.append(1)
        if len(calls) == 1:
            return _solution_cosine(a, b)
        return a @ b.T  # forgets to normalise on the second call

    _rejected(capsys, checks.nb01_cosine_similarity(cached), "after scaling")


# ------------------------------------------------- exercise 2: predict the model's ranking

SIMS = {"a": 0.72, "b": 0.65, "c": 0.98, "d": 0.89}   # the notebook's order: c, d, a, b


@pytest.mark.parametrize("ranking", ["cdab", "c, d, a, b", "C > D > A > B", ["c", "d", "a", "b"], ("c", "d", "a", "b")])
def test_predict_ranking_right_order_passes(capsys, ranking):
    assert checks.nb01_predict_ranking(ranking, SIMS).passed is True
    assert "Correct" in capsys.readouterr().out


def test_predict_ranking_allows_a_near_tie_either_way(capsys):
    sims = {"a": 0.70, "b": 0.698, "c": 0.9}
    assert checks.nb01_predict_ranking("cab", sims).passed is True
    assert checks.nb01_predict_ranking("cba", sims).passed is True
    capsys.readouterr()


@pytest.mark.parametrize("ranking, needle", [
    (None, "still empty"), (..., "still empty"),
    ("c", "you named one candidate"),                    # the old three-way guess: one letter
    ("cda", "missing b"), ("cdaa", "repeated a"), ("cdae", "got 'e'"), (3, "expected the 4 letters"),
    ("badc", "not the model's order. Revise"),           # by meaning: paraphrase, dog, negation, swapped roles
    ("bacd", "not the model's order. Revise"),           # by meaning first: the paraphrase on top
    ("cdba", "not the model's order. Revise"),           # the paraphrase above the shared-words sentence
    ("dcab", "not your letters"),                        # negation thought to be closer than swapped order
    ("cadb", "not the model's order. Revise"),           # negation thought to matter more than a changed animal
])
def test_predict_ranking_wrong_answers_get_hints(capsys, ranking, needle):
    _rejected(capsys, checks.nb01_predict_ranking(ranking, SIMS), needle)


def test_predict_ranking_gives_no_score_to_search_by(capsys):
    """Outside review 2: "k of 4 in place; j of 6 pairs" let a learner reach the answer by trying orders."""
    import re
    for ranking in ("bacd", "cdba", "dcab", "cadb", "acdb"):
        checks.nb01_predict_ranking(ranking, SIMS)
        out = capsys.readouterr().out
        assert not re.search(r"\d+ of (the )?\d+", out), out


def test_predict_ranking_never_prints_the_similarities(capsys):
    """A wrong ranking cannot be fixed by reading the numbers off the feedback (issue 23)."""
    for ranking in ("bacd", "cdba", "badc", "c", "cdab"):
        checks.nb01_predict_ranking(ranking, SIMS)
    out = capsys.readouterr().out
    for value in SIMS.values():
        assert f"{value:.2f}" not in out and f"{value:.1f}" not in out


def test_predict_ranking_needs_the_similarities(capsys):
    _rejected(capsys, checks.nb01_predict_ranking("cdab", None), "dict of measured similarities")
    _rejected(capsys, checks.nb01_predict_ranking("cdab", {}), "dict of measured similarities")


# ------------------------------------- the older one-pick check (kept for the grader's tests)

def test_predict_closest_right_pick_passes(capsys):
    sims = {"a": 0.41, "b": 0.83, "c": 0.57}
    assert checks.nb01_predict_closest("b", sims).passed is True
    assert checks.nb01_predict_closest(" B ", sims).passed is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer, sims, needle", [
    (None, {"a": 0.41, "b": 0.83}, "still empty"), ("d", {"a": 0.41, "b": 0.83}, "expected one of"),
    ("a", {"a": 0.41, "b": 0.83, "c": 0.57}, "ranks 3 of 3"), ("a", None, "dict of measured similarities"),
])
def test_predict_closest_wrong_answers_get_hints_without_numbers(capsys, answer, sims, needle):
    out = _rejected(capsys, checks.nb01_predict_closest(answer, sims), needle)
    assert "0.83" not in out and "0.41" not in out


# ------------------------------------------------------- exercise 3: nearest neighbours

def _solution_knn(query, corpus, k):
    scores = _solution_cosine(query[None], corpus)[0]
    return np.argsort(-scores)[:k]


def test_nearest_neighbours_solution_passes(capsys):
    assert checks.nb01_nearest_neighbours(_solution_knn).passed is True
    assert checks.nb01_nearest_neighbours(lambda q, c, k: list(_solution_knn(q, c, k))).passed is True
    assert "Correct" in capsys.readouterr().out


def _knn_stub(query, corpus, k):
    raise NotImplementedError()


def _knn_argpartition(q, c, k):
    scores = _solution_cosine(q[None], c)[0]
    return np.argpartition(-scores, k)[:k]           # the k best, in no particular order


def _knn_in_place(q, c, k):
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    return np.argsort(-(c @ q))[:k]


def _knn_exact_topk(q, c, k):
    return mm.search.exact_topk(q, c, k).ids[0]


def _knn_drops_first(q, c, k):
    return _solution_knn(q, c, k + 1)[1:]              # "the first hit is the query itself"


@pytest.mark.parametrize("fn, needle", [
    (None, "still empty"),
    (_knn_stub, "NotImplementedError"),
    (lambda q, c, k: np.argsort(-(c @ q))[:k], "plain dot product"),                 # no normalisation
    (lambda q, c, k: np.argsort(_solution_cosine(q[None], c)[0])[:k], "least similar"),  # ascending sort
    (lambda q, c, k: np.sort(_solution_cosine(q[None], c)[0])[::-1][:k], "scores, not the row indices"),
    (lambda q, c, k: _solution_knn(q, c, k)[::-1], "wrong order"),
    (_knn_argpartition, "np.argpartition"),                                         # unsorted when k is large
    (lambda q, c, k: _solution_knn(q, c, k + 1), "expected shape (3,)"),            # off by one
    (_knn_drops_first, "not the k most similar"),
    (lambda q, c, k: np.argsort(((c - q) ** 2).sum(1))[:k], "not the k most similar"),  # Euclidean, unnormalised
    (_knn_in_place, "changed the arrays"),
    (_knn_exact_topk, "library (exact_topk)"),
])
def test_nearest_neighbours_wrong_answers_get_hints(capsys, fn, needle):
    _rejected(capsys, checks.nb01_nearest_neighbours(fn), needle)


# ------------------------------------------------------ exercise 4: the majority baseline

def _solution_majority(train_labels, test_labels):
    most_common = Counter(train_labels).most_common(1)[0][0]
    return float(np.mean(test_labels == most_common))


def _majority_from_test(train_labels, test_labels):               # the leak the exercise is about
    most_common = Counter(test_labels).most_common(1)[0][0]
    return float(np.mean(test_labels == most_common))


def _majority_pooled(train_labels, test_labels):                   # train and test counted together
    most_common = Counter(list(train_labels) + list(test_labels)).most_common(1)[0][0]
    return float(np.mean(test_labels == most_common))


def _majority_train_share(train_labels, test_labels):              # scored on the training labels
    _label, count = Counter(train_labels).most_common(1)[0]
    return count / len(train_labels)


def _majority_tuple(train_labels, test_labels):                    # compares labels with a (label, count) pair
    most_common = Counter(train_labels).most_common(1)[0]
    return float(np.mean([t == most_common for t in test_labels]))


def _majority_uniform(train_labels, test_labels):
    return 1 / len(set(train_labels) | set(test_labels))


def _majority_count(train_labels, test_labels):
    return int(np.sum(test_labels == Counter(train_labels).most_common(1)[0][0]))


def _majority_sorts_in_place(train_labels, test_labels):
    train_labels.sort()
    return _solution_majority(train_labels, test_labels)


def _majority_dummy(train_labels, test_labels):
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(train_labels), 1)), train_labels)
    return dummy.score(np.zeros((len(test_labels), 1)), test_labels)


NOTEBOOK_TRAIN = ["animal-mammal"] * 5 + ["food-fruit"] * 3 + ["flag"] * 2
NOTEBOOK_TEST = ["animal-mammal", "food-fruit", "flag", "animal-mammal"]


def test_majority_function_solution_passes(capsys):
    assert checks.nb01_majority_baseline(_solution_majority, NOTEBOOK_TRAIN, NOTEBOOK_TEST).passed is True
    assert "0.50" in capsys.readouterr().out


def test_the_majority_mistake_shows_even_when_the_notebooks_split_hides_it():
    """On the notebook's split the most common test subgroup equals the training one for every seed
    (issue 23), so the check runs the function on labels where the two differ."""
    assert Counter(NOTEBOOK_TRAIN).most_common(1)[0][0] == Counter(NOTEBOOK_TEST).most_common(1)[0][0]
    assert _majority_from_test(np.array(NOTEBOOK_TRAIN), np.array(NOTEBOOK_TEST)) == _solution_majority(
        np.array(NOTEBOOK_TRAIN), np.array(NOTEBOOK_TEST))
    assert not checks.nb01_majority_baseline(_majority_from_test, NOTEBOOK_TRAIN, NOTEBOOK_TEST)


@pytest.mark.parametrize("fn, needle", [
    (None, "still empty"),
    (lambda tr, te: (_ for _ in ()).throw(NotImplementedError()), "NotImplementedError"),
    (_majority_from_test, "most common label of the *test* labels"),
    (_majority_pooled, "counted the test labels too"),
    (_majority_train_share, "among the *training* labels"),
    (_majority_tuple, "most_common(1)[0][0]"),
    (_majority_uniform, "every group were the same size"),
    (_majority_count, "that is a count"),
    (lambda tr, te: 100 * _solution_majority(tr, te), "not a percentage"),
    (lambda tr, te: 0.15, "is not the majority-class accuracy"),                  # a number read off an output
    (lambda tr, te: [_solution_majority(tr, te)] * 2, "expected one number"),
    (_majority_sorts_in_place, "changed the label arrays"),
    (_majority_dummy, "library (DummyClassifier)"),
])
def test_majority_function_wrong_answers_get_hints(capsys, fn, needle):
    _rejected(capsys, checks.nb01_majority_baseline(fn, NOTEBOOK_TRAIN, NOTEBOOK_TEST), needle)


TRAIN = ["food"] * 5 + ["animal"] * 3 + ["flag"] * 2
TEST = ["food", "animal", "animal", "animal", "flag", "food"]  # majority in train: food -> 2/6


def test_majority_number_still_checked(capsys):
    assert checks.nb01_majority_baseline(2 / 6, TRAIN, TEST, require_function=False).passed is True
    assert checks.nb01_majority_baseline(np.float32(2 / 6), TRAIN, TEST, require_function=False).passed is True
    capsys.readouterr()


@pytest.mark.parametrize("value, needle", [
    (100 * 2 / 6, "not a percentage"), (3 / 6, "*test* labels"), ([0.1, 0.2], "single number"),
    ("0.33", "single number"), (0.7, "is not the majority-class accuracy"),
])
def test_majority_number_wrong_answers_get_hints(capsys, value, needle):
    _rejected(capsys, checks.nb01_majority_baseline(value, TRAIN, TEST, require_function=False), needle)


def test_majority_needs_the_labels(capsys):
    _rejected(capsys, checks.nb01_majority_baseline(_solution_majority, [], TEST), "train and test labels")


# --------------------------------------------------- exercise 5: balanced accuracy by hand

def _solution_balanced(y_true, y_pred):
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]))


def test_balanced_accuracy_solution_passes(capsys):
    assert checks.nb01_balanced_accuracy(_solution_balanced).passed is True
    assert "Correct" in capsys.readouterr().out


def _balanced_precision(y_true, y_pred):
    return float(np.mean([np.mean(y_true[y_pred == c] == c) for c in np.unique(y_pred)]))


def _balanced_union(y_true, y_pred):
    classes = np.union1d(y_true, y_pred)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


def _balanced_union_zero(y_true, y_pred):
    classes = np.union1d(y_true, y_pred)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) if np.any(y_true == c) else 0.0 for c in classes]))


def _balanced_two_classes(y_true, y_pred):
    positive = y_true[0]
    tpr = np.mean(y_pred[y_true == positive] == positive)
    tnr = np.mean(y_pred[y_true != positive] != positive)
    return float((tpr + tnr) / 2)


def _balanced_recalls(y_true, y_pred):
    return [np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]


def _balanced_sorts(y_true, y_pred):
    y_true.sort()
    return 0.5


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the NaN answer's own "mean of empty slice"
@pytest.mark.parametrize("fn, needle", [
    (None, "still empty"),
    (lambda t, p: (_ for _ in ()).throw(NotImplementedError()), "NotImplementedError"),
    (lambda t, p: float(np.mean(t == p)), "plain accuracy"),
    (_balanced_precision, "precision"),
    (lambda t, p: _solution_balanced(p, t), "swapped"),                       # arguments in the wrong order
    (lambda t, p: float(np.mean(p[t == t[0]] == t[0])), "recall of one class"),
    (lambda t, p: 100 * _solution_balanced(t, p), "not a percentage"),
    (_balanced_union, "no recall"),                                           # NaN from a class only in y_pred
    (_balanced_union_zero, "occurs only in y_pred"),
    (_balanced_two_classes, "right on two classes, wrong on three"),
    (_balanced_recalls, "expected one number"),
    (lambda t, p: 0.57, "not the balanced accuracy"),                         # a number read off an output
    (_balanced_sorts, "changed the label arrays"),
    (balanced_accuracy_score, "library"),
    (lambda t, p: recall_score(t, p, average="macro"), "library (recall_score)"),
])
def test_balanced_accuracy_wrong_answers_get_hints(capsys, fn, needle):
    _rejected(capsys, checks.nb01_balanced_accuracy(fn), needle)


def _balanced_over_predicted(y_true, y_pred):
    # iterates over the predicted classes, so a true class that is never predicted (recall 0) drops out
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in np.unique(y_pred) if (y_true == c).any()]))


@pytest.mark.parametrize("fn, needle", [
    (_balanced_over_predicted, "never predicted still counts, with recall 0"),   # found passing by a reviewer
    (lambda t, p: bas(t, p), "library (balanced_accuracy_score)"),                 # the helper under an alias
])
def test_balanced_accuracy_found_passing_by_a_reader_now_rejected(capsys, fn, needle):
    _rejected(capsys, checks.nb01_balanced_accuracy(fn), needle)


def _cosine_l2_normalize(a, b):                        # outside review 2: passed before
    return mm.embeddings.l2_normalize(a) @ mm.embeddings.l2_normalize(b).T


def _cosine_sk_normalize(a, b):
    return sk_normalize(a) @ sk_normalize(b).T


def _cosine_torch_normalize(a, b):
    a_t, b_t = torch.as_tensor(a), torch.as_tensor(b)
    return (F.normalize(a_t, dim=1) @ F.normalize(b_t, dim=1).T).numpy()


@pytest.mark.parametrize("fn, needle", [
    (_cosine_l2_normalize, "library (l2_normalize)"),
    (_cosine_sk_normalize, "library (normalize)"),
    (_cosine_torch_normalize, "library (normalize)"),
])
def test_cosine_row_normalising_helpers_rejected(capsys, fn, needle):
    _rejected(capsys, checks.nb01_cosine_similarity(fn), needle)


def test_cosine_with_a_normalise_helper_of_ones_own_passes(capsys):
    """A learner's own `normalize` written in the notebook is their code, not a library's."""
    notebook = {"np": np}
    exec("def normalize(x):\n    return x / np.linalg.norm(x, axis=1, keepdims=True)\n"
         "def cosine(a, b):\n    return normalize(a) @ normalize(b).T\n", notebook)
    assert checks.nb01_cosine_similarity(notebook["cosine"]).passed is True
    capsys.readouterr()


def _majority_alphabetical_max(train_labels, test_labels):  # outside review 2: refused with the wrong hint
    return float(np.mean(test_labels == max(train_labels)))


def _majority_alphabetical_min(train_labels, test_labels):
    return float(np.mean(test_labels == min(train_labels)))


@pytest.mark.parametrize("fn", [_majority_alphabetical_max, _majority_alphabetical_min])
def test_majority_by_sort_order_gets_its_own_hint(capsys, fn):
    _rejected(capsys, checks.nb01_majority_baseline(fn, NOTEBOOK_TRAIN, NOTEBOOK_TEST), "sort order")


def test_cosine_helper_under_an_alias_rejected(capsys):
    def aliased(a, b):
        return cs(a, b)
    _rejected(capsys, checks.nb01_cosine_similarity(aliased), "library (cosine_similarity)")


def test_search_helper_under_an_alias_rejected(capsys):
    def aliased(query, corpus, k):
        return NN(n_neighbors=k, metric="cosine").fit(corpus).kneighbors(query[None])[1][0]
    _rejected(capsys, checks.nb01_nearest_neighbours(aliased), "library")


def test_balanced_accuracy_cases_separate_the_mistakes():
    """The check's data make every mistake above give a number different from the right one."""
    from mmlab.exercises.nb01 import _BALANCED_CASES  # the check's own data, named in its docstring

    t, p = (np.array(x) for x in _BALANCED_CASES[0])
    right = _solution_balanced(t, p)
    assert right == pytest.approx(balanced_accuracy_score(t, p))
    for wrong in (float(np.mean(t == p)), _balanced_precision(t, p), _solution_balanced(p, t)):
        assert abs(wrong - right) > 0.05


# ------------------------------------------- outside review 3: wrong answers that passed before

def _cosine_scipy_loop(a, b):
    from scipy.spatial.distance import cosine
    return np.array([[1 - cosine(x, y) for y in b] for x in a])


def _cosine_pairwise_kernels(a, b):
    from sklearn.metrics.pairwise import pairwise_kernels
    return pairwise_kernels(a, b, metric="cosine")


def _cosine_linear_kernel(a, b):
    from sklearn.metrics.pairwise import linear_kernel
    return linear_kernel(sk_normalize(a), sk_normalize(b))


def _cosine_own_wrapper_of_a_library():
    """The learner's own helper that hands the work to sklearn, called from the answer."""
    notebook = {"np": np, "sk_normalize": sk_normalize}
    exec("def unit_rows(x):\n    return sk_normalize(x)\n"
         "def cosine(a, b):\n    return unit_rows(a) @ unit_rows(b).T\n", notebook)
    return notebook["cosine"]


@pytest.mark.parametrize("fn, needle", [
    (_cosine_scipy_loop, "library (cosine)"),
    (_cosine_pairwise_kernels, "library (pairwise_kernels)"),
    (_cosine_linear_kernel, "library (linear_kernel)"),
    (_cosine_own_wrapper_of_a_library(), "called by your unit_rows()"),
])
def test_cosine_library_kernels_rejected(capsys, fn, needle):
    _rejected(capsys, checks.nb01_cosine_similarity(fn), needle)


def _knn_skips_itself(q, c, k):
    """'A vector is not its own neighbour': drops every row with cosine ~1 (review 3: passed, and the
    notebook's [1:] then lost 'tomato')."""
    scores = _solution_cosine(q[None], c)[0]
    return np.array([j for j in np.argsort(-scores) if scores[j] < 1 - 1e-6][:k])


def _knn_skips_equal_rows(q, c, k):
    scores = _solution_cosine(q[None], c)[0]
    return np.array([j for j in np.argsort(-scores) if not np.array_equal(c[j], q)][:k])


def _knn_sklearn_cosine(q, c, k):
    return np.argsort(-cs(q[None], c)[0])[:k]


def _knn_abs_cosine(q, c, k):
    return np.argsort(-np.abs(_solution_cosine(q[None], c)[0]))[:k]


def _knn_own_cosine(q, c, k):
    """Builds on exercise 1's function, as the exercise asks: passes."""
    return np.argsort(-_solution_cosine(q[None], c)[0])[:k]


@pytest.mark.parametrize("fn, needle", [
    (_knn_skips_itself, "its own best match"),
    (_knn_skips_equal_rows, "its own best match"),
    (_knn_sklearn_cosine, "library (cosine_similarity)"),
    (_knn_abs_cosine, "not the k most similar"),
])
def test_nearest_neighbours_review3_wrong_answers_rejected(capsys, fn, needle):
    _rejected(capsys, checks.nb01_nearest_neighbours(fn), needle)


def test_nearest_neighbours_building_on_exercise_1_passes(capsys):
    assert checks.nb01_nearest_neighbours(_knn_own_cosine).passed is True
    capsys.readouterr()


def _majority_distinct_test_labels(train_labels, test_labels):
    label = Counter(train_labels).most_common(1)[0][0]
    return float(np.mean(np.unique(test_labels) == label))


def _majority_scipy_mode(train_labels, test_labels):
    from scipy import stats
    return float(np.mean(test_labels == stats.mode(train_labels).mode))


def test_majority_distinct_labels_gets_its_own_hint(capsys):
    _rejected(capsys, checks.nb01_majority_baseline(_majority_distinct_test_labels, NOTEBOOK_TRAIN, NOTEBOOK_TEST),
              "*distinct* test label")


def test_majority_first_training_label_rejected(capsys):
    _rejected(capsys, checks.nb01_majority_baseline(lambda tr, te: float(np.mean(te == tr[0])),
                                                    NOTEBOOK_TRAIN, NOTEBOOK_TEST), "first training label")


def _balanced_confusion_matrix(y_true, y_pred):
    from sklearn.metrics import confusion_matrix
    table = confusion_matrix(y_true, y_pred)
    return float(np.nanmean(np.diag(table) / table.sum(axis=1)))


def test_balanced_accuracy_confusion_matrix_rejected(capsys):
    _rejected(capsys, checks.nb01_balanced_accuracy(_balanced_confusion_matrix), "library (confusion_matrix)")


def test_ranking_hint_agrees_with_the_notebook(capsys):
    """Review 3: the hint blamed mean pooling ('which questions can a mean of tokens answer?'), which the
    notebook refutes (contextual tokens with positions); it now points at the training pairs."""
    checks.nb01_predict_ranking("bacd", SIMS)
    out = capsys.readouterr().out
    assert "mean of" not in out and "sentence pairs" in out


# --- outside review 4 -------------------------------------------------------------------------------

@pytest.mark.parametrize("ranking", ["bacd", "dcab", "cdba", "cadb", "cbad"])
def test_predict_ranking_wrong_first_pick_has_no_dangling_parenthesis(capsys, ranking):
    """Review 4: a wrong first pick printed "(but not the rest)" with nothing before it."""
    out = _rejected(capsys, checks.nb01_predict_ranking(ranking, SIMS), "not the model's order")
    assert "(but" not in out and "closest candidate is right" not in out


def test_predict_ranking_feedback_is_the_same_for_every_wrong_order(capsys):
    """Review 13: "the closest candidate is right" told a learner the first letter, so the 24 orders
    could be searched in a few tries; every wrong order now gets the same words."""
    import itertools
    outs = set()
    for order in itertools.permutations("abcd"):
        if "".join(order) != "cdab":
            checks.nb01_predict_ranking("".join(order), SIMS)
            outs.add(capsys.readouterr().out)
    assert len(outs) == 1, outs


def _majority_sklearn(train_labels, test_labels):
    from sklearn.dummy import DummyClassifier
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(train_labels), 1)), train_labels)
    return dummy.score(np.zeros((len(test_labels), 1)), test_labels)


@pytest.mark.parametrize("value, needle", [
    (lambda: _majority_sklearn(NOTEBOOK_TRAIN, NOTEBOOK_TEST), "expected a function"),  # the helper's number
    (lambda: _solution_majority(np.asarray(NOTEBOOK_TRAIN), np.asarray(NOTEBOOK_TEST)), "expected a function"),
    (lambda: round(_solution_majority(np.asarray(NOTEBOOK_TRAIN), np.asarray(NOTEBOOK_TEST)), 2),
     "expected a function"),                                                             # typed by hand
])
def test_majority_number_refused_where_a_function_is_asked(capsys, value, needle):
    """Review 4: a number (even the right one, from majority_baseline_sklearn) passed exercise 4."""
    out = _rejected(capsys, checks.nb01_majority_baseline(value(), NOTEBOOK_TRAIN, NOTEBOOK_TEST), needle)
    assert "write my_majority_baseline" in out


def test_majority_function_still_passes_when_required(capsys):
    assert checks.nb01_majority_baseline(_solution_majority, NOTEBOOK_TRAIN, NOTEBOOK_TEST,
                                         require_function=True).passed is True
    capsys.readouterr()


def _nn_ascending_tail(q, c, k):                         # review 4: argsort(s)[-k:], the best row last
    return np.argsort(_solution_cosine(q[None], c)[0])[-k:]


def _nn_library_normalise(q, c, k):                      # review 4: passed before (l2_normalize is exercise 1)
    return np.argsort(-(mm.embeddings.l2_normalize(c) @ q))[:k]


@pytest.mark.parametrize("fn, needle", [
    (_nn_ascending_tail, "least similar first"),
    (_nn_library_normalise, "library (l2_normalize)"),
])
def test_nearest_neighbours_review4_wrong_answers_rejected(capsys, fn, needle):
    _rejected(capsys, checks.nb01_nearest_neighbours(fn), needle)


# --- outside review 5 -------------------------------------------------------------------------------

def _balanced_adjusted(y_true, y_pred):
    classes = np.unique(y_true)
    mean_recall = np.mean([np.mean(y_pred[y_true == c] == c) for c in classes])
    return float((mean_recall - 1 / len(classes)) / (1 - 1 / len(classes)))


def _balanced_median(y_true, y_pred):
    return float(np.median([np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]))


@pytest.mark.parametrize("fn, needle", [
    (_balanced_adjusted, "*adjusted* balanced accuracy"),   # review 5: was told "the recall of one class"
    (_balanced_median, "you took the median"),               # review 12: the hint now names the median
])
def test_balanced_accuracy_review5_wrong_answers_rejected(capsys, fn, needle):
    _rejected(capsys, checks.nb01_balanced_accuracy(fn), needle)


def test_predict_ranking_hint_names_no_answer(capsys):
    """Review 5: the hint named both cues (who did what to whom, a single 'not'), pointing at c and d."""
    out = _rejected(capsys, checks.nb01_predict_ranking("abcd", SIMS), "not the model's order")
    assert "'not'" not in out and "whom" not in out


# --- outside review 6: two wrong answers that failed with a hint naming another mistake ----------------

def _balanced_min_recall(y_true, y_pred):
    return float(min(np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)))


def _majority_least_common(train, test):
    least = Counter(train.tolist()).most_common()[-1][0]
    return float(np.mean(test == least))


def _majority_least_common_by_min(train, test):
    counts = Counter(train.tolist())
    return float(np.mean(test == min(counts, key=counts.get)))


@pytest.mark.parametrize("fn, needle", [
    (_balanced_min_recall, "smallest recall"),   # review 6: was told "the *adjusted* balanced accuracy"
])
def test_balanced_accuracy_review6_wrong_answers_rejected(capsys, fn, needle):
    out = _rejected(capsys, checks.nb01_balanced_accuracy(fn), needle)
    assert "adjusted" not in out


@pytest.mark.parametrize("fn", [_majority_least_common, _majority_least_common_by_min])
def test_majority_least_common_label_gets_its_own_hint(capsys, fn):
    """Review 6: the least common training label was also the alphabetical max, so the hint said 'sort order'."""
    out = _rejected(capsys, checks.nb01_majority_baseline(fn, NOTEBOOK_TRAIN, NOTEBOOK_TEST), "*least* common")
    assert "sort order" not in out


def test_majority_first_case_separates_least_common_from_sort_order():
    from mmlab.exercises.nb01 import _MAJORITY_CASES

    train, test = _MAJORITY_CASES[0]
    least = Counter(train).most_common()[-1][0]
    shares = {label: np.mean([t == label for t in test]) for label in {least, max(train), min(train)}}
    assert len(shares) == 3 and len(set(shares.values())) == 3


# --- outside review 7 -------------------------------------------------------------------------------

def test_predict_ranking_meaning_first_is_a_real_prediction_not_a_format_error(capsys):
    """Review 7, defect 1: "badc" (ranked by meaning) is the reverse of the model's order; the check called
    it "the model's order backwards" with a format hint, which misled and gave the answer away by reversal."""
    out = _rejected(capsys, checks.nb01_predict_ranking("badc", SIMS), "not the model's order")
    assert "backwards" not in out and "first letter" not in out and "cdab" not in out
    assert "sentence pairs" in out      # the hint asks about the training pairs, as for any other wrong order


def test_majority_docstring_does_not_give_the_decision_away():
    """Review 7, defect 4: exercise 4 is now the decision *which* labels to count from; `?` must not answer it."""
    doc = checks.nb01_majority_baseline.__doc__ or ""
    assert "most common training label" not in doc and "most common train" not in doc
    assert all(choice in doc for choice in ("training labels", "test labels", "both"))   # names all three


# --- outside review 8: two wrong answers that failed with a hint naming another mistake ----------------

def _majority_best_on_test(train, test):
    """Peeks: the training label that scores best on the test labels."""
    best = max(sorted(set(train.tolist())), key=lambda label: np.mean(test == label))
    return float(np.mean(test == best))


def _knn_query_only_normalised(q, c, k):
    return np.argsort(-(c @ (q / np.linalg.norm(q))))[:k]


def test_majority_peeking_at_test_labels_gets_its_own_hint(capsys):
    """Review 8, defect 6: was told "you picked the *least* common training label"."""
    out = _rejected(capsys, checks.nb01_majority_baseline(_majority_best_on_test, NOTEBOOK_TRAIN, NOTEBOOK_TEST),
                    "scores best on the *test* labels")
    assert "least" not in out


def test_majority_first_case_separates_peeking_from_least_common_and_sort_order():
    from mmlab.exercises.nb01 import _MAJORITY_CASES

    train, test = _MAJORITY_CASES[0]
    counts = Counter(train)
    picks = {counts.most_common(1)[0][0], counts.most_common()[-1][0], max(train), min(train), train[0],
             max(sorted(set(train)), key=test.count), Counter(train + test).most_common(1)[0][0]}
    shares = [np.mean([t == label for t in test]) for label in picks]
    assert len(picks) == 6 and len(set(shares)) == 6      # train[0] is the majority; the rest all differ


def test_majority_small_cases_are_shown_and_the_notebook_split_is_named(capsys):
    out = _rejected(capsys, checks.nb01_majority_baseline(_majority_best_on_test, NOTEBOOK_TRAIN, NOTEBOOK_TEST),
                    "on train labels")
    assert "notebook's split" not in out


def test_nearest_neighbours_query_only_normalised_is_told_the_corpus_lengths_decide(capsys):
    """Review 8, defect 6: normalising only the query was told "Normalise the query and the corpus rows"."""
    out = _rejected(capsys, checks.nb01_nearest_neighbours(_knn_query_only_normalised), "corpus rows' lengths")
    assert "only the query" in out


# --- outside review 9 -------------------------------------------------------------------------------

def _nn_sk_normalize(q, c, k):                           # review 9: passed (exercise 1 refused it)
    return np.argsort(-(sk_normalize(c) @ q))[:k]


def _nn_torch_normalize(q, c, k):                        # review 9: passed (exercise 1 refused it)
    import torch
    import torch.nn.functional as F
    return np.argsort(-(F.normalize(torch.as_tensor(c), dim=1).numpy() @ q))[:k]


@pytest.mark.parametrize("fn, needle", [
    (_nn_sk_normalize, "library (normalize)"),
    (_nn_torch_normalize, "library (normalize)"),
])
def test_nearest_neighbours_review9_library_normalise_rejected(capsys, fn, needle):
    """Exercise 3 refuses a library row-normaliser, as exercise 1 does (cell 25 says so)."""
    _rejected(capsys, checks.nb01_nearest_neighbours(fn), needle)


def test_nearest_neighbours_own_normalise_still_passes(capsys):
    """A learner's own helper named normalize is their code, not a library's."""
    notebook = {"np": np}
    exec("def normalize(x):\n    return x / np.linalg.norm(x, axis=-1, keepdims=True)\n"
         "def nn(q, c, k):\n    return np.argsort(-(normalize(c) @ q), kind='stable')[:k]\n", notebook)
    assert checks.nb01_nearest_neighbours(notebook["nn"]).passed is True
    capsys.readouterr()


def test_majority_number_refused_by_default(capsys):
    """Review 9: require_function is the default, so the notebook's check call needs no grader knob."""
    _rejected(capsys, checks.nb01_majority_baseline(2 / 6, TRAIN, TEST), "expected a function")


# Review 10: library answers that passed because their names were not on a list; now refused by module.
def _cos_st_util(a, b):
    from sentence_transformers import util
    return util.cos_sim(a, b).numpy()


def _cos_normalizer(a, b):
    from sklearn.preprocessing import Normalizer
    return Normalizer().fit_transform(a) @ Normalizer().fit_transform(b).T


def _nn_st_util(q, c, k):
    from sentence_transformers import util
    return np.argsort(-util.cos_sim(q, c).numpy()[0])[:k]


def _nn_normalizer(q, c, k):
    from sklearn.preprocessing import Normalizer
    return np.argsort(-(Normalizer().fit_transform(c) @ q))[:k]


def _nn_mmlab_flat(q, c, k):
    return mm.search.build_index("flat", c).search(q[None], k).ids[0]


def _nn_balltree(q, c, k):
    from sklearn.neighbors import BallTree
    unit = c / np.linalg.norm(c, axis=1, keepdims=True)
    return BallTree(unit).query((q / np.linalg.norm(q))[None], k=k)[1][0]


def _model_similarity():
    """A learner calling st_model.similarity on the notebook's SentenceTransformer (not loaded: refused first)."""
    from sentence_transformers import SentenceTransformer
    scope = {"st_model": SentenceTransformer.__new__(SentenceTransformer), "np": np}
    exec("def cos(a, b):\n    return st_model.similarity(a, b).numpy()\n"
         "def nn(q, c, k):\n    return np.argsort(-st_model.similarity(q[None], c).numpy()[0])[:k]\n", scope)
    return scope["cos"], scope["nn"]


@pytest.mark.parametrize("fn, needle", [
    (_cos_st_util, "from sentence_transformers"),
    (_cos_normalizer, "Normalizer, from sklearn"),
    (_model_similarity()[0], "st_model.similarity, from sentence_transformers"),
])
def test_cosine_review10_library_modules_rejected(capsys, fn, needle):
    _rejected(capsys, checks.nb01_cosine_similarity(fn), needle)


@pytest.mark.parametrize("fn, needle", [
    (_nn_st_util, "from sentence_transformers"),
    (_nn_normalizer, "Normalizer, from sklearn"),
    (_nn_mmlab_flat, "mm.search.build_index, from mmlab.search"),
    (_nn_balltree, "BallTree, from sklearn"),
    (_model_similarity()[1], "st_model.similarity, from sentence_transformers"),
])
def test_nearest_neighbours_review10_library_modules_rejected(capsys, fn, needle):
    _rejected(capsys, checks.nb01_nearest_neighbours(fn), needle)


def test_review10_numpy_and_own_helpers_still_pass(capsys):
    """Refusing by module keeps numpy and the learner's own helpers (which may call numpy) allowed."""
    notebook = {"np": np}
    exec("def unit(x):\n    return x / np.linalg.norm(x, axis=-1, keepdims=True)\n"
         "def cos(a, b):\n    return unit(a) @ unit(b).T\n"
         "def nn(q, c, k):\n    return np.argsort(-cos(q[None], c)[0])[:k]\n", notebook)
    assert checks.nb01_cosine_similarity(notebook["cos"]).passed is True
    assert checks.nb01_nearest_neighbours(notebook["nn"]).passed is True
    capsys.readouterr()


# --- outside review 12 ------------------------------------------------------------------------------

def my_cosine_similarity(a, b):          # exercise 1 still a stub, as in the student copy
    raise NotImplementedError()


def _knn_on_unsolved_exercise_1(query, corpus, k):
    return np.argsort(-my_cosine_similarity(query[None, :], corpus)[0])[:k]


def test_nearest_neighbours_names_the_unsolved_exercise_1(capsys):
    """Review 12: exercise 3 written on top of an unsolved exercise 1 was told to replace its own stub line."""
    out = _rejected(capsys, checks.nb01_nearest_neighbours(_knn_on_unsolved_exercise_1),
                    "my_cosine_similarity (exercise 1), which your function calls, still raises")
    assert "replace that line" not in out


def test_nearest_neighbours_own_stub_keeps_the_plain_message(capsys):
    _rejected(capsys, checks.nb01_nearest_neighbours(_knn_stub), "your function still raises NotImplementedError")


def test_balanced_accuracy_median_hint_names_the_median(capsys):
    """Review 12: the median of the recalls was told 'the recall of one class', which is true but names no mistake."""
    out = _rejected(capsys, checks.nb01_balanced_accuracy(_balanced_median), "you took the median")
    assert "mean" in out


def _knn_one_dimensional_query(query, corpus, k):      # my_cosine_similarity(query, ...) with query of shape (D,)
    return np.argsort(-_solution_cosine(query, corpus)[0])[:k]


def test_nearest_neighbours_one_dimensional_query_is_told_to_add_a_row(capsys):
    """Review 12: a (D,) query handed to the row-wise exercise-1 function got only the generic AxisError line."""
    _rejected(capsys, checks.nb01_nearest_neighbours(_knn_one_dimensional_query), "query[None, :]")


def _knn_error_from_elsewhere(query, corpus, k):        # raised by code that is not one of the learner's functions
    def inner():
        raise NotImplementedError("not a stub of the notebook")
    return inner()


def test_nearest_neighbours_names_only_the_learners_own_stub(capsys):
    out = _rejected(capsys, checks.nb01_nearest_neighbours(_knn_error_from_elsewhere), "NotImplementedError")
    assert "which your function calls" not in out
