"""The dataset stage: a folder or S3 prefix of MIDI files -> a versioned, tokenized dataset.

Per file (in parallel): parse, clean, analyse the key (music21), fingerprint, tokenize. Then over the corpus: drop exact
copies, group near copies, split without separating a group, and write shards, vocabulary,
manifest, summary and before/after piano rolls.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from corridos import config as config_io
from corridos import storage
from corridos.constants import (
    DATASET_MANIFEST,
    DATASET_SUMMARY,
    DATASET_VOCABULARY,
    DEFAULT_RUNS_DIR,
    MIDI_SUFFIXES,
    SPLITS,
)
from corridos.errors import BadInputError, ConfigError
from corridos.manifest import ManifestEntry, StageResult
from corridos.provenance import code_version
from corridos.symbolic.cleaning import RULES, CleaningConfig, clean
from corridos.symbolic.duplicates import DuplicateConfig, exact_key, find_groups, fingerprint
from corridos.symbolic.keys import analyse_key
from corridos.symbolic.sequences import from_midi_bytes, import_note_seq
from corridos.symbolic.splits import SplitConfig, assign
from corridos.symbolic.tokenizer import TokenizerConfig, Vocabulary


@dataclasses.dataclass
class DatasetConfig:
    cleaning: CleaningConfig = dataclasses.field(default_factory=CleaningConfig)
    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)
    duplicates: DuplicateConfig = dataclasses.field(default_factory=DuplicateConfig)
    split: SplitConfig = dataclasses.field(default_factory=SplitConfig)
    shard_tokens: int = 1_000_000
    piano_roll_songs: int = 3
    piano_roll_seconds: float = 20.0


@dataclasses.dataclass
class SourceFile(ManifestEntry):
    split: str = ""
    notes_in: int = 0
    removed_by_rule: dict[str, int] = dataclasses.field(default_factory=dict)
    shortened: int = 0
    notes_out: int = 0
    tokens: int = 0
    seconds: float = 0.0
    key: str = ""  # music21's analysis of the cleaned line, e.g. "A minor"


@dataclasses.dataclass
class _Processed:
    source: SourceFile
    tokens: np.ndarray | None = None
    fingerprint: np.ndarray | None = None
    exact_key: str = ""


def build_dataset(
    source: str | Path | list[str | Path],
    out_dir: str | Path | None = None,
    config: DatasetConfig = DatasetConfig(),
    workers: int | None = None,
    progress: bool = True,
) -> StageResult:
    """Build the dataset from every file under `source` (a folder or s3:// prefix, or a list of
    them, e.g. the corpus and the transcriptions); bad files are skipped and recorded. The result's
    report is the dataset's summary (its version included)."""
    sources_given = source if isinstance(source, list) else [source]
    uris = [uri for location in sources_given for uri in storage.list_files(location)]
    processed = _process_all(uris, _unique_names(uris), config, workers, progress)
    sources = [p.source for p in processed]
    usable = {p.source.name: p for p in processed if p.source.status == "used"}
    if not usable:
        reasons = sorted({s.reason for s in sources})
        raise BadInputError(
            ", ".join(map(str, sources_given)),
            f"no usable MIDI among {len(sources)} file(s); reasons: {'; '.join(reasons) or 'no files'}",
        )

    copies = _drop_exact_copies(usable)
    groups = find_groups({n: p.fingerprint for n, p in usable.items()}, copies, config.duplicates)
    split_of = assign(
        sorted(usable),
        [g.members for g in groups if g.kind != "exact"],
        config.split,
        {n: p.source.notes_out for n, p in usable.items()},
    )
    for name, split in split_of.items():
        usable[name].source.split = split

    version = _version(sources, config)
    out = Path(out_dir) if out_dir else DEFAULT_RUNS_DIR / "datasets" / version
    staging = _staging_dir(out)
    vocabulary = Vocabulary(config.tokenizer)
    vocabulary.save(staging / DATASET_VOCABULARY)
    shards = _write_shards(staging, usable, config.shard_tokens)
    summary = _summary(sources, groups, version)
    manifest = {
        "version": version,
        "code_version": code_version(),
        "source": [str(s) for s in sources_given] if isinstance(source, list) else str(source),
        "config": config_io.to_dict(config),
        "vocabulary_size": vocabulary.size,
        "shards": shards,
        "duplicate_groups": [dataclasses.asdict(g) for g in groups],
        "files": [dataclasses.asdict(s) for s in sources],
        "summary": summary,
    }
    (staging / DATASET_MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    (staging / DATASET_SUMMARY).write_text(json.dumps(summary, indent=1))
    _piano_rolls(staging / "pianorolls", [usable[n].source for n in sorted(usable)], config)
    _replace(staging, out)
    return StageResult.of_entries(out, summary, sources)


def process_file(uri: str, name: str, config: DatasetConfig) -> _Processed:
    """Parse, clean, fingerprint and tokenize one file; any failure becomes a recorded skip."""
    source = SourceFile(name=name, uri=uri)
    result = _Processed(source)
    try:
        data = storage.read_bytes(uri)
    except OSError as error:
        source.skip(f"unreadable: {error}")
        return result
    source.sha256 = storage.sha256_hex(data)
    if not source.name.lower().endswith(MIDI_SUFFIXES):
        source.skip(f"not a MIDI file name (expected {', '.join(MIDI_SUFFIXES)})")
        return result
    try:
        cleaned = clean(from_midi_bytes(data, source.name), config.cleaning)
    except BadInputError as error:
        source.skip(error.reason)
        return result
    source.notes_in, source.notes_out = cleaned.notes_in, cleaned.notes_out
    source.removed_by_rule, source.shortened = cleaned.removed_by_rule, cleaned.shortened
    if cleaned.rejected:
        source.skip(cleaned.rejected)
        return result
    notes = cleaned.kept_notes
    key = analyse_key(notes)
    source.key = key.name
    result.tokens = Vocabulary(config.tokenizer).encode_song(notes, key)
    result.fingerprint = fingerprint(notes, config.duplicates.ngram)
    result.exact_key = exact_key(notes)
    source.tokens = len(result.tokens)
    source.seconds = round(float(notes.end.max() - notes.start.min()), 3)
    return result


def _unique_names(uris: list[str]) -> list[str]:
    """File names, made unique across sources: a second 'A - B.mid' becomes 'A - B (2).mid', which
    keeps its artist and title, so the two still share a title group and a split."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for uri in uris:
        name = storage.file_name(uri)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            stem, dot, suffix = name.rpartition(".")
            name = f"{stem} ({seen[name]}){dot}{suffix}" if dot else f"{name} ({seen[name]})"
        names.append(name)
    return names


def _process_all(
    uris: list[str], names: list[str], config: DatasetConfig, workers: int | None, progress: bool
) -> list[_Processed]:
    from tqdm import tqdm

    workers = workers or os.cpu_count() or 1
    bar = dict(total=len(uris), desc="dataset", unit="file", disable=not progress)
    if workers == 1 or len(uris) < 8:
        return [process_file(u, n, config) for u, n in tqdm(list(zip(uris, names)), **bar)]
    # fork: workers inherit the imported modules instead of importing note-seq again.
    import_note_seq()
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        return list(tqdm(pool.map(process_file, uris, names, [config] * len(uris), chunksize=4), **bar))


def _drop_exact_copies(usable: dict[str, _Processed]) -> dict[str, str]:
    """Remove byte- or note-identical copies (the first name in order stays); returns copy -> kept."""
    first_by_key: dict[str, str] = {}
    copies = {}
    for name in sorted(usable):
        processed = usable[name]
        for key in (processed.source.sha256, processed.exact_key):
            if key in first_by_key:
                copies[name] = first_by_key[key]
                break
        else:
            first_by_key[processed.source.sha256] = first_by_key[processed.exact_key] = name
    for copy, original in copies.items():
        usable.pop(copy).source.skip(f"exact duplicate of {original}")
    return copies


def _version(sources: list[SourceFile], config: DatasetConfig) -> str:
    """Same inputs, config and code: same version."""
    payload = json.dumps(
        {
            "files": sorted((s.name, s.sha256) for s in sources),
            "config": config_io.to_dict(config),
            "code": code_version(),
        },
        sort_keys=True,
    )
    return "ds-" + storage.sha256_hex(payload.encode())[:12]


def _staging_dir(out: Path) -> Path:
    if out.exists() and any(out.iterdir()) and not (out / DATASET_MANIFEST).exists():
        raise BadInputError(str(out), "exists, is not empty and holds no dataset; refusing to overwrite it")
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _replace(staging: Path, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)


def _write_shards(folder: Path, usable: dict[str, _Processed], shard_tokens: int) -> list[dict]:
    """Per split, songs' tokens concatenated into npz shards of about `shard_tokens` tokens."""
    (folder / "shards").mkdir()
    shards: list[dict] = []
    for split in SPLITS:
        names = sorted(n for n, p in usable.items() if p.source.split == split)
        batch: list[str] = []
        for name in names:
            batch.append(name)
            if sum(len(usable[n].tokens) for n in batch) >= shard_tokens or name == names[-1]:
                shards.append(
                    _write_shard(folder, split, len([s for s in shards if s["split"] == split]), batch, usable)
                )
                batch = []
    return shards


def _write_shard(folder: Path, split: str, index: int, names: list[str], usable: dict[str, _Processed]) -> dict:
    arrays = [usable[n].tokens for n in names]
    relative = f"shards/{split}-{index:05d}.npz"
    np.savez_compressed(
        folder / relative,
        tokens=np.concatenate(arrays).astype(np.int16),
        offsets=np.cumsum([0] + [len(a) for a in arrays]).astype(np.int64),
        names=np.array(names),
    )
    return {"path": relative, "split": split, "songs": len(names), "tokens": int(sum(len(a) for a in arrays))}


def _summary(sources: list[SourceFile], groups, version: str) -> dict:
    used = [s for s in sources if s.status == "used"]
    skipped = [s for s in sources if s.status == "skipped"]
    cleaned = [s for s in sources if s.notes_in]  # reached the cleaning, used or rejected after it
    notes_in = sum(s.notes_in for s in cleaned)
    left, kept_after = notes_in, {}
    for rule in RULES:
        left -= sum(s.removed_by_rule.get(rule, 0) for s in cleaned)
        kept_after[rule] = {"notes_left": left, "share_left": round(left / max(notes_in, 1), 4)}
    splits = {}
    for split in SPLITS:
        members = [s for s in used if s.split == split]
        splits[split] = {
            "songs": len(members),
            "notes": sum(s.notes_out for s in members),
            "tokens": sum(s.tokens for s in members),
            "hours": round(sum(s.seconds for s in members) / 3600, 3),
        }
    return {
        "version": version,
        "files": {"total": len(sources), "used": len(used), "skipped": len(skipped)},
        "skipped": {s.name: s.reason for s in skipped},
        "duplicate_groups": {kind: sum(g.kind == kind for g in groups) for kind in ("exact", "near", "title")},
        "keys": dict(Counter(s.key for s in used).most_common()),
        "notes_in": notes_in,
        "cleaning": kept_after,
        "splits": splits,
    }


def _piano_rolls(folder: Path, used: list[SourceFile], config: DatasetConfig) -> None:
    from corridos.symbolic import pianoroll

    for source in used[: config.piano_roll_songs]:
        raw = from_midi_bytes(storage.read_bytes(source.uri), source.name)
        panels = [("before: transcribed MIDI", raw), ("after: cleaned requinto line", clean(raw, config.cleaning).kept)]
        stem = source.name.rsplit(".", 1)[0]
        pianoroll.save(panels, folder / f"{stem}.png", seconds=config.piano_roll_seconds)


@dataclasses.dataclass
class Dataset:
    """A built dataset, read back: its manifest, vocabulary and token arrays per split."""

    path: Path
    manifest: dict
    vocabulary: Vocabulary

    def songs(self, split: str) -> dict[str, np.ndarray]:
        """name -> int32 tokens of every song in `split`."""
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        songs = {}
        for shard in self.manifest["shards"]:
            if shard["split"] == split:
                songs.update(self._shard_songs(self.path / shard["path"]))
        return songs

    @staticmethod
    def _shard_songs(path: Path) -> dict[str, np.ndarray]:
        """name -> tokens of one shard; a missing, truncated or foreign shard is a BadInputError."""
        import zipfile

        try:
            with np.load(path) as data:
                offsets, tokens = data["offsets"], data["tokens"].astype(np.int32)
                names = data["names"].tolist()
        except FileNotFoundError as error:
            raise BadInputError(str(path), "dataset shard missing") from error
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise BadInputError(str(path), f"corrupt dataset shard ({type(error).__name__}: {error})") from error
        return {name: tokens[offsets[i] : offsets[i + 1]] for i, name in enumerate(names)}


def load_dataset(path: str | Path) -> Dataset:
    path = Path(path)
    manifest_path = path / DATASET_MANIFEST
    if not manifest_path.is_file():
        raise BadInputError(str(path), f"not a dataset folder (no {DATASET_MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInputError(str(manifest_path), f"corrupt dataset manifest ({error})") from error
    return Dataset(path, manifest, Vocabulary.load(path / DATASET_VOCABULARY))
