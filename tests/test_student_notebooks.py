"""`make student` on the real notebooks: valid, no solution text, stubs that run.

The cells before each notebook's first exercise are byte-identical to the committed
notebook's, which nbval executes in the same `make test`, so they run without error; the
exercise cells are checked to compile and to hold no solution line. Whether a stub fails
its check with a helpful message is tested per check in tests/test_checks_nbXX.py.
"""
import re
from pathlib import Path

import nbformat
import pytest

from mmlab.student import BEGIN, END, check_calls, locked_matches, main, make_student_notebook, release_manifest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0[1-9]_*.ipynb"))


def solution_lines(nb) -> set[str]:
    """Every non-trivial line between the solution markers of a notebook."""
    lines, inside = set(), False
    for cell in nb.cells:
        for line in cell.source.splitlines():
            if BEGIN in line:
                inside = True
            elif END in line:
                inside = False
            elif inside and len(line.strip()) > 12 and not line.strip().startswith("#"):
                lines.add(line.strip())
    return lines


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_copy(path, tmp_path):
    original = nbformat.read(path, as_version=4)
    assert main([str(path)], str(tmp_path)) == 0
    student = nbformat.read(tmp_path / path.name, as_version=4)
    nbformat.validate(student)

    n_exercises = sum(BEGIN in c.source for c in original.cells)
    assert n_exercises >= 3, f"{path.name}: expected at least 3 exercises, found {n_exercises}"

    text = "\n".join(c.source for c in student.cells)
    assert BEGIN not in text and END not in text
    # A solution line may legitimately appear elsewhere in the notebook (e.g. in prose),
    # so only lines that do not occur outside the solution blocks of the original count.
    outside = "\n".join(re.sub(rf"{BEGIN}.*?{END}", "", c.source, flags=re.S) for c in original.cells)
    leaked = [line for line in solution_lines(original) if line in text and line not in outside]
    assert not leaked, f"{path.name}: solution text in the student copy: {leaked[:3]}"

    for i, cell in enumerate(student.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            compile(source, f"{path.name} cell {i}", "exec")

    first = next(i for i, c in enumerate(original.cells) if BEGIN in c.source)
    assert [c.source for c in student.cells[:first]] == [c.source for c in original.cells[:first]]


def test_make_student_notebook_is_idempotent():
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    once = make_student_notebook(nb)
    twice = make_student_notebook(once)
    assert [c.source for c in once.cells] == [c.source for c in twice.cells]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_check_cell_is_in_the_manifest_and_recognised(path):
    """The grader finds each released check cell (by grade id and locked lines) in an untouched copy."""
    original = nbformat.read(path, as_version=4)
    student = make_student_notebook(original, name=path.name)
    entries = release_manifest(student, path.name)
    calls = [name for c in original.cells if c.cell_type == "code" for name in check_calls(c.source)]
    assert sorted(e["exercise"] for e in entries) == sorted(calls)
    for e in entries:
        cell = student.cells[e["cell"]]
        assert cell.metadata["nbgrader"]["grade_id"] == e["grade_id"] and cell.metadata["nbgrader"]["grade"]
        assert locked_matches(cell.source, e["locked"], e["whole_cell"])
        assert any(f"checks.{e['exercise']}" in line for line in e["locked"])  # the call itself is locked
    ids = [c.metadata["nbgrader"]["grade_id"] for c in student.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), f"{path.name}: duplicate nbgrader grade ids"



ALL_NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0[0-9]_*.ipynb"))


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=[p.stem for p in ALL_NOTEBOOKS])
def test_each_check_is_called_once_after_an_exercise(path):
    """Every cell that calls a check is graded: a demo call of a check would fail in every hand-in."""
    nb = nbformat.read(path, as_version=4)
    entries = release_manifest(nb, path.name)
    names = [e["exercise"] for e in entries]
    assert len(names) == len(set(names)), f"{path.name}: a check is called in more than one cell: {names}"
    first_solution = min(i for i, c in enumerate(nb.cells) if BEGIN in c.source)
    early = [e["exercise"] for e in entries if e["cell"] < first_solution]
    assert not early, f"{path.name}: {early} called before the first exercise"
