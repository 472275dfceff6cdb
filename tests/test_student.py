"""mmlab.student: solution blocks become stubs; outputs are cleared; check cells are recorded."""
import json

import jsonschema
import nbformat
import pytest

from mmlab.student import (
    add_nbgrader_metadata,
    check_calls,
    locked_lines,
    locked_matches,
    main,
    make_student_notebook,
    release_manifest,
    show_solution,
    solution_text,
    strip_solutions,
)

TOP_LEVEL = """answer = ...  # your prediction
### BEGIN SOLUTION
answer = "b"
### END SOLUTION
print(answer)"""

IN_FUNCTION = """def my_loss(x):
    \"\"\"Write the loss.\"\"\"
    ### BEGIN SOLUTION
    return x.sum()
    ### END SOLUTION"""


def test_top_level_block_becomes_comment_and_keeps_placeholder():
    got = strip_solutions(TOP_LEVEL)
    assert got.splitlines() == ["answer = ...  # your prediction", "# YOUR CODE HERE", "print(answer)"]
    ns = {}
    exec(got, ns)  # the stub runs: the placeholder is still there
    assert ns["answer"] is Ellipsis


def test_function_block_raises_not_implemented():
    ns = {}
    exec(strip_solutions(IN_FUNCTION), ns)
    with pytest.raises(NotImplementedError):
        ns["my_loss"](1)
    assert "x.sum()" not in strip_solutions(IN_FUNCTION)


@pytest.mark.parametrize("bad, words", [
    ("### BEGIN SOLUTION\nx = 1", "found no"),
    ("x = 1\n### END SOLUTION", "found none"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "cannot nest"),
])
def test_unbalanced_markers_are_reported(bad, words):
    with pytest.raises(ValueError, match=words):
        strip_solutions(bad, where="cell 3")


def test_notebook_outputs_cleared_and_markdown_answers_hidden():
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell(TOP_LEVEL)
    code.outputs = [nbformat.v4.new_output("stream", text="b\n")]
    code.execution_count = 3
    md = nbformat.v4.new_markdown_cell("Why?\n### BEGIN SOLUTION\nBecause of the margin.\n### END SOLUTION")
    nb.cells = [code, md]
    student = make_student_notebook(nb)
    nbformat.validate(student)
    assert student.cells[0].outputs == [] and student.cells[0].execution_count is None
    assert "Because of the margin" not in student.cells[1].source
    assert "YOUR ANSWER HERE" in student.cells[1].source
    assert nb.cells[0].outputs, "the original notebook must not be modified"


# --- check cells, the release manifest and nbgrader metadata -------------------------

MIXED = """def my_fn(x):
    ### BEGIN SOLUTION
    return x
    ### END SOLUTION


mm.checks.nb01_cosine_similarity(my_fn)"""

# nbgrader's documented cell metadata schema, version 3 (nbgrader/nbgraderformat/v3.json).
NBGRADER_V3 = {
    "type": "object",
    "properties": {
        "schema_version": {"type": "integer", "minimum": 3, "maximum": 3},
        "grade": {"type": "boolean"}, "locked": {"type": "boolean"}, "solution": {"type": "boolean"},
        "task": {"type": "boolean"},
        "grade_id": {"type": "string", "pattern": "^[a-zA-Z0-9_\\-]*$"},
        "points": {"type": "number", "minimum": 0},
        "checksum": {"type": "string", "minLength": 32, "maxLength": 32},
        "cell_type": {"type": "string", "enum": ["raw", "code", "markdown"]},
    },
    "required": ["schema_version", "grade", "locked", "solution"],
    "additionalProperties": False,
}


def exercise_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("x = ...\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
        nbformat.v4.new_code_cell("mm.checks.nb01_majority_baseline(x, [1], [1])"),
        nbformat.v4.new_code_cell(MIXED),
        nbformat.v4.new_markdown_cell("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"),
    ]
    nb.metadata["mmlab"] = {"points": {"nb01_cosine_similarity": 3}}
    return nb


def test_check_calls_and_locked_lines():
    assert check_calls("if mm.checks.nb01_a(f) and mm.checks.nb01_b (g):\n    mm.checks.nb01_a(f)") == ["nb01_a", "nb01_b"]
    assert locked_lines("mm.checks.nb01_x(f)\n\n") == (["mm.checks.nb01_x(f)"], True)
    # With an exercise in the cell, only the top-level lines after it are locked, and they
    # are the same in the teacher's notebook and in the student copy.
    assert locked_lines(MIXED) == (["mm.checks.nb01_cosine_similarity(my_fn)"], False)
    assert locked_lines(strip_solutions(MIXED)) == locked_lines(MIXED)


