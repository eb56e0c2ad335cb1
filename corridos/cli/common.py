"""What every `corridos` sub-command shares: failing with one clear line, --set overrides, and the
lines that report stages and the promotion decision."""

from __future__ import annotations

from typing import NoReturn

import typer


def fail(message: str) -> NoReturn:
    """Print `error: <message>` on stderr and exit 1: the CLI's one way to refuse."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


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
