"""What every `corridos` sub-command shares: its errors reported in one line, --set overrides, and
the lines that report stages and the promotion decision."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from corridos.errors import USER_ERRORS
from corridos.processes import QUIET_TENSORFLOW

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


TRACKING_CHECK_SECONDS = 5.0


def check_tracking_server(uri: str, timeout: float = TRACKING_CHECK_SECONDS) -> None:
    """Raise a CorridosError naming `uri` and the reason unless the MLflow tracking server there
    answers its /health within `timeout` seconds. Only http(s):// URIs are servers; a local store
    (sqlite:///, a folder) needs no check. MLflow's own client retries a dead server for minutes."""
    import urllib.error
    import urllib.request

    from corridos.errors import CorridosError

    if not uri.startswith(("http://", "https://")):
        return
    health = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(health, timeout=timeout) as answer:  # noqa: S310 (http(s) only, checked above)
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError) or isinstance(error, TimeoutError):
            reason = f"no answer within {timeout:g} s"
        raise CorridosError(f"MLflow tracking server {uri} unreachable: {reason}") from error
    if status != 200:
        raise CorridosError(f"MLflow tracking server {uri} unhealthy: {health} answered HTTP {status}")


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
    return {**QUIET_TENSORFLOW, "TQDM_DISABLE": "1"}
