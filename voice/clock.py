"""Time, passed in: code that measures waits and stamps events takes a `Clock`, so that
tests drive time by hand instead of sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from contract.codec import now_iso


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds from an arbitrary start; only differences mean anything."""
        ...

    def iso(self) -> str:
        """Wall time, ISO 8601 UTC with milliseconds: what events are stamped with."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def iso(self) -> str:
        return now_iso()


class ManualClock:
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, start_s: float = 1000.0, wall: str = "2026-01-01T00:00:00") -> None:
        self.now_s = start_s
        self._wall = datetime.fromisoformat(wall).replace(tzinfo=UTC)
        self._start_s = start_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds

    def monotonic(self) -> float:
        return self.now_s

    def iso(self) -> str:
        wall = self._wall + timedelta(seconds=self.now_s - self._start_s)
        return wall.isoformat(timespec="milliseconds").replace("+00:00", "Z")
