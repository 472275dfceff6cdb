"""Student copies of the notebooks: solutions replaced by stubs, outputs cleared.

Solutions sit between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (the nbgrader
convention). A block at the top level of a cell becomes ``# YOUR CODE HERE`` (the
placeholder assignment above it stays, e.g. ``answer = ...``); a block inside a function
body becomes ``raise NotImplementedError()`` at the same indentation, so the learner's
function exists but says it is not written yet. Markdown answers between
``### BEGIN SOLUTION`` / ``### END SOLUTION`` become "YOUR ANSWER HERE".
"""
from __future__ import annotations

import re
from pathlib import Path

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_MARKER = re.compile(r"^(?P<indent>\s*)(?P<marker>### (BEGIN|END) SOLUTION)\s*$")

__all__ = ["strip_solutions", "make_student_notebook", "main"]


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
                raise ValueError(f"{where}: line {lineno}: '{BEGIN}' inside another solution block")
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
                raise ValueError(f"{where}: line {lineno}: '{END}' without a matching '{BEGIN}'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: '{BEGIN}' is never closed by '{END}'")
    return "\n".join(out)


def make_student_notebook(nb):
    """Return a copy of ``nb`` (an nbformat NotebookNode) with stubs and no outputs."""
    import copy

    if not hasattr(nb, "cells"):
        raise TypeError(f"nb: expected a notebook read with nbformat.read, got {type(nb).__name__}")
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type in ("code", "markdown") and BEGIN in cell.source:
            cell.source = strip_solutions(cell.source, markdown=cell.cell_type == "markdown",
                                          where=f"cell {i}")
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def main(notebooks: list[str], out: str = "student") -> int:
    """Write a student copy of each notebook into ``out``; return an exit code."""
    import nbformat

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in map(Path, notebooks):
        if not path.is_file():
            raise FileNotFoundError(f"notebooks: expected existing .ipynb files, got {str(path)!r}")
        nb = nbformat.read(path, as_version=4)
        student = make_student_notebook(nb)
        nbformat.validate(student)
        n_blocks = sum(c.source.count("# YOUR CODE HERE") + c.source.count("YOUR ANSWER HERE")
                       for c in student.cells)
        nbformat.write(student, out_dir / path.name)
        print(f"{out_dir / path.name}: {n_blocks} exercise stub(s)")
    return 0
