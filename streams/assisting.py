"""Runs one call's `AssistSession` off the event loop and publishes what it says.

Finals, clock ticks and the pause's news (call time that passed paused, a cue
that needs the call's context) go into a queue in call order; one task per call takes
them one at a time to a worker thread, so the session never sees two inputs at
once and its events follow the transcript that caused them. A failing step is
logged and skipped: assist is a co-pilot, never a reason to lose a call.
Latency (queued to published) is measured on a `Clock`, so tests set the time.

The queue is bounded (`MAX_QUEUED`). When it is full, the oldest tick goes
first (a later tick checks the same rules); only a queue with no tick left loses
its oldest input. Every drop is counted (`dropped`, and `on_dropped` with the kind).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from assist.assistant import Assistant
from assist.session import AssistSession, HandoverRequest
from contract.events import (
    AssistEvent,
    CallerHistory,
    HandoverCue,
    Speaker,
    Summary,
    TranscriptFinal,
    TranscriptPartial,
    Wrapup,
)
from voice.clock import Clock, SystemClock
from voice.tasks import TaskSet

log = logging.getLogger(__name__)

TICK_EVERY_S = 1.0  # call-audio seconds between two checks of the time-driven rules
MAX_QUEUED = 500  # inputs waiting per call: minutes of finals, far past any healthy backlog


@dataclass(frozen=True, slots=True)
class _PausedFor:
    """Call-audio seconds that passed while the call was paused."""

    seconds: float


@dataclass(frozen=True, slots=True)
class _History:
    """The caller's earlier calls, and the wall-clock time they were read at."""

    history: CallerHistory
    now: datetime


# A final, Whisper's English for a final, a call-audio time for the clock rules, paused
# call time, a cue raised outside assist that gets the call's summary and transcript, or
# the call changing hands.
_Input = (
    TranscriptFinal
    | tuple[TranscriptFinal, str]
    | float
    | _PausedFor
    | HandoverCue
    | HandoverRequest
    | _History
)


@dataclass(frozen=True, slots=True)
class AssistRuntime:
    """What every call's assist shares: the loaded assistant and a latency observer."""

    assistant: Assistant
    on_latency: Callable[[float], None] = lambda seconds: None
    agent_language: str = "en"  # unless the platform says otherwise for a call
    clock: Clock = field(default_factory=SystemClock)
    on_dropped: Callable[[str], None] = lambda kind: None  # "tick", "final", "translation"

    def open(
        self, call_id: str, publish: Callable[[AssistEvent], object], agent_language: str | None
    ) -> CallAssist:
        session = AssistSession(self.assistant, agent_language or self.agent_language)
        return CallAssist(
            call_id, session, publish, self.on_latency, self.clock, on_dropped=self.on_dropped
        )


class CallAssist:
    def __init__(
        self,
        call_id: str,
        session: AssistSession,
        publish: Callable[[AssistEvent], object],
        on_latency: Callable[[float], None] = lambda seconds: None,
        clock: Clock | None = None,
        *,
        max_queued: int = MAX_QUEUED,
        on_dropped: Callable[[str], None] = lambda kind: None,
    ) -> None:
        self._call_id = call_id
        self._session = session
        self._publish = publish
        self._on_latency = on_latency
        self._clock = clock or SystemClock()
        self._queue: deque[tuple[float, _Input]] = deque()
        self._max_queued = max(1, max_queued)
        self._on_dropped = on_dropped
        self.dropped: Counter[str] = Counter()  # inputs dropped, by kind
        self._queued = asyncio.Event()
        self._closing = False
        self._last_tick_s = 0.0
        self._activity: dict[Speaker, tuple[float, float]] = {}  # newest partial's span
        self._tasks = TaskSet(log, f"call {call_id} assist")
        self._task = self._tasks.spawn(self._run())

    def final(self, final: TranscriptFinal) -> None:
        self._put(final)

    def speech_translation(self, final: TranscriptFinal, text: str) -> None:
        self._put((final, text))

    def wants_speech_translation(self, language: str) -> bool:
        return self._session.wants_speech_translation(language)

    def paused(self, seconds: float) -> None:
        """`seconds` of call audio passed paused: nobody's silence."""
        self._put(_PausedFor(seconds))

    def with_context(self, cue: HandoverCue) -> None:
        """Publishes `cue` with the call's current summary and transcript tail."""
        self._put(cue)

    def caller_history(self, history: CallerHistory, now: datetime) -> None:
        """The caller's earlier calls: a repeat contact once the intent matches one."""
        self._put(_History(history, now))

    def handover(self, request: HandoverRequest) -> None:
        """Publishes the handover package, after the finals queued before it."""
        self._put(request)

    def activity(self, partial: TranscriptPartial) -> None:
        """Someone is speaking: read with the next tick (partials come too often to queue)."""
        self._activity[partial.speaker] = (partial.t_start, partial.t_end)

    def tick(self, audio_s: float) -> None:
        if audio_s - self._last_tick_s >= TICK_EVERY_S:
            self._last_tick_s = audio_s
            self._put(audio_s)

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def close(self) -> Summary:
        """Finishes what is queued; returns the call's final summary."""
        self._closing = True
        self._queued.set()
        await self._task
        return self._session.summary()

    def wrapup(self) -> Wrapup | None:
        """The wrap-up draft, once `close` has returned (None if drafting failed)."""
        try:
            return self._session.wrapup()
        except Exception:  # the call still ends; the agent writes the notes
            log.exception("call %s: no wrap-up draft", self._call_id)
            return None

    def _put(self, payload: _Input) -> None:
        if len(self._queue) >= self._max_queued:
            self._drop_one()
        self._queue.append((self._clock.monotonic(), payload))
        self._queued.set()

    def _drop_one(self) -> None:
        """Makes room: the oldest tick, else the oldest input of all (a final)."""
        index = next((i for i, (_, p) in enumerate(self._queue) if isinstance(p, float)), 0)
        payload = self._queue[index][1]
        del self._queue[index]
        kind = _kind(payload)
        self.dropped[kind] += 1
        if kind != "tick":
            log.warning("call %s: assist is behind; dropped a queued %s", self._call_id, kind)
        try:
            self._on_dropped(kind)
        except Exception:  # a metrics bug must not cost the call its assist
            log.exception("call %s: drop observer failed", self._call_id)

    async def _next(self) -> tuple[float, _Input] | None:
        """The oldest queued input; None once closing and nothing is left."""
        while not self._queue:
            if self._closing:
                return None
            self._queued.clear()
            await self._queued.wait()
        return self._queue.popleft()

    async def _run(self) -> None:
        while (item := await self._next()) is not None:
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
        if isinstance(payload, _PausedFor):
            return self._session.on_paused(payload.seconds)
        if isinstance(payload, HandoverCue):
            return [self._session.with_context(payload)]
        if isinstance(payload, HandoverRequest):
            return [self._session.handover(payload)]
        if isinstance(payload, _History):
            return self._session.on_caller_history(payload.history, payload.now)
        events = []
        for speaker, (t_start, t_end) in list(self._activity.items()):
            events += self._session.on_activity(speaker, t_start, t_end)
        return events + self._session.on_time(payload)


def _kind(payload: _Input) -> str:
    if isinstance(payload, TranscriptFinal):
        return "final"
    if isinstance(payload, _PausedFor):
        return "pause"
    if isinstance(payload, HandoverCue):
        return "cue"
    if isinstance(payload, HandoverRequest):
        return "handover"
    if isinstance(payload, _History):
        return "history"
    return "translation" if isinstance(payload, tuple) else "tick"
