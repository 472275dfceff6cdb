"""`python -m mmlab grade`: a tiny released notebook, typical hand-ins, every row of grades.csv.

The notebook is made here (the real ones take a minute each); its check cells call real
checks of notebook 01, which report through the same path as every check.
"""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mmlab.exercises import _feedback
from mmlab.student import main as make_student

pytestmark = pytest.mark.slow

SETUP = "import numpy as np\nimport mmlab as mm"
COSINE = """def my_cosine_similarity(a, b):
    ### BEGIN SOLUTION
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T
    ### END SOLUTION"""
COSINE_CHECK = "mm.checks.nb01_cosine_similarity(my_cosine_similarity)"
BASELINE = """baseline = ...  # a fraction between 0 and 1
### BEGIN SOLUTION
baseline = 0.25
### END SOLUTION
mm.checks.nb01_majority_baseline(baseline, ["a", "a", "b"], ["a", "b", "b", "b"], require_function=False)"""
PREDICT = """prediction = ...  # "a", "b" or "c"
### BEGIN SOLUTION
prediction = "b"
### END SOLUTION"""
PREDICT_CHECK = 'mm.checks.nb01_predict_closest(prediction, {"a": 0.1, "b": 0.9, "c": 0.3})'
EXERCISES = ["nb01_cosine_similarity", "nb01_majority_baseline", "nb01_predict_closest"]

RIGHT = {2: "def my_cosine_similarity(a, b):\n    return (a / np.linalg.norm(a, axis=1, keepdims=True)) @ "
            "(b / np.linalg.norm(b, axis=1, keepdims=True)).T",
         4: 'baseline = ...  # a fraction between 0 and 1\nbaseline = 0.25\n'
            'mm.checks.nb01_majority_baseline(baseline, ["a", "a", "b"], ["a", "b", "b", "b"], require_function=False)',
         5: 'prediction = "b"'}
WRONG = {2: "def my_cosine_similarity(a, b):\n    return a @ b.T",   # forgot to normalise
         4: RIGHT[4].replace("= 0.25", "= 1 / 2"),                   # 1 / number of groups
         5: 'prediction = "a"\njson = open = io = None  # names the grader\'s own cell must not rely on'}


def teacher_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A tiny assignment")] + [
        nbformat.v4.new_code_cell(s) for s in (SETUP, COSINE, COSINE_CHECK, BASELINE, PREDICT, PREDICT_CHECK)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["mmlab"] = {"points": {"nb01_cosine_similarity": 2}}
    return nb


def hand_in(release: Path, folder: Path, name: str, edits: dict, drop=(), insert=None) -> Path:
    """A student's submission: the released copy with some cells rewritten, dropped or added."""
    nb = nbformat.read(release / "01_tiny.ipynb", as_version=4)
    for i, source in edits.items():
        nb.cells[i].source = source
    if insert:
        nb.cells.insert(insert[0], nbformat.v4.new_code_cell(insert[1]))
    nb.cells = [c for i, c in enumerate(nb.cells) if i not in drop]
    path = folder / name / "01_tiny.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return path


def test_report_writes_a_structured_result_and_prints_the_same(tmp_path, monkeypatch, capsys):
    log = tmp_path / "results.jsonl"
    monkeypatch.setenv(_feedback.GRADE_LOG_ENV, str(log))
    import mmlab.checks as checks

    assert checks.nb01_predict_closest("b", {"a": 0.1, "b": 0.9}).passed is True
    assert checks.nb01_predict_closest("a", {"a": 0.1, "b": 0.9}).passed is False
    printed = capsys.readouterr().out
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["exercise"], r["passed"]) for r in lines] == [("nb01_predict_closest", True)] * 1 + [
        ("nb01_predict_closest", False)]
    assert all(r["message"] in printed for r in lines)
    assert lines[0]["fingerprint"] == _feedback.code_fingerprint(checks.nb01_predict_closest.__code__)


