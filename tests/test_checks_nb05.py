"""Tests of the notebook-05 exercise checks: the solution passes, stubs and typical mistakes fail helpfully."""
import numpy as np
import pytest

from mmlab import checks


def solution_topk(queries, corpus, k):
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    c = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    scores = q @ c.T
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def solution_quote(value):
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def unsorted_argpartition(queries, corpus, k):
    """The classic slip: argpartition without the final sort (small k often comes back sorted anyway)."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    c = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    return np.argpartition(-(q @ c.T), k - 1, axis=1)[:, :k]


def stub(*args):
    raise NotImplementedError()


# --------------------------------------------------------------------------- nb05_topk


def test_topk_solution_passes(capsys):
    assert checks.nb05_topk(solution_topk).passed is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "answer, message",
    [
        (..., "still empty"),
        (stub, "NotImplementedError"),
        (lambda q, c, k: np.argsort(-(q @ c.T), axis=1)[:, :k], "raw dot product"),
        (lambda q, c, k: solution_topk(q, c, k)[:, ::-1], "worst first"),
        (lambda q, c, k: np.sort(solution_topk(q, c, k), axis=1), "not in best-first order"),
        (lambda q, c, k: solution_topk(-q, c, k), "least* similar"),
        (lambda q, c, k: solution_topk(q, c, k).T, "expected shape (6, 7)"),
        (lambda q, c, k: np.sort(q @ c.T, axis=1)[:, :k] + 0.5, "look like scores"),
        (lambda q, c, k: (np.zeros((6, 7)), solution_topk(q, c, k)), "returned a pair"),
        (lambda q, c, k: np.zeros((6, k), dtype=int) + np.arange(k), "among the true 7 nearest"),
        (unsorted_argpartition, "not in best-first order (k=150 of 300 rows)"),
    ],
)
def test_topk_mistakes_get_specific_hints(capsys, answer, message):
    assert checks.nb05_topk(answer).passed is False
    out = capsys.readouterr().out
    assert "Not yet" in out and message in out


# --------------------------------------------------------------------------- nb05_full_probe


def test_full_probe(capsys):
    assert checks.nb05_full_probe("a", 1.0).passed is True
    assert "1.000" in capsys.readouterr().out
    assert checks.nb05_full_probe(" A ", 1.0).passed is True
    capsys.readouterr()
    assert checks.nb05_full_probe(..., 1.0).passed is False
    assert "still empty" in capsys.readouterr().out
    assert checks.nb05_full_probe("b", 1.0).passed is False
    out = capsys.readouterr().out
    assert "measured recall@10 is 1.000" in out and "Hint" in out
    assert checks.nb05_full_probe("d", 1.0).passed is False
    assert "expected one of ['a', 'b', 'c']" in capsys.readouterr().out
    assert checks.nb05_full_probe("a", None).passed is False
    assert "second argument" in capsys.readouterr().out


# --------------------------------------------------------------------------- nb05_quote


def test_quote_solution_passes(capsys):
    assert checks.nb05_quote(solution_quote).passed is True
    assert "reads back as exactly itself" in capsys.readouterr().out


@pytest.mark.parametrize(
    "answer, message",
    [
        (..., "still empty"),
        (stub, "NotImplementedError"),
        (lambda v: f'"{v}"', "not one string"),
        (lambda v: '"' + v.replace('"', '\\"') + '"', "cannot parse it"),
        (lambda v: '"' + v.replace('"', '\\"').replace("\\", "\\\\") + '"', "Not yet"),
        (lambda v: v, "Not yet"),
        (lambda v: 42, "returned a int"),
    ],
)
def test_quote_mistakes_fail(capsys, answer, message):
    assert checks.nb05_quote(answer).passed is False
    out = capsys.readouterr().out
    assert "Not yet" in out and message in out


def test_quote_wrong_order_says_so(capsys):
    # Escaping quotes first, then backslashes, doubles the backslash in front of each quote.
    assert checks.nb05_quote(lambda v: '"' + v.replace('"', '\\"').replace("\\", "\\\\") + '"').passed is False
    assert "Hint" in capsys.readouterr().out


# --------------------------------------------------------------------------- nb05_cheapest_ef


EFS = [4, 8, 16, 32, 64]
RECALLS = [0.6, 0.75, 0.88, 0.93, 0.96]


def test_cheapest_ef(capsys):
    assert checks.nb05_cheapest_ef(32, EFS, RECALLS, target=0.9).passed is True
    assert "efSearch=32" in capsys.readouterr().out
    assert checks.nb05_cheapest_ef(64, EFS, RECALLS, target=0.9).passed is False
    assert "a smaller value does too" in capsys.readouterr().out
    assert checks.nb05_cheapest_ef(16, EFS, RECALLS, target=0.9).passed is False
    assert "below 0.9" in capsys.readouterr().out
    assert checks.nb05_cheapest_ef(..., EFS, RECALLS).passed is False
    assert "still empty" in capsys.readouterr().out
    assert checks.nb05_cheapest_ef(None, EFS, RECALLS, target=0.9).passed is False
    assert "reaches recall 0.9" in capsys.readouterr().out
    assert checks.nb05_cheapest_ef(None, EFS, RECALLS, target=0.99).passed is True
    assert "No efSearch" in capsys.readouterr().out
    assert checks.nb05_cheapest_ef(12, EFS, RECALLS, target=0.9).passed is False
    assert "not one of the swept values" in capsys.readouterr().out
    assert checks.nb05_cheapest_ef("32", EFS, RECALLS, target=0.9).passed is False
    assert "expected an int" in capsys.readouterr().out
    assert checks.nb05_cheapest_ef(32, EFS, RECALLS[:2]).passed is False
    assert "same, non-zero length" in capsys.readouterr().out
