"""Student copies of the notebooks: solutions replaced by stubs, outputs cleared.

Solutions sit between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (the nbgrader
convention). A block at the top level of a cell becomes ``# YOUR CODE HERE`` (the
placeholder assignment above it stays, e.g. ``answer = ...``); a block inside a function
body becomes ``raise NotImplementedError()`` at the same indentation, so the learner's
function exists but says it is not written yet. Markdown answers between
``### BEGIN SOLUTION`` / ``### END SOLUTION`` become "YOUR ANSWER HERE".

A *check cell* calls ``mm.checks.nbNN_...(...)``. Its *locked* part is what the learner must
not edit: the whole cell, or, when the cell also holds an exercise, the lines from the first
top-level line after the exercise to the end. ``main`` writes ``manifest.json`` beside the
copies (notebook, exercise, cell, grade id, locked text and its hash, points) so
``mmlab.grade`` can recognise each released check cell, and gives each exercise and check
cell nbgrader's cell metadata (``add_nbgrader_metadata``).
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
import time
from pathlib import Path

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = "# YOUR CODE HERE"
_MARKER = re.compile(r"^(?P<indent>\s*)(?P<marker>### (BEGIN|END) SOLUTION)\s*$")
_CHECK_CALL = re.compile(r"\bchecks\.(nb\d\d_\w+)\s*\(")
#: The version of nbgrader's cell metadata schema written here (nbgrader 0.9 reads version 3).
NBGRADER_SCHEMA_VERSION = 3
MANIFEST = "manifest.json"

__all__ = ["add_nbgrader_metadata", "check_calls", "locked_lines", "locked_matches", "main",
           "make_student_notebook", "release_manifest", "show_solution", "solution_text", "strip_solutions"]


def strip_solutions(source: str, *, markdown: bool = False, where: str = "cell") -> str:
    """Replace every solution block in ``source`` by its stub.

    Args:
        source: the cell's text.
        markdown: whether the cell is markdown (the stub is then "YOUR ANSWER HERE").
        where: a description of the cell, used in error messages.
    Returns:
        The text with each block replaced.
    """
    if not isinstance(source, str):
        raise TypeError(f"source: expected the text of a cell (str), got {type(source).__name__}")
    out: list[str] = []
    inside = False
    for lineno, line in enumerate(source.splitlines(), 1):
        m = _MARKER.match(line)
        if m and m["marker"] == BEGIN:
            if inside:
                raise ValueError(f"{where}: line {lineno}: expected '{END}' before the next '{BEGIN}' "
                                 "(solution blocks cannot nest)")
            inside = True
            indent = m["indent"]
            if markdown:
                out.append("YOUR ANSWER HERE")
            elif indent:
                out.append(f"{indent}# YOUR CODE HERE")
                out.append(f"{indent}raise NotImplementedError()")
            else:
                out.append("# YOUR CODE HERE")
        elif m and m["marker"] == END:
            if not inside:
                raise ValueError(f"{where}: line {lineno}: '{END}' expected a '{BEGIN}' above it, found none")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: expected '{BEGIN}' to be closed by '{END}', found no '{END}'")
    return "\n".join(out)


def check_calls(source: str) -> list[str]:
    """The exercise checks a cell calls (``mm.checks.nb01_x(...)`` gives ``nb01_x``), in order, once each."""
    return list(dict.fromkeys(_CHECK_CALL.findall(source)))


def _normalise(lines) -> list[str]:
    # Trailing spaces and blank lines are not edits worth flagging.
    return [line.rstrip() for line in lines if line.strip()]


def locked_lines(source: str) -> tuple[list[str], bool]:
    """The part of a check cell the learner must not edit.

    Args:
        source: the cell's text, from the teacher's notebook (solution markers) or a
            student copy (``# YOUR CODE HERE`` stubs).
    Returns:
        ``(lines, whole_cell)``: the locked lines without blank lines or trailing spaces,
        and whether they are the whole cell (no exercise in it) rather than its tail.
    """
    lines = source.splitlines()
    last = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped in (BEGIN, END, STUB) or (last == i - 1 and stripped == "raise NotImplementedError()"):
            last = i
    if last is None:
        return _normalise(lines), True
    tail = lines[last + 1:]
    # Lines still indented belong to the learner's function body; the locked part starts
    # at the first top-level line.
    start = next((j for j, line in enumerate(tail) if line.strip() and not line[0].isspace()), len(tail))
    return _normalise(tail[start:]), False


def locked_matches(source: str, locked: list[str], whole_cell: bool) -> bool:
    """Whether a submitted cell still holds the released locked lines unchanged.

    Args:
        source: the submitted cell's text.
        locked, whole_cell: as returned by :func:`locked_lines` for the released cell.
    """
    got = _normalise(source.splitlines())
    if whole_cell:
        return got == list(locked)
    return len(got) >= len(locked) and got[len(got) - len(locked):] == list(locked)


def _sha256(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def _exercise_cells(nb) -> list[tuple[int, list[str], bool]]:
    """(index, checks called, holds a solution) for every cell with an exercise or a check."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type not in ("code", "markdown"):
            continue
        checks = check_calls(cell.source) if cell.cell_type == "code" else []
        solution = BEGIN in cell.source
        if checks or solution:
            found.append((i, checks, solution))
    return found


def _points(nb, cell, exercise: str) -> float:
    """Points of an exercise: notebook metadata ``mmlab.points``, then the cell's nbgrader points, else 1."""
    table = nb.metadata.get("mmlab", {}).get("points", {})
    if exercise in table:
        return float(table[exercise])
    meta = cell.metadata.get("nbgrader", {})
    if meta.get("grade") and "points" in meta and len(check_calls(cell.source)) == 1:
        return float(meta["points"])
    return 1.0


def add_nbgrader_metadata(nb):
    """Give exercise and check cells nbgrader's cell metadata (schema version 3), in place.

    A cell holding only a solution becomes an autograded answer (``solution``); a check cell
    becomes a locked autograder test (``grade``, ``locked``, ``points``). A cell holding both
    an exercise and its check is a "manually graded answer" to nbgrader, which cannot
    autograde a cell the learner writes in; its check still prints the verdict for the
    teacher. Markdown answers are manually graded answers. Other cells lose any stale
    nbgrader metadata.

    Args:
        nb: a notebook read with nbformat (modified in place).
    Returns:
        ``nb``.
    """
    if not hasattr(nb, "cells"):
        raise TypeError(f"nb: expected a notebook read with nbformat.read, got {type(nb).__name__}")
    cells = _exercise_cells(nb)
    used: set[str] = set()

    def unique(base: str) -> str:
        grade_id, n = base, 2
        while grade_id in used:
            grade_id, n = f"{base}_{n}", n + 1
        used.add(grade_id)
        return grade_id

    marked = set()
    for k, (i, checks, solution) in enumerate(cells):
        cell = nb.cells[i]
        later = next((c for _, c, _ in cells[k:] if c), [])  # the check this answer leads to
        if checks:
            total = sum(_points(nb, cell, name) for name in checks)
            points: float | int = int(total) if total.is_integer() else total  # "points": 1, not 1.0
            meta = {"grade": True, "solution": solution, "locked": not solution,
                    "grade_id": unique("__".join(checks)), "points": points}
        elif cell.cell_type == "markdown":
            meta = {"grade": True, "solution": True, "locked": False,
                    "grade_id": unique(f"answer_{i}"), "points": 1.0}
        else:
            base = f"{later[0]}_answer" if later else f"answer_{i}"
            meta = {"grade": False, "solution": True, "locked": False, "grade_id": unique(base)}
        meta["schema_version"] = NBGRADER_SCHEMA_VERSION
        cell.metadata["nbgrader"] = meta
        marked.add(i)
    for i, cell in enumerate(nb.cells):
        if i not in marked:
            cell.metadata.pop("nbgrader", None)
    return nb


def make_student_notebook(nb, *, name: str | None = None):
    """Return a copy of ``nb`` (an nbformat NotebookNode) with stubs, no outputs and nbgrader metadata.

    Check cells are marked not deletable (and, when they hold no exercise, not editable)
    with Jupyter's own ``deletable``/``editable`` cell metadata, so they are hard to break
    by accident. ``name`` (the released file name) is recorded in the notebook metadata
    under ``mmlab.release`` so the grader can tell which notebook a submission is.
    """
    if not hasattr(nb, "cells"):
        raise TypeError(f"nb: expected a notebook read with nbformat.read, got {type(nb).__name__}")
    nb = add_nbgrader_metadata(copy.deepcopy(nb))
    for i, cell in enumerate(nb.cells):
        if cell.cell_type in ("code", "markdown") and BEGIN in cell.source:
            cell.source = strip_solutions(cell.source, markdown=cell.cell_type == "markdown",
                                          where=f"cell {i}")
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            cell.metadata["deletable"] = False
            if meta.get("locked"):
                cell.metadata["editable"] = False
    if name is not None:
        nb.metadata.setdefault("mmlab", {})["release"] = str(name)
    return nb


def release_manifest(nb, name: str) -> list[dict]:
    """What the grader needs to recognise each check cell of a notebook, one entry per exercise.

    Args:
        nb: the teacher's notebook (with solutions) or its student copy.
        name: the released file name, e.g. ``01_single_modality_embeddings.ipynb``.
    Returns:
        A list of dicts: ``notebook``, ``exercise``, ``cell`` (index), ``grade_id``,
        ``points``, ``locked`` (lines), ``whole_cell``, ``sha256`` (of the locked lines).
    """
    entries = []
    marked = add_nbgrader_metadata(copy.deepcopy(nb))  # the same grade ids as the student copy's
    grade_ids = {i: c.metadata["nbgrader"]["grade_id"] for i, c in enumerate(marked.cells) if "nbgrader" in c.metadata}
    for i, checks, _ in _exercise_cells(nb):
        if not checks:
            continue
        lines, whole = locked_lines(nb.cells[i].source)
        for exercise in checks:
            entries.append({"notebook": name, "exercise": exercise, "cell": i, "grade_id": grade_ids[i],
                            "points": _points(nb, nb.cells[i], exercise), "locked": lines,
                            "whole_cell": whole, "sha256": _sha256(lines)})
    return entries


def main(notebooks: list[str], out: str = "student") -> int:
    """Write a student copy of each notebook, and ``manifest.json``, into ``out``; return an exit code.

    The manifest keeps the entries of notebooks released earlier into ``out`` and replaces
    those of the notebooks written now.
    """
    import nbformat

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST
    try:
        previous = json.loads(manifest_path.read_text(encoding="utf-8")).get("exercises", [])
    except (OSError, ValueError, AttributeError):
        previous = []
    entries: list[dict] = []
    names = set()
    for path in map(Path, notebooks):
        if not path.is_file():
            raise FileNotFoundError(f"notebooks: expected existing .ipynb files, got {str(path)!r}")
        nb = nbformat.read(path, as_version=4)
        student = make_student_notebook(nb, name=path.name)
        nbformat.validate(student)
        n_blocks = sum(c.source.count(STUB) + c.source.count("YOUR ANSWER HERE")
                       for c in student.cells)
        nbformat.write(student, out_dir / path.name)
        entries += release_manifest(student, path.name)
        names.add(path.name)
        print(f"{out_dir / path.name}: {n_blocks} exercise stub(s)")
    entries = [e for e in previous if e.get("notebook") not in names] + entries
    # Which mmlab made the release, and when: grade with the same one (a newer mmlab's checks
    # may differ, and the grader compares each check with its own copy). Archive this file.
    from . import __version__

    release = {"version": 1, "mmlab": __version__, "released": time.strftime("%Y-%m-%d %H:%M %Z"),
               "exercises": entries}
    manifest_path.write_text(json.dumps(release, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{manifest_path}: {len(entries)} check(s) the grader will recognise")
    return 0


# --------------------------------------------------------------------------- revealing one solution

def _exercise_name(exercise) -> str:
    name = getattr(exercise, "__name__", exercise)
    if not isinstance(name, str) or not re.fullmatch(r"nb\d\d_\w+", name.strip()):
        raise ValueError("exercise: expected the name of a check as it appears in the check cell, e.g. "
                         f"'nb01_cosine_similarity' (or the check function itself), got {exercise!r}")
    return name.strip()


def solution_text(exercise, *, source=None) -> str:
    """The reference solution of one exercise, as text: the cells that hold it, marker lines removed.

    The solution of an exercise is every solution block after the previous exercise's check
    cell, up to and including its own check cell, in the solved reference notebook.

    Args:
        exercise: the check's name as the check cell calls it (``"nb01_cosine_similarity"``),
            or the check function itself (``mm.checks.nb01_cosine_similarity``).
        source: the folder of reference notebooks (default: the checkout's ``notebooks/``, or
            the copy inside an installed wheel).
    Returns:
        A header naming the notebook and cells, then each cell's text.
    """
    import nbformat

    from .notebooks_cli import notebooks_dir

    name = _exercise_name(exercise)
    folder = Path(source) if source is not None else notebooks_dir()
    paths = sorted(folder.glob(f"{name[2:4]}_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"exercise: no reference notebook {name[2:4]}_*.ipynb in {folder} for {name!r}")
    nb = nbformat.read(paths[0], as_version=4)
    cells = _exercise_cells(nb)
    at = [k for k, (_, checks, _) in enumerate(cells) if name in checks]
    if not at:
        raise ValueError(f"exercise: {paths[0].name} has no check cell calling {name!r}; the checks it has: "
                         f"{sorted({c for _, checks, _ in cells for c in checks})}")
    start = at[-1]
    while start > 0 and not cells[start - 1][1]:  # solution cells without a check of their own
        start -= 1
    parts = []
    for i, _, solution in cells[start:at[-1] + 1]:
        if not solution:
            continue
        text = "\n".join(line for line in nb.cells[i].source.splitlines() if not _MARKER.match(line))
        parts.append(f"--- {paths[0].name}, cell {i} ({nb.cells[i].cell_type}) ---\n{text.strip()}")
    if not parts:
        raise ValueError(f"exercise: {name!r} has a check cell in {paths[0].name} but no solution block before it")
    return f"Solution of {name}, from the reference notebook {paths[0]}:\n\n" + "\n\n".join(parts) + "\n"


def show_solution(exercise, *, source=None) -> None:
    """Print the reference solution of one exercise: for after you have tried it yourself.

    In a notebook: ``mm.student.show_solution("nb01_cosine_similarity")`` (the name is the one
    in the check cell you ran). In a terminal: ``python -m mmlab solution nb01_cosine_similarity``.
    See :func:`solution_text` for the arguments.
    """
    print(solution_text(exercise, source=source), end="")
