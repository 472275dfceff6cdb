"""Make build/book-src/ for `make book`: the committed notebooks (outputs as they are), each with a
first cell linking to its own download and its student copy, docs/teaching.md, and the student
copies made by mmlab.student (the `make student` code). Nothing is executed.

    python book/prepare.py [SRC_DIR]
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat

from mmlab.student import main as make_student

ROOT = Path(__file__).resolve().parent.parent


def main(dest: str = "build/book-src") -> int:
    out = ROOT / dest
    if out.exists():
        shutil.rmtree(out)
    (out / "notebooks").mkdir(parents=True)
    files = out / "files"
    for name in ("conf.py", "index.md"):
        shutil.copy(ROOT / "book" / name, out / name)
    teaching = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    (out / "teaching.md").write_text(teaching.replace("](../README.md)", "](index.md)"), encoding="utf-8")
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if make_student([str(p) for p in notebooks], str(files / "student")) != 0:
        return 1
    (files / "notebooks").mkdir(parents=True)
    for path in notebooks:
        shutil.copy(path, files / "notebooks" / path.name)
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:   # links written for the repository, pointed at the site's pages
            if cell.cell_type == "markdown":
                cell.source = cell.source.replace("../docs/teaching.md", "../teaching.md").replace(
                    "../README.md", "../index.md")
        links = nbformat.v4.new_markdown_cell(
            f'<p class="mmlab-downloads">⬇ <a href="../notebooks/{path.name}" download>download this notebook '
            f'(solved, with outputs)</a> · <a href="../student/{path.name}" download>student copy '
            "(exercises to do)</a> · to run either: <code>make lab</code> (see the start page)</p>")
        nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0, links)
        nbformat.write(nb, out / "notebooks" / path.name)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
