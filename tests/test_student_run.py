"""Each student copy runs top to bottom with every exercise unsolved.

``make student`` replaces each solution by a stub. Run All on that copy must reach the end:
later sections fall back to the reference (``mm.checks.fallback``) or skip with a one-line
message, and every check says "Not yet" without raising.
"""
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from mmlab.student import check_calls, make_student_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def text_of(outputs) -> str:
    parts = []
    for out in outputs:
        if out.get("output_type") == "stream":
            parts.append(out["text"])
        elif out.get("output_type") == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
    return "".join(parts)


@pytest.mark.student_run
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_copy_runs_to_the_end_unsolved(path, tmp_path):
    student = make_student_notebook(nbformat.read(path, as_version=4), name=path.name)
    client = NotebookClient(student, timeout=int(os.environ.get("MMLAB_CELL_TIMEOUT", "300")),
                            kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [(i, text_of([o for o in c.outputs if o.get("output_type") == "error"]))
              for i, c in enumerate(student.cells)
              if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.outputs)]
    assert not errors, f"{path.name}: cells raised in the unsolved student copy: {errors[:3]}"
    verdicts = {}
    for cell in student.cells:
        if cell.cell_type == "code":
            for name in check_calls(cell.source):
                verdicts[name] = text_of(cell.outputs)
    assert verdicts, f"{path.name}: no check call found"
    passed = [name for name, out in verdicts.items() if "Not yet" not in out]
    assert not passed, f"{path.name}: checks that do not say 'Not yet' on an unsolved stub: {passed}"
