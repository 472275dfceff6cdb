"""The building blocks of exercise checks: messages, shape problems, calling learner code.

Every check ends in :func:`report`, which prints the learner's message and, when the
environment variable ``MMLAB_GRADE_LOG`` names a file (the grader sets it), appends one
JSON line with the structured result: the exercise (the name of the check function that
called it, e.g. ``nb01_cosine_similarity``), whether it passed, the message, and a
fingerprint of that check's code, which lets the grader tell a genuine check from a
replaced one (see ``mmlab.grade``).
"""
from __future__ import annotations

import dis
import hashlib
import json
import os
import re
import sys
import time
import types

import numpy as np

GRADE_LOG_ENV = "MMLAB_GRADE_LOG"
"""Environment variable naming the JSON-lines file :func:`report` appends results to."""

_CHECK_NAME = re.compile(r"nb\d\d_\w+$")


def code_fingerprint(code: types.CodeType) -> str:
    """A hash of a function's compiled code that is the same in every process.

    Bytecode, names, argument names and constants, nested functions included; frozenset
    constants are sorted because their order depends on the process's hash seed.

    Args:
        code: a code object, e.g. ``fn.__code__``.
    Returns:
        16 hex characters.
    """
    if not isinstance(code, types.CodeType):
        raise TypeError(f"code: expected a code object (fn.__code__), got {type(code).__name__}")
    digest = hashlib.sha256()

    def feed(c: types.CodeType) -> None:
        digest.update(c.co_code)
        digest.update(repr((c.co_name, c.co_names, c.co_varnames, c.co_argcount, c.co_kwonlyargcount)).encode())
        for const in c.co_consts:
            if isinstance(const, types.CodeType):
                feed(const)
            elif isinstance(const, frozenset):
                digest.update(repr(sorted(map(repr, const))).encode())
            else:
                digest.update(repr(const).encode())

    feed(code)
    return digest.hexdigest()[:16]


def _calling_check():
    """The outermost public check function of ``mmlab.exercises`` on the call stack, or None."""
    frame = sys._getframe(2)
    found = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        name = frame.f_code.co_name
        if (module.startswith("mmlab.exercises.") and _CHECK_NAME.match(name)
                and name in frame.f_globals.get("__all__", ())):
            found = (name, module, frame.f_code)
        frame = frame.f_back
    return found


def _record(ok: bool, message: str) -> None:
    """Append the structured result to ``$MMLAB_GRADE_LOG`` (nothing when it is unset)."""
    path = os.environ.get(GRADE_LOG_ENV)
    if not path:
        return
    check = _calling_check()
    result = {
        "exercise": check[0] if check else None,
        "module": check[1] if check else None,
        "fingerprint": code_fingerprint(check[2]) if check else None,
        "passed": bool(ok),
        "points": 1.0 if ok else 0.0,
        "message": message,
        "notebook": os.environ.get("MMLAB_GRADE_NOTEBOOK", ""),
        "time": time.time(),
    }
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(result) + "\n")
    except OSError as exc:  # grading must never break the learner's notebook
        print(f"(could not record the result for grading: {exc})", file=sys.stderr)


class CheckResult:
    """What a check found: ``passed`` and the ``message`` it printed.

    Truthy when the answer passed, so tests and the grader can write ``assert check(...)``.
    It shows nothing when a notebook cell ends with the check call (the message was already
    printed), so a learner sees one line of feedback and no echoed value.
    """

    __slots__ = ("message", "passed")

    def __init__(self, passed: bool, message: str) -> None:
        self.passed = bool(passed)
        self.message = message

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"CheckResult(passed={self.passed})"

    def _ipython_display_(self) -> None:
        """IPython's display protocol: the feedback is printed already, so display nothing."""


