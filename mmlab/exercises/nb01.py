"""Exercise checks for notebook 01, single-modality embeddings (re-exported by mmlab.checks)."""
from __future__ import annotations

import types
from collections import Counter
from collections.abc import Mapping

import numpy as np

from ._feedback import (
    EMPTY_MESSAGE,
    CheckResult,
    as_numpy,
    call_learner,
    is_empty,
    library_used,
    report,
    shape_problem,
)
from ._feedback import names_used as _names_used
from ._nb01_cases import raising_function, search_call_hint, stub_message

__all__: list[str] = [
    "nb01_balanced_accuracy",
    "nb01_cosine_similarity",
    "nb01_majority_baseline",
    "nb01_nearest_neighbours",
    "nb01_predict_closest",
    "nb01_predict_ranking",
]

#: Names whose use in a learner's function means a library did the work the exercise asks for.
_COSINE_HELPERS = frozenset({"cosine_similarity", "pairwise_distances", "cdist", "cosine", "cosine_distances",
                             "pairwise_kernels", "linear_kernel", "paired_cosine_distances", "paired_distances",
                             # row-normalising helpers: normalising the rows is the exercise
                             "normalize", "l2_normalize", "normalise"})
#: Exercise 3 builds on exercise 1: a library's cosine (or search) instead of the learner's own.
_SEARCH_HELPERS = frozenset({"exact_topk", "NearestNeighbors", "semantic_search", "kneighbors",
                             "cosine_similarity", "pairwise_distances", "cdist", "cosine_distances",
                             "pairwise_kernels", "linear_kernel", "l2_normalize",
                             "normalize", "normalise"})  # as in exercise 1: normalising the rows is its work
_METRIC_HELPERS = frozenset({"balanced_accuracy_score", "recall_score", "precision_recall_fscore_support",
                             "classification_report", "confusion_matrix", "multilabel_confusion_matrix"})
#: Modules whose cosine, normaliser or search does exercise 1's or 3's work, whatever the name (numpy stays allowed).
_COSINE_LIBRARIES = ("sentence_transformers", "sklearn", "scipy", "torch", "faiss", "mmlab.search", "mmlab.embeddings")
_LIBRARIES = ("mmlab", "sklearn", "scipy", "torch", "numpy", "sentence_transformers", "faiss")


def _library_call(fn, helpers: frozenset[str]) -> str | None:
    """The library function a learner's answer is, or calls, instead of writing the computation; else None."""
    module = getattr(fn, "__module__", None) or ""
    if module.split(".")[0] in _LIBRARIES:
        return getattr(fn, "__qualname__", None) or repr(fn)
    scope = getattr(fn, "__globals__", None) or {}

    def learners_own(name: str) -> bool:
        # A helper the learner wrote in the notebook under the same name is their own code, not a library's.
        bound = scope.get(name)
        return callable(bound) and not isinstance(bound, types.ModuleType) and \
            (getattr(bound, "__module__", None) or "").split(".")[0] not in _LIBRARIES
    names = _names_used(fn)
    # One level into the learner's own helpers that the answer calls (def unit_rows(x): return normalize(x)).
    for name in sorted(names):
        bound = scope.get(name)
        if learners_own(name) and isinstance(getattr(bound, "__code__", None), types.CodeType) and bound is not fn:
            inner = {n for n in _names_used(bound) & helpers if not _library_free(bound, n)}
            if inner:
                return f"{sorted(inner)[0]}, called by your {name}()"
    used = sorted(name for name in names & helpers if not learners_own(name))
    return used[0] if used else None


def _library_free(fn, name: str) -> bool:
    """True when ``name`` in fn's scope is a function the learner wrote (not a library's)."""
    bound = (getattr(fn, "__globals__", None) or {}).get(name)
    return callable(bound) and not isinstance(bound, types.ModuleType) and \
        (getattr(bound, "__module__", None) or "").split(".")[0] not in _LIBRARIES


def _short(values: list, n: int = 6) -> str:
    """A list for a message: all of it when short, else its first items and '...'."""
    return str(values) if len(values) <= n else "[" + ", ".join(map(str, values[:n])) + ", ...]"


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
        f"your pick ranks {rank} of {len(keys)}.",
        "compare the candidates with the query: which words they share, whether the words come in the same "
        "order, whether they mean the same. Which of these did the model react to?",
    )


