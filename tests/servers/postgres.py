"""A throwaway PostgreSQL on loopback for the tests, from Debian's `postgresql` package.

A fresh cluster in a temporary folder, listening on 127.0.0.1 on a free port with its unix
socket in that folder, one database `mlflow` owned by a password user; all removed on exit.
It never touches Debian's own cluster (`main`, port 5432).

    with running() as url:  # postgresql://mlflow:PASSWORD@127.0.0.1:PORT/mlflow
        psycopg2.connect(url)

`initdb` and the server refuse to run as root (docs/FACTS.md), so as root they run as `postgres`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from corridos.processes import ServerProcess, free_port

BINARIES = ("initdb", "postgres")
START_TIMEOUT = 60.0  # seconds; initdb and the start take about 2 s on 2 cores
STOP_GRACE = 10.0  # seconds between a fast shutdown (SIGINT) and SIGKILL
SYSTEM_USER = "postgres"
DATABASE = USER = "mlflow"


class PostgresError(RuntimeError):
    """PostgreSQL is not installed, or initdb failed (the message holds its output)."""


def bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin with every binary, or None."""
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if all((p / b).exists() for b in BINARIES)]
    return max(candidates, key=lambda p: int(p.parent.name), default=None) if candidates else None


def missing_binaries() -> list[str]:
    return [] if bin_dir() else [f"/usr/lib/postgresql/*/bin/{b}" for b in BINARIES]


@contextlib.contextmanager
def running() -> Iterator[str]:
    """Start a cluster, yield its connection URL, stop it and delete its files."""
    # not in pytest's tmp_path: that sits under a root-only (0700) folder the postgres user
    # could not enter
    folder = Path(tempfile.mkdtemp(prefix="corridos-pg-"))
    server = PostgresServer(folder)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


class PostgresServer:
    def __init__(self, folder: Path):
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.password = uuid.uuid4().hex
        self.server: ServerProcess | None = None
        # as root, drop to the postgres user (with its own groups only, not root's)
        self.as_user = dict(user=SYSTEM_USER, group=SYSTEM_USER, extra_groups=[]) if os.geteuid() == 0 else {}

    @property
    def url(self) -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> str:
        binaries = bin_dir()
        if binaries is None:
            raise PostgresError(f"not installed: {', '.join(missing_binaries())} (Debian: postgresql)")
        if self.as_user:
            shutil.chown(self.folder, SYSTEM_USER, SYSTEM_USER)
        # trust on the socket (only the folder's owner can reach it), passwords over TCP
        self._run(
            binaries / "initdb",
            "-D",
            self.data,
            "--username",
            SYSTEM_USER,
            "--auth-local",
            "trust",
            "--auth-host",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        )
        self.server = ServerProcess(
            "postgres",
            [
                binaries / "postgres",
                "-D",
                self.data,
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                self.folder,
                # the data is thrown away: durability only costs time
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            self.folder / "postgres.log",
            cwd=self.folder,
            user=self.as_user,
            stop_signal=signal.SIGINT,  # the fast shutdown
            stop_grace=STOP_GRACE,
        ).start()
        self.server.wait_until(self._accepts_connections, "it accepts connections", START_TIMEOUT)
        with self._superuser() as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {USER} LOGIN PASSWORD %s", (self.password,))
            cursor.execute(f"CREATE DATABASE {DATABASE} OWNER {USER}")
        self._check_url()
        return self.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _run(self, *command) -> None:
        result = subprocess.run(
            [str(c) for c in command],
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            **self.as_user,
        )
        if result.returncode != 0:
            raise PostgresError(
                f"{Path(command[0]).name} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )

    def _superuser(self):
        import psycopg2

        connection = psycopg2.connect(
            host=str(self.folder), port=self.port, user=SYSTEM_USER, dbname="postgres", connect_timeout=2
        )
        connection.autocommit = True  # CREATE DATABASE refuses to run in a transaction
        return contextlib.closing(connection)

    def _accepts_connections(self) -> bool:
        import psycopg2

        try:
            with self._superuser():
                return True
        except psycopg2.OperationalError:
            return False

    def _check_url(self) -> None:
        """The URL the callers get: TCP, password, the new database."""
        import psycopg2

        psycopg2.connect(self.url, connect_timeout=5).close()
