"""Running a KFP pipeline: locally with kfp.local (the default), or compiled and sent to a cluster.

The pipeline itself (pipelines/) is passed in: the library does not depend on its definition.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import sys
import threading
import time
import typing
from collections.abc import Callable, Iterator
from pathlib import Path

from corridos.constants import DEFAULT_RUNS_DIR
from corridos.errors import PipelineTaskError

LOGS = "logs"  # the folder of a local run that holds one log per task
PIPELINE_LOG = "pipeline.log"  # kfp.local's own lines outside any task
# the lines kfp.local logs around each task, once their colour codes are removed
TASK_STARTED = re.compile(r"Executing task '(?P<task>[^']+)'")
TASK_FINISHED = re.compile(r"Task '(?P<task>[^']+)' finished with status (?P<status>SUCCESS|FAILURE)")
PIPELINE_LINE = re.compile(r"Running pipeline: |Pipeline '[^']+' finished with status ")
COLOUR_CODE = re.compile(r"\x1b\[[0-9;]*m")


@dataclasses.dataclass(frozen=True)
class TaskEnd:
    """One finished task of a local run: its name, whether it succeeded, its wall time."""

    task: str
    succeeded: bool
    seconds: float


def run_local(
    pipeline,
    arguments: dict,
    runs_dir: Path = DEFAULT_RUNS_DIR,
    on_task_end: Callable[[TaskEnd], None] = lambda end: None,
) -> dict:
    """Run the whole pipeline in this machine's processes; returns the promotion decision.

    Steps run in subprocesses of this environment (the audio steps still cross into the audio
    env); they inherit MLFLOW_TRACKING_URI, set to the local sqlite store unless already set.
    What the tasks print goes to their logs (see run_quietly).
    """
    from corridos.mlops import tracking

    os.environ.setdefault("MLFLOW_TRACKING_URI", tracking.local_tracking_uri(runs_dir))
    root = (Path(runs_dir) / "pipeline").resolve()

    def configure_and_run() -> None:
        tracking.configure(runs_dir=runs_dir)  # in the capture: MLflow logs the creation of its store
        pipeline(**arguments)

    return promotion_decision(run_quietly(configure_and_run, root, on_task_end))


def run_quietly(run: Callable[[], object], root: Path, on_task_end: Callable[[TaskEnd], None]) -> Path:
    """Call `run`, which runs a pipeline with kfp.local under `root`, and return the run's folder.

    kfp.local streams what each task prints to this process's stdout: it goes instead to one log
    per task, <run folder>/logs/<task>.log (kfp.local's own lines to logs/pipeline.log), and
    `on_task_end` hears of each task as it ends. Raises PipelineTaskError naming a failed task.
    """
    from kfp import local

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    root.mkdir(parents=True, exist_ok=True)
    before = set(root.iterdir())
    # kfp.local names the run folder only once the run starts: log beside it, then move the logs in
    router = TaskLogRouter(root / f"{LOGS}-{os.getpid()}-{time.time_ns()}", on_task_end)
    try:
        with router.capturing():
            run()
    except RuntimeError as error:
        # kfp.local logs the failed task's end, or raises before that: then the task still open failed
        failed = router.failed or router.fail_open_task()
        logs = _move_logs(router.folder, _new_folder(root, before, router.folder))
        if failed is None:
            raise
        raise PipelineTaskError(failed, router.last_line, logs / f"{failed}.log") from error
    folder = _new_folder(root, before, router.folder)
    if folder is None:
        raise RuntimeError(f"{root}: kfp.local made no folder for the run (its logs: {router.folder})")
    _move_logs(router.folder, folder)
    return folder


def promotion_decision(run: Path) -> dict:
    """A local run's promotion decision, read from the executor output of its promotion task."""
    output = Path(run) / "register-and-promote" / "executor_output.json"
    if not output.exists():
        raise RuntimeError(f"{run}: the pipeline run left no promotion decision")
    return json.loads(json.loads(output.read_text())["parameterValues"]["Output"])


class TaskLogRouter(io.TextIOBase):
    """Stands in for sys.stdout and sys.stderr while kfp.local runs a pipeline. kfp.local prints
    "Executing task 'NAME'" before a task, so every line from there on belongs to NAME until the
    next task starts; its own lines about the pipeline go to pipeline.log. Thread-safe: newer kfp
    versions run independent tasks in parallel threads, whose lines then share the latest log."""

    def __init__(self, folder: Path, on_task_end: Callable[[TaskEnd], None]):
        super().__init__()
        self.folder, self.on_task_end = folder, on_task_end
        self.folder.mkdir(parents=True)
        self.log = (self.folder / PIPELINE_LOG).open("a", buffering=1)  # line by line: readable while it runs
        self.task: str | None = None
        self.started = time.monotonic()
        self.open = False  # whether the current task has started and not ended
        self.failed: str | None = None  # the task that ended with FAILURE
        self.last_line = ""  # the current task's last non-blank line: the reason when it fails
        self.pending = ""
        self.console: typing.TextIO = sys.stdout  # where on_task_end prints, the console until now
        # kfp's newer local orchestrator runs independent tasks in threads: one thread's task switch
        # closed the log another was writing to ("write to closed file", a failed `make demo`).
        # Lines are written one at a time; a line may still be filed under the task that printed last.
        self.lock = threading.RLock()

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        try:
            with contextlib.redirect_stdout(self), contextlib.redirect_stderr(self):
                yield
        finally:
            self.flush_pending()
            self.log.close()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self.lock:
            lines = (self.pending + text).split("\n")
            self.pending = lines.pop()
            for line in lines:
                self._line(COLOUR_CODE.sub("", line))
        return len(text)

    def flush_pending(self) -> None:
        with self.lock:
            if self.pending:
                self._line(COLOUR_CODE.sub("", self.pending))
                self.pending = ""

    def _line(self, line: str) -> None:
        if started := TASK_STARTED.search(line):
            self._switch_to(started["task"])
        elif PIPELINE_LINE.search(line):
            self._switch_to(None)
        self.log.write(line + "\n")
        if finished := TASK_FINISHED.search(line):
            self._end(finished["task"], finished["status"] == "SUCCESS")
        elif line.strip() and self.open:
            self.last_line = line.strip()

    def _switch_to(self, task: str | None) -> None:
        self.log.close()
        self.log = (self.folder / f"{task}.log" if task else self.folder / PIPELINE_LOG).open("a", buffering=1)
        self.task, self.started, self.last_line, self.open = task, time.monotonic(), "", task is not None

    def _end(self, task: str, succeeded: bool) -> None:
        self.open = False
        if not succeeded:
            self.failed = task
        with contextlib.redirect_stdout(self.console), contextlib.redirect_stderr(self.console):
            self.on_task_end(TaskEnd(task, succeeded, time.monotonic() - self.started))

    def fail_open_task(self) -> str | None:
        """End the task that was running as failed; its name, or None if no task was running."""
        if not self.open or self.task is None:
            return None
        self._end(self.task, succeeded=False)
        return self.task


def _new_folder(root: Path, before: set[Path], logs: Path) -> Path | None:
    """The folder kfp.local made for this run under `root`: the one new folder there, if any."""
    made = [path for path in root.iterdir() if path.is_dir() and path not in before and path != logs]
    return made[0] if len(made) == 1 else None


def _move_logs(logs: Path, run: Path | None) -> Path:
    """Move the task logs into the run's folder; where they are now."""
    if run is None:
        return logs
    return logs.rename(run / LOGS)


def compile_pipeline(pipeline, path: Path) -> Path:
    from kfp import compiler

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline, str(path))
    return path


def submit(
    pipeline,
    host: str,
    arguments: dict,
    package: Path | None = None,
    experiment: str = "corridos",
    run_name: str | None = None,
) -> str:
    """Upload the compiled pipeline to a KFP API server and start a run; returns the run id."""
    import tempfile

    import kfp

    client = kfp.Client(host=host)
    with tempfile.TemporaryDirectory() as folder:
        package = package or compile_pipeline(pipeline, Path(folder) / "corridos.yaml")
        run = client.create_run_from_pipeline_package(
            str(package), arguments=arguments, run_name=run_name, experiment_name=experiment
        )
    return run.run_id