def _parse_ranking(ranking, keys: list[str]) -> tuple[list[str] | None, str]:
    """The learner's ranking as a list of keys, or (None, what is wrong with it)."""
    if isinstance(ranking, str):
        if all(len(k) == 1 for k in keys):
            items = [ch for ch in ranking.strip().lower() if ch.isalnum()]   # "abcd", "a, b, c, d", "a > b > c > d"
        else:
            items = [t for t in "".join(ch if ch.isalnum() else " " for ch in ranking.lower()).split() if t]
    elif isinstance(ranking, (list, tuple)):
        items = [str(x).strip().lower() for x in ranking]
    else:
        return None, f"expected the {len(keys)} letters in order, closest first (a string or a list), got {type(ranking).__name__}."
    lower = {k.lower(): k for k in keys}
    unknown = [x for x in items if x not in lower]
    if unknown:
        return None, f"expected only the letters {', '.join(keys)}; got {unknown[0]!r}."
    if len(items) == 1:
        return None, f"you named one candidate; rank all {len(keys)}, closest first."
    missing = [k for k in keys if k.lower() not in items]
    repeated = sorted({x for x in items if items.count(x) > 1})
    if missing or repeated:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"repeated {', '.join(repeated)}"] if repeated else [])
        return None, f"name each candidate exactly once ({'; '.join(parts)})."
    return [lower[x] for x in items], ""


