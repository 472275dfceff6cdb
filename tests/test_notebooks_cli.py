"""Tests of ``python -m mmlab notebooks``: copying the numbered notebooks into a learner's folder."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from mmlab.__main__ import main as cli
from mmlab.notebooks_cli import MANIFEST, copy_notebooks, notebooks_dir

REPO = Path(__file__).resolve().parent.parent


def _notebook(path: Path, text: str, solution: bool = False) -> None:
    source = f"x = {text!r}"
    if solution:
        source = "answer = ...\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION"
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("stream", text=text)]
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)


@pytest.fixture
def source(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _notebook(src / "00_start.ipynb", "zero")
    _notebook(src / "01_first.ipynb", "one", solution=True)
    _notebook(src / "99_added_later.ipynb", "ninety-nine")   # picked up by the glob
    _notebook(src / "scratch.ipynb", "not numbered")          # left out
    (src / "sanitize.cfg").write_text("[x]\n")                 # left out
    return src


def _copy(dest, source, **kwargs):
    lines: list[str] = []
    report = copy_notebooks(dest, source=source, say=lines.append, **kwargs)
    return report, "\n".join(lines)


def test_copies_the_numbered_notebooks_and_nothing_else(tmp_path, source):
    dest = tmp_path / "a" / "mmlab"  # created, parents too
    report, _ = _copy(dest, source, student=False)
    names = ["00_start.ipynb", "01_first.ipynb", "99_added_later.ipynb"]
    assert report.copied == names
    assert sorted(p.name for p in dest.iterdir()) == sorted([*names, MANIFEST])
    for name in names:
        assert (dest / name).read_bytes() == (source / name).read_bytes()


def test_running_again_writes_nothing_and_says_all_are_up_to_date(tmp_path, source):
    _copy(tmp_path / "d", source)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "d").glob("*.ipynb")}
    report, text = _copy(tmp_path / "d", source)  # student copies are deterministic
    assert report.unchanged == sorted(p.name for p in before) and not report.copied
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert "3 already up to date" in text


def test_an_edited_notebook_is_kept_unless_forced(tmp_path, source):
    dest = tmp_path / "d"
    _copy(dest, source, student=False)
    edited = dest / "00_start.ipynb"
    edited.write_text(edited.read_text() + " ")  # the learner's change
    mine = edited.read_bytes()
    _notebook(source / "00_start.ipynb", "zero, version 2")  # and mmlab's copy changed too

    report, text = _copy(dest, source, student=False)
    assert report.kept == ["00_start.ipynb"] and edited.read_bytes() == mine
    assert f"kept      {edited}" in text and "--force" in text and "1 kept" in text

    report, text = _copy(dest, source, student=False, force=True)
    assert report.replaced == ["00_start.ipynb"]
    assert edited.read_bytes() == (source / "00_start.ipynb").read_bytes()
    assert "the previous contents are gone" in text


def test_an_untouched_copy_is_updated_when_mmlab_changes(tmp_path, source):
    dest = tmp_path / "d"
    _copy(dest, source, student=False)
    _notebook(source / "01_first.ipynb", "one, version 2")
    report, text = _copy(dest, source, student=False)
    assert report.updated == ["01_first.ipynb"] and not report.kept
    assert (dest / "01_first.ipynb").read_bytes() == (source / "01_first.ipynb").read_bytes()
    assert "you had not changed it" in text


def test_a_broken_manifest_only_makes_the_copy_cautious(tmp_path, source):
    dest = tmp_path / "d"
    _copy(dest, source)
    (dest / MANIFEST).write_text("{not json")
    _notebook(source / "01_first.ipynb", "one, version 2")
    report, _ = _copy(dest, source)
    assert report.kept == ["01_first.ipynb"]  # cannot tell it was untouched: keep it
    assert json.loads((dest / MANIFEST).read_text())  # rewritten


def test_student_copies_are_the_default_with_stubs_and_no_outputs(tmp_path, source):
    dest = tmp_path / "d"
    report, _ = _copy(dest, source)
    assert len(report.copied) == 3
    nb = nbformat.read(dest / "01_first.ipynb", as_version=4)
    assert "answer = 42" not in nb.cells[0].source and "# YOUR CODE HERE" in nb.cells[0].source
    assert nb.cells[0].outputs == []
    report, _ = _copy(dest, source, student=True)  # deterministic: identical the second time
    assert len(report.unchanged) == 3


def test_a_learners_answer_in_a_student_copy_is_kept(tmp_path, source):
    dest = tmp_path / "d"
    _copy(dest, source)
    mine = dest / "01_first.ipynb"
    nb = nbformat.read(mine, as_version=4)
    nb.cells[0].source = nb.cells[0].source.replace("# YOUR CODE HERE", "answer = 41")
    nbformat.write(nb, mine)
    _notebook(source / "01_first.ipynb", "one, version 2", solution=True)
    report, _ = _copy(dest, source)
    assert report.kept == ["01_first.ipynb"] and "answer = 41" in mine.read_text()


@pytest.mark.parametrize(("kwargs", "error", "pattern"), [
    ({"dest": None}, TypeError, r"dest: expected a folder path"),
    ({"dest": "d", "student": "yes"}, TypeError, r"student, force: expected True or False"),
    ({"dest": "d", "force": 1}, TypeError, r"student, force: expected True or False"),
])
def test_bad_arguments_name_the_argument(tmp_path, source, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        copy_notebooks(source=source, say=lambda _: None, **kwargs)


def test_dest_that_is_a_file_and_a_source_without_notebooks_are_explained(tmp_path, source, capsys):
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match=r"dest: expected a folder, but .*file is a file"):
        copy_notebooks(tmp_path / "file", source=source)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no notebooks .* Reinstall mmlab from its wheel"):
        copy_notebooks(tmp_path / "out", source=tmp_path / "empty")
    assert cli(["notebooks", str(tmp_path / "file")]) == 1
    assert "is a file" in capsys.readouterr().err


def test_the_command_copies_this_checkouts_notebooks(tmp_path, capsys):
    assert notebooks_dir() == REPO / "notebooks"
    assert cli(["notebooks", str(tmp_path / "mine"), "--solutions"]) == 0
    out = capsys.readouterr().out
    shipped = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert shipped and all((tmp_path / "mine" / p.name).read_bytes() == p.read_bytes() for p in shipped)
    assert f"{len(shipped)} written" in out and "jupyter lab" in out and "student copies" not in out


def test_the_command_gives_student_copies_by_default_and_says_how_to_reveal(tmp_path, capsys):
    assert cli(["notebooks", str(tmp_path / "mine")]) == 0
    out = capsys.readouterr().out
    assert "student copies" in out and "python -m mmlab solution" in out
    nb = nbformat.read(tmp_path / "mine" / "00_start_here.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert not any("### BEGIN SOLUTION" in c.source for c in nb.cells)
    # --student, the old way to ask for them, still works and changes nothing
    assert cli(["notebooks", str(tmp_path / "mine"), "--student"]) == 0
    assert "0 written" in capsys.readouterr().out


def test_the_solution_command_prints_one_solution(capsys):
    assert cli(["solution", "nb00_cat_without_saying_cat"]) == 0
    out = capsys.readouterr().out
    assert "00_start_here.ipynb" in out and "query = " in out and "SOLUTION" not in out
    assert cli(["solution", "cosine"]) == 1
    assert "expected the name of a check" in capsys.readouterr().err