def report(ok: bool, success: str, problem: str = "", hint: str = "") -> CheckResult:
    """Print a pass message, or the problem and a hint; record the result; return it.

    The result also goes to the grader's log when ``MMLAB_GRADE_LOG`` is set. Under
    nbgrader's autograder or validator (``NBGRADER_EXECUTION`` set) a failed check raises
    ``AssertionError`` with the same message, because nbgrader scores a test cell by
    whether it raises.

    Args:
        ok: whether the learner's answer is right.
        success: what to say when it is.
        problem: what is wrong, when it is not.
        hint: a nudge that does not give the answer away.
    Returns:
        A :class:`CheckResult`: truthy when ``ok``; displays nothing in a notebook.
    """
    ok = bool(ok)
    if ok:
        message = f"✅ Correct! {success}"
    else:
        message = f"❌ Not yet: {problem}" + (f"\n   Hint: {hint}" if hint else "")
    print(message)
    _record(ok, message)
    if not ok and os.environ.get("NBGRADER_EXECUTION"):
        raise AssertionError(message)
    return CheckResult(ok, message)


def fallback(mine, reference, *, exercise: str):
    """The learner's function, or the reference while the learner's stub is unsolved.

    Later sections of a notebook call what an exercise asked the learner to write. In a
    student copy that function still raises ``NotImplementedError``; wrapped here, the
    call falls back to ``reference`` and says so once, so Run All reaches the end. A function
    that returns ``None`` (a missing ``return``) falls back the same way, so the next line does not
    fail on a ``None`` far from the mistake; any other error of the learner's function is raised.

    Args:
        mine: the learner's function (or ``None`` / ``...`` while empty).
        reference: a function with the same signature, e.g. the mmlab helper.
        exercise: what to name in the one-line message, e.g. ``"exercise 2"``.
    Returns:
        A function with the signature of ``reference``.
    """
    if not callable(reference):
        raise TypeError(f"reference: expected a function, got {type(reference).__name__}")
    if not isinstance(exercise, str) or not exercise:
        raise TypeError(f"exercise: expected a non-empty name such as 'exercise 2', got {exercise!r}")
    said = False

    def use_reference(why: str):
        nonlocal said
        if not said:
            print(f"{exercise} is not solved yet ({why}): using {_name(reference)} here instead.")
            said = True
        return reference

    def call(*args, **kwargs):
        if is_empty(mine) or not callable(mine):
            return use_reference("no function yet")(*args, **kwargs)
        try:
            result = mine(*args, **kwargs)
        except NotImplementedError:
            return use_reference("it raises NotImplementedError")(*args, **kwargs)
        if result is None:  # a half-written function without its return: fail here, not in a later line
            return use_reference("it returns None: is a `return` missing?")(*args, **kwargs)
        return result

    call.__name__ = getattr(mine, "__name__", "fallback")
    call.__doc__ = getattr(mine, "__doc__", None)
    return call


def _name(fn) -> str:
    """How a learner would call ``fn``: ``mm.losses.clip_loss``, ``sklearn.metrics.f1_score``, ``my_helper``."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if name is not None and "<locals>" in name:
        name = name.rsplit(".", 1)[-1]
    if name is None:
        return repr(fn)
    module = getattr(fn, "__module__", "") or ""
    if module in ("", "__main__", "builtins"):
        return name
    parts = [p for p in module.split(".") if not p.startswith("_")]  # sklearn.metrics._classification -> sklearn.metrics
    if parts and parts[0] == "mmlab":
        # the shortest package that exports the very same object: mm.search.best_fusion, not mm.search.metrics.best_fusion
        for cut in range(1, len(parts)):
            package = sys.modules.get(".".join(parts[:cut]))
            if package is not None and getattr(package, name, None) is fn:
                parts = parts[:cut]
                break
    return ".".join(["mm" if p == "mmlab" else p for p in parts] + [name])


def is_empty(answer) -> bool:
    """True for the placeholders a student copy starts with (None or ...)."""
    return answer is None or answer is Ellipsis


EMPTY_MESSAGE = "your answer is still empty (None or ...): fill in the exercise cell above and run it."


def as_numpy(x):
    """Best-effort conversion of a learner's answer to a float numpy array (None if impossible)."""
    if is_empty(x):
        return None
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        return None


def shape_problem(answer, expected_shape: tuple) -> str | None:
    """A message if ``answer`` is empty, not numeric, mis-shaped or not finite; else None."""
    if is_empty(answer):
        return EMPTY_MESSAGE
    arr = as_numpy(answer)
    if arr is None:
        return f"expected an array of numbers, got a {type(answer).__name__}."
    if arr.shape != tuple(expected_shape):
        return f"expected shape {tuple(expected_shape)}, got {arr.shape}."
    if not np.isfinite(arr).all():
        return "your answer contains NaN or inf values."
    return None