def nb01_predict_ranking(ranking, similarities, tolerance: float = 0.005) -> CheckResult:
    """Predict-then-run: the order in which a model puts the candidates, closest to the query first.

    The check never prints the similarities (the cell after it does), so a wrong ranking cannot be
    corrected by reading them off the feedback.

    Args:
        ranking: the learner's prediction: all the keys of ``similarities`` in order, closest
            first, as a string ("badc", "b, a, d, c") or a list (["b", "a", "d", "c"]).
        similarities: {key: cosine similarity of that candidate to the query}, measured in the
            check cell.
        tolerance: two candidates closer than this may come in either order.
    """
    scores = _scores_dict(similarities, "similarities")
    if scores is None:
        return report(False, "", "the check needs the dict of measured similarities as its second argument.")
    if is_empty(ranking):
        return report(False, "", EMPTY_MESSAGE)
    keys = list(scores)
    order, problem = _parse_ranking(ranking, keys)
    if order is None:
        return report(False, "", problem, f"write the {len(keys)} letters from closest to farthest, e.g. "
                                          f"{''.join(sorted(keys))!r} if you think that is the order.")
    n_pairs = len(keys) * (len(keys) - 1) // 2
    agree = sum(scores[order[i]] >= scores[order[j]] - tolerance
                for i in range(len(order)) for j in range(i + 1, len(order)))
    if agree == n_pairs:
        return report(True, "Your ranking is the model's. The cell below prints the cosines: read how far apart "
                            "they are, and what each candidate changed in the query.")
    # No "backwards" branch: a ranking by meaning (paraphrase first) is nearly the reverse of the model's
    # order, and calling it a format mistake would both mislead and hand over the answer (review 7).
    # No "k of 4 in place" count and no "the closest is right" clause: either would let a learner
    # search the 24 orders for the answer (reviews 2 and 13).
    return report(
        False, "",
        "that is not the model's order. Revise your reasoning, not your letters: "
        "the cell below shows the model's order.",
        "for each candidate ask: how many words does it share with the query, are they in the same order, "
        "does it mean the same? MiniLM learned from about a billion sentence pairs: which of those three "
        "differences did such pairs reward most often?",
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
    helper = None if is_empty(fn) else (_library_call(fn, _COSINE_HELPERS) or library_used(fn, _COSINE_LIBRARIES))
    if helper:
        return report(False, "", f"your function hands the work to a library ({helper}).",
                      "write it with numpy only: divide each row by its length, then one matrix product.")
    a_in, b_in = a.copy(), b.copy()
    out, problem = call_learner(fn, a_in, b_in)
    if problem:
        return report(False, "", problem, "fn(a, b) should return a numpy array of shape (len(a), len(b)).")
    if not (np.array_equal(a_in, a) and np.array_equal(b_in, b)):
        return report(False, "", "your function changed the arrays it was given (in place, e.g. a /= ...).",
                      "write a = a / ... instead, so the caller's embeddings stay as they were.")
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
    small_corpus = rng.normal(size=(12, 8))
    small_query = small_corpus[3] + 0.3 * rng.normal(size=8)
    # Long vectors pointing elsewhere: a dot product ranks them high, a cosine does not.
    small_corpus[[0, 7]] = (0.4 * small_corpus[3] + rng.normal(size=(2, 8))) * 25.0
    helper = None if is_empty(fn) else (_library_call(fn, _SEARCH_HELPERS) or library_used(fn, _COSINE_LIBRARIES))
    if helper:
        return report(False, "", f"your function hands the search to a library ({helper}).",
                      "write it yourself: the cosine of the query with every row, then a sort.")
    # A second, larger corpus where k is big enough that np.argpartition leaves the k best unsorted.
    big_rng = np.random.default_rng(17)
    big_corpus = big_rng.normal(size=(1000, 8)) * big_rng.uniform(0.2, 5.0, size=(1000, 1))
    big_query = big_rng.normal(size=8)
    # The query is itself a row of the corpus (as when the notebook searches the emoji for the red apple):
    # that row is its own best match and must come first; leaving it out is the caller's job.
    self_corpus = big_rng.normal(size=(20, 8)) * big_rng.uniform(0.2, 5.0, size=(20, 1))
    self_query = self_corpus[13].copy()
    cases = ((small_query, small_corpus, 3), (small_query, small_corpus, 1), (big_query, big_corpus, 500),
             (self_query, self_corpus, 4))
    for query, corpus, k in cases:
        cos = _reference_cosine(query[None], corpus)[0]
        best = np.argsort(-cos)
        dot = corpus @ query
        query_in, corpus_in = query.copy(), corpus.copy()
        out, problem = call_learner(fn, query_in, corpus_in, k)
        if problem:
            stub = raising_function(fn, query.copy(), corpus.copy(), k) if "NotImplementedError" in problem else None
            return report(False, "", stub_message(stub) if stub else problem, search_call_hint(problem))
        if not (np.array_equal(query_in, query) and np.array_equal(corpus_in, corpus)):
            return report(False, "", "your function changed the arrays it was given (in place, e.g. corpus /= ...).",
                          "write corpus = corpus / ... instead, so the caller's embeddings stay as they were.")
        problem = shape_problem(out, (k,))
        if problem:
            return report(False, "", problem, "return the indices of the k best rows, one number per neighbour.")
        arr = as_numpy(out)
        if not np.allclose(arr, np.round(arr)) or arr.min() < 0 or arr.max() >= len(corpus):
            if np.allclose(np.sort(arr)[::-1], np.sort(cos)[::-1][:k], atol=1e-5):
                return report(False, "", "you returned the similarity scores, not the row indices.",
                              "np.argsort gives positions; use them to pick the best rows.")
            return report(False, "", f"expected row indices between 0 and {len(corpus) - 1}, got {_short(arr.tolist())}.",
                          "np.argsort returns indices; take the first k after sorting from best to worst.")
        idx = arr.astype(int)
        if np.array_equal(idx, best[:k]):
            continue
        if np.array_equal(idx, np.argsort(-dot)[:k]):
            hint = ("you ranked by the plain dot product (normalising only the query does not change that order): "
                    "the corpus rows' lengths decide it, so long rows win. Divide by the corpus rows' norms too.")
        elif np.array_equal(idx, np.argsort(cos)[:k]) or np.array_equal(idx, best[::-1][:k]):
            hint = "those are the least similar rows: sort from the largest cosine down (np.argsort(-scores))."
        elif np.array_equal(idx, best[1:k + 1]) and np.allclose(corpus[best[0]], query):
            hint = ("you left out the query's own row: when the query is a row of the corpus it is its own best "
                    "match (cosine 1), and the function must return it first. Leaving it out is the caller's job "
                    "(the next cells do it with [1:] or `if j != i`); otherwise the caller drops a real neighbour.")
        elif np.array_equal(idx, best[1:k + 1]):
            hint = "you skipped the best match: return the k most similar rows, starting with the most similar."
        elif np.array_equal(idx, best[:k][::-1]):
            hint = ("the right rows in the wrong order, least similar first: np.argsort sorts ascending, so argsort(s)[-k:] ends "
                    "with the best row. Sort descending (np.argsort(-scores)[:k]).")
        elif set(idx.tolist()) == set(best[:k].tolist()):
            hint = ("the right rows in the wrong order: the most similar one comes first (np.argpartition "
                    "finds the k best but does not sort them; sort those k by their scores).")
        else:
            hint = "compute the cosine of the query with every corpus row, then take the k largest."
        return report(False, "", f"with k={k} your neighbours are {_short(idx.tolist())}, not the k most similar rows.",
                      hint)
    return report(True, "Cosine search is one matrix-vector product and a sort (the query's length scales every "
                        "score alike, so it cannot change the order); notebook 05 makes it fast for millions of vectors.")


def _majority_problem(got: float, train: list, test: list) -> tuple[str, str] | None:
    """None when ``got`` is the test accuracy of always answering the most common training label;
    else (what is wrong, a hint that names the mistake)."""
    majority = Counter(train).most_common(1)[0][0]
    expected = float(np.mean([t == majority for t in test]))
    if abs(got - expected) < 1e-3:
        return None
    n_groups = len(set(train) | set(test))
    test_majority = Counter(test).most_common(1)[0][0]
    pooled_majority = Counter(train + test).most_common(1)[0][0]
    train_share = float(np.mean([t == majority for t in train]))
    if abs(got - expected * 100) < 0.1 and expected > 0:
        hint = "give the accuracy as a fraction between 0 and 1, not a percentage."
    elif test_majority != majority and abs(got - float(np.mean([t == test_majority for t in test]))) < 1e-3:
        hint = ("you took the most common label of the *test* labels: at prediction time they are unknown, "
                "so that baseline has peeked at the answers. Take it from the training labels.")
    elif any(label != majority and abs(got - float(np.mean([t == label for t in test]))) < 1e-3
             for label in (max(train), min(train))):
        hint = ("you picked a label by its sort order (max()/min() of the labels compares the strings "
                "alphabetically), not by how often it occurs: count them (collections.Counter(...).most_common(1)).")
    elif train[0] != majority and abs(got - float(np.mean([t == train[0] for t in test]))) < 1e-3:
        hint = ("you took the first training label, not the most common one: count them "
                "(collections.Counter(...).most_common(1)[0][0]).")
    elif (peeked := max(sorted(set(train)), key=test.count)) != majority \
            and abs(got - float(np.mean([t == peeked for t in test]))) < 1e-3:
        hint = ("you chose the training label that scores best on the *test* labels: that peeks at the answers, "
                "which are unknown at prediction time. Choose it from the training labels alone.")
    elif (least := Counter(train).most_common()[-1][0]) != majority \
            and abs(got - float(np.mean([t == least for t in test]))) < 1e-3:
        hint = ("you picked the *least* common training label (most_common()[-1], or min by count): the "
                "baseline always answers the most common one, most_common(1)[0][0].")
    elif pooled_majority != majority and abs(got - float(np.mean([t == pooled_majority for t in test]))) < 1e-3:
        hint = ("you counted the test labels too when choosing the label (train and test together): "
                "choose it from the training labels only.")
    elif abs(got - train_share) < 1e-3:
        hint = ("that is how common the label is among the *training* labels; the baseline is scored on the "
                "test labels: the fraction of test labels equal to it.")
    elif abs(got - expected * len(test)) < 1e-6 and expected > 0:
        hint = "that is a count; divide by the number of test labels to get an accuracy."
    elif _distinct_share_matches(got, majority, test, expected):
        hint = ("you compared the label with each *distinct* test label once (np.unique): an accuracy counts "
                "every test item, repeats included: np.mean(test_labels == label).")
    elif abs(got - 1 / n_groups) < 1e-3:
        hint = (f"1/{n_groups} is right only if every group were the same size; they are not. "
                "Always answer with the most common training label and see how often that is right.")
    elif got == 0 and expected > 0:
        hint = ("no test label matched your label. Counter(...).most_common(1) returns a list of (label, count) "
                "pairs: the label is most_common(1)[0][0].")
    elif not 0 <= got <= 1:
        hint = "an accuracy is a fraction between 0 and 1."
    else:
        hint = ("find the most common label in the training labels (collections.Counter), then the fraction "
                "of test labels equal to it.")
    return f"{got:.3f} is not the majority-class accuracy.", hint


def _distinct_share_matches(got: float, majority, test: list, expected: float) -> bool:
    """True when ``got`` is the share of the *distinct* test labels equal to the majority (and that differs
    from the right answer)."""
    distinct = sorted(set(test))
    share = float(np.mean([t == majority for t in distinct]))
    return abs(share - expected) > 1e-3 and abs(got - share) < 1e-3


#: Labels where the usual mistakes give different numbers: the most common *test* label (animal)
#: is not the most common training label (food), and in the second case the training majority
#: (flag) never occurs in the test labels, train + test together would pick food, the test labels animal.
#: The first case separates every one of these: the training majority (flag), the test majority
#: (body), train + test together (food), the alphabetical min (animal) and max (tool), the least
#: common (object) and the one that scores best on the test labels (cat) of the training labels.
_MAJORITY_CASES = (
    (["flag"] * 5 + ["food"] * 4 + ["animal"] * 2 + ["tool"] * 2 + ["cat"] * 2 + ["object"],
     ["body"] * 7 + ["cat"] * 5 + ["food"] * 4 + ["object"] * 3 + ["animal"] * 2 + ["tool"]),
    (["food"] * 6 + ["animal"] * 3 + ["flag"], ["animal"] * 4 + ["food"] * 2 + ["flag"]),
    (["flag"] * 4 + ["food"] * 3, ["animal"] * 3 + ["food"] * 2),
    # 3 groups but 2 distinct test labels: the share among the distinct test labels (1/2) is not 1/3
    # and the first training label (bird) is not the most common one
    (["bird"] + ["food"] * 4 + ["animal"] * 2, ["food"] + ["animal"] * 4),
)


def nb01_majority_baseline(answer, train_labels, test_labels, require_function: bool = True) -> CheckResult:
    """Check a majority-class baseline: the test accuracy of always giving one and the same answer.

    Args:
        answer: the learner's function ``fn(train_labels, test_labels) -> float`` (it is run on
            labels where counting the majority from the training labels, the test labels or both
            gives different numbers), or a number for the split given.
        train_labels, test_labels: the labels of the split used in the notebook.
        require_function: refuse a number (the default: the notebook asks for a function; a number,
            typed or computed by a library helper, would say "correct" for work the learner did not write).
    """
    train, test = list(train_labels), list(test_labels)
    if not train or not test:
        return report(False, "", "the check needs the train and test labels as its second and third arguments.")
    if is_empty(answer):
        return report(False, "", EMPTY_MESSAGE)
    if callable(answer):
        return _check_majority_function(answer, train, test)
    if require_function:
        return report(False, "", f"expected a function, got a {type(answer).__name__}: a number computed elsewhere "
                                 "(by hand, or by majority_baseline_sklearn) does not show how it was found.",
                      "write my_majority_baseline(train_labels, test_labels) -> accuracy: the most common "
                      "label of the labels a baseline may look at, then the fraction of test labels equal to it.")
    arr = None if isinstance(answer, (str, bytes)) else as_numpy(answer)
    if arr is None or arr.size != 1:
        return report(False, "", f"expected a single number, got {type(answer).__name__}.",
                      "compute one accuracy, e.g. with np.mean(...).")
    got = float(arr.reshape(()))
    wrong = _majority_problem(got, train, test)
    if wrong is None:
        majority = Counter(train).most_common(1)[0][0]
        expected = float(np.mean([t == majority for t in test]))
        return report(True, f"A classifier that learned nothing scores {expected:.2f}: an accuracy means "
                            "something only above this line.")
    return report(False, "", *wrong)


def _check_majority_function(fn, train: list, test: list) -> CheckResult:
    helper = _library_call(fn, frozenset({"DummyClassifier"}))
    if helper:
        return report(False, "", f"your function hands the work to a library ({helper}).",
                      "write it by hand (collections.Counter or np.unique): the most common label of the labels a "
                      "baseline may look at, then the fraction of test labels equal to it.")
    cases = [*_MAJORITY_CASES, (train, test)]
    for n_case, (case_train, case_test) in enumerate(cases):
        train_in, test_in = np.array(case_train), np.array(case_test)
        out, problem = call_learner(fn, train_in, test_in)
        if problem:
            return report(False, "", problem, "fn(train_labels, test_labels) should return one number.")
        if train_in.tolist() != list(case_train) or test_in.tolist() != list(case_test):
            return report(False, "", "your function changed the label arrays it was given (e.g. .sort()).",
                          "use sorted(...) or np.sort(...), which return copies, so the caller's labels stay in order.")
        arr = None if isinstance(out, (str, bytes)) else as_numpy(out)
        if arr is None or arr.size != 1 or not np.isfinite(arr).all():
            return report(False, "", f"expected one number, got {_short(np.ravel(arr).tolist()) if arr is not None else type(out).__name__}.",
                          "return a single accuracy, e.g. np.mean(test_labels == label).")
        wrong = _majority_problem(float(arr.reshape(())), list(case_train), list(case_test))
        if wrong is not None:
            where = (f"on train labels {_count(case_train)} and test labels {_count(case_test)}"
                     if n_case < len(_MAJORITY_CASES) else "on the notebook's split")
            return report(False, "", f"{where}: {wrong[0]}", wrong[1])
    majority = Counter(train).most_common(1)[0][0]
    expected = float(np.mean([t == majority for t in test]))
    return report(True, f"On the notebook's split a classifier that learned nothing scores {expected:.2f}: an "
                        "accuracy means something only above this line.")


def _count(labels: list) -> str:
    """'food x6, animal x3, flag x1'."""
    return ", ".join(f"{label} x{n}" for label, n in Counter(labels).items())


def _reference_balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]))


