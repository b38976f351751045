"""Retention and erasure policy, in one place: which calls go, when, and what is logged.

`Retention` belongs to the service: `start()` runs the purge every
`[retention] purge_every_s` while `days > 0` (the first run FIRST_RUN_AFTER_S after start),
and `erase(call_id)` serves the HTTP erase. `callassist purge` and `callassist erase`
use the same `EventStore` methods from the command line (`age_s` reads their `--older-than`).

The deletes, the vacuum and the WAL checkpoint run in worker threads on the store's
erasing connection (why, in `streams.store._Eraser`): the event loop only waits if it
writes a live event while one call's delete transaction holds the write lock. Log lines
carry call ids and counts, never what a call said.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

from streams.config import RetentionOptions
from streams.errors import StreamsError
from streams.storage import Erasure, EventStore
from voice.clock import Clock, SystemClock

log = logging.getLogger(__name__)

FIRST_RUN_AFTER_S = 30.0  # after start: the service is listening and recovered by then
WAL_RETRY_S = 60.0  # a WAL that readers kept busy is truncated again this much later
WAL_RETRIES = 10  # ... this many times at most, then a warning says it was not
DAY_S = 86_400.0
_AGE = re.compile(r"(?P<count>[0-9]{1,6})(?P<unit>[dhm])")
_UNIT_S = {"d": DAY_S, "h": 3600.0, "m": 60.0}

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class Retention:
    """The scheduled purge and the erase route. `clock` stamps the cutoff and times each
    run; `sleep` waits between runs (tests pass their own and drive the schedule)."""

    def __init__(
        self,
        store: EventStore,
        options: RetentionOptions,
        clock: Clock | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        first_run_after_s: float = FIRST_RUN_AFTER_S,
    ) -> None:
        self._store = store
        self._options = options
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._first_run_after_s = first_run_after_s
        self._stopping = threading.Event()  # read by the purge thread between calls
        self._tasks: set[asyncio.Task[None]] = set()  # the schedule and the WAL retries
        self._working: set[asyncio.Future[Any]] = set()  # thread work, awaited by stop()
        self._wal_retry: asyncio.Task[None] | None = None  # one at a time

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Runs the schedule as a task of its own (nothing when days = 0)."""
        self._spawn(self.run())

    async def stop(self) -> None:
        """Stops the schedule and waits for work already in a thread (a purge stops at the
        next call), so that the store can be closed after it."""
        self._stopping.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._working, return_exceptions=True)

    async def run(self) -> None:
        """Purges every purge_every_s while days > 0; a failed run is logged, not fatal."""
        if self._options.days == 0:
            log.info("retention: days = 0, calls are kept until erased")
            return
        await self._sleep(self._first_run_after_s)
        while not self._stopping.is_set():
            try:
                await self.purge_once()
            except Exception as exc:  # the next run tries again; the log says why
                log.error("retention: purge failed (%s: %s)", type(exc).__name__, exc)
            await self._sleep(self._options.purge_every_s)

    # --- work -----------------------------------------------------------------------------
    async def purge_once(self) -> Erasure:
        """One purge of the calls that ended more than `days` ago, with its log line."""
        cutoff = cutoff_before(self._clock.iso(), self._options.days * DAY_S)
        started_s = self._clock.monotonic()
        purged = await self._in_thread(
            lambda: self._store.purge_ended_before(cutoff, self._keep_going)
        )
        log.info(
            "retention: purged %d call(s) that ended before %s (%d events) in %.2f s",
            len(purged.call_ids),
            cutoff,
            purged.events,
            self._clock.monotonic() - started_s,
        )
        self._retry_wal_later(purged)
        return purged

    async def erase(self, call_id: str) -> Erasure:
        """Erases one ended call now. Raises CallNotFound or CallIsLive (streams.store)."""
        erased = await self._in_thread(lambda: self._store.erase_call(call_id))
        log.info(
            "erased call %s: %d event(s), %d alert-feed row(s)",
            call_id,
            erased.events,
            erased.feed_rows,
            extra={"call_id": call_id},
        )
        self._retry_wal_later(erased)
        return erased

    # --- helpers --------------------------------------------------------------------------
    def _keep_going(self) -> bool:
        return not self._stopping.is_set()

    def _retry_wal_later(self, erasure: Erasure) -> None:
        if erasure.wal_truncated or self._stopping.is_set() or self._wal_retry is not None:
            return
        self._wal_retry = self._spawn(self._truncate_wal_later())

    async def _truncate_wal_later(self) -> None:
        try:
            for _ in range(WAL_RETRIES):
                await self._sleep(WAL_RETRY_S)
                if await self._in_thread(self._store.reclaim):
                    log.info("retention: the WAL is truncated: erased pages are gone from it")
                    return
            log.warning("retention: the WAL is still not truncated; readers keep it busy")
        finally:
            self._wal_retry = None

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _in_thread(self, work: Callable[[], T]) -> T:
        """Runs blocking store work in a thread; a cancelled caller does not cancel the
        thread, and stop() still waits for it."""
        future = asyncio.ensure_future(asyncio.to_thread(work))
        self._working.add(future)
        future.add_done_callback(self._working.discard)
        return await asyncio.shield(future)


def cutoff_before(now_iso: str, age_s: float) -> str:
    """`age_s` before `now_iso`, in the form calls' ended_at are stored in, so that the two
    compare as strings: 2026-01-01T00:00:00.000Z."""
    now = datetime.fromisoformat(now_iso.replace("Z", "+00:00"))
    cutoff = now - timedelta(seconds=age_s)
    return cutoff.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def age_s(text: str) -> float:
    """Seconds in an age such as 30d, 12h or 90m; StreamsError otherwise."""
    match = _AGE.fullmatch(text.strip().lower())
    if match is None:
        raise StreamsError(
            f"--older-than {text!r}: give a whole number of days, hours or minutes, "
            "such as 30d, 12h or 90m"
        )
    return int(match["count"]) * _UNIT_S[match["unit"]]
