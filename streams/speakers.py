"""One speaker of a live call: its `SpeakerWorker` feeds audio through `voice` and
publishes what comes back.

A worker is the only owner of its `SpeakerStream`: it feeds audio (VAD runs on a
thread), asks for decode jobs, hands them to the shared scheduler, and publishes
what comes back, strictly one step at a time. Its pending input is audio, gaps
(`feed(samples, gap_s)`: the stream moves its clock on without audio) and cuts
(`cut()`: a pause begins, the open utterance ends with the audio before it), in
the order they came. Its decodes and speech translations run in a task group
inside its run loop, so the loop ends only once they all have. Time is read from
`Voice.clock`.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from contract.events import TranscriptFinal, TranscriptUpdate
from voice.audio import MODEL_SAMPLE_RATE_HZ
from voice.clock import Clock, SystemClock
from voice.decoding import DecodeTask, Hypothesis
from voice.online import DecodeJob, SpeakerStream, SpeechProbabilities, StreamingOptions
from voice.scheduler import DecodeScheduler
from voice.tasks import TaskSet

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Voice:
    """What every call shares: the decode scheduler and how to make a VAD."""

    scheduler: DecodeScheduler
    make_vad: Callable[[], SpeechProbabilities]
    streaming: StreamingOptions
    final_timeout_s: float = 120.0
    # Past this much undecoded audio per speaker, ingest stops reading (TCP backpressure).
    # Above max_utterance_s, so that one long utterance never triggers it.
    max_backlog_s: float = 30.0
    on_final_latency: Callable[[float], None] = lambda seconds: None
    clock: Clock = field(default_factory=SystemClock)  # audio arrivals and final latency


_ARRIVALS_KEPT = 3000  # (audio time, arrival) pairs per speaker: a minute of 20 ms frames


@dataclass(frozen=True, slots=True)
class _Gap:
    """Call time with no audio, in order among a worker's pending audio."""

    seconds: float


class _Cut:
    """The end of what is heard before a pause: the open utterance closes here."""


_CUT = _Cut()


