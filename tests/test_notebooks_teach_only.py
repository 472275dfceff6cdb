"""The committed notebooks hold only teaching code in the cells a learner sees.

The claims the prose makes are held by nbval instead: a cell that prints the numbers the
prose reads carries the ``nbval-check-output`` tag (invisible in the notebook view), so
``make test`` fails when a re-execution prints something else (CONTRIBUTING.md, "Notebooks").
"""
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))

SCAFFOLDING = {
    "an assert": re.compile(r"^\s*assert\b", re.M),
    "a test-tool comment": re.compile(r"#\s*NBVAL", re.I),
    "a private import": re.compile(r"\bmmlab\._|\bmm\._[a-z]"),
    "a remark about an earlier version": re.compile(r"earlier version of this notebook|previous version", re.I),
    "a guard comment": re.compile(r"guards the (text|prose)", re.I),
}


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_ci_scaffolding_in_learner_cells(path):
    found = []
    for i, cell in enumerate(cells(path)):
        source = "".join(cell["source"])
        for what, pattern in SCAFFOLDING.items():
            if pattern.search(source):
                found.append(f"cell {i}: {what}")
    assert not found, f"{path.name}: {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_check_calls_echo_nothing(path):
    """A check prints one line of feedback; nothing like ``True`` or ``CheckResult(...)`` is echoed."""
    echoes = []
    for i, cell in enumerate(cells(path)):
        if cell["cell_type"] != "code" or "checks." not in "".join(cell["source"]):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "execute_result":
                echoes.append((i, "".join(out["data"].get("text/plain", ""))[:40]))
    assert not echoes, f"{path.name}: check cells echo a value: {echoes}"


def test_the_scan_sees_every_notebook_and_catches_an_assert(tmp_path):
    assert len(NOTEBOOKS) >= 7
    fake = tmp_path / "99_fake.ipynb"
    fake.write_text(json.dumps({"cells": [{"cell_type": "code", "source": ["x = 1\n", "assert x == 1  # guards the text\n"],
                                           "outputs": [], "metadata": {}}]}))
    with pytest.raises(AssertionError, match="an assert"):
        test_no_ci_scaffolding_in_learner_cells(fake)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_prose_claims_are_held_by_tagged_cells(path):
    """Every notebook that quotes measured numbers has cells whose printed output nbval compares."""
    tagged = [c for c in cells(path) if "nbval-check-output" in c.get("metadata", {}).get("tags", [])]
    if path.name.startswith("00_"):
        return  # the start page quotes no measurement
    assert tagged, f"{path.name}: no cell carries the nbval-check-output tag"
    for cell in tagged:
        assert cell["cell_type"] == "code" and cell.get("outputs"), f"{path.name}: a tagged cell has no stored output"
