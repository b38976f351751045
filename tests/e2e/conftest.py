"""A real `callassist serve` process on a free loopback port, with the real model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testkit import FIXTURES as FIXTURES  # where test modules here used to find it
from testkit.server import LocalServer


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LocalServer]:
    process = LocalServer(tmp_path_factory.mktemp("data")).start()
    yield process
    process.stop()
