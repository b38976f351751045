"""A real `callassist serve` process on a free loopback port, with the real model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parents[2] / "fixtures"


class ServerProcess:
    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.extra = extra
        self.process: subprocess.Popen[str] | None = None
        self.address = ""

    def start(self) -> ServerProcess:
        command = [
            sys.executable,
            "-m",
            "streams.cli",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            "WARNING",
            *self.extra,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "callassist listening on http://127.0.0.1:PORT"
        if "listening on http://" not in line:
            self.process.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.address = line.strip().rsplit("http://", 1)[1]
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine loses the process."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()

    @property
    def ws(self) -> str:
        return f"ws://{self.address}"

    @property
    def http(self) -> str:
        return f"http://{self.address}"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("data")).start()
    yield process
    process.stop()
