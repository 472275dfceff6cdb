"""report.html from a real `python -m mmlab grade` run: the chart, the hints counted, no student's code."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mmlab.grade_report import redact, write_report
from mmlab.student import main as make_student

sys.path.insert(0, str(Path(__file__).parent))
from test_grade import RIGHT, WRONG, hand_in, teacher_notebook

pytestmark = pytest.mark.slow
SECRET = "QZXUNIQUEQZX"    # in every student's own code below; must never reach report.html


def test_redact_keeps_the_exception_type_only():
    assert redact(f"the check cell raised NameError: name '{SECRET}' is not defined") == \
        "the check cell raised NameError"
    assert redact(f"not a readable notebook: JSONDecodeError: Expecting value: {SECRET}") == \
        "not a readable notebook: JSONDecodeError"
    assert redact(f"the check cell raised NameError: x (earlier, cell 2 raised RuntimeError: {SECRET})") == \
        "the check cell raised NameError (earlier, cell 2 raised RuntimeError)"
    assert redact("the angle is 90 degrees; normalise first.") == "the angle is 90 degrees; normalise first."


def test_report_from_a_real_grading_run(tmp_path):
    source = tmp_path / "source" / "01_tiny.ipynb"
    source.parent.mkdir()
    nbformat.write(teacher_notebook(), source)
    release = tmp_path / "release"
    assert make_student([str(source)], str(release)) == 0
    subs = tmp_path / "hand-ins"
    secret_right = {**RIGHT, 2: RIGHT[2].replace("return", f"{SECRET} = 1\n    return")}
    paths = [
        hand_in(release, subs, "good", secret_right),
        hand_in(release, subs, "wrong1", {**WRONG, 2: WRONG[2] + f"  # {SECRET}"}),
        hand_in(release, subs, "wrong2", WRONG),
        hand_in(release, subs, "raises", {**RIGHT, 2: f"raise RuntimeError('{SECRET} <script>')"}),
        hand_in(release, subs, "names", {**RIGHT, 2: f"{SECRET}_undefined_name"}),
    ]
    broken = subs / "broken" / "01_tiny.ipynb"
    broken.parent.mkdir()
    broken.write_text("{ " + SECRET)
    out = tmp_path / "grades"
    proc = subprocess.run(
        [sys.executable, "-m", "mmlab", "grade", *map(str, paths), str(broken), "--out", str(out),
         "--release", str(release), "--timeout-cell", "8", "--timeout-notebook", "60"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "MMLAB_GRADE_LOG": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "grades.csv", newline="") as f:
        raw = f.read()
    assert SECRET in raw          # the grader's own CSV does quote the student (so the redaction is tested)

    page = write_report(out).read_text(encoding="utf-8")
    assert SECRET not in page
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<svg" in page and "nb01_cosine_similarity" in page
    # the two hand-ins that forgot to normalise share one hint, counted twice
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    wrong_hint = next(r["message"] for r in rows
                      if r["submission"].startswith("wrong2") and r["exercise"] == "nb01_cosine_similarity")
    import html
    assert f'<td class="n">2</td><td>{html.escape(redact(wrong_hint))}</td>' in page
    for r in rows:   # every error, with its exception type(s) only (other statuses depend on the run)
        if r["status"] == "error":
            assert html.escape(redact(r["message"])) in page and ": " not in redact(r["message"])
    assert "broken" in page and "NotJSONError" in page
    (Path(os.environ.get("MMLAB_REPORT_SAMPLE", tmp_path)) / "report.html").write_text(page)