def test_report_without_grade_log_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(_feedback.GRADE_LOG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert _feedback.report(True, "fine").passed is True
    assert list(tmp_path.iterdir()) == []


def test_grade_every_kind_of_hand_in(tmp_path):
    source = tmp_path / "source" / "01_tiny.ipynb"
    source.parent.mkdir()
    nbformat.write(teacher_notebook(), source)
    release = tmp_path / "release"
    assert make_student([str(source)], str(release)) == 0
    subs = tmp_path / "hand-ins"
    paths = [
        hand_in(release, subs, "good", RIGHT),
        hand_in(release, subs, "wrong", WRONG),
        hand_in(release, subs, "untouched", {}),
        hand_in(release, subs, "raises", {**RIGHT, 2: "raise RuntimeError('oops')"}),
        hand_in(release, subs, "loops", {**RIGHT, 5: "while True:\n    pass"}),
        hand_in(release, subs, "crashes", {**RIGHT, 5: "import os\nos._exit(1)"}),
        hand_in(release, subs, "chatty", {**RIGHT, 1: SETUP + "\nprint('x' * 5_000_000)"}),
        hand_in(release, subs, "replaces", {**WRONG, 5: 'prediction = "a"\nmm.checks.nb01_predict_closest = '
                                            'lambda *a: mm.checks.report(True, "fine")'},
                insert=(2, "mm.checks.nb01_cosine_similarity = lambda *a: True")),
        hand_in(release, subs, "edits", {**WRONG, 3: "mm.checks.nb01_cosine_similarity(lambda a, b: np.eye(4, 3))"}),
        hand_in(release, subs, "deletes", WRONG, drop={6}),
    ]
    broken = subs / "broken" / "01_tiny.ipynb"
    broken.parent.mkdir()
    broken.write_text("{ this is not a notebook")
    out = tmp_path / "grades"
    env = {**os.environ, "MMLAB_GRADE_LOG": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "mmlab", "grade", *map(str, paths), str(broken), "--out", str(out),
         "--release", str(release), "--timeout-cell", "8", "--timeout-notebook", "60"],
        capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]

    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    got = {(r["submission"], r["exercise"]): " ".join((r["status"], r["passed"], r["points"], r["max_points"]))
           for r in rows}
    # status, passed, points, max_points for nb01_cosine_similarity (2 points), nb01_majority_baseline,
    # nb01_predict_closest
    expect = {
        "good": ["ok True 2 2", "ok True 1 1", "ok True 1 1"],
        "wrong": ["ok False 0 2", "ok False 0 1", "ok False 0 1"],
        "untouched": ["ok False 0 2", "ok False 0 1", "ok False 0 1"],
        "raises": ["error False 0 2", "ok True 1 1", "ok True 1 1"],
        "loops": ["ok True 2 2", "ok True 1 1", "not_run False 0 1"],
        "crashes": ["ok True 2 2", "ok True 1 1", "not_run False 0 1"],
        "chatty": ["ok True 2 2", "ok True 1 1", "ok True 1 1"],
        "replaces": ["tampered False 0 2", "ok False 0 1", "tampered False 0 1"],
        "edits": ["edited False 0 2", "ok False 0 1", "ok False 0 1"],
        "deletes": ["ok False 0 2", "ok False 0 1", "missing False 0 1"],
    }
    # Submissions are named by their path below the hand-in folder.
    want = {(f"{s}__01_tiny", e): v for s, vs in expect.items() for e, v in zip(EXERCISES, vs)}
    want[("broken__01_tiny", "")] = "could_not_run False 0 0"
    assert got == want
    assert len(rows) == len(want)  # one row per (submission, exercise), nothing else

    message = {(r["submission"].removesuffix("__01_tiny"), r["exercise"]): r["message"] for r in rows}
    assert "plain dot product" in message[("wrong", "nb01_cosine_similarity")]      # the check's own hint
    assert "NameError" in message[("raises", "nb01_cosine_similarity")]
    assert "time limit" in message[("loops", "nb01_predict_closest")]
    assert "kernel died" in message[("crashes", "nb01_predict_closest")]
    assert "replaced" in message[("replaces", "nb01_cosine_similarity")]
    assert "differs from the released copy" in message[("edits", "nb01_cosine_similarity")]
    assert "missing" in message[("deletes", "nb01_predict_closest")]
    assert "not a readable notebook" in message[("broken", "")]

    feedback = (out / "feedback" / "wrong__01_tiny.md").read_text()
    assert "Score: 0 / 4" in feedback and "plain dot product" in feedback
    assert "np.linalg.norm(a, axis=1, keepdims=True)) @" not in feedback   # no solution in the feedback
    assert sorted(p.stem for p in (out / "feedback").iterdir()) == sorted(f"{s}__01_tiny" for s in [*expect, "broken"])
    assert "nb01_cosine_similarity" in proc.stdout and "passed" in proc.stdout  # the summary table
    report = (out / "report.html").read_text(encoding="utf-8")  # the class report, written by every run
    assert "plain dot product" in report and "np.linalg.norm(a, axis=1, keepdims=True)) @" not in report


