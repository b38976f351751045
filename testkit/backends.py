"""Real Debian `redis-server` and PostgreSQL processes for the tests: throw-away data in a
given directory, a free loopback port kept across restarts, nothing left running after
`stop()` (each server runs in its own process group, so `kill()` takes its children too).

    RedisServer        no persistence: the bus carries live views only
    PostgresServer     a password on host connections, so URLs carry one to leak
    missing_backends   what `bash scripts/test` would install

PostgreSQL refuses to run as root: as root the cluster runs as Debian's `postgres` user,
which then owns the directory (every folder above it must let that user pass).
"""

from __future__ import annotations

import functools
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg
import redis
from psycopg import sql

HOST = "127.0.0.1"
REDIS_READY_TIMEOUT_S = 10.0
# Crash recovery after kill() replays the WAL first; shared CI machines are slow.
POSTGRES_READY_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.05
PROBE_TIMEOUT_S = 1.0
POSTGRES_CONNECT_TIMEOUT_S = 2  # libpq takes whole seconds, at least 2
STOP_TIMEOUT_S = 30.0
LOG_TAIL_LINES = 20
POSTGRES_USER = "callassist"
POSTGRES_DATABASE = "callassist"
POSTGRES_SYSTEM_USER = "postgres"  # created by Debian's postgresql package
DEBIAN_POSTGRES_ROOT = Path("/usr/lib/postgresql")


class BackendError(RuntimeError):
    """A backend server that could not be set up or did not come up."""


def free_port() -> int:
    """A loopback port nothing listens on now (the server binds it moments later)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def missing_backends() -> list[str]:
    """The Debian packages whose servers are not installed here."""
    missing = [] if shutil.which("redis-server") else ["redis-server"]
    return missing if postgres_bindir() else [*missing, "postgresql"]


@functools.cache
def postgres_bindir() -> Path | None:
    """Where `initdb` and `postgres` are: `pg_config --bindir`, else Debian's newest."""
    for candidate in (_pg_config_bindir(), *_debian_bindirs_newest_first()):
        if candidate and (candidate / "initdb").exists() and (candidate / "postgres").exists():
            return candidate
    return None


def _pg_config_bindir() -> Path | None:
    try:
        answer = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None  # libpq-dev's pg_config alone names /usr/bin: the loop checks
    return Path(answer.stdout.strip())


def _debian_bindirs_newest_first() -> list[Path]:
    def version(bindir: Path) -> tuple[int, ...]:
        parts = bindir.parent.name.split(".")
        return tuple(int(part) for part in parts if part.isdigit())

    return sorted(DEBIAN_POSTGRES_ROOT.glob("*/bin"), key=version, reverse=True)


