"""One queue in front of the shared Whisper model for every call.

Finals go before partials, and among equals the oldest request first. Decodes
run on a fixed pool of worker threads (`workers`), so inference never blocks
the event loop and never runs more model instances than configured. A partial
that has waited longer than `max_partial_wait_s` is dropped instead of decoded:
by then newer audio has made it stale, and the next partial supersedes it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from voice.decoding import Decoder, Hypothesis
from voice.online import DecodeJob

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SchedulerOptions:
    workers: int = 1  # decodes at once; each uses the engine's cpu_threads
    max_partial_wait_s: float = 1.0


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
    language: str | None = field(compare=False)
    future: asyncio.Future[Hypothesis | None] = field(compare=False)


class DecodeScheduler:
    def __init__(self, decoder: Decoder, options: SchedulerOptions | None = None) -> None:
        self._decoder = decoder
        self._options = options or SchedulerOptions()
        self._executor = ThreadPoolExecutor(self._options.workers, thread_name_prefix="whisper")
        self._queue: list[_Request] = []
        self._order = itertools.count()
        self._running = 0
        self.stats = SchedulerStats()

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    async def decode(self, job: DecodeJob, language: str | None) -> Hypothesis | None:
        """The job's hypothesis, or None if a partial was dropped or the decode failed."""
        loop = asyncio.get_running_loop()
        request = _Request(
            priority=0 if job.is_final else 1,
            order=next(self._order),
            enqueued=time.monotonic(),
            job=job,
            language=language,
            future=loop.create_future(),
        )
        heapq.heappush(self._queue, request)
        self._dispatch()
        return await request.future

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _dispatch(self) -> None:
        while self._queue and self._running < self._options.workers:
            request = heapq.heappop(self._queue)
            waited = time.monotonic() - request.enqueued
            if not request.job.is_final and waited > self._options.max_partial_wait_s:
                self.stats.dropped_partials += 1
                request.future.set_result(None)
                continue
            self._running += 1
            asyncio.get_running_loop().create_task(self._run(request))

    async def _run(self, request: _Request) -> None:
        job = request.job
        started = time.monotonic()
        try:
            hypothesis: Hypothesis | None = await asyncio.get_running_loop().run_in_executor(
                self._executor,
                lambda: self._decoder.decode(
                    job.audio,
                    language=request.language,
                    prompt=job.prompt,
                    word_timestamps=job.word_timestamps,
                    final=job.is_final,
                ),
            )
        except Exception:
            log.exception("decode failed (%.1f s of audio)", len(job.audio) / 16_000)
            self.stats.failed += 1
            hypothesis = None
        finally:
            self._running -= 1
        self.stats.busy_s += time.monotonic() - started
        self.stats.audio_s += len(job.audio) / 16_000
        if job.is_final:
            self.stats.decoded_finals += 1
        else:
            self.stats.decoded_partials += 1
        if not request.future.done():
            request.future.set_result(hypothesis)
        self._dispatch()
