"""The generation service: the registry's champion generator behind an HTTP API (BentoML 1.4).

    MLFLOW_TRACKING_URI=sqlite:///$PWD/runs/mlflow.db \\
        .venv/bin/bentoml serve serving.service:Corridos --host 127.0.0.1 --port 3000

It serves the version behind `models:/<CORRIDOS_MODEL_NAME>@champion` and follows the alias: the
`reload` endpoint and a check every CORRIDOS_RELOAD_SECONDS load the new champion and swap it in
between batches. Without a champion it stays up but not ready (/readyz and every generation
endpoint answer 503 saying why), so it never serves a model nobody promoted.

Every piece also comes as a requinto tab (`generate_tab`), and `/` is a page for players that
generates, plays and shows a piece and offers its files (serving/page/, package data).

Concurrent requests with the same settings (seeds and transpositions may differ) are sampled as
one batch: on 2 cores a batch of 16 costs about what one request does (serving/README.md).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import bentoml
from bentoml.validators import ContentType
from pydantic import ConfigDict, Field, create_model
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from corridos.generation.sampling import REQUEST_SETTINGS, SETTINGS, shared_settings
from corridos.mlops.cluster import CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from corridos.tablature.instrument import REQUINTO
from serving.primers import MAX_PRIMER_BYTES, PrimerParser

MODEL_NAME_ENV = "CORRIDOS_MODEL_NAME"
RELOAD_SECONDS_ENV = "CORRIDOS_RELOAD_SECONDS"
MAX_BATCH_ENV = "CORRIDOS_MAX_BATCH"
# Batches are padded to these sizes: XLA compiles the sampling step once per batch size, and a
# compile costs seconds, so only these few are compiled (when a model is loaded, not on a request).
BATCH_SIZES = (1, 2, 4, 8, 16)
# A batch that is not full waits for more requests while they keep arriving (each within the quiet
# time of the last, for at most the max). Without it, clients answered together come back some ms
# apart, the first one back is sampled alone and the rest wait for it (measured: batches of 1, 15,
# 1, 15 under 16 clients; a fixed 0.1 s window gave 10, 6, 10, 6).
GATHER_QUIET_SECONDS = 0.05
GATHER_MAX_SECONDS = 0.5
# A request body over this is refused with 413 before it is read: the largest primer and its form.
MAX_BODY_BYTES = MAX_PRIMER_BYTES + 64 * 1024
# Every registry call is bounded: MLflow's own defaults (7 retries with backoff, 120 s timeouts)
# block a reload for about 250 s when the tracking server is down. Set here unless set already.
MLFLOW_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "3",
}
for _name, _value in MLFLOW_HTTP_DEFAULTS.items():
    os.environ.setdefault(_name, _value)
# While no model is served (the registry unreachable, no champion yet), loading is retried this often.
RETRY_SECONDS = 10.0
AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}
# One media type per tab format of corridos.tablature.files.FORMATS (a test keeps the two in step).
TAB_TYPES = {
    "musicxml": "application/vnd.recordare.musicxml+xml",
    "gp5": "application/x-guitar-pro",
    "ascii": "text/plain; charset=utf-8",
    "png": "image/png",
    "svg": "image/svg+xml",
}
# The players' page (index.html and its script), package data beside this module.
PAGE_FOLDER = Path(__file__).with_name("page")

# A child of "bentoml": BentoML configures that logger (level, format, request ids) in its workers.
logger = logging.getLogger("bentoml.corridos")


class _ClientErrorsInOneLine(logging.Filter):
    """BentoML logs every refused request at ERROR with a traceback; a client's mistake is not the
    service's error: log it at INFO in one line (a 5xx keeps its traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from bentoml.exceptions import BentoMLException

        error = record.exc_info[1] if record.exc_info else None
        client = isinstance(error, ValidationError) or (
            isinstance(error, BentoMLException) and error.error_code.value < 500
        )
        if client:
            record.msg = f"{record.getMessage()}: refused, {type(error).__name__}: {' '.join(str(error).split())}"
            record.args = ()
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


logging.getLogger("bentoml._internal.server.http_app").addFilter(_ClientErrorsInOneLine())


