"""mmlab.student: solution blocks become stubs; outputs are cleared."""
import nbformat
import pytest

from mmlab.student import make_student_notebook, strip_solutions

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
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without a matching"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
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
