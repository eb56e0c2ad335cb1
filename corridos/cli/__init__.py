"""The `corridos` command. Heavy libraries are imported inside commands, so --help is instant."""

from corridos.cli.main import app

__all__ = ["app"]