def test_locked_matches_allows_answers_not_edits():
    lines, whole = locked_lines(MIXED)
    answered = "def my_fn(x):\n    y = x * 2\n    return y / 2\n\nmm.checks.nb01_cosine_similarity(my_fn)  \n"
    assert locked_matches(answered, lines, whole)
    assert not locked_matches(answered.replace("my_fn)", "lambda *a: 1)"), lines, whole)
    assert not locked_matches("print(1)", lines, whole)
    cell_lines, cell_whole = locked_lines("mm.checks.nb01_x(f)")
    assert locked_matches("\nmm.checks.nb01_x(f)\n", cell_lines, cell_whole)
    # a locked whole cell may not gain lines in front either (e.g. replacing the check)
    assert not locked_matches("mm.checks.nb01_x = print\nmm.checks.nb01_x(f)", cell_lines, cell_whole)


def test_nbgrader_metadata_follows_the_documented_schema():
    nb = add_nbgrader_metadata(exercise_notebook())
    metas = [c.metadata.get("nbgrader") for c in nb.cells]
    assert metas[0] is None
    for meta in metas[1:]:
        jsonschema.validate(meta, NBGRADER_V3)
        assert meta["grade_id"]                        # nbgrader: grade/solution/locked need an id
        assert ("points" in meta) == meta["grade"]     # and grade cells need points
    assert dict(metas[1]) == {"grade": False, "solution": True, "locked": False,
                             "grade_id": "nb01_majority_baseline_answer", "schema_version": 3}
    assert metas[2]["grade"] and metas[2]["locked"] and not metas[2]["solution"] and metas[2]["points"] == 1
    assert metas[3]["grade"] and metas[3]["solution"] and metas[3]["points"] == 3   # notebook metadata
    assert metas[4]["grade"] and metas[4]["solution"]  # nbgrader: markdown answers are graded
    assert len({m["grade_id"] for m in metas[1:]}) == 4


def test_student_copy_locks_check_cells_and_manifest_records_them(tmp_path):
    path = tmp_path / "01_demo.ipynb"
    nbformat.write(exercise_notebook(), path)
    assert main([str(path)], str(tmp_path / "out")) == 0
    student = nbformat.read(tmp_path / "out" / path.name, as_version=4)
    assert student.metadata["mmlab"]["release"] == "01_demo.ipynb"
    assert student.cells[2].metadata["editable"] is False and student.cells[2].metadata["deletable"] is False
    assert student.cells[3].metadata["deletable"] is False and "editable" not in student.cells[3].metadata
    release = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert release["mmlab"] and release["released"]  # which mmlab made it, and when: grade with the same
    manifest = release["exercises"]
    assert [(e["exercise"], e["cell"], e["points"], e["whole_cell"]) for e in manifest] == [
        ("nb01_majority_baseline", 2, 1.0, True), ("nb01_cosine_similarity", 3, 3.0, False)]
    assert manifest == release_manifest(student, "01_demo.ipynb")


@pytest.mark.parametrize("call, error, words", [
    (lambda: add_nbgrader_metadata("nb.ipynb"), TypeError, "nb: expected a notebook"),
    (lambda: release_manifest({"cells": []}, "x.ipynb"), TypeError, "nb: expected a notebook"),
])
def test_bad_inputs_name_the_argument(call, error, words):
    with pytest.raises(error, match=words):
        call()


# --- revealing one solution after trying -------------------------------------------------

def test_solution_text_gives_one_exercise_without_markers(tmp_path, capsys):
    nbformat.write(exercise_notebook(), tmp_path / "01_demo.ipynb")
    first = solution_text("nb01_majority_baseline", source=tmp_path)
    assert "01_demo.ipynb, cell 1" in first and "x = 1" in first
    assert "return x" not in first and "SOLUTION" not in first  # not the next exercise, no markers
    second = solution_text("nb01_cosine_similarity", source=tmp_path)
    assert "return x" in second and "x = 1" not in second and "SOLUTION" not in second

    def nb01_majority_baseline():  # the check function itself works too
        pass
    assert solution_text(nb01_majority_baseline, source=tmp_path) == first
    show_solution("nb01_majority_baseline", source=tmp_path)
    assert capsys.readouterr().out == first


@pytest.mark.parametrize("exercise, error, words", [
    ("cosine", ValueError, "expected the name of a check"),
    (3, ValueError, "expected the name of a check"),
    ("nb09_anything", FileNotFoundError, "no reference notebook 09_"),
    ("nb01_unknown", ValueError, "no check cell calling 'nb01_unknown'"),
])
def test_solution_text_bad_names_say_what_was_expected(tmp_path, exercise, error, words):
    nbformat.write(exercise_notebook(), tmp_path / "01_demo.ipynb")
    with pytest.raises(error, match=words):
        solution_text(exercise, source=tmp_path)


def test_every_check_of_the_reference_notebooks_has_a_solution_to_reveal():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "notebooks"
    names = {name for path in sorted(folder.glob("[0-9][0-9]_*.ipynb"))
             for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"
             for name in check_calls(cell.source)}
    assert "nb00_cat_without_saying_cat" in names and len(names) >= 20
    for name in sorted(names):
        text = solution_text(name)
        body = [line for line in text.splitlines()[1:] if line.strip() and not line.startswith("---")]
        assert body, f"{name}: nothing to reveal"