def call_learner(fn, *args, **kwargs):
    """Call a learner's function; return ``(result, None)`` or ``(None, problem message)``.

    A stub that still raises ``NotImplementedError`` and any other exception become
    a readable message instead of a traceback inside the check.
    """
    if is_empty(fn):
        return None, EMPTY_MESSAGE
    if not callable(fn):
        return None, f"expected a function, got a {type(fn).__name__}."
    try:
        return fn(*args, **kwargs), None
    except NotImplementedError:
        return None, "your function still raises NotImplementedError: replace that line with your code."
    except Exception as exc:  # the learner's code failed: say how, not where inside the check
        return None, f"calling your function raised {type(exc).__name__}: {exc}"


def names_used(fn) -> set[str]:
    """Every global or attribute name a learner's function (and the functions inside it) refers to.

    How a check sees that the learner called a helper instead of writing it, under any alias.
    """
    names: set[str] = set()

    def walk(code: types.CodeType) -> None:
        names.update(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                walk(const)

    code = getattr(fn, "__code__", None)
    if isinstance(code, types.CodeType):
        walk(code)
    # An alias ("from sklearn.metrics import balanced_accuracy_score as bas") names the helper it is bound to.
    scope = getattr(fn, "__globals__", None) or {}
    for name in list(names):
        bound = scope.get(name)
        real = getattr(bound, "__name__", None)
        if isinstance(real, str) and not isinstance(bound, types.ModuleType):
            names.add(real)
    return names


def _from_library(module: str, libraries) -> bool:
    return any(module == lib or module.startswith(lib + ".") for lib in libraries)


def _module_of(obj) -> str:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    return getattr(obj, "__module__", None) or getattr(type(obj), "__module__", "") or ""


def library_used(fn, libraries) -> str | None:
    """``name (module)`` of the first thing ``fn`` uses that comes from one of ``libraries``, else None.

    ``libraries`` are dotted module prefixes ("sklearn", "mmlab.search"): a prefix matches that module and
    its submodules only. Catches the function itself, globals and imports under any alias, attribute
    chains from a module (``mm.search.build_index``), objects whose class comes from a library (a
    model's ``.similarity``), and the same inside the learner's own helpers that ``fn`` calls.
    """
    own = _module_of(fn)
    if _from_library(own, libraries):
        return f"{_name(fn)}, from {own}"
    home = getattr(fn, "__globals__", None)
    todo, seen = [fn], set()
    while todo:
        f = todo.pop()
        code = getattr(f, "__code__", None)
        if id(f) in seen or not isinstance(code, types.CodeType):
            continue
        seen.add(id(f))
        scope = getattr(f, "__globals__", None) or {}
        codes = [code]
        while codes:
            c = codes.pop()
            codes += [k for k in c.co_consts if isinstance(k, types.CodeType)]
            current, path, hit = None, "", None
            for ins in dis.get_instructions(c):
                if ins.opname == "IMPORT_FROM" and hit:      # from sklearn.preprocessing import Normalizer
                    hit = f"{ins.argval}, from {hit}"
                    continue
                if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and current is not None:
                    path += "." + str(ins.argval)            # mm.search.build_index, st_model.similarity
                    current = getattr(current, str(ins.argval), None)
                    module = _module_of(current) if current is not None else ""
                    if module and _from_library(module, libraries):
                        hit = f"{path}, from {module}"
                    continue
                if hit:                                      # the longest chain that reaches a library
                    return hit
                current, module = None, ""
                if ins.opname == "IMPORT_NAME":
                    path = module = str(ins.argval)
                elif ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                    path = str(ins.argval)
                    current = scope.get(path)
                    if isinstance(current, types.FunctionType) and current.__globals__ is home:  # the learner's own
                        todo.append(current)
                    module = _module_of(current) if current is not None else ""
                if module and _from_library(module, libraries):
                    hit = f"{path}, from {module}" if path != module else module
            if hit:
                return hit
    return None