class _ServerProcess:
    """One server process on a port chosen once, logging to a file in its directory."""

    name = "server"
    stop_signal = signal.SIGTERM

    def __init__(self, directory: Path, log_name: str) -> None:
        self.directory = directory.absolute()  # the servers get it as an argument
        self.port = free_port()  # kept: a restart must come back where clients look
        self.log_path = self.directory / log_name
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        """Shut down as the server's operators would; SIGKILL if that hangs."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL to the whole process group: no shutdown code runs, as in a crash."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT_S)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, command: list[str], **options: Any) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in pytest reaches the fixture, not us
                **options,
            )

    def _wait_until_ready(self, answers: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not answers():
            if not self.running:
                raise self._failure("exited while starting")
            if time.monotonic() > deadline:
                self.kill()
                raise self._failure(f"did not answer within {timeout_s:.0f} s")
            time.sleep(POLL_INTERVAL_S)

    def _failure(self, what: str) -> BackendError:
        return BackendError(
            f"{self.name} on {HOST}:{self.port} {what}; the end of {self.log_path}:\n"
            + _tail(self.log_path)
        )


class RedisServer(_ServerProcess):
    """`redis-server` on a free loopback port; `stop()` then `start()` keeps the port."""

    name = "redis-server"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, "redis.log")

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._spawn(self._command())
        self._wait_until_ready(self._answers_as_itself, REDIS_READY_TIMEOUT_S)
        return self

    def _command(self) -> list[str]:
        return [
            "redis-server",
            "--bind", HOST,
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--daemonize", "no",
            # No persistence: the bus carries live views only, and a restart comes back
            # empty, which is what the tests that restart it need.
            "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip

    def _answers_as_itself(self) -> bool:
        """PING answered by this process, not by one that held the port before it."""
        client = redis.Redis(
            host=HOST,
            port=self.port,
            socket_connect_timeout=PROBE_TIMEOUT_S,
            socket_timeout=PROBE_TIMEOUT_S,
        )
        try:
            return bool(client.ping()) and client.info("server")["process_id"] == self.pid
        except redis.RedisError:
            return False
        finally:
            client.close()


class PostgresServer(_ServerProcess):
    """A PostgreSQL cluster of its own in `directory`, superuser `callassist` with a
    random password; `stop()` then `start()` keeps the port and the data."""

    name = "postgres"
    stop_signal = signal.SIGINT  # fast shutdown; SIGTERM would wait for pooled clients

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, "postgres.log")
        self.data_dir = directory / "data"
        self.password = secrets.token_hex(16)  # hex: nothing to quote in a URL
        # PostgreSQL refuses to run as root: then Debian's `postgres` user runs it.
        self._owner = _postgres_account() if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return self.database_url(POSTGRES_DATABASE)

    def database_url(self, database: str) -> str:
        return f"postgresql://{POSTGRES_USER}:{self.password}@{HOST}:{self.port}/{database}"

    def start(self) -> Self:
        bindir = postgres_bindir()
        if bindir is None:
            raise BackendError("PostgreSQL is not installed: run `bash scripts/test`")
        first_start = not (self.data_dir / "PG_VERSION").exists()
        if first_start:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._check_owner_can_reach_directory()
            self._initdb(bindir)
        self._spawn(self._command(bindir), cwd=self.directory, **self._as_owner())
        self._wait_until_ready(self._accepts_connections_itself, POSTGRES_READY_TIMEOUT_S)
        if first_start:
            self.new_database(POSTGRES_DATABASE)
        return self

    def new_database(self, name: str) -> str:
        """An empty database (a cheap copy of template1); its URL."""
        with psycopg.connect(self.database_url("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def _initdb(self, bindir: Path) -> None:
        self._give_to_owner(self.directory)
        password_file = self.directory / "password"  # initdb reads it from a file only
        password_file.write_text(self.password)
        self._give_to_owner(password_file)
        try:
            initdb = subprocess.run(
                self._initdb_command(bindir, password_file),
                cwd=self.directory,
                capture_output=True,
                text=True,
                **self._as_owner(),
            )
        finally:
            password_file.unlink()
        if initdb.returncode != 0:
            output = initdb.stdout + initdb.stderr
            raise BackendError(f"initdb failed in {self.directory}:\n{output}")

    def _initdb_command(self, bindir: Path, password_file: Path) -> list[str]:
        return [
            str(bindir / "initdb"),
            "--pgdata", str(self.data_dir),
            "--username", POSTGRES_USER,
            f"--pwfile={password_file}",
            "--auth-host=scram-sha-256",  # URLs carry a password, as in production
            "--auth-local=trust",  # the socket sits in our private directory
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",  # throw-away data
        ]  # fmt: skip

    def _check_owner_can_reach_directory(self) -> None:
        """Name the folder in the way; initdb would only say "Permission denied"."""
        if self._owner is None:
            return
        for folder in reversed(self.directory.resolve().parents):
            if not _may_pass(folder.stat(), self._owner):
                raise BackendError(
                    f"as root, PostgreSQL runs as `{POSTGRES_SYSTEM_USER}`, which may not "
                    f"pass {folder}: put the server's directory where it can, "
                    "e.g. in a new tempfile.mkdtemp() (pytest's tmp_path lets only root in)"
                )

    def _as_owner(self) -> dict[str, Any]:
        """Popen options that run a child as the cluster's owner, without root's groups."""
        if self._owner is None:
            return {}
        return {"user": self._owner.pw_uid, "group": self._owner.pw_gid, "extra_groups": []}

    def _give_to_owner(self, path: Path) -> None:
        if self._owner is not None:
            os.chown(path, self._owner.pw_uid, self._owner.pw_gid)

    def _command(self, bindir: Path) -> list[str]:
        return [
            str(bindir / "postgres"),
            "-D", str(self.data_dir),
            "-p", str(self.port),
            "-k", str(self.directory),
            "-c", f"listen_addresses={HOST}",
            # Throw-away test data: no waiting for the disk, which only a machine crash
            # would need. synchronous_commit stays on: off, a commit waits in shared
            # memory for the WAL writer, and kill() loses what the client saw committed.
            "-c", "fsync=off",
            "-c", "full_page_writes=off",
        ]  # fmt: skip

    def _accepts_connections_itself(self) -> bool:
        """A connection to this cluster, not to one that held the port before it."""
        url = self.database_url("postgres")
        try:
            with psycopg.connect(url, connect_timeout=POSTGRES_CONNECT_TIMEOUT_S) as db:
                row = db.execute("SHOW data_directory").fetchone()
        except psycopg.OperationalError:
            return False
        return row is not None and Path(row[0]) == self.data_dir


def _postgres_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        raise BackendError(
            f"running as root, PostgreSQL needs the `{POSTGRES_SYSTEM_USER}` user "
            "that Debian's postgresql package creates: run `bash scripts/test`"
        ) from None


def _may_pass(folder: os.stat_result, account: pwd.struct_passwd) -> bool:
    """Whether the account may enter the folder (its own primary group only: Popen
    drops supplementary groups)."""
    if folder.st_uid == account.pw_uid:
        return bool(folder.st_mode & stat.S_IXUSR)
    if folder.st_gid == account.pw_gid:
        return bool(folder.st_mode & stat.S_IXGRP)
    return bool(folder.st_mode & stat.S_IXOTH)


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as unreadable:
        return f"(no log: {unreadable})"
    return "\n".join(lines[-LOG_TAIL_LINES:])