@pytest.mark.parametrize("args, error, words", [
    (["missing.ipynb"], FileNotFoundError, "submissions: expected .ipynb files"),
    (["{nb}", "--timeout-cell", "0"], ValueError, "--timeout-cell, --timeout-notebook: expected positive seconds"),
    (["{nb}", "--release", "{empty}"], FileNotFoundError, "release: expected a folder of student copies"),
    (["{nb}", "--memory-gib", "0"], ValueError, "--memory-gib: expected a positive number of GiB, got 0"),
])
def test_bad_arguments_are_named(tmp_path, args, error, words):
    from mmlab.__main__ import main as cli

    nb = tmp_path / "01_tiny.ipynb"
    nbformat.write(teacher_notebook(), nb)
    (tmp_path / "empty").mkdir()
    args = [a.format(nb=nb, empty=tmp_path / "empty") for a in args]
    with pytest.raises(error, match=words):
        cli(["grade", *args, "--out", str(tmp_path / "out")])


def test_code_fingerprint_tells_code_apart_and_refuses_non_code():
    def f(x):
        return x + 1

    def g(x):
        return x + 2

    assert _feedback.code_fingerprint(f.__code__) != _feedback.code_fingerprint(g.__code__)
    assert _feedback.code_fingerprint(f.__code__) == _feedback.code_fingerprint(f.__code__)
    with pytest.raises(TypeError, match="code: expected a code object"):
        _feedback.code_fingerprint(f)


# ------------------------------------------------------------------ containment of hostile hand-ins

FORGE = '''import json, os
def my_cosine_similarity(a, b):
    import mmlab.exercises as ex
    from mmlab.exercises import _feedback
    line = {"exercise": "nb01_cosine_similarity", "module": "mmlab.exercises.nb01", "passed": True, "points": 1.0,
            "fingerprint": _feedback.code_fingerprint(ex.nb01_cosine_similarity.__code__), "message": "forged"}
    with open(os.environ["MMLAB_GRADE_LOG"], "a") as f:
        f.write(json.dumps(line) + "\\n")
    return a @ b.T'''


