"""A live call's pause for payment: who paused it and why, the call time it spans,
and the cue when it is left paused too long.

While a call is paused it hears nothing: `CallSession.feed` hands its frames here,
and only their length is kept (the call time each speaker's clock moves on by when
the pause ends), never a sample. The pause itself is measured in wall time
(`Clock.monotonic`, and the loop's timer for `max_pause_s`): AudioHook sends no
audio while paused, so the audio cannot be the clock here.

One pause at a time, whoever made it: pausing a paused call changes nothing and
publishes nothing, and a resume by either the platform or the agent ends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from contract.events import (
    CallPaused,
    CallResumed,
    HandoverCue,
    PausedBy,
    Severity,
    Speaker,
    Summary,
)
from voice.clock import Clock

PAUSE_RULE = "paused_too_long"  # the cue's rule name
PAYMENT = "payment"  # the desktop's reason


@dataclass(frozen=True, slots=True)
class _Pause:
    by: PausedBy
    reason: str
    since_s: float  # Clock.monotonic() when it began


class PauseState:
    """Pause, resume and the overdue cue of one call; `on_overdue` gets the cue (with no
    summary or transcript: the session adds assist's) once per pause, past `max_pause_s`
    (0: never)."""

    def __init__(
        self, clock: Clock, max_pause_s: float, on_overdue: Callable[[HandoverCue], None]
    ) -> None:
        self._clock = clock
        self._max_pause_s = max_pause_s
        self._on_overdue = on_overdue
        self._pause: _Pause | None = None
        self._held_s: dict[Speaker, float] = {}
        self._timer: asyncio.TimerHandle | None = None

    @property
    def paused(self) -> bool:
        return self._pause is not None

    @property
    def held_s(self) -> float:
        """Call time that has passed paused so far (the longest of the speakers')."""
        return max(self._held_s.values(), default=0.0)

    def begin(self, by: PausedBy, reason: str) -> CallPaused | None:
        """The event to publish, or None when the call was already paused."""
        if self._pause is not None:
            return None
        self._pause = _Pause(by, reason, self._clock.monotonic())
        if self._max_pause_s > 0:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._max_pause_s, self._overdue)
        return CallPaused(by, reason)

    def end(self, by: PausedBy, reason: str = "") -> CallResumed | None:
        """The event to publish, or None when the call was not paused. Its reason is the
        resume's own, else the pause's ("payment")."""
        pause, self._pause = self._pause, None
        if pause is None:
            return None
        self.close()
        paused_s = round(max(0.0, self._clock.monotonic() - pause.since_s), 3)
        return CallResumed(by, reason or pause.reason, paused_s)

    def hold(self, speakers: Iterable[Speaker], seconds: float) -> None:
        """Call time that passed paused, for each of `speakers`."""
        for speaker in speakers:
            self._held_s[speaker] = self._held_s.get(speaker, 0.0) + seconds

    def release(self) -> dict[Speaker, float]:
        """The call time held so far per speaker, now theirs to move their clocks by."""
        held, self._held_s = self._held_s, {}
        return held

    def close(self) -> None:
        """No cue any more (resumed, or the call ended)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _overdue(self) -> None:
        self._timer = None
        if self._pause is not None:
            self._on_overdue(overdue_cue(self._pause.by, self._pause.reason, self._max_pause_s))


def overdue_cue(by: PausedBy, reason: str, paused_s: float) -> HandoverCue:
    """The agent's reminder that the call is still not being heard."""
    why = f" ({reason})" if reason else ""
    then = "once the payment is done" if reason == PAYMENT else "as soon as the call may be heard"
    return HandoverCue(
        rule=PAUSE_RULE,
        reason=f"Transcription has been paused for {_duration(paused_s)}{why}: resume it {then}",
        urgency=Severity.MEDIUM,
        evidence=(f"Paused by the {by.value}",),
        open_items=("Resume transcription",),
        summary=Summary(intent=None),
        transcript_tail=(),
        segment_id="",
    )


def _duration(seconds: float) -> str:
    if seconds >= 60:
        return f"{round(seconds / 60, 1):g} min"
    return f"{round(seconds, 1):g} s"
