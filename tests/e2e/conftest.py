"""A real `callassist serve` process on a free loopback port, with the real model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.client import LocalServer

FIXTURES = Path(__file__).parents[2] / "fixtures"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LocalServer]:
    process = LocalServer(tmp_path_factory.mktemp("data")).start()
    yield process
    process.stop()
