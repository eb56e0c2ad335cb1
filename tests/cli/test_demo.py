"""`corridos demo step` keeps a step's output in its log and prints one line; `corridos demo summary`
reads the figures and the decision from the files the demo's steps write."""

from __future__ import annotations

import json
import sys

from typer.testing import CliRunner

from corridos.cli.main import app

RUNNER = CliRunner()


def run_step(tmp_path, code: str):
    return RUNNER.invoke(
        app, ["demo", "step", "noisy", "--logs", str(tmp_path / "logs"), "--", sys.executable, "-c", code]
    )


def test_a_step_prints_one_line_and_keeps_its_output_in_its_log(tmp_path):
    result = run_step(tmp_path, "for i in range(500): print('progress', i)")

    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 1 and result.output.split()[:2] == ["noisy", "done"]
    assert "progress 499" in (tmp_path / "logs" / "noisy.log").read_text()


def test_a_failed_step_shows_its_reason_and_log_and_fails(tmp_path):
    result = run_step(tmp_path, "import sys; print('working'); sys.exit('error: no MIDI under corpus/')")

    assert result.exit_code == 1
    assert result.output.split()[:2] == ["noisy", "FAILED"]
    log = tmp_path / "logs" / "noisy.log"
    assert f"noisy exited with 1: error: no MIDI under corpus/ (log: {log})" in result.output
    assert "working" in log.read_text()


def family(bits: float) -> dict:
    return {
        "likelihood": {"bits_per_note": bits, "perplexity": 2**bits, "nll_per_event": 1.0},
        "samples": {"in_scale_ratio": 0.9, "repetition_ratio": 0.2},
    }


def test_the_summary_reads_the_figures_and_the_decision_from_the_results(tmp_path):
    run = tmp_path / "pipeline" / "corridos-2026-01-01"
    (run / "register-and-promote").mkdir(parents=True)
    decision = {"promoted": True, "reasons": ["first version: no champion yet"], "candidate_version": "3"}
    executor_output = {"parameterValues": {"Output": json.dumps(decision)}}
    (run / "register-and-promote" / "executor_output.json").write_text(json.dumps(executor_output))
    audio = {"sdr_separated_db": 4.5, "sdr_mixture_db": 1.25, "f1_solo": 0.8125, "f1_separated": 0.5, "mixtures": 2}
    (tmp_path / "evaluation.json").write_text(json.dumps({"summary": audio}))
    (tmp_path / "report.json").write_text(json.dumps({"transformer": family(3.5), "lstm": family(2.75)}))
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "corridos-generator-v3-seed0.mid").write_bytes(b"MThd")

    result = RUNNER.invoke(
        app,
        ["demo", "summary", "--pipeline-run", str(run), "--audio-evaluation", str(tmp_path / "evaluation.json")]
        + ["--report", str(tmp_path / "report.json"), "--samples", str(tmp_path / "generated")]
        + ["--served", str(tmp_path / "served"), "--logs", str(tmp_path / "logs")],
    )

    assert result.exit_code == 0, result.output
    text = result.output
    assert f"dataset     {run / 'build-dataset' / 'dataset'}" in text
    assert str(tmp_path / "served" / "corridos-generator-v3-seed0.mid") in text
    assert "SDR 4.50 dB vs 1.25 dB" in text and "solo 0.812, after separation 0.500" in text
    assert (
        "3.50" in text and "2.75" in text and "fewest bits per note (best likelihood on held-out songs): lstm" in text
    )
    assert "model version 3: promoted to champion (first version: no champion yet)" in text
    assert len(text.splitlines()) < 20


def test_the_summary_names_a_missing_result(tmp_path):
    result = RUNNER.invoke(
        app,
        ["demo", "summary", "--pipeline-run", str(tmp_path), "--audio-evaluation", str(tmp_path / "none.json")]
        + ["--report", str(tmp_path / "report.json"), "--samples", str(tmp_path), "--served", str(tmp_path)]
        + ["--logs", str(tmp_path)],
    )

    assert result.exit_code == 1 and "none.json" in result.output
