"""Labelled two-track calls: stream one through a server as a desktop and a supervisor
see it, and score what assist said against the script's labels.

Shared by the assist tests, the end-to-end tests, `bench.assist` and the
screenshots. A call is a `<name>.timeline.json` beside the `.customer.wav` and
`.agent.wav` that synth_call.py (../shared/eval/) makes from a call script: the
script's labels and turns, each turn with the seconds it starts and ends at.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import soxr
from websockets.asyncio.client import connect

from contract.events import CallEnded, Event, FollowUp, Speaker, Summary, TranscriptFinal
from streams.client import Recording, follow_events, send_paced, twilio_messages
from testkit.events import P, follow_alerts, numbered, payloads
from voice.prosody import measure_prosody

PROSODY_RATE_HZ = 16000  # what voice/prosody.py measures, as the recogniser holds it
SUBSCRIBE_S = 0.3  # the desktop and the supervisor subscribe before the call starts
END_TIMEOUT_S = 120.0  # from the last audio to call.ended
LATE_ALERTS_S = 0.2  # the supervisor keeps listening this long after call.ended
_STOPWORDS = frozenset("the a an my your to of and i".split())
_WORD = re.compile(r"[a-z0-9.]+")


class Turn(msgspec.Struct, frozen=True):
    speaker: Speaker
    text: str
    start_s: float  # seconds of call audio
    end_s: float
    style: str = "calm"


class FollowUpLabel(msgspec.Struct, frozen=True):
    what: str
    owner: str  # agent, company, customer
    when: str | None = None


class Labels(msgspec.Struct, frozen=True):
    intent: str | None  # None: a call that fits none of the intents
    handover_expected: bool
    escalation_turn: int | None = None  # index into the turns
    escalation_kind: str | None = None  # manager, churn, dispute, repeat, sarcasm, deadline, voice
    data_points: tuple[str, ...] = ()
    steps_tried: tuple[str, ...] = ()
    promised: tuple[str, ...] = ()  # what the agent promised
    disposition: str | None = None  # how the call ended, a name of the disposition catalog
    follow_ups: tuple[FollowUpLabel, ...] = ()
    split: str = ""  # "dev" (tune on it) or "test"; "" for the older scripts


class Timeline(msgspec.Struct, frozen=True):
    """A `<name>.timeline.json`, as synth_call.py writes it."""

    name: str
    labels: Labels
    turns: tuple[Turn, ...]
    language: str = "en"  # the caller's


@dataclass(frozen=True)
class LabelledCall:
    name: str
    language: str  # the caller's
    labels: Labels
    turns: tuple[Turn, ...]
    recording: Recording

    @classmethod
    def load(cls, base: Path) -> LabelledCall:
        timeline = load_timeline(base)
        recording = Recording.from_tracks(Path(f"{base}.customer.wav"), Path(f"{base}.agent.wav"))
        return cls(timeline.name, timeline.language, timeline.labels, timeline.turns, recording)

    def escalation_window_s(self) -> tuple[float, float] | None:
        """From the start of the escalating turn to the end of the agent's reply to it."""
        turn = self.labels.escalation_turn
        if turn is None:
            return None
        reply = next(
            (t for t in self.turns[turn + 1 :] if t.speaker is Speaker.AGENT), self.turns[turn]
        )
        return self.turns[turn].start_s, reply.end_s


def load_timeline(base: Path) -> Timeline:
    return msgspec.json.decode(Path(f"{base}.timeline.json").read_bytes(), type=Timeline)


@dataclass
class Observed:
    """What a desktop and a supervisor received, with call-audio times of arrival."""

    events: list[Event] = field(default_factory=list)
    alerts: list[Event] = field(default_factory=list)  # this call's, from /v1/alerts
    arrived_audio_s: dict[int, float] = field(default_factory=dict)  # seq -> audio position
    arrived_wall_s: dict[int, float] = field(default_factory=dict)  # seq -> monotonic time
    audio_sent_wall_s: float | None = None  # monotonic time the last audio was sent
    transfer_sent_wall_s: float | None = None  # monotonic time the agent's Transfer was sent

    def of(self, kind: type[P]) -> list[P]:
        return payloads(self.events, kind)

    def arrivals(self, kind: type[P]) -> list[tuple[P, float]]:
        """Each payload of `kind` with the call-audio second it reached the desktop at."""
        return [(p, self.arrived_audio_s[seq]) for seq, p in numbered(self.events, kind)]

    @property
    def summary(self) -> Summary | None:
        return final_summary(self.events)


