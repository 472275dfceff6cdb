"""The notebook run times the docs quote are generated from one measured file.

``benchmarks/bench_notebooks.py`` writes ``benchmarks/results/notebooks.json`` (the numbers and
when, where and on what they were measured); ``--update-docs`` writes the table between the
``notebook-times`` markers of README.md and docs/teaching.md. A hand edit of either, or a new
measurement without ``--update-docs``, fails here.
"""
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "notebooks.json"


def bench():
    spec = importlib.util.spec_from_file_location("bench_notebooks", ROOT / "benchmarks" / "bench_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("doc", ["README.md", "docs/teaching.md"])
def test_the_quoted_notebook_times_are_the_measured_ones(doc):
    module = bench()
    data = json.loads(RESULTS.read_text(encoding="utf-8"))
    text = (ROOT / doc).read_text(encoding="utf-8")
    blocks = re.findall(re.escape(module.BEGIN) + r"\n(.*?)" + re.escape(module.END), text, flags=re.S)
    assert len(blocks) == 1, f"{doc}: expected one notebook-times block"
    assert blocks[0] == module.markdown(data), (
        f"{doc}: the notebook times differ from {RESULTS.name}; run "
        "`.venv/bin/python benchmarks/bench_notebooks.py --update-docs`")


def test_the_measurement_covers_every_notebook_and_says_when_and_where():
    data = json.loads(RESULTS.read_text(encoding="utf-8"))
    measured = {row["notebook"] for row in data["notebooks"]}
    assert measured == {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    for key in ("date", "commit", "cpu", "cores", "ram_gib", "python", "torch", "load_average_at_start"):
        assert data["machine"].get(key) not in (None, ""), key


def test_update_docs_rewrites_only_the_block(tmp_path, monkeypatch):
    module = bench()
    doc = tmp_path / "doc.md"
    doc.write_text(f"before\n{module.BEGIN}\nstale\n{module.END}\nafter\n")
    monkeypatch.setattr(module, "DOCS", (doc,))
    data = {"cache": "cold", "notebooks": [{"notebook": "00_x.ipynb", "seconds": 12.3, "peak_gib": 1.5, "load": 2.5,
                                         "status": "ok"}],
            "machine": {"date": "2026-12-06", "commit": "abc", "os": "Linux", "cpu": "x", "cores": 2, "ram_gib": 24,
                        "python": "3.11", "torch": "2", "load_average_at_start": 1.0}}
    assert module.update_docs(data) == [doc]
    text = doc.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "stale" not in text
    assert "| 00_x.ipynb | 12 | 1.5 | 2.5 | ok |" in text and "Measured 2026-12-06" in text
    assert "{" not in text and "on Linux, x, 2 cores" in text  # every field of the machine line filled in
    assert module.update_docs(data) == []  # nothing left to change
