"""A real S3 server on loopback for the tests: a one-node Ceph cluster behind radosgw.

One monitor, one OSD that keeps its objects in memory (memstore) and radosgw, all with their
files in one folder, on free 127.0.0.1 ports, authentication off inside the cluster. A mock
(moto) is not enough: it stored an empty body for a presigned PUT (FINDINGS). Debian's
`radosgw`, `ceph-mon` and `ceph-osd` packages hold the binaries (`make setup` installs them).

    with running(tmp_path) as s3:
        boto3.client("s3", endpoint_url=s3.url, aws_access_key_id=s3.access_key, ...)

Every daemon runs in its own process group and is stopped by that group on exit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

BINARIES = ("monmaptool", "ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph")
START_TIMEOUT = 60.0  # seconds for each daemon; the whole start takes about 3 s on 2 cores
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
COMMAND_TIMEOUT = 60.0


class S3ServerError(RuntimeError):
    """The cluster could not be started; the message ends with the daemons' log tails."""


@dataclasses.dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key: str
    secret_key: str
    bucket: str

    def environment(self) -> dict[str, str]:
        """The variables boto3 (AWS_*) and MLflow (MLFLOW_S3_ENDPOINT_URL) read."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "MLFLOW_S3_ENDPOINT_URL": self.url,
        }


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None]


@contextlib.contextmanager
def running(folder: Path, bucket: str = "corridos") -> Iterator[S3Endpoint]:
    """Start the cluster in `folder`, create a user and `bucket`, yield the endpoint, stop it all."""
    cluster = CephCluster(Path(folder))
    try:
        yield cluster.start(bucket)
    finally:
        cluster.stop()


class CephCluster:
    def __init__(self, folder: Path):
        self.folder = folder.resolve()
        self.config = self.folder / "ceph.conf"
        self.daemons: dict[str, subprocess.Popen] = {}
        self.fsid = str(uuid.uuid4())
        self.mon_port, self.rgw_port = free_port(), free_port()

    def start(self, bucket: str) -> S3Endpoint:
        missing = missing_binaries()
        if missing:
            raise S3ServerError(f"not installed: {', '.join(missing)} (Debian: radosgw ceph-mon ceph-osd)")
        self._write_config()
        self._start_monitor()
        self._start_osd()
        self._start_gateway()
        endpoint = S3Endpoint(f"http://127.0.0.1:{self.rgw_port}", "corridos-tests", uuid.uuid4().hex, bucket)
        self._command(
            "radosgw-admin",
            "user",
            "create",
            "--uid",
            "tests",
            "--display-name",
            "tests",
            "--access-key",
            endpoint.access_key,
            "--secret-key",
            endpoint.secret_key,
        )
        self._create_bucket(endpoint)
        return endpoint

    def stop(self) -> None:
        """SIGTERM each daemon's process group, newest first (the OSD says goodbye to the
        monitor, so the monitor goes last), then SIGKILL whatever outlives the grace period."""
        for daemon in reversed(self.daemons.values()):
            stop_group(daemon, STOP_GRACE)
        self.daemons.clear()

    def _write_config(self) -> None:
        for sub in ("mon", "osd", "run", "log"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self.config.write_text(f"""\
[global]
fsid = {self.fsid}
mon host = v2:127.0.0.1:{self.mon_port}
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
# radosgw asks the monitor for "secure" mode only by default, which fails with auth off (EACCES,
# retried forever)
ms mon client mode = crc secure
# one OSD holds everything: a single copy, replicas chosen among OSDs, not hosts
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
osd objectstore = memstore
memstore device bytes = {1 << 30}
# the monitor batches map changes for 1 s by default; each pool radosgw creates waits for one,
# which made the start take 17 s instead of 2.5 s
paxos propose interval = 0.01
paxos min wait = 0.001
# a full disk would otherwise make the monitor shut down; the data is thrown away anyway
mon data avail crit = 0
# nothing under /etc or /var/run, so that several test sessions can run side by side
run dir = {self.folder}/run
admin socket = {self.folder}/run/$name.asok
log file = {self.folder}/log/$name.log
keyring = {self.folder}/keyring

