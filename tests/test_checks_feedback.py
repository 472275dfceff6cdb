"""The shared check machinery: one line of feedback, nothing echoed, a fallback for unsolved stubs."""
import pytest

from mmlab import checks


def test_a_check_result_is_truthy_and_displays_nothing(capsys):
    ok = checks.report(True, "fine")
    bad = checks.report(False, "", "wrong", "think again")
    assert ok and not bad and ok.passed and not bad.passed
    assert capsys.readouterr().out.count("\n") == 3  # one line, and two (problem + hint)
    assert ok._ipython_display_() is None and "passed=False" in repr(bad)


def test_fallback_uses_the_learners_function_once_it_is_written(capsys):
    fn = checks.fallback(lambda x: x + 1, lambda x: x * 10, exercise="exercise 1")
    assert fn(2) == 3 and capsys.readouterr().out == ""


def test_fallback_uses_the_reference_for_a_stub_and_says_so_once(capsys):
    def stub(x):
        raise NotImplementedError()

    fn = checks.fallback(stub, lambda x: x * 10, exercise="exercise 2")
    assert fn(2) == 20 and fn(3) == 30
    out = capsys.readouterr().out
    assert out.count("exercise 2 is not solved yet") == 1


@pytest.mark.parametrize("empty", [None, ...])
def test_fallback_for_an_empty_answer(empty, capsys):
    assert checks.fallback(empty, abs, exercise="exercise 3")(-4) == 4
    assert "exercise 3" in capsys.readouterr().out


def test_fallback_uses_the_reference_when_the_function_returns_nothing(capsys):
    def half_written(x):
        x * 2  # the learner forgot `return`

    fn = checks.fallback(half_written, lambda x: x * 10, exercise="exercise 5")
    assert fn(2) == 20 and fn(3) == 30
    out = capsys.readouterr().out
    assert out.count("exercise 5 is not solved yet (it returns None: is a `return` missing?)") == 1


def test_fallback_keeps_a_falsy_answer_that_is_not_none(capsys):
    fn = checks.fallback(lambda x: 0, lambda x: x * 10, exercise="exercise 6")
    assert fn(2) == 0 and capsys.readouterr().out == ""


def test_fallback_lets_a_learners_real_error_through():
    def buggy(x):
        raise ValueError("my bug")

    with pytest.raises(ValueError, match="my bug"):
        checks.fallback(buggy, abs, exercise="exercise 4")(1)


@pytest.mark.parametrize("kwargs, needle", [
    ({"reference": None, "exercise": "ex"}, "reference: expected a function"),
    ({"reference": abs, "exercise": ""}, "exercise: expected a non-empty name"),
])
def test_fallback_bad_inputs(kwargs, needle):
    with pytest.raises(TypeError, match=needle):
        checks.fallback(abs, **kwargs)


def test_fallback_names_the_reference_as_a_learner_calls_it(capsys):
    from sklearn.metrics import balanced_accuracy_score

    def stub(*a):
        raise NotImplementedError()

    def majority(x):
        return x

    checks.fallback(stub, balanced_accuracy_score, exercise="ex")([0, 1], [0, 1])
    majority.__module__ = "__main__"
    checks.fallback(stub, majority, exercise="ex2")(1)
    out = capsys.readouterr().out
    assert "using sklearn.metrics.balanced_accuracy_score here" in out and "using majority here" in out


def test_names_used_sees_through_an_alias():
    from mmlab.exercises._feedback import names_used

    scope = {}
    exec("from sklearn.metrics import balanced_accuracy_score as bas\ndef mine(t, p):\n    return bas(t, p)", scope)
    assert "balanced_accuracy_score" in names_used(scope["mine"])


def test_library_used_matches_dotted_prefixes_and_follows_own_helpers():
    import numpy as np

    from mmlab.exercises._feedback import library_used
    scope = {"np": np, "mm": __import__("mmlab")}
    exec("def own(x):\n    return x / np.linalg.norm(x)\n"
         "def uses_own(x):\n    return own(x)\n"
         "def uses_search(c, q):\n    return mm.search.build_index('flat', c).search(q, 1)\n"
         "def wraps_search(c, q):\n    return uses_search(c, q)\n"
         "def imports_sklearn(x):\n    from sklearn.preprocessing import Normalizer\n    return Normalizer()\n", scope)
    libraries = ("sklearn", "mmlab.search")
    assert library_used(scope["uses_own"], libraries) is None            # numpy and mm itself are not listed
    assert "mm.search.build_index, from mmlab.search" in library_used(scope["uses_search"], libraries)
    assert "from mmlab.search" in library_used(scope["wraps_search"], libraries)
    assert "Normalizer, from sklearn.preprocessing" == library_used(scope["imports_sklearn"], libraries)
    assert library_used(scope["uses_search"], ("mmlab.searching",)) is None   # a prefix, not a substring
    assert library_used(np.linalg.norm, libraries) is None


def test_fallback_names_the_reference_by_its_public_package(capsys):
    """A learner calls mm.search.best_fusion, not mm.search.metrics.best_fusion: the message says the former."""
    import mmlab as mm

    def stub(*args, **kwargs):
        raise NotImplementedError()

    fn = checks.fallback(stub, mm.search.reciprocal_rank_fusion, exercise="exercise 2")
    fn([[1, 2]], rrf_k=60, limit=2)
    out = capsys.readouterr().out
    assert "using mm.search.reciprocal_rank_fusion here instead" in out
    assert "mm.search.fusion" not in out and "mm.search.metrics" not in out
