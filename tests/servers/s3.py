"""A real S3 server on loopback for the tests: a one-node Ceph cluster behind radosgw.

One monitor, one OSD that keeps its objects in memory (memstore) and radosgw, all with their
files in one folder, on free 127.0.0.1 ports, authentication off inside the cluster. A mock
(moto) is not enough: it stored an empty body for a presigned PUT (docs/FACTS.md). Debian's
`radosgw`, `ceph-mon` and `ceph-osd` packages hold the binaries (`make setup` installs them).

    with running(tmp_path) as s3:
        boto3.client("s3", endpoint_url=s3.url, aws_access_key_id=s3.access_key, ...)

Every daemon is a corridos.processes.ServerProcess: its own process group, killed by the kernel
if the test process dies first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

from corridos.processes import ServerProcess, free_port, http_ok

BINARIES = ("monmaptool", "ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph")
START_TIMEOUT = 60.0  # seconds for each daemon; the whole start takes about 3 s on 2 cores
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
COMMAND_TIMEOUT = 60.0


class S3ServerError(RuntimeError):
    """Ceph is not installed, or a setup command of the cluster failed (the message holds its output)."""


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
        self.daemons: dict[str, ServerProcess] = {}
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
            daemon.stop()
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
        self._spawn("mon.a", "ceph-mon", "-i", "a").wait_until(
            lambda: self._succeeds("ceph", "mon", "stat"), "the monitor answers", START_TIMEOUT
        )

    def _start_osd(self) -> None:
        osd_uuid = str(uuid.uuid4())
        self._command("ceph", "osd", "new", osd_uuid)
        self._command("ceph-osd", "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
        self._spawn("osd.0", "ceph-osd", "-i", "0").wait_until(self._osd_up, "the OSD is up", START_TIMEOUT)

    def _start_gateway(self) -> None:
        # radosgw creates its pools before it listens; that is most of the start time
        self._spawn("client.rgw", "radosgw", "-n", "client.rgw").wait_until(
            lambda: http_ok(f"http://127.0.0.1:{self.rgw_port}/"), "radosgw answers HTTP", START_TIMEOUT
        )

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

    def _spawn(self, name: str, *command: str) -> ServerProcess:
        """Start a daemon in the foreground (-d: no fork, log to stderr)."""
        daemon = ServerProcess(
            name,
            [*command, "-c", str(self.config), "-d"],
            self.folder / "log" / f"{name}.log",
            cwd=self.folder,
            stop_grace=STOP_GRACE,
        )
        self.daemons[name] = daemon.start()
        return daemon

    def _osd_up(self) -> bool:
        result = self._run("ceph", "osd", "stat", "--format", "json")
        return result.returncode == 0 and json.loads(result.stdout).get("num_up_osds") == 1

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
