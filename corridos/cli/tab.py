"""`corridos tab`: tablature (MusicXML, Guitar Pro 5, ASCII, PNG/SVG) of MIDI files."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from corridos.cli.common import CorridosTyper

tab_app = CorridosTyper()


@tab_app.command("tab")
def tab(
    source: Path = typer.Argument(..., help="A MIDI file, or a folder of them."),
    format_: list[str] = typer.Option(
        ["all"], "--format", "-f", help="musicxml, gp5, ascii, png or svg; repeat for several, or 'all'."
    ),
    capo: int = typer.Option(0, help="Capo fret (requinto and guitar: 0-7)."),
    instrument: str = typer.Option("requinto", help="requinto or guitar."),
    out: Path = typer.Option(Path("runs/tabs"), help="Output folder."),
    clean: bool = typer.Option(False, help="Clean into a requinto line first (for whole-band transcriptions)."),
) -> None:
    """Finger every note on the instrument and write the tab; notes moved or dropped are listed."""
    from corridos.errors import BadInputError
    from corridos.symbolic.cleaning import CleaningConfig
    from corridos.tablature.files import format_names, midi_files, read_piece, write_tabs
    from corridos.tablature.instrument import instrument_named

    formats = format_names(format_)
    chosen = instrument_named(instrument)
    chosen.check_capo(capo)
    paths = midi_files(source)
    summary: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    for name, path in paths.items():
        try:
            sequence = read_piece(path, CleaningConfig() if clean else None)
        except BadInputError as error:
            if source.is_file():
                raise
            skipped[name] = error.reason
            typer.echo(f"skipped {name}: {error.reason}")
            continue
        stem = out / Path(name).with_suffix("")  # a folder's sub-folders are kept in `out`
        fingered, written = write_tabs(sequence, stem, formats, chosen, capo, title=path.stem)
        summary[name] = {
            "notes": len(fingered.notes),
            "cost_per_note": round(fingered.cost / max(1, len(fingered.notes)), 3),
            "adjustments": [str(a) for a in fingered.adjustments],
            "files": [str(p) for p in written],
        }
        typer.echo(
            f"{name}: {len(fingered.notes)} notes, {len(fingered.adjustments)} not as written"
            f" -> {', '.join(p.name for p in written)}"
        )
    if not summary:
        raise BadInputError(str(source), f"no usable MIDI among {len(paths)} file(s)")
    report = {"instrument": chosen.name, "capo": capo, "tabs": summary, "skipped": skipped}
    out.mkdir(parents=True, exist_ok=True)
    (out / "tabs.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    typer.echo(f"{len(summary)} tab(s) in {out}" + (f", {len(skipped)} file(s) skipped" if skipped else ""))
