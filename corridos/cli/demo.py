"""`corridos demo ...`: what `make demo` runs to stay readable: each step with its output in a log
file and one line on the console, then a summary read from the files the steps wrote."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import typer

from corridos.cli.common import CorridosTyper, decision_line, quiet_child_environment, stage_line
from corridos.errors import CorridosError

demo_app = CorridosTyper(no_args_is_help=True, help="The steps and the summary of `make demo`.")


@demo_app.command("step")
def step(
    name: str = typer.Argument(..., help="The step's name, on the console and as its log's name."),
    command: list[str] = typer.Argument(..., help="The command, after `--`."),
    logs: Path = typer.Option(..., help="Folder of the step logs: the output goes to LOGS/NAME.log."),
) -> None:
    """Run a command with its output in a log file; one line when it ends; on failure its last line."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    began = time.monotonic()
    with log.open("w") as output:
        try:
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**quiet_child_environment(), **os.environ},
            )
        except OSError as error:
            raise CorridosError(f"{name}: cannot run {command[0]}: {error.strerror}") from error
    stage_line(name, time.monotonic() - began, result.returncode == 0)
    if result.returncode != 0:
        raise CorridosError(f"{name} exited with {result.returncode}: {last_line(log)} (log: {log})")


@demo_app.command("summary")
def summary(
    pipeline_run: Path = typer.Option(..., help="The local pipeline run's folder."),
    audio_evaluation: Path = typer.Option(..., help="evaluation.json of `corridos audio evaluate`."),
    report: Path = typer.Option(..., help="report.json of `corridos evaluate` (the family comparison)."),
    samples: Path = typer.Option(..., help="Folder of the generated samples."),
    served: Path = typer.Option(..., help="Folder of the piece generated through the service."),
    logs: Path = typer.Option(..., help="Folder of the demo steps' logs."),
) -> None:
    """Where the demo's results are, its figures and the promotion decision, from the files it wrote."""
    from corridos.mlops.kfp_runner import LOGS, promotion_decision

    try:
        audio = json.loads(audio_evaluation.read_text())["summary"]
        families = json.loads(report.read_text())
        decision = promotion_decision(pipeline_run)
    except (OSError, KeyError, json.JSONDecodeError, RuntimeError) as error:
        raise CorridosError(f"the demo's results are incomplete: {error}") from error
    for line in summary_lines(pipeline_run, audio, families, decision, samples, served, (logs, pipeline_run / LOGS)):
        typer.echo(line)


def summary_lines(
    run: Path, audio: dict, families: dict, decision: dict, samples: Path, served: Path, logs: tuple[Path, Path]
) -> list[str]:
    """The summary: paths, the audio figures, one line per model family, the promotion decision."""
    lines = [
        "--- summary ---",
        f"dataset     {run / 'build-dataset' / 'dataset'}",
        f"model       {run / 'train' / 'model' / 'model'}",
        f"samples     {samples} ({len(list(samples.rglob('*.mid')))} MIDI)",
        f"served      {', '.join(str(p) for p in sorted(served.glob('*.mid'))) or '(none)'}",
        f"logs        {logs[0]} (steps), {logs[1]} (pipeline tasks)",
        f"separation  SDR {audio['sdr_separated_db']:.2f} dB vs {audio['sdr_mixture_db']:.2f} dB for the unprocessed "
        f"mixture ({audio['mixtures']} mixtures)",
        f"note F1     solo {audio['f1_solo']:.3f}, after separation {audio['f1_separated']:.3f}",
        f"families    {'bits/note':>10} {'perplexity':>11} {'in-scale':>9} {'repetition':>11}",
    ]
    for family, result in families.items():
        likelihood, sampled = result["likelihood"], result["samples"]
        lines.append(
            f"  {family:<11}{likelihood['bits_per_note']:>10.2f} {likelihood['perplexity']:>11.2f} "
            f"{sampled['in_scale_ratio']:>9.2f} {sampled['repetition_ratio']:>11.2f}"
        )
    best = min(families, key=lambda family: families[family]["likelihood"]["bits_per_note"])
    lines.append(f"  fewest bits per note (best likelihood on held-out songs): {best}")
    lines.append(f"promotion   {decision_line(decision)}")
    return lines


def last_line(log: Path) -> str:
    """The last non-blank line of a log: a failed command's reason, as a rule."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"