class BodyLimit:
    """ASGI middleware: a body over `limit` bytes is answered 413 before the service reads it; by
    its Content-Length, or, streamed without one, as soon as the count passes the limit."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                return await self._refuse(send, length.decode("latin-1"))
            return await self.app(scope, receive, send)
        # streamed (chunked): buffer up to the limit, then hand the app what was read
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.limit:
                return await self._refuse(send, f"more than {size}")
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)

    async def _refuse(self, send, length: str) -> None:
        response = JSONResponse(
            {"error": f"request body of {length} bytes; at most {self.limit}", "field": "body"}, status_code=413
        )
        await response({"type": "http"}, None, send)


def _refusal(model: str, field: str, message: str) -> ValidationError:
    """A 400 in pydantic's shape (detail[].loc names the field), as BentoML answers a bad setting."""
    error = InitErrorDetails(type=PydanticCustomError("refused", message), loc=(field,), input=None)
    return ValidationError.from_exception_data(model, [error])


class _StrictBody(bentoml.IODescriptor):
    """A request body that refuses unknown fields: a typo is not ignored."""

    model_config = ConfigDict(extra="forbid")


def _setting_field(name: str) -> Any:
    """Strict (`true` is not 1 s, "3" is not 3), finite (NaN and Infinity are no number of seconds)."""
    setting = SETTINGS[name]
    finite = {"allow_inf_nan": False} if setting.type is float else {}
    return Field(setting.default, description=setting.description, strict=True, **finite, **setting.bounds)


# The sampling settings a request may set, each with SampleConfig's type, default and bounds (an
# out-of-range value is answered 400 naming the field).
Settings = create_model(
    "Settings",
    __base__=_StrictBody,
    **{name: (SETTINGS[name].type, _setting_field(name)) for name in REQUEST_SETTINGS},
)


class AudioSettings(Settings):
    format: Literal["wav", "mp3"] = "wav"


class TabSettings(Settings):
    format: Literal[tuple(TAB_TYPES)] = Field("musicxml", description="the tab's file format")  # type: ignore[valid-type]
    capo: int = Field(
        0, strict=True, ge=0, le=REQUINTO.max_capo, description="capo fret; the tab's frets count from it"
    )


class ContinueSettings(Settings):
    # Checked by content, not by the declared type: clients send .mid files as octet-stream.
    primer: Path = Field(description="a MIDI file to continue")

    @classmethod
    async def from_http_request(cls, request, serde):
        """A primer must be an uploaded file: BentoML would fetch a text field's value as a URL
        (a request for any address the service can reach), and fail."""
        from starlette.datastructures import UploadFile

        if request.headers.get("content-type", "").startswith(("multipart/form-data", "application/x-www-form")):
            form = await request.form()  # starlette keeps it: the serde reads the same form
            if any(not isinstance(value, UploadFile) for value in form.getlist("primer")):
                raise _refusal(cls.__name__, "primer", "a MIDI file upload, not a text field")
        return await super().from_http_request(request, serde)


@dataclasses.dataclass(frozen=True)
class Champion:
    """The loaded model and where it came from in the registry."""

    name: str
    version: str
    run_id: str
    metrics: dict[str, float]
    sampler: object


def load_champion(name: str, max_batch: int) -> Champion:
    """The champion version's generator, compiled for every batch size up to max_batch before it
    serves. The version's logged model folder is loaded as a Keras model (packaging.load), not
    through its pyfunc: requests are batched across clients by `Sampler.generate_each`, which the
    pyfunc's one-row-per-request `predict` cannot do."""
    import mlflow

    from corridos.errors import ModelError
    from corridos.generation.sampling import SampleConfig, Sampler
    from corridos.mlops import packaging, registry

    version = registry.champion(name)
    # By version, not by alias: the alias may move while this loads.
    uri = f"models:/{name}/{version.version}"
    try:
        sampler = Sampler(*packaging.load(uri))
    except Exception as error:  # deleted or broken artifacts: say which version and where they were
        source = mlflow.MlflowClient().get_model_version(name, version.version).source
        raise ModelError(
            f"version {version.version} ({uri}, artifacts at {source}) cannot be loaded: {error}"
        ) from error
    for size in (s for s in BATCH_SIZES if s <= max_batch):
        sampler.generate_each([SampleConfig(seconds=1.0, seed=i) for i in range(size)])
    metrics = mlflow.MlflowClient().get_run(version.run_id).data.metrics
    return Champion(name, version.version, version.run_id, metrics, sampler)


