"""What every `corridos` sub-command shares: its errors reported in one line, --set overrides, and
the lines that report stages and the promotion decision."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from corridos.errors import USER_ERRORS

Command = TypeVar("Command", bound=Callable[..., Any])


class CorridosTyper(typer.Typer):
    """A Typer (sub-)app whose every command reports a user's error (USER_ERRORS: a CorridosError,
    a missing file) as one red `error: ...` line on stderr and exit status 1: the CLI's one error
    handler. Anything else is a bug, and its traceback shows."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Command], Command]:
        register = super().command(*args, **kwargs)

        def register_reporting(function: Command) -> Command:
            register(_reporting(function))
            return function

        return register_reporting


def _reporting(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # Typer reads the options from the wrapped function's signature
    def command(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except USER_ERRORS as error:
            typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from error

    return command


def overrides(pairs: list[str]) -> dict:
    """`--set key=value` pairs as a dict of parsed values."""
    from corridos.config import parse_override

    return dict(parse_override(p) for p in pairs)


def stage_line(stage: str, seconds: float, succeeded: bool = True) -> None:
    """One line for a finished stage of a long run (the pipeline's tasks, the demo's steps)."""
    typer.echo(f"{stage:<40} {'done' if succeeded else 'FAILED':<6} {seconds:6.0f} s")


def decision_line(decision: dict) -> str:
    """The promotion gate's decision (registry.Decision as a dict) in one line, with its reasons."""
    verdict = "promoted to champion" if decision["promoted"] else "not promoted"
    return f"model version {decision['candidate_version']}: {verdict} ({'; '.join(decision['reasons'])})"


def quiet_child_environment() -> dict[str, str]:
    """Settings that keep a child process's log short: TensorFlow's C++ logs at errors only, no
    tqdm progress bars (their redraws fill a log file). Callers let a variable already set win."""
    return {"TF_CPP_MIN_LOG_LEVEL": "2", "TQDM_DISABLE": "1"}