def final_summary(events: Iterable[Event]) -> Summary | None:
    """The co-pilot's last word: call.ended's summary, else the newest summary event."""
    last: Summary | None = None
    for event in events:
        if isinstance(event.payload, Summary):
            last = event.payload
        elif isinstance(event.payload, CallEnded) and event.payload.summary is not None:
            last = event.payload.summary
    return last


async def stream_call(
    ws_url: str,
    call: LabelledCall,
    call_id: str,
    speed: float,
    *,
    declare_language: bool = True,
    transfer_at_s: float | None = None,
) -> Observed:
    """Streams `call` through /v1/twilio, watching /v1/calls/{id}/events and /v1/alerts.
    `declare_language`: the platform passes the call's language, as one that knows its
    queue's does; without it the service identifies the language itself.
    `transfer_at_s`: at that second of call audio the agent clicks Transfer (a desktop's
    `transfer` message on the call's event stream)."""
    observed = Observed()
    started = time.monotonic()

    async def desktop() -> None:
        async for event in follow_events(ws_url, call_id):
            now = time.monotonic()
            observed.events.append(event)
            observed.arrived_wall_s[event.seq] = now
            observed.arrived_audio_s[event.seq] = (now - started) * speed

    async def supervisor() -> None:
        async for event in follow_alerts(ws_url):
            if event.call_id == call_id:
                observed.alerts.append(event)

    async def transfer(at_s: float) -> None:
        await asyncio.sleep(at_s / speed)
        async with connect(f"{ws_url}/v1/calls/{call_id}/events?since=999999999") as agent:
            observed.transfer_sent_wall_s = time.monotonic()
            await agent.send('{"type": "transfer", "note": "benchmark"}')
            await asyncio.sleep(1.0)  # the socket stays while the package is made

    watchers = [asyncio.create_task(desktop()), asyncio.create_task(supervisor())]
    await asyncio.sleep(SUBSCRIBE_S)
    started = time.monotonic()
    if transfer_at_s is not None:
        watchers.append(asyncio.create_task(transfer(transfer_at_s)))
    async with connect(f"{ws_url}/v1/twilio") as ws:
        custom = {"language": call.language} if declare_language else {}
        await send_paced(ws, twilio_messages(call.recording, call_id, custom=custom), speed)
        observed.audio_sent_wall_s = time.monotonic()
    await asyncio.wait_for(watchers[0], END_TIMEOUT_S)
    await asyncio.sleep(LATE_ALERTS_S)
    watchers[1].cancel()
    return observed


def script_finals(call: LabelledCall) -> list[TranscriptFinal]:
    """Each turn as one final: the script's words, the voice measured on its audio."""
    rate = call.recording.sample_rate_hz
    finals = []
    for k, turn in enumerate(call.turns):
        channel = 0 if turn.speaker is Speaker.CUSTOMER else 1
        start, end = int(turn.start_s * rate), int(turn.end_s * rate)
        piece = call.recording.samples[start:end, channel].astype(np.float32) / 32768
        finals.append(
            TranscriptFinal(
                f"turn-{k}",
                turn.speaker,
                turn.text,
                turn.start_s,
                turn.end_s,
                call.language,
                (),
                measure_prosody(soxr.resample(piece, rate, PROSODY_RATE_HZ)),
            )
        )
    return finals


def found_data_point(label: str, summary: Summary) -> bool:
    wanted = label.lower()
    return any(
        wanted in point.value.lower() or wanted in point.text.lower()
        for point in summary.data_points
    )


_LITTLE_WORDS = frozenset(
    "a an the to of on for by in at and or with your my you me it is be will".split()
)


def found_follow_up(label: FollowUpLabel, drafted: Iterable[FollowUp]) -> bool:
    """A labelled follow-up the draft has: the same owner, and at least half of the label's
    own words (not the little ones) in what the draft says."""
    wanted = {w for w in re.findall(r"[a-z0-9.]+", label.what.lower()) if w not in _LITTLE_WORDS}
    for follow_up in drafted:
        said = set(re.findall(r"[a-z0-9.]+", follow_up.what.lower()))
        if follow_up.owner.value == label.owner and len(wanted & said) * 2 >= len(wanted):
            return True
    return False


def found_step(label: str, summary: Summary) -> bool:
    """A step counts when one step holds every content word of the label, by its first
    four letters (so "cancelled online" finds "tried to cancel online")."""
    return any(said_in(label, step.text) for step in summary.steps_tried)


def said_in(label: str, text: str) -> bool:
    """Whether the content words of `label` (first four letters) all occur in `text`."""
    stems = [w[:4] for w in _WORD.findall(label.lower()) if w not in _STOPWORDS]
    words = _WORD.findall(text.lower())
    return all(any(w.startswith(s) for w in words) for s in stems)