#: (y_true, y_pred) where the usual mistakes give different numbers: (1) two unequal classes,
#: so plain accuracy, precision (or swapped arguments) and one class's recall all differ from the
#: mean recall; (2) three classes, one of them never predicted and one predicted class ("bird")
#: absent from y_true, whose recall does not exist.
_BALANCED_CASES = (
    (["animal", "food", "animal"] * 4, ["animal"] * 10 + ["food", "animal"]),
    (["a", "a", "a", "b", "b", "c", "c", "c", "c", "c"], ["a", "b", "a", "b", "bird", "c", "c", "a", "c", "c"]),
    # class "c" is never predicted (recall 0): it still counts, as k-NN on weak features often does this
    (["a", "a", "b", "b", "c", "c"], ["a", "a", "b", "a", "a", "b"]),
)


def nb01_balanced_accuracy(fn) -> CheckResult:
    """Check ``fn(y_true, y_pred) -> float``: the mean over the classes of y_true of each class's recall."""
    if is_empty(fn):
        return report(False, "", EMPTY_MESSAGE)
    helper = _library_call(fn, _METRIC_HELPERS)
    if helper:
        return report(False, "", f"your function hands the work to a library ({helper}).",
                      "write it with numpy: for each class of y_true, the share of its items predicted right; "
                      "then the mean of those shares.")
    unclear = ""
    for case, (y_true, y_pred) in enumerate(_BALANCED_CASES, 1):
        true_in, pred_in = np.array(y_true), np.array(y_pred)
        out, problem = call_learner(fn, true_in, pred_in)
        if problem:
            return report(False, "", problem, "fn(y_true, y_pred) should return one number.")
        if true_in.tolist() != y_true or pred_in.tolist() != y_pred:
            return report(False, "", "your function changed the label arrays it was given (in place).",
                          "work on copies (np.sort(...), not .sort()), so the caller's labels stay as they were.")
        arr = None if isinstance(out, (str, bytes)) else as_numpy(out)
        if arr is None or arr.size != 1:
            shape = "nothing" if arr is None else f"{arr.size} numbers"
            return report(False, "", f"expected one number, got {shape}.",
                          "if you computed one recall per class, return their mean.")
        got = float(arr.reshape(()))
        t, p = np.array(y_true), np.array(y_pred)
        expected = _reference_balanced_accuracy(t, p)
        if np.isfinite(got) and abs(got - expected) < 1e-6:
            continue
        classes = np.unique(t)
        recalls = [float(np.mean(p[t == c] == c)) for c in classes]
        precisions = [float(np.mean(t[p == c] == c)) for c in np.unique(p)]
        union = np.union1d(t, p)
        union_recalls = [float(np.mean(p[t == c] == c)) if np.any(t == c) else 0.0 for c in union]
        predicted_recalls = [float(np.mean(p[t == c] == c)) for c in np.unique(p) if np.any(t == c)]
        data = f"on y_true {_count(y_true)} and y_pred {_count(y_pred)}"
        adjusted = (expected - 1 / len(classes)) / (1 - 1 / len(classes)) if len(classes) > 1 else np.nan
        if not np.isfinite(got):
            hint = ("a class that occurs only in y_pred has no recall (0 of 0 items): average over the classes "
                    "of y_true only, np.unique(y_true).")
        elif abs(got - float(np.mean(t == p))) < 1e-6:
            hint = ("that is the plain accuracy: every item counts once, so the larger class decides. Compute "
                    "the recall of each class separately, then average them.")
        elif abs(got - 100 * expected) < 1e-4:
            hint = "give it as a fraction between 0 and 1, not a percentage."
        elif abs(got - float(np.mean(precisions))) < 1e-6:
            hint = ("you divided by how often each class was *predicted* (precision, or y_true and y_pred "
                    "swapped); recall divides by how often the class truly occurs: y_pred[y_true == c] == c.")
        elif len(classes) > 1 and abs(got - min(recalls)) < 1e-6 and abs(got - adjusted) < 1e-6 \
                and case < len(_BALANCED_CASES):
            unclear = f"{data}: got {got:.3f}, which is not the balanced accuracy."
            continue   # here the smallest recall equals the adjusted score: the next case tells them apart
        elif len(classes) > 1 and abs(got - min(recalls)) < 1e-6:
            hint = ("that is the smallest recall (the worst class); balanced accuracy is the *mean* of the "
                    "recalls of every class of y_true.")
        elif len(classes) > 1 and abs(got - adjusted) < 1e-6:
            hint = ("that is the *adjusted* balanced accuracy, (mean recall - 1/n) / (1 - 1/n), rescaled so that "
                    "chance is 0; the exercise asks for the plain mean of the recalls of the classes of y_true.")
        elif len(classes) > 2 and abs(got - float(np.median(recalls))) < 1e-6:
            hint = ("you took the median of the recalls, which with three classes is the middle class's recall "
                    "and ignores the other two; balanced accuracy is their mean.")
        elif any(abs(got - r) < 1e-6 for r in recalls):
            hint = "that is the recall of one class; balanced accuracy is the mean of the recalls of every class."
        elif abs(got - float(np.mean(union_recalls))) < 1e-6:
            hint = ("you also averaged over a class that occurs only in y_pred: it has no recall. Average over "
                    "the classes of y_true, np.unique(y_true).")
        elif set(np.unique(t)) - set(np.unique(p)) and predicted_recalls \
                and abs(got - float(np.mean(predicted_recalls))) < 1e-6:
            hint = ("you averaged over the classes that were *predicted*: a class of y_true that is never "
                    "predicted still counts, with recall 0. Loop over np.unique(y_true).")
        elif case > 1:
            hint = ("right on two classes, wrong on three: take the recall of every class of y_true and average "
                    "them (a formula for two classes, such as (TPR + TNR) / 2, does not carry over).")
        else:
            hint = ("for each class c of y_true: the share of the items whose true label is c that were "
                    "predicted c; then the mean of those shares.")
        return report(False, "", f"{data}: got {got:.3f}, which is not the balanced accuracy.", hint)
    if unclear:
        return report(False, "", unclear, "that is the smallest recall, or the *adjusted* balanced accuracy "
                      "(rescaled so that chance is 0); the exercise asks for the plain mean of the recalls.")
    return report(True, "Balanced accuracy weighs each class equally, so always answering the larger class scores "
                        "exactly 0.5 with two classes, whatever the class shares are.")