def test_hostile_hand_ins_are_contained(tmp_path):
    """Each hand-in attacks the grader one way; each is contained and its row says why."""
    from mmlab import sandbox

    probe = sandbox.prepare(tmp_path / "probe", warm_cache=None)
    contained = probe.uid is not None
    source = tmp_path / "source" / "01_tiny.ipynb"
    source.parent.mkdir()
    nbformat.write(teacher_notebook(), source)
    release = tmp_path / "release"
    assert make_student([str(source)], str(release)) == 0
    teacher_file = tmp_path / "teacher" / "notes.txt"
    teacher_file.parent.mkdir()
    teacher_file.write_text("the teacher's own file")
    subs = tmp_path / "hand-ins"
    attacks = {
        # reads a secret of the teacher's environment: answers right only if it cannot see it
        "secret": {**RIGHT, 5: 'import os\nprediction = "b" if "MMLAB_TEST_SECRET" not in os.environ else "a"'},
        # patches the library function the check relies on
        "patches": {**WRONG, 2: WRONG[2] + "\nnp.allclose = lambda *a, **k: True"},
        # writes a passing result into the grade log from inside the function the check calls
        "forges": {**RIGHT, 2: FORGE},
        # writes a forged line from a cell of its own (never counted: it is not the check cell)
        "forges-elsewhere": {**WRONG, 4: WRONG[4] + "\n" + FORGE.replace("def my_cosine_similarity",
                                                                           "def forge").split("\n", 1)[1]
                             + "\nforge(np.eye(2), np.eye(2))"},
        # allocates far past the memory limit
        "allocates": {**RIGHT, 2: "big = bytearray(3 * 2**30)\n" + RIGHT[2]},
    }
    if contained:
        attacks |= {
            # writes outside its folder: into the teacher's files and the teacher's home
            "writes": {**RIGHT, 5: f"for p in [{str(teacher_file)!r}, {str(Path.home() / 'pwned')!r}]:\n"
                                   "    try:\n        open(p, 'w').write('pwned')\n    except OSError:\n        pass\n"
                                   'prediction = "b"'},
            # starts processes in a (bounded) loop
            "forks": {**RIGHT, 5: "import subprocess\nprocs = [subprocess.Popen(['sleep', '517']) for _ in range(400)]\n"
                                  'prediction = "b"'},
        }
    if probe.network_isolated:
        # looks for a network: right only if the kernel sees no interface but its own loopback
        attacks["networks"] = {**RIGHT, 5: "import socket\nnames = [n for _, n in socket.if_nameindex()]\n"
                                           'prediction = "b" if names == ["lo"] else "a"'}
    paths = [hand_in(release, subs, name, edits) for name, edits in attacks.items()]
    out = tmp_path / "grades"
    env = {**os.environ, "MMLAB_GRADE_LOG": "", "MMLAB_TEST_SECRET": "s3cr3t-token"}
    proc = subprocess.run(
        [sys.executable, "-m", "mmlab", "grade", *map(str, paths), "--out", str(out), "--release", str(release),
         "--timeout-cell", "30", "--timeout-notebook", "120", "--memory-gib", "1.5"],
        capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "grades.csv", newline="") as f:
        rows = {(r["submission"].removesuffix("__01_tiny"), r["exercise"]): r for r in csv.DictReader(f)}

    def row(sub, ex):
        r = rows[(sub, ex)]
        return r["status"], r["passed"], r["message"]

    assert row("secret", "nb01_predict_closest")[:2] == ("ok", "True")         # the secret was not there
    status, passed, message = row("patches", "nb01_cosine_similarity")
    assert (status, passed) == ("tampered", "False") and "numpy.allclose" in message
    status, passed, message = row("forges", "nb01_cosine_similarity")
    assert (status, passed) == ("tampered", "False") and "2 results" in message
    assert row("forges-elsewhere", "nb01_cosine_similarity")[:2] == ("ok", "False")  # its forged line is ignored
    status, passed, message = row("allocates", "nb01_cosine_similarity")
    assert (status, passed) == ("error", "False") and "MemoryError" in message
    assert row("allocates", "nb01_predict_closest")[:2] == ("ok", "True")        # the rest of it still graded
    if probe.network_isolated:
        assert row("networks", "nb01_predict_closest")[:2] == ("ok", "True")
    if contained:
        assert teacher_file.read_text() == "the teacher's own file" and not (Path.home() / "pwned").exists()
        assert row("writes", "nb01_predict_closest")[:2] == ("ok", "True")
        status, passed, message = row("forks", "nb01_predict_closest")
        assert status == "error" and "BlockingIOError" in message              # stopped at the process limit
        if probe.own_processes:  # and what it started did not outlive its grading
            assert subprocess.run(["pgrep", "-f", "sleep 517"], capture_output=True).returncode == 1
        assert "kernels contained: fully" in proc.stdout
    else:
        assert "the teacher's own user" in proc.stdout          # said in the summary


def test_the_solved_start_notebook_grades_full_marks(tmp_path):
    """nb00 has one exercise (its demo of a wrong try is quoted, not a graded check call), and a
    student copy solved as the reference grades full marks."""
    from mmlab.student import release_manifest

    source = Path(__file__).parents[1] / "notebooks" / "00_start_here.ipynb"
    name = source.name
    manifest = release_manifest(nbformat.read(source, as_version=4), name)
    assert [e["exercise"] for e in manifest] == ["nb00_cat_without_saying_cat"]
    release = tmp_path / "release"
    assert make_student([str(source)], str(release)) == 0
    nb = nbformat.read(release / name, as_version=4)
    stub = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("query = ..."))
    stub.source = 'query = "kitten"\nassociated = "milk"\ncat_in_top_60 = False'
    path = tmp_path / "hand-ins" / "solved" / name
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    env = {**os.environ, "MMLAB_GRADE_LOG": "", "MMLAB_JOINT_MODEL": "conse"}
    proc = subprocess.run(
        [sys.executable, "-m", "mmlab", "grade", str(path), "--out", str(tmp_path / "grades"),
         "--release", str(release), "--timeout-cell", "300", "--timeout-notebook", "900"],
        capture_output=True, text=True, timeout=1200, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / "grades" / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["exercise"], r["status"], r["passed"], r["points"], r["max_points"]) for r in rows] == [
        ("nb00_cat_without_saying_cat", "ok", "True", "1", "1")]
