"""The small commands of ``python -m mmlab`` that have no module of their own."""
from __future__ import annotations

import nbformat

from mmlab.__main__ import WIDGET_MIME, main, strip_widgets


def _notebook_with_a_progress_bar():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("for _ in tqdm(range(3)): pass\nprint('done')")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={WIDGET_MIME: {"model_id": "x"}, "text/plain": "  0%|  | 0/3"}),
        nbformat.v4.new_output("stream", name="stdout", text="done\n"),
    ]
    nb.cells = [cell, nbformat.v4.new_markdown_cell("text")]
    nb.metadata["widgets"] = {"state": {}}
    return nb


def test_strip_widgets_drops_only_the_progress_bars():
    nb = _notebook_with_a_progress_bar()
    assert strip_widgets(nb) == 1
    assert [o["output_type"] for o in nb.cells[0].outputs] == ["stream"]
    assert "widgets" not in nb.metadata


def test_run_notebooks_executes_in_place_and_stores_no_widgets(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from tqdm.auto import tqdm\nfor _ in tqdm(range(3)): pass\nprint(6 * 7)")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    assert main(["run-notebooks", str(path)]) == 0
    out = nbformat.read(path, as_version=4).cells[0].outputs
    assert any("42" in o.get("text", "") for o in out)
    assert not any(WIDGET_MIME in o.get("data", {}) for o in out)
