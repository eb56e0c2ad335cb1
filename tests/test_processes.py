"""The one way servers are started and stopped: readiness, log tails, stop, death with the parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from corridos.errors import ServerProcessError
from corridos.processes import ServerProcess

PYTHON = sys.executable


def python_server(tmp_path, code: str, **options) -> ServerProcess:
    return ServerProcess("test server", [PYTHON, "-c", textwrap.dedent(code)], tmp_path / "server.log", **options)


def stat_fields(pid: int) -> list[str]:
    """state, ppid, process group, session... of a process; state "gone" once it has exited."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()  # after the command, which may hold spaces
    except FileNotFoundError:
        return ["gone", "0", "0", "0"]


def alive(pid: int) -> bool:
    return stat_fields(pid)[0] not in ("Z", "gone")  # a zombie has exited, only not been reaped


def members(field: int, value: int) -> list[int]:
    """The pids whose stat `field` (2: process group, 3: session) is `value`."""
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(stat_fields(int(p))[field]) == value]


def wait_until_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def test_a_server_that_exits_before_ready_fails_at_once_with_its_log_tail(tmp_path):
    server = python_server(tmp_path, "import sys; print('port already taken'); sys.exit(3)")
    began = time.monotonic()
    with server, pytest.raises(ServerProcessError) as raised:
        server.wait_until(lambda: False, "it answers", timeout=60)
    assert time.monotonic() - began < 30
    message = str(raised.value)
    assert "test server exited with 3 before it answers" in message
    assert str(tmp_path / "server.log") in message and message.endswith("port already taken")


def test_a_server_that_never_gets_ready_times_out(tmp_path):
    server = python_server(tmp_path, "import time; time.sleep(60)")
    with server, pytest.raises(ServerProcessError, match="timed out after 1 s waiting until it answers"):
        server.wait_until(lambda: False, "it answers", timeout=1)


def test_stop_kills_a_group_that_ignores_the_stop_signal(tmp_path):
    # the server and a worker it forked both ignore SIGTERM
    code = """
        import os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.fork()
        time.sleep(60)
    """
    server = python_server(tmp_path, code, stop_grace=0.5).start()
    time.sleep(0.5)
    group = members(2, server.process.pid)
    assert len(group) == 2
    server.stop()
    assert all(wait_until_gone(pid, 1) for pid in group)


def test_stop_fails_when_a_process_of_the_session_is_left(tmp_path):
    # a worker that leaves the server's process group survives the group kill, not the check
    code = """
        import os, time
        if os.fork() == 0:
            os.setpgid(0, 0)
        time.sleep(60)
    """
    server = python_server(tmp_path, code, stop_grace=0.5).start()
    time.sleep(0.5)
    session = server.process.pid
    with pytest.raises(ServerProcessError, match="processes of test server left running"):
        server.stop()
    for pid in members(3, session):
        os.kill(pid, signal.SIGKILL)


def test_a_server_dies_with_the_process_that_started_it(tmp_path):
    """A test run killed with SIGKILL cannot stop its servers: the kernel does."""
    starter = f"""
        import sys, time
        from pathlib import Path
        from corridos.processes import ServerProcess
        server = ServerProcess("sleeper", ["sleep", "60"], Path({str(tmp_path / "sleep.log")!r})).start()
        print(server.process.pid, flush=True)
        time.sleep(60)
    """
    parent = subprocess.Popen([PYTHON, "-c", textwrap.dedent(starter)], stdout=subprocess.PIPE, text=True)
    try:
        server_pid = int(parent.stdout.readline())
        assert alive(server_pid)
    finally:
        parent.kill()
        parent.wait()
    assert wait_until_gone(server_pid)
