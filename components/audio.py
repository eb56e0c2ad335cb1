from kfp.dsl import Dataset, Input, Model, Output


def ingest(
    audio_uri: str,
    corpus_uri: str,
    synthetic_songs: int,
    mixture_config: str,
    chunks: int,
    seed: int,
    audio: Output[Dataset],
) -> list[str]:
    """Gather the recordings (from audio_uri, and/or band mixtures rendered from corpus songs with
    `mixture_config`, a JSON object of MixtureConfig fields) and split them into chunks for the
    fan-out; each chunk is a JSON list of names under audio/mix/."""
    import json
    import shutil
    from pathlib import Path

    from corridos import config as config_io
    from corridos import storage
    from corridos.audio import synthesis
    from corridos.constants import AUDIO_SUFFIXES
    from corridos.errors import BadInputError

    out = Path(audio.path)
    if synthetic_songs > 0:
        songs = synthesis.corpus_songs(corpus_uri, synthetic_songs, seed=seed)
        # dotted fields as in `corridos audio render --set`, e.g. {"augmentation.enabled": true}
        overrides = {"seed": seed, **config_io.json_object(mixture_config, "mixture_config")}
        config = config_io.load(synthesis.MixtureConfig, overrides=overrides)
        synthesis.render_mixtures(songs, out, config, progress=False)
    if audio_uri:
        for uri in storage.list_files(audio_uri):
            if uri.lower().endswith(AUDIO_SUFFIXES):
                target = out / "mix" / storage.file_name(uri)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(storage.local_copy(uri, out / ".cache"), target)
    names = sorted(p.name for p in (out / "mix").glob("*")) if (out / "mix").is_dir() else []
    if not names:
        raise BadInputError(f"audio_uri {audio_uri!r}", f"no recordings there, and synthetic_songs={synthetic_songs}")
    size = -(-len(names) // max(1, chunks))
    return [json.dumps(names[i : i + size]) for i in range(0, len(names), size)]


def prepare_separator(
    separator_uri: str, mixtures: Input[Dataset], preset: str, overrides: str, separator: Output[Model]
):
    """The given Spleeter model (folder or s3://), or one of `preset` (with `overrides`, a JSON object
    of SeparatorTrainingConfig fields) trained on the rendered mixtures."""
    import shutil
    from pathlib import Path

    from corridos import config as config_io
    from corridos import storage
    from corridos.audio import stages
    from corridos.errors import ConfigError

    if separator_uri:
        shutil.copytree(storage.local_copy(separator_uri, Path(separator.path).parent / ".cache"), separator.path)
        return
    if not (Path(mixtures.path) / "train.csv").is_file():
        raise ConfigError("no separator_uri given and no rendered mixtures to train one on (set synthetic_songs > 0)")
    settings = config_io.json_object(overrides, "separator_overrides")
    stages.train_separator(mixtures.path, separator.path, preset, settings, progress=False)


def separate(audio: Input[Dataset], names: str, separator: Input[Model], stems: Output[Dataset]):
    """Requinto and accompaniment stems of one chunk of recordings (the model is loaded once)."""
    import json
    from pathlib import Path

    from corridos.audio import stages

    inputs = [str(Path(audio.path) / "mix" / name) for name in json.loads(names)]
    stages.separate(inputs, separator.path, stems.path, progress=False)


def transcribe(stems: Input[Dataset], midi: Output[Dataset]):
    """Requinto MIDI of every separated song of the chunk, under midi/ (the dataset stage's input)."""
    from corridos.audio import stages

    stages.transcribe([stems.path], midi.path, progress=False)
