"""Real servers for the tests that ask for them, started on first use, shared by the
session, stopped at its end: Redis and PostgreSQL (testkit/backends.py; a missing one
fails the test rather than skipping it, so a machine without them cannot pass by testing
less), and the service itself."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from testkit.backends import PostgresServer, RedisServer, missing_backends
from testkit.server import LocalServer

_database_numbers = itertools.count(1)


def _require(package: str) -> None:
    if package in missing_backends():
        pytest.fail(
            f"Debian's {package} is not installed: run `bash scripts/test`, which installs it",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    _require("redis-server")
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    _require("postgresql")
    # Not under pytest's temp folder: as root the cluster runs as the `postgres` user,
    # and pytest's folder lets only its owner in.
    directory = Path(tempfile.mkdtemp(prefix="callassist-postgres-"))
    try:
        with PostgresServer(directory) as server:
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The shared Redis, emptied; running again if a failed test left it stopped."""
    if not redis_server.running:
        redis_server.start()
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A new, empty database of its own on the shared PostgreSQL."""
    if not postgres_server.running:
        postgres_server.start()
    return postgres_server.new_database(f"test_{next(_database_numbers)}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One real `callassist serve` with the default settings and the real model, shared by
    the end-to-end and browser tests that need nothing else: each loads the models for
    10-13 s, so one for the session saves minutes. Their call ids are their own."""
    process = LocalServer(tmp_path_factory.mktemp("shared-server")).start()
    yield process
    process.stop()