[mon.a]
mon data = {self.folder}/mon

[osd.0]
osd data = {self.folder}/osd

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:{self.rgw_port}
rgw data = {self.folder}/rgw
""")

    def _start_monitor(self) -> None:
        monmap = self.folder / "monmap"
        self._command(
            "monmaptool", "--create", "--fsid", self.fsid, "--addv", "a", f"[v2:127.0.0.1:{self.mon_port}]", str(monmap)
        )
        self._command("ceph-mon", "-i", "a", "--mkfs", "--monmap", str(monmap))
        self._spawn("mon.a", "ceph-mon", "-i", "a")
        self._wait_until("mon.a", "the monitor answers", lambda: self._succeeds("ceph", "mon", "stat"))

    def _start_osd(self) -> None:
        osd_uuid = str(uuid.uuid4())
        self._command("ceph", "osd", "new", osd_uuid)
        self._command("ceph-osd", "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
        self._spawn("osd.0", "ceph-osd", "-i", "0")
        self._wait_until("osd.0", "the OSD is up", self._osd_up)

    def _start_gateway(self) -> None:
        # radosgw creates its pools before it listens; that is most of the start time
        self._spawn("client.rgw", "radosgw", "-n", "client.rgw")
        self._wait_until("client.rgw", "radosgw answers HTTP", self._gateway_answers)

    def _create_bucket(self, endpoint: S3Endpoint) -> None:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=endpoint.url,
            region_name="us-east-1",
            aws_access_key_id=endpoint.access_key,
            aws_secret_access_key=endpoint.secret_key,
        )
        client.create_bucket(Bucket=endpoint.bucket)

    def _spawn(self, name: str, *command: str) -> None:
        """Start a daemon in the foreground (-d: no fork, log to stderr) in its own process group."""
        with open(self._log(name), "ab") as log:
            self.daemons[name] = subprocess.Popen(
                [*command, "-c", str(self.config), "-d"],
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def _wait_until(self, name: str, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if self.daemons[name].poll() is not None:
                raise S3ServerError(
                    f"{name} exited with {self.daemons[name].returncode} before {what}\n{self._log_tail(name)}"
                )
            if time.monotonic() > deadline:
                raise S3ServerError(
                    f"timed out after {START_TIMEOUT:.0f} s waiting until {what}\n{self._log_tail(name)}"
                )
            time.sleep(0.2)

    def _osd_up(self) -> bool:
        result = self._run("ceph", "osd", "stat", "--format", "json")
        return result.returncode == 0 and json.loads(result.stdout).get("num_up_osds") == 1

    def _gateway_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.rgw_port}/", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _command(self, *command: str) -> None:
        result = self._run(*command)
        if result.returncode != 0:
            raise S3ServerError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")

    def _succeeds(self, *command: str) -> bool:
        return self._run(*command).returncode == 0

    def _run(self, program: str, *arguments: str) -> subprocess.CompletedProcess:
        # the ceph CLI would wait for an unreachable monitor forever without --connect-timeout
        timeout_flag = ["--connect-timeout", "5"] if program == "ceph" else []
        return subprocess.run(
            [program, "-c", str(self.config), *timeout_flag, *arguments],
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )

    def _log(self, name: str) -> Path:
        return self.folder / "log" / f"{name}.log"

    def _log_tail(self, name: str, lines: int = 30) -> str:
        text = self._log(name).read_text(errors="replace") if self._log(name).exists() else "(no log)"
        tail = [line for line in text.splitlines() if line.strip()][-lines:]
        return f"--- last lines of {self._log(name)} ---\n" + "\n".join(tail)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel kills it if the test process dies without
    cleaning up (SIGKILL, a crash), so no daemon outlives its session."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def stop_group(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM the process group led by `process`, then SIGKILL whatever outlives `grace` seconds."""
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
