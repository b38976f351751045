"""One queue in front of the shared Whisper model for every call.

Finals go before partials, and among equals the oldest request first. Decodes
run on a fixed pool of worker threads (`workers`), so inference never blocks
the event loop and never runs more model instances than configured.

Past capacity, work is shed in this order, and a final is never shed:
1. a partial that waited longer than `max_partial_wait_s` is dropped (the next
   one supersedes it);
2. `partial_backoff` grows (x2, x4) as partials wait, and streams space their
   partials out by that factor: coarser partials;
3. `overloaded` turns true when finals themselves wait; the server then refuses
   new calls instead of slowing down the ones it has.

Every request's future is resolved, whatever fails: a decoder error, a bug
here or a failing observer costs that one request (None, logged), never the
queue, and never leaves a speaker waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from voice.clock import Clock, SystemClock
from voice.decoding import Decoder, Hypothesis
from voice.online import DecodeJob
from voice.tasks import TaskSet

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SchedulerOptions:
    workers: int = 1  # decodes at once; each uses the engine's cpu_threads
    max_partial_wait_s: float = 1.0
    admit_max_final_wait_s: float = 0.5  # finals waiting longer than this: refuse new calls


_WAIT_SMOOTHING = 0.2  # weight of the newest wait in the moving averages
_WAIT_MEMORY_S = 10.0  # a moving average fades over this long without news


@dataclass(frozen=True, slots=True)
class DecodeRecord:
    """One request's fate, for metrics."""

    final: bool
    wait_s: float
    busy_s: float  # 0 when dropped
    audio_s: float
    dropped: bool


@dataclass(slots=True)
class SchedulerStats:
    decoded_finals: int = 0
    decoded_partials: int = 0
    dropped_partials: int = 0
    failed: int = 0
    busy_s: float = 0.0
    audio_s: float = 0.0

    @property
    def real_time_factor(self) -> float:
        return self.busy_s / self.audio_s if self.audio_s else 0.0


@dataclass(order=True, slots=True)
class _Request:
    priority: int
    order: int
    enqueued: float = field(compare=False)
    job: DecodeJob = field(compare=False)
    future: asyncio.Future[Hypothesis | None] = field(compare=False)


class _FadingAverage:
    def __init__(self) -> None:
        self._value = 0.0
        self._at = 0.0

    def add(self, sample: float, now: float) -> None:
        self._value = self.value(now) * (1 - _WAIT_SMOOTHING) + sample * _WAIT_SMOOTHING
        self._at = now

    def value(self, now: float) -> float:
        return self._value * math.exp(-(now - self._at) / _WAIT_MEMORY_S)


class DecodeScheduler:
    def __init__(
        self,
        decoder: Decoder,
        options: SchedulerOptions | None = None,
        observer: Callable[[DecodeRecord], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._decoder = decoder
        self._options = options or SchedulerOptions()
        self._observer = observer
        self._clock = clock or SystemClock()
        self._final_wait = _FadingAverage()
        self._partial_wait = _FadingAverage()
        self._executor = ThreadPoolExecutor(self._options.workers, thread_name_prefix="whisper")
        self._queue: list[_Request] = []
        self._order = itertools.count()
        self._running = 0
        self._tasks = TaskSet(log, "decode scheduler")
        self._closed = False
        self.stats = SchedulerStats()

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    @property
    def partial_backoff(self) -> float:
        """How much further apart streams should space their partials (1, 2 or 4)."""
        wait = self._partial_wait.value(self._clock.monotonic())
        limit = self._options.max_partial_wait_s
        return 1.0 if wait < 0.25 * limit else 2.0 if wait < 0.5 * limit else 4.0

    @property
    def overloaded(self) -> bool:
        """Finals are waiting: another call would slow down the ones already here."""
        now = self._clock.monotonic()
        waiting = [now - r.enqueued for r in self._queue if r.job.is_final]
        wait = max([self._final_wait.value(now), *waiting])
        return wait > self._options.admit_max_final_wait_s

    def set_observer(self, observer: Callable[[DecodeRecord], None]) -> None:
        self._observer = observer

    async def decode(self, job: DecodeJob) -> Hypothesis | None:
        """The job's hypothesis, or None if a partial was dropped or the decode failed."""
        if self._closed:
            return None
        request = _Request(
            priority=0 if job.is_final else 1,
            order=next(self._order),
            enqueued=self._clock.monotonic(),
            job=job,
            future=asyncio.get_running_loop().create_future(),
        )
        heapq.heappush(self._queue, request)
        self._dispatch()
        return await request.future

    def close(self) -> None:
        """Stops decoding; what is queued or running resolves to None."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        queued, self._queue = self._queue, []
        for request in queued:
            _resolve(request, None)
        self._tasks.cancel()

    def _dispatch(self) -> None:
        """Starts queued requests while workers are free, shedding stale partials."""
        while self._queue and self._running < self._options.workers and not self._closed:
            request = heapq.heappop(self._queue)
            if request.future.done():
                continue  # its caller stopped waiting (cancelled): nobody wants the result
            started = False
            try:
                started = self._start(request)
            except Exception:
                log.exception("decode scheduling failed (%.1f s of audio)", request.job.audio_s)
            finally:
                if not started:
                    _resolve(request, None)

    def _start(self, request: _Request) -> bool:
        """Starts the request's decode; False if it is a stale partial, shed instead."""
        now = self._clock.monotonic()
        waited = now - request.enqueued
        final = request.job.is_final
        (self._final_wait if final else self._partial_wait).add(waited, now)
        if not final and waited > self._options.max_partial_wait_s:
            self.stats.dropped_partials += 1
            self._observe(request, waited, 0.0, dropped=True)
            return False
        self._tasks.spawn(self._run(request))
        self._running += 1
        return True

    async def _run(self, request: _Request) -> None:
        hypothesis: Hypothesis | None = None
        try:
            hypothesis = await self._decode(request)
        except Exception:
            log.exception("decode bookkeeping failed (%.1f s of audio)", request.job.audio_s)
            hypothesis = None
        finally:
            self._running -= 1
            _resolve(request, hypothesis)
            self._dispatch()

    async def _decode(self, request: _Request) -> Hypothesis | None:
        """Runs the decoder on a worker thread; a decoder error is logged and yields None."""
        job = request.job
        started = self._clock.monotonic()
        wanted = job.request(busy=self.partial_backoff > 1.0)  # behind: cheaper finals too
        hypothesis: Hypothesis | None
        try:
            hypothesis = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._decoder.decode, wanted
            )
        except Exception:
            log.exception("decode failed (%.1f s of audio)", job.audio_s)
            self.stats.failed += 1
            hypothesis = None
        decode_s = self._clock.monotonic() - started
        self.stats.busy_s += decode_s
        self.stats.audio_s += job.audio_s
        self._observe(request, started - request.enqueued, decode_s, dropped=False)
        if job.is_final:
            self.stats.decoded_finals += 1
        else:
            self.stats.decoded_partials += 1
        return hypothesis

    def _observe(self, request: _Request, wait_s: float, busy_s: float, dropped: bool) -> None:
        if self._observer is not None:
            job = request.job
            self._observer(DecodeRecord(job.is_final, wait_s, busy_s, job.audio_s, dropped))


def _resolve(request: _Request, hypothesis: Hypothesis | None) -> None:
    if not request.future.done():
        request.future.set_result(hypothesis)
