"""The numbered ``## N.`` section headings of every notebook run 1, 2, 3, ... in order.

A lost markdown cell once left a notebook's sections jumping from 6 to 8 (outside review 12 of nb05).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
HEADING = re.compile(r"^## (\d+)\.", re.MULTILINE)


def section_numbers(path: Path) -> list[int]:
    nb = nbformat.read(path, as_version=4)
    return [int(n) for cell in nb.cells if cell.cell_type == "markdown" for n in HEADING.findall(cell.source)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_numbered_headings_run_in_order(path):
    numbers = section_numbers(path)
    if not numbers:
        pytest.skip("no numbered sections")
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
