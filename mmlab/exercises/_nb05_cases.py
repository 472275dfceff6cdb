"""Tools of the notebook-05 checks (mmlab.exercises.nb05): following a learner's own helper
functions, and codebooks that count the entries a learner's function copies out of them."""
from __future__ import annotations

import types

import numpy as np

from ._feedback import names_used as _names_used


def _names_deep(fn) -> set[str]:
    """The names ``fn`` uses, and those of the functions it calls that the learner defined next to it.

    ``names_used`` sees one function; a learner who puts np.argpartition (or a library call) in a
    helper function of their own is followed into it (outside review 5)."""
    names: set[str] = set()
    todo, seen = [fn], set()
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        used = _names_used(f)
        names |= used
        scope = getattr(f, "__globals__", None) or {}
        for name in used:
            bound = scope.get(name)
            if (isinstance(bound, types.FunctionType) and bound.__module__ == getattr(fn, "__module__", None)
                    and not bound.__module__.startswith("mmlab")):
                todo.append(bound)
    return names


# Packages whose functions do the search / the nearest-centroid work for the learner: the exercises
# are numpy only (outside review 7: faiss.knn, KDTree, euclidean_distances, torch.topk, util.cos_sim passed).
_LIBRARIES = ("faiss", "torch", "sklearn", "scipy", "sentence_transformers")



class _CountingBooks(np.ndarray):
    """Codebooks that count the entries read out of them: the entries every indexing returns (a copy,
    or a view, which is taken to be read: ``v[...] = codebooks[j, c]`` copies through neither a ufunc
    nor a numpy function, outside review 9), and the entries of every counting array a numpy function
    or ufunc gets. The lookup tables read each centroid about once per query, Q x m x ksub x dsub
    entries (twice when a view is then multiplied); rebuilding the stored vectors, all at once, in
    chunks, or one vector or sub-vector at a time, reads N x D."""

    _tally: list | None = None

    def __array_finalize__(self, obj):
        self._tally = getattr(obj, "_tally", None)

    def _count(self, entries: int) -> None:
        if self._tally is not None:
            self._tally[0] += entries
            self._tally[1] += 1

    def __getitem__(self, key):
        out = super().__getitem__(key)
        self._count(int(np.size(out)))
        if isinstance(out, np.ndarray) and np.may_share_memory(out.view(np.ndarray), self.view(np.ndarray)):
            return out                                              # a view: it keeps counting what is read from it
        return out.view(np.ndarray) if isinstance(out, np.ndarray) else out

    def take(self, *args, **kwargs):
        out = self.view(np.ndarray).take(*args, **kwargs)
        self._count(int(np.size(out)))
        return out

    def dot(self, other, *args, **kwargs):
        self._count(self.size + _books_in(other))
        return self.view(np.ndarray).dot(_plain(other), *args, **kwargs)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        self._count(_books_in(inputs))
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(o) for o in kwargs["out"])
        out = getattr(ufunc, method)(*(_plain(x) for x in inputs), **kwargs)
        # A result with the codebooks' shape (``codebooks * 1.0``) is a copy of them: it counts too, or a
        # rebuild from the copy goes unseen (outside review 8).
        if isinstance(out, np.ndarray) and out.shape == self.shape and "out" not in kwargs:
            out = out.view(_CountingBooks)
            out._tally = self._tally
        return out

    def __array_function__(self, func, kinds, args, kwargs):
        out = func(*_plain(args), **_plain(kwargs))
        if func in _GATHERS:
            # A gather reads as many entries as it copies out: np.take(flat, codes + offsets) in
            # chunks rebuilds the stored vectors while passing the codebooks only once per call (review 8).
            self._count(max(_books_in(args) + _books_in(kwargs), int(np.size(out))))
        elif func not in (np.shape, np.ndim, np.size):                      # those read no entries
            self._count(_books_in(args) + _books_in(kwargs))
        return out


# numpy functions that copy entries out of an array by index or by repetition.
_GATHERS = frozenset({np.take, np.take_along_axis, np.choose, np.compress, np.repeat, np.tile, np.extract,
                      np.select, np.stack, np.concatenate, np.vstack, np.hstack})


def _books_in(x) -> int:
    """How many entries of counting arrays ``x`` holds (also inside lists, tuples and dicts)."""
    if isinstance(x, _CountingBooks):
        return int(x.size)
    if isinstance(x, (list, tuple)):
        return sum(_books_in(v) for v in x)
    if isinstance(x, dict):
        return sum(_books_in(v) for v in x.values())
    return 0


def _plain(x):
    """``x`` with every counting array in it (also inside lists, tuples and dicts) as a plain ndarray view."""
    if isinstance(x, _CountingBooks):
        return x.view(np.ndarray)
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


# --------------------------------------------------------------------------- exercise 1: what a passing top-k did

def _sorts_whole_rows(fn, queries, corpus, k: int) -> bool:
    """True if ``fn`` calls np.sort / np.argsort on rows as long as the corpus (a full sort of all N scores).

    Behaviour, not names: a full sort next to an unused np.argpartition call is still a full sort
    (outside review 12). Method calls (``scores.argsort()``) are not seen; the name test covers those.
    """
    n, seen = len(corpus), []
    originals = {name: getattr(np, name) for name in ("sort", "argsort")}

    def spy(original):
        def wrapped(a, *args, **kwargs):
            arr = np.asarray(a)
            axis = kwargs.get("axis", args[0] if args else -1)
            if arr.ndim and axis is not None and arr.shape[axis] >= n:
                seen.append(True)
            return original(a, *args, **kwargs)
        return wrapped

    try:
        for name, original in originals.items():
            setattr(np, name, spy(original))
        fn(queries.copy(), corpus.copy(), k)
    except Exception:  # the answer was already checked; a failure here only means "not seen"
        pass
    finally:
        for name, original in originals.items():
            setattr(np, name, original)
    return bool(seen)


def _near_tie_order(ids, queries, corpus) -> bool:
    """True if ``ids`` (the right sets, in a wrong order) are out of cosine order only between near-equal scores.

    That is the trace of slightly wrong scores (an epsilon added to the norm, float16), not of a missing sort.
    """
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    c = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    s = np.take_along_axis(q @ c.T, np.asarray(ids), axis=1)
    rise = np.diff(s, axis=1).max()
    return bool(0 < rise < 1e-2)