class SpeakerWorker:
    def __init__(
        self,
        stream: SpeakerStream,
        voice: Voice,
        publish: Callable[[TranscriptUpdate], object],
        translation: SpeechTranslation | None = None,
    ) -> None:
        self.stream = stream
        self._voice = voice
        self._publish = publish
        self._translation = translation
        self._clock = voice.clock
        self._group: asyncio.TaskGroup | None = None  # while the run loop runs
        self._pending_audio: list[np.ndarray | _Gap | _Cut] = []
        self._results: list[tuple[DecodeJob, Hypothesis | None]] = []
        self._decoding = False
        self._closing = False
        self._wake = asyncio.Event()
        self._has_room = asyncio.Event()
        self._has_room.set()
        self._received_s = stream.t0_s
        self._arrivals: deque[tuple[float, float]] = deque(maxlen=_ARRIVALS_KEPT)
        self._tasks = TaskSet(log, f"speaker {stream.speaker.value}")
        self._task = self._tasks.spawn(self._run())

    def feed(self, samples: np.ndarray, gap_s: float = 0.0) -> None:
        """Audio at the model's rate, after `gap_s` of call time that had none."""
        if gap_s > 0:
            self._pending_audio.append(_Gap(gap_s))
            self._received_s += gap_s
        if len(samples):
            self._pending_audio.append(samples)
            self._received_s += len(samples) / MODEL_SAMPLE_RATE_HZ
        self._arrivals.append((self._received_s, self._clock.monotonic()))
        self._update_room()
        self._wake.set()

    def cut(self) -> None:
        """Closes the utterance in progress after the audio fed so far (a pause begins):
        it is decoded from that audio alone, whatever is fed next."""
        self._pending_audio.append(_CUT)
        self._wake.set()

    async def room(self) -> None:
        """Returns once this speaker's backlog of undecoded audio is small again."""
        await self._has_room.wait()

    @property
    def has_room(self) -> bool:
        return self._has_room.is_set()

    async def finish(self) -> None:
        """Waits until every utterance heard so far has been decoded and published."""
        self._closing = True
        self._wake.set()
        await self._task

    def _translate_speech(self, job: DecodeJob, final: TranscriptFinal) -> None:
        """Whisper's speech translation of a final, where no text translator can help."""
        wanted = self._translation
        if wanted is None or not wanted.wants(final.language):
            return
        start = max(0, round((final.t_start - job.t_start) * MODEL_SAMPLE_RATE_HZ))
        end = max(start, round((final.t_end - job.t_start) * MODEL_SAMPLE_RATE_HZ))
        piece = dataclasses.replace(
            job,
            audio=job.audio[start:end] if end > start else job.audio,
            language=final.language,
            task=DecodeTask.TRANSLATE,
            prompt="",
            word_timestamps=False,
            is_final=True,
        )
        self._spawn(self._translate(piece, final, wanted))

    async def _translate(
        self, piece: DecodeJob, final: TranscriptFinal, wanted: SpeechTranslation
    ) -> None:
        text = ""
        try:
            hypothesis = await self._voice.scheduler.decode(piece)
            text = " ".join(s.text for s in hypothesis.segments) if hypothesis else ""
        except Exception:
            log.exception("speaker %s: speech translation failed", self.stream.speaker.value)
        finally:
            # always delivered: assist waits for these words, and reads the original without
            wanted.deliver(final, text)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Starts a decode or a translation in the run loop's group: the loop waits for it."""
        if self._group is None:  # only _step spawns, and only while the loop runs
            raise RuntimeError("speaker worker is not running")
        self._group.create_task(coroutine)

    async def _run(self) -> None:
        """Steps until the call is over and its last finals are published; the group
        then waits for the speech translations still out."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            finished = False
            while True:
                await self._wake.wait()
                self._wake.clear()
                try:
                    finished = await self._step(finished)
                except Exception:  # a bug here must cost this step, never the call
                    log.exception("speaker %s: audio step failed", self.stream.speaker.value)
                    self._pending_audio.clear()
                    finished = finished or self._closing  # a closing call must still end
                if finished and not self._decoding and not self._pending_audio:
                    break
        self._group = None

    async def _step(self, finished: bool) -> bool:
        """Feeds new audio, publishes decode results, starts the next decode."""
        if self._pending_audio:
            pending = list(self._pending_audio)
            self._pending_audio.clear()
            await asyncio.to_thread(self._push, pending)
        for job, hypothesis in self._drain_results():
            # off the loop too: a final's prosody is measured on its audio (a few ms of FFT)
            for update in await asyncio.to_thread(self.stream.apply, job, hypothesis):
                if isinstance(update, TranscriptFinal):
                    self._voice.on_final_latency(self._latency(update.t_end))
                self._publish(update)
                if isinstance(update, TranscriptFinal):
                    self._translate_speech(job, update)
        if self._closing and not self._pending_audio and not finished:
            self.stream.finish()
            finished = True
        if not self._decoding:
            self._start_decode(finals_only=finished)
        self._update_room()
        return finished

    def _push(self, pending: list[np.ndarray | _Gap | _Cut]) -> None:
        """Feeds audio, gaps and cuts to the stream in order (on a worker thread)."""
        run: list[np.ndarray] = []
        for item in [*pending, None]:
            if isinstance(item, np.ndarray):
                run.append(item)
                continue
            if run:
                self.stream.push_audio(np.concatenate(run))
                run.clear()
            if isinstance(item, _Gap):
                self.stream.skip(item.seconds)
            elif isinstance(item, _Cut):
                self.stream.finish()  # as a long gap does, without moving the clock

    def _update_room(self) -> None:
        pending = (len(a) for a in self._pending_audio if isinstance(a, np.ndarray))
        pending_s = sum(pending) / MODEL_SAMPLE_RATE_HZ
        backlog_s = self.stream.undecoded_s + pending_s
        if backlog_s > self._voice.max_backlog_s:
            self._has_room.clear()
        else:
            self._has_room.set()

    def _latency(self, t_end: float) -> float:
        """Seconds since the audio at call time `t_end` arrived."""
        index = bisect.bisect_left(self._arrivals, (t_end, 0.0))
        arrived = self._arrivals[min(index, len(self._arrivals) - 1)][1] if self._arrivals else 0
        return self._clock.monotonic() - arrived

    def _drain_results(self) -> list[tuple[DecodeJob, Hypothesis | None]]:
        results, self._results = self._results, []
        return results

    def _start_decode(self, finals_only: bool) -> None:
        if finals_only and not self.stream.has_pending_finals():
            return
        job = self.stream.next_job(self._voice.scheduler.partial_backoff)
        if job is None:
            return
        self._decoding = True
        self._spawn(self._decode(job))

    async def _decode(self, job: DecodeJob) -> None:
        hypothesis: Hypothesis | None = None
        try:
            hypothesis = await self._voice.scheduler.decode(job)
        except Exception:  # the scheduler resolves every request; this is a last resort
            log.exception("speaker %s: decode failed", self.stream.speaker.value)
        finally:
            # the stream hears about every job, even a failed one (None: nothing decoded)
            self._decoding = False
            self._results.append((job, hypothesis))
            self._wake.set()


@dataclass(frozen=True, slots=True)
class SpeechTranslation:
    """Where a worker asks whether a language needs Whisper's translation, and sends it."""

    wants: Callable[[str], bool]
    deliver: Callable[[TranscriptFinal, str], None]
