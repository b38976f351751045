"""A real `callassist serve` process on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

STOP_TIMEOUT_S = 30.0
KILL_WAIT_S = 10.0


class LocalServer:
    """`python -m streams.cli serve --port 0` with its own data directory."""

    def __init__(
        self,
        data_dir: Path,
        *extra: str,
        log_level: str = "WARNING",
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """`log_path`: the server's log goes there (else to this process's stderr); `env`:
        variables added to this process's (CALLASSIST_STORE_URL, ...)."""
        self.data_dir = data_dir
        self.extra = extra
        self.env = env or {}
        self.log_level = log_level
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None
        self.address = ""

    def start(self) -> LocalServer:
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
            self.log_level,
            *self.extra,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        log = self.log_path.open("a") if self.log_path else None
        try:
            self.process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, text=True, env=env
            )
        finally:
            if log is not None:
                log.close()  # the child has its own descriptor
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
        self.process.wait(KILL_WAIT_S)

    def stop(self) -> None:
        """SIGTERM, as a deploy sends it: the service drains ([server] drain_s), then ends."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def ws(self) -> str:
        return f"ws://{self.address}"

    @property
    def http(self) -> str:
        return f"http://{self.address}"
