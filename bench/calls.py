"""Labelled two-track calls: stream one through a server as a desktop and a supervisor
see it, and score what assist said against the script's labels.

Shared by the end-to-end tests and `bench.assist`. A call is a `<name>.script.json`
(see ../shared/eval/calls/) beside the `.customer.wav`, `.agent.wav` and
`.timeline.json` that ../shared/eval/synth_call.py makes from it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from streams.client import Recording, follow_events, send_paced, twilio_messages

_STOPWORDS = frozenset("the a an my your to of and i".split())


@dataclass(frozen=True)
class LabelledCall:
    name: str
    language: str  # the caller's
    labels: dict[str, Any]
    turns: list[dict[str, Any]]  # speaker, text, start_s, end_s
    recording: Recording

    @classmethod
    def load(cls, base: Path) -> LabelledCall:
        timeline = json.loads(Path(f"{base}.timeline.json").read_text())
        recording = Recording.from_tracks(Path(f"{base}.customer.wav"), Path(f"{base}.agent.wav"))
        return cls(
            timeline["name"],
            timeline.get("language", "en"),
            timeline["labels"],
            timeline["turns"],
            recording,
        )

    def escalation_window_s(self) -> tuple[float, float] | None:
        """From the start of the escalating turn to the end of the agent's reply to it."""
        turn = self.labels.get("escalation_turn")
        if turn is None:
            return None
        reply = next(
            (t for t in self.turns[turn + 1 :] if t["speaker"] == "agent"), self.turns[turn]
        )
        return self.turns[turn]["start_s"], reply["end_s"]


@dataclass
class Observed:
    """What a desktop and a supervisor received, with call-audio times of arrival."""

    events: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    arrived_audio_s: dict[int, float] = field(default_factory=dict)  # seq -> audio position
    arrived_wall_s: dict[int, float] = field(default_factory=dict)  # seq -> monotonic time

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    @property
    def summary(self) -> dict[str, Any]:
        ended = self.of("call.ended")
        return (ended[-1].get("summary") if ended else None) or {}


async def stream_call(ws_url: str, call: LabelledCall, call_id: str, speed: float) -> Observed:
    """Streams `call` through /v1/twilio, watching /v1/calls/{id}/events and /v1/alerts."""
    observed = Observed()
    started = time.monotonic()

    async def desktop() -> None:
        async for event in follow_events(ws_url, call_id):
            now = time.monotonic()
            observed.events.append(event)
            observed.arrived_wall_s[event["seq"]] = now
            observed.arrived_audio_s[event["seq"]] = (now - started) * speed

    async def supervisor() -> None:
        async with connect(f"{ws_url}/v1/alerts") as ws:
            async for text in ws:
                event = json.loads(text)
                if event.get("call_id") == call_id:
                    observed.alerts.append(event)

    watchers = [asyncio.create_task(desktop()), asyncio.create_task(supervisor())]
    await asyncio.sleep(0.3)
    started = time.monotonic()
    async with connect(f"{ws_url}/v1/twilio") as ws:
        custom = {"language": call.language}  # as a platform that knows its queue's language
        await send_paced(ws, twilio_messages(call.recording, call_id, custom=custom), speed)
    await asyncio.wait_for(watchers[0], 120)
    await asyncio.sleep(0.2)
    watchers[1].cancel()
    return observed


def found_data_point(label: str, summary: dict[str, Any]) -> bool:
    wanted = label.lower()
    return any(
        wanted in str(p.get("value", "")).lower() or wanted in str(p.get("text", "")).lower()
        for p in summary.get("data_points", [])
    )


def found_step(label: str, summary: dict[str, Any]) -> bool:
    """A step counts when one step holds every content word of the label, by its first
    four letters (so "cancelled online" finds "tried to cancel online")."""
    return any(said_in(label, str(step.get("text", ""))) for step in summary.get("steps_tried", []))


def said_in(label: str, text: str) -> bool:
    """Whether the content words of `label` (first four letters) all occur in `text`."""
    stems = [w[:4] for w in re.findall(r"[a-z0-9.]+", label.lower()) if w not in _STOPWORDS]
    words = re.findall(r"[a-z0-9.]+", text.lower())
    return all(any(w.startswith(s) for w in words) for s in stems)
