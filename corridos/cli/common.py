"""What every `corridos` sub-command shares: failing with one clear line, and --set overrides."""

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