class Batcher:
    """One sampling batch at a time, in a worker thread; requests that arrive meanwhile wait and
    go together into the next batch, grouped by equal settings (each row may have its own
    ROW_SETTINGS: seed, transpose, key)."""

    def __init__(self, max_batch: int):
        self.max_batch = max_batch
        self.waiting: list[tuple[object, asyncio.Future]] = []
        self.wake = asyncio.Event()
        self.worker = asyncio.get_running_loop().create_task(self._serve_forever())

    async def generate(self, sampler, config, primer=None):
        """`primer`: the config's primer as tokens, parsed already (a primer's request has a batch
        key of its own: its primer path is its own upload's)."""
        future = asyncio.get_running_loop().create_future()
        self.waiting.append(((sampler, config, primer), future))
        self.wake.set()
        return await future

    async def _serve_forever(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.waiting:
                await self._gather()
                batch = self._next_batch()
                await self._run(batch)

    async def _gather(self) -> None:
        """Before a batch that is not full starts, wait while more requests keep arriving."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GATHER_MAX_SECONDS
        while len(self.waiting) < self.max_batch and loop.time() < deadline:
            seen = len(self.waiting)
            await asyncio.sleep(GATHER_QUIET_SECONDS)
            if len(self.waiting) == seen:
                return

    def _next_batch(self) -> list:
        """The oldest request and up to max_batch - 1 later ones it can share a batch with."""
        key = _batch_key(*self.waiting[0][0])
        batch = [item for item in self.waiting if _batch_key(*item[0]) == key][: self.max_batch]
        taken = {id(item) for item in batch}
        self.waiting = [item for item in self.waiting if id(item) not in taken]
        return batch

    async def _run(self, batch: list) -> None:
        sampler, _, primer = batch[0][0]
        configs = [config for (_, config, _), _ in batch]
        began = time.perf_counter()
        try:
            pieces = await asyncio.to_thread(_generate_padded, sampler, configs, primer)
        except Exception as error:  # delivered to each waiting request, which answers for it
            for _, future in batch:
                if not future.done():  # done: its client went away and the request was cancelled
                    future.set_exception(error)
            return
        logger.info(
            "sampled a batch of %d (%g s of music each) in %.2f s",
            len(configs),
            configs[0].seconds,
            time.perf_counter() - began,
        )
        for (_, future), piece in zip(batch, pieces):
            if not future.done():
                future.set_result(piece)


def _batch_key(sampler, config, primer=None) -> tuple:
    return id(sampler), dataclasses.astuple(shared_settings(config))


def _generate_padded(sampler, configs: list, primer=None) -> list:
    """Pad the batch to a compiled size with copies of its first request, then drop them."""
    size = next(s for s in BATCH_SIZES if s >= len(configs))
    return sampler.generate_each(configs + [configs[0]] * (size - len(configs)), primer)[: len(configs)]


@bentoml.service(traffic={"timeout": 300, "max_concurrency": 64}, workers=1)
class Corridos:
    def __init__(self) -> None:
        import mlflow

        from corridos.errors import ConfigError
        from corridos.mlops import tracking

        self.model_name = os.environ.get(MODEL_NAME_ENV, REGISTERED_MODEL_NAME)
        # only where to read: no experiment is created, and nothing here waits for the server
        self.tracking_uri = tracking.tracking_uri()
        mlflow.set_tracking_uri(self.tracking_uri)
        self.max_batch = int(os.environ.get(MAX_BATCH_ENV, BATCH_SIZES[-1]))
        if self.max_batch not in BATCH_SIZES:
            raise ConfigError(f"{MAX_BATCH_ENV}={self.max_batch}: expected one of {BATCH_SIZES}")
        self.reload_seconds = float(os.environ.get(RELOAD_SECONDS_ENV, 60))
        self.champion: Champion | None = None
        self.problem = "loading"
        self.loading = threading.Lock()
        self.batcher: Batcher | None = None
        self.primers = PrimerParser()
        self._load()  # every registry call is bounded (MLFLOW_HTTP_DEFAULTS): an unreachable one fails fast

    # -- the model and its registry alias --

    def _load(self) -> dict:
        """Load the champion unless it is the version served already; keep the old one on failure.
        A call while a load is under way waits for it and answers its outcome (every registry call
        is bounded, MLFLOW_HTTP_DEFAULTS, so that is seconds)."""
        if not self.loading.acquire(blocking=False):
            with self.loading:
                return self.status()
        try:
            self._load_now()
        finally:
            self.loading.release()
        return self.status()

    def _load_now(self) -> None:
        from corridos.errors import ModelError
        from corridos.mlops import registry

        began = time.perf_counter()
        try:
            current = registry.champion(self.model_name).version
        except Exception as error:  # ModelError, or the registry's client failing otherwise
            self.problem = self._public(str(error) if isinstance(error, ModelError) else repr(error))
            logger.warning("the champion alias cannot be read (%.1f s): %s", time.perf_counter() - began, error)
            return
        try:
            if self.champion is None or self.champion.version != current:
                self.champion = load_champion(self.model_name, self.max_batch)
                logger.info("serving %s version %s", self.model_name, self.champion.version)
            self.problem = ""
        except Exception as error:  # a broken new version: keep serving the old one, and say so
            self.problem = self._public(f"loading the champion of {self.model_name} failed: {error}")
            logger.exception("loading the champion failed")

    def _public(self, message: str) -> str:
        """The message without the tracking server's address, which clients have no business knowing
        (the log has the whole message)."""
        if "API request to" in message and "failed with exception" in message:  # MLflow's client gave up
            reason = next(
                (r for r in ("Connection refused", "timed out", "Read timed out") if r in message), "no answer"
            )
            message = (
                f"the model registry (MLFLOW_TRACKING_URI) did not answer: {reason.lower()}; reading "
                f"models:/{self.model_name}@{CHAMPION_ALIAS} again in {RETRY_SECONDS:g} s or on /reload"
            )
        address = urlparse(self.tracking_uri)
        for secret in (self.tracking_uri, address.netloc, address.hostname):
            if secret and len(secret) > 3:
                message = message.replace(secret, "$MLFLOW_TRACKING_URI")
        return message

    def status(self) -> dict:
        if self.champion is None:
            return {"ready": False, "model": self.model_name, "problem": self.problem}
        return {
            "ready": True,
            "model": self.champion.name,
            "version": self.champion.version,
            "run_id": self.champion.run_id,
            "problem": self.problem or None,
        }

    @bentoml.on_startup
    async def _follow_alias(self) -> None:
        self.alias_check = asyncio.get_running_loop().create_task(self._check_alias_forever())

    async def _check_alias_forever(self) -> None:
        """Every reload_seconds; and every RETRY_SECONDS while nothing is served (0: only the retries)."""
        while self.champion is None or self.reload_seconds > 0:
            retry = min(RETRY_SECONDS, self.reload_seconds) if self.reload_seconds > 0 else RETRY_SECONDS
            await asyncio.sleep(self.reload_seconds if self.champion is not None else retry)
            await asyncio.to_thread(self._load)

    @bentoml.on_shutdown
    def _stop_primer_workers(self) -> None:
        self.primers.close()

    def __is_ready__(self) -> bool:
        if self.champion is None:
            raise HTTPException(status_code=503, detail=f"not ready: {self.problem}")
        return True

    # -- endpoints --

    @bentoml.api
    async def reload(self) -> dict:
        """Serve the version behind the champion alias now (it is also checked periodically)."""
        return await asyncio.to_thread(self._load)

    @bentoml.api
    def info(self) -> dict:
        """The served model: name, version, training run and its metrics."""
        champion = self.champion
        if champion is None:
            return self.status()
        return {
            **self.status(),
            "metrics": champion.metrics,
            "max_batch": self.max_batch,
        }

    # The return annotations document the bodies in the OpenAPI spec; the methods return a Response
    # so that a refusal can carry its own status and a JSON message.

    @bentoml.api(input_spec=Settings)
    async def generate(self, **settings) -> Annotated[Path, ContentType("audio/midi")]:
        """New music as a MIDI file."""
        return await self._respond(settings, None, "audio/midi", _midi)

    @bentoml.api(input_spec=AudioSettings)
    async def generate_audio(self, format: str, **settings) -> Annotated[Path, ContentType("audio/wav")]:
        """New music played on a nylon guitar (FluidSynth), as WAV or MP3."""
        return await self._respond(settings, None, AUDIO_TYPES[format], functools.partial(_audio, kind=format))

    @bentoml.api(input_spec=TabSettings)
    async def generate_tab(
        self, format: str, capo: int, **settings
    ) -> Annotated[Path, ContentType("application/vnd.recordare.musicxml+xml")]:
        """New music as a requinto tab (MusicXML, Guitar Pro 5, ASCII, PNG or SVG): the same piece
        /generate makes with these settings, each note fingered on a string and fret."""
        encode = functools.partial(_tab, format_name=format, capo=capo)
        return await self._respond(settings, None, TAB_TYPES[format], encode)

    @bentoml.api(input_spec=ContinueSettings, route="/continue")
    async def continue_primer(self, primer: Path, **settings) -> Annotated[Path, ContentType("audio/midi")]:
        """The uploaded MIDI primer's requinto line, continued for `seconds`, as a MIDI file."""
        return await self._respond(settings, primer, "audio/midi", _midi)

    async def _respond(
        self, settings: dict, primer: Path | None, media_type: str, encode: Callable[[Any, Path], bytes]
    ) -> Response:
        """Sample the piece (batched with other requests), then `encode(piece, scratch folder)` it."""
        from corridos.errors import BadInputError
        from corridos.generation.sampling import SampleConfig

        champion = self.champion
        if champion is None:
            return JSONResponse({"error": f"not ready: {self.problem}"}, status_code=503)
        if self.batcher is None:
            self.batcher = Batcher(self.max_batch)
        with tempfile.TemporaryDirectory(prefix="corridos-serve-") as folder:
            try:
                tokens = None
                if primer is not None:  # parsed once, in a worker process: the event loop keeps answering
                    tokens = await self.primers.tokens(primer, champion.sampler.vocabulary)
                config = SampleConfig(**settings, primer=str(primer) if primer is not None else None)
                piece = await self.batcher.generate(champion.sampler, config, tokens)
            # a primer the sampler cannot read, a key the model cannot write in, a guidance it cannot apply
            except BadInputError as error:
                field = error.name if error.name in SETTINGS else "primer"
                return JSONResponse({"error": str(error), "field": field}, status_code=400)
            body = await asyncio.to_thread(encode, piece, Path(folder))
        headers = {"X-Model-Version": champion.version, "X-Notes": str(len(piece.notes))}
        return Response(body, media_type=media_type, headers=headers)


Corridos.add_asgi_middleware(BodyLimit, limit=MAX_BODY_BYTES)


def players_page():
    """The page for players at `/` (in place of BentoML's API index), its script under /page/, and
    GET /settings: the JSON schema of generate_tab's settings, from which the page builds its
    controls (bounds, defaults, and a key control only where the generator takes a key)."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    async def index(_request):
        return FileResponse(PAGE_FOLDER / "index.html")

    async def settings(_request):
        return JSONResponse(TabSettings.model_json_schema())

    return Starlette(
        routes=[
            Route("/", index),
            Route("/settings", settings),
            Mount("/page", StaticFiles(directory=PAGE_FOLDER), name="page"),
        ]
    )


Corridos.mount_asgi_app(players_page(), path="/", name="players-page")


def _midi(piece, folder: Path) -> bytes:
    from corridos.mlops.packaging import midi_bytes

    return midi_bytes(piece)


def _audio(piece, folder: Path, kind: str) -> bytes:
    return render_audio(piece, folder / f"piece.{kind}")


def _tab(piece, folder: Path, format_name: str, capo: int) -> bytes:
    """The piece fingered on the requinto with `capo`, written in one tab format."""
    from corridos.tablature.files import write_tab
    from corridos.tablature.fingering import finger

    return write_tab(finger(piece, REQUINTO, capo), folder / "piece", format_name).read_bytes()


def render_audio(piece, path: Path) -> bytes:
    """WAV from FluidSynth (nylon guitar); MP3 encoded from it in-process by libsndfile (LAME), which
    the soundfile wheel ships: the serving image needs no ffmpeg."""
    import soundfile

    from corridos.audio.io import load_wav
    from corridos.audio.synthesis import render_sequence

    wav = render_sequence(piece, path.with_suffix(".wav"))
    if path.suffix == ".wav":
        return wav.read_bytes()
    soundfile.write(path, *load_wav(wav), format="MP3")
    return path.read_bytes()
