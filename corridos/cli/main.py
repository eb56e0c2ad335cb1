"""The `corridos` command: one Typer app, one sub-app per area. Heavy libraries are imported inside
commands, so --help is instant."""

from __future__ import annotations

import os

import typer

from corridos.cli.audio import audio_app
from corridos.cli.dataset import dataset_app
from corridos.cli.demo import demo_app
from corridos.cli.model import model_app
from corridos.cli.pipeline import pipeline_app
from corridos.cli.release import release_app
from corridos.cli.tab import tab_app
from corridos.processes import QUIET_TENSORFLOW

# Set before any command imports TensorFlow; a value already set wins.
os.environ.update({**QUIET_TENSORFLOW, **os.environ})

app = typer.Typer(no_args_is_help=True, add_completion=False, help="corridos: learn to write corridos tumbados.")
app.add_typer(dataset_app, name="dataset")
app.add_typer(model_app)
app.add_typer(audio_app, name="audio")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(tab_app)
app.add_typer(demo_app, name="demo")
app.add_typer(release_app, name="release")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
