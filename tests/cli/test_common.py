"""The CLI's one error handler: a user's error is one red line and exit status 1; a bug keeps its
traceback."""

import pytest
from typer.testing import CliRunner

from corridos.cli.common import CorridosTyper
from corridos.errors import BadInputError

app = CorridosTyper()


@app.command()
def fail(kind: str) -> None:
    if kind == "input":
        raise BadInputError("song.mid", "empty file")
    if kind == "missing":
        raise FileNotFoundError("runs/nowhere: no such folder")
    raise KeyError("a bug")


@pytest.mark.parametrize(
    ("kind", "line"),
    [("input", "error: song.mid: empty file\n"), ("missing", "error: runs/nowhere: no such folder\n")],
)
def test_a_user_error_is_one_line_and_exit_1(kind, line):
    result = CliRunner().invoke(app, [kind])
    assert result.exit_code == 1
    assert result.stderr == line and result.stdout == ""


def test_a_bug_is_not_reported_as_a_user_error():
    result = CliRunner().invoke(app, ["bug"])
    assert isinstance(result.exception, KeyError)
    assert "error:" not in result.stderr
