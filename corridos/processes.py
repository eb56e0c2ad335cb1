"""Servers run as child processes, all started, awaited and stopped one way: the local generation
service (serving.local) and the servers the tests start (Ceph, PostgreSQL, MLflow).

    with ServerProcess("mlflow server", [...], log=folder / "mlflow.log") as server:
        server.wait_until(lambda: http_ok(f"{url}/health"), "GET /health answers 200", timeout=120)

A server runs in its own process group with its output in its log file. The kernel sends it a
signal if this process dies without stopping it (SIGKILL of a test run, a crash), so no server
outlives its caller. `stop()` sends the server's stop signal to the group, SIGKILLs the group after
a grace period, and fails if any process of the server's session is still left.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from corridos.errors import ServerProcessError

PR_SET_PDEATHSIG = 1  # prctl option from <linux/prctl.h>
POLL_SECONDS = 0.2
LOG_TAIL_LINES = 30
# TensorFlow's C++ start-up lines (CPU features, memory patches) bury the lines a command or a child
# process prints: errors only. The one place this is set, for the CLI and every child it starts.
QUIET_TENSORFLOW = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether a GET of `url` answers 200: the readiness probe of the HTTP servers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class ServerProcess:
    """One server process: `start()` (or `with`), `wait_until(...)`, `stop()`, `log_tail()`.

    stop_signal: what stops the server cleanly (SIGINT is PostgreSQL's fast shutdown).
    death_signal: what the kernel sends the server if this process dies first; SIGKILL unless the
    server must take down children it started itself (then its own stop signal).
    user: the `user`, `group` and `extra_groups` of subprocess.Popen, to run it as another user.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str | Path],
        log: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        user: Mapping[str, Any] | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        death_signal: signal.Signals = signal.SIGKILL,
        stop_grace: float = 10.0,
    ):
        self.name = name
        self.command = [str(part) for part in command]
        self.log = Path(log)
        self.cwd, self.env, self.user = cwd, env, dict(user or {})
        self.stop_signal, self.death_signal, self.stop_grace = stop_signal, death_signal, stop_grace
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> ServerProcess:
        """Spawn the command in a session of its own, its output appended to the log."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_signal_on_parent_death(self.death_signal),
                **self.user,
            )
        return self

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        """Poll `ready` until it is true; fail early if the server exits, or after `timeout` s."""
        process = self._started()
        deadline = time.monotonic() + timeout
        while not ready():
            if process.poll() is not None:
                raise ServerProcessError(
                    f"{self.name} exited with {process.returncode} before {what}\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise ServerProcessError(
                    f"{self.name}: timed out after {timeout:.0f} s waiting until {what}\n{self.log_tail()}"
                )
            time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        """The stop signal to the group, SIGKILL to it after the grace period (workers that lag
        behind their parent), then check that nothing of the server's session is left."""
        if self.process is None:
            return
        process, self.process = self.process, None
        _signal_group(process.pid, self.stop_signal)
        try:
            process.wait(self.stop_grace)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()
        # a child that moved to a group of its own is still in the session the server started
        deadline = time.monotonic() + self.stop_grace
        while (left := _session_processes(process.pid)) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS / 2)
        if left:
            raise ServerProcessError(f"processes of {self.name} left running:\n{left}\n{self.log_tail()}")

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The log's last non-blank lines under a header naming the file, for error messages."""
        text = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
        tail = [line for line in text.splitlines() if line.strip()][-lines:]
        return f"--- last lines of {self.log} ---\n" + "\n".join(tail)

    def _started(self) -> subprocess.Popen:
        if self.process is None:
            raise ServerProcessError(f"{self.name} is not started")
        return self.process


def _signal_on_parent_death(sig: signal.Signals) -> Callable[[], None]:
    """The function Popen runs in the child before exec: ask the kernel for `sig` when this process
    dies. It runs after any switch of user, which clears the setting, so it must come last; libc
    is loaded here, in the parent, because the child may no longer read Python's files then."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:  # the parent died before the request: no signal will come
            os.kill(os.getpid(), sig)

    return in_child


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:  # the whole group has exited already
        pass


def _session_processes(session: int) -> str:
    """`pid command` lines of the processes left in `session`; empty when none."""
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _live_session_of(entry) == session:
            lines.append(f"{entry.name} {_command_of(entry)}")
    return "\n".join(lines)


def _live_session_of(proc_entry: Path) -> int | None:
    """The session of a running process; None for a zombie (dead, waiting for its new parent to
    reap it) or a process that ended while the table was read."""
    try:
        stat = (proc_entry / "stat").read_text()
    except OSError:
        return None
    # the fields after the command, which is in parentheses and may hold spaces: state ppid pgrp session
    state, _, _, session = stat.rsplit(")", 1)[1].split()[:4]
    return None if state == "Z" else int(session)


def _command_of(proc_entry: Path) -> str:
    try:
        return (proc_entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "(exited)"
