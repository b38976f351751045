"""Runs one call's `AssistSession` off the event loop and publishes what it says.

Finals and clock ticks go into a queue in call order; one task per call takes
them one at a time to a worker thread, so the session never sees two inputs at
once and its events follow the transcript that caused them. A failing step is
logged and skipped: assist is a co-pilot, never a reason to lose a call.
Latency (queued to published) is measured on a `Clock`, so tests set the time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from assist.assistant import Assistant
from assist.session import AssistSession
from contract.events import AssistEvent, Summary, TranscriptFinal
from voice.clock import Clock, SystemClock
from voice.tasks import TaskSet

log = logging.getLogger(__name__)

TICK_EVERY_S = 1.0  # call-audio seconds between two checks of the time-driven rules
# A final, Whisper's English for a final, or a call-audio time for the clock rules.
_Input = TranscriptFinal | tuple[TranscriptFinal, str] | float


@dataclass(frozen=True, slots=True)
class AssistRuntime:
    """What every call's assist shares: the loaded assistant and a latency observer."""

    assistant: Assistant
    on_latency: Callable[[float], None] = lambda seconds: None
    agent_language: str = "en"  # unless the platform says otherwise for a call
    clock: Clock = field(default_factory=SystemClock)

    def open(
        self, call_id: str, publish: Callable[[AssistEvent], object], agent_language: str | None
    ) -> CallAssist:
        session = AssistSession(self.assistant, agent_language or self.agent_language)
        return CallAssist(call_id, session, publish, self.on_latency, self.clock)


class CallAssist:
    def __init__(
        self,
        call_id: str,
        session: AssistSession,
        publish: Callable[[AssistEvent], object],
        on_latency: Callable[[float], None] = lambda seconds: None,
        clock: Clock | None = None,
    ) -> None:
        self._call_id = call_id
        self._session = session
        self._publish = publish
        self._on_latency = on_latency
        self._clock = clock or SystemClock()
        self._queue: asyncio.Queue[tuple[float, _Input] | None] = asyncio.Queue()
        self._last_tick_s = 0.0
        self._tasks = TaskSet(log, f"call {call_id} assist")
        self._task = self._tasks.spawn(self._run())

    def final(self, final: TranscriptFinal) -> None:
        self._queue.put_nowait((self._clock.monotonic(), final))

    def speech_translation(self, final: TranscriptFinal, text: str) -> None:
        self._queue.put_nowait((self._clock.monotonic(), (final, text)))

    def wants_speech_translation(self, language: str) -> bool:
        return self._session.wants_speech_translation(language)

    def tick(self, audio_s: float) -> None:
        if audio_s - self._last_tick_s >= TICK_EVERY_S:
            self._last_tick_s = audio_s
            self._queue.put_nowait((self._clock.monotonic(), audio_s))

    async def close(self) -> Summary:
        """Finishes what is queued; returns the call's final summary."""
        self._queue.put_nowait(None)
        await self._task
        return self._session.summary()

    async def _run(self) -> None:
        while (item := await self._queue.get()) is not None:
            queued_at, payload = item
            try:
                events = await asyncio.to_thread(self._step, payload)
            except Exception:  # a bug in one step must not end the call's assist
                log.exception("call %s: assist step failed", self._call_id)
                continue
            for event in events:
                self._publish(event)
            if isinstance(payload, TranscriptFinal):
                self._on_latency(self._clock.monotonic() - queued_at)

    def _step(self, payload: _Input) -> list[AssistEvent]:
        if isinstance(payload, TranscriptFinal):
            return self._session.on_final(payload)
        if isinstance(payload, tuple):
            return self._session.on_speech_translation(*payload)
        return self._session.on_time(payload)
