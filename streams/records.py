"""The after-call record served at GET /v1/calls/{id}: ready for a CRM.

Built from the stored events alone, so a record is complete for every call the
store holds, including calls that ended before a restart. Runs in a reader
thread (see `Store.reader`): a two-hour call's record never stalls live calls.
"""

from __future__ import annotations

from typing import Any, assert_never

import msgspec

from contract import codec
from contract.events import (
    Alert,
    CallEnded,
    CallerHistory,
    CallPaused,
    CallResumed,
    CallStarted,
    Dynamics,
    DynamicsIncident,
    HandoverCue,
    HandoverPackage,
    IntentDetected,
    Payload,
    Sentiment,
    Suggestion,
    Summary,
    TranscriptFinal,
    TranscriptPartial,
    Translation,
    Wrapup,
    WrapupAccepted,
)


def read_record(stored: tuple[dict[str, Any], list[str]] | None) -> bytes | None:
    """A stored call (`EventStore.read_call`) as its record in JSON: its row, transcript,
    every event but partials, and the co-pilot's view (intent, summary, sentiment
    timeline, suggestions, cues, alerts, handover packages, the wrap-up drafted and the
    one accepted)."""
    if stored is None:
        return None
    row, bodies = stored
    view = _View()
    events: list[Any] = []
    for body in bodies:
        event = codec.decode(body)
        view.add(event.payload, body)
        events.append(msgspec.Raw(body.encode()))
    record = {
        **row,
        "transcript": view.transcript,
        "events": events,
        "intent": view.intent,
        "summary": view.summary,
        "sentiment_timeline": view.sentiment,
        "suggestions": view.suggestions,
        "cues": view.cues,
        "alerts": view.alerts,
        "handovers": view.handovers,
        "caller_history": view.history,
        "dynamics": view.dynamics,
        "incidents": view.incidents,
        "wrapup": view.wrapup,  # the co-pilot's draft
        "wrapup_accepted": view.accepted,  # the agent's, with the after-call work seconds
    }
    return codec.encode_json(record).encode()


class _View:
    """What a CRM reads first, picked by type from the call's events in order."""

    def __init__(self) -> None:
        self.transcript: list[msgspec.Raw] = []
        self.intent: IntentDetected | None = None
        self.summary: Summary | None = None
        self.sentiment: list[Sentiment] = []
        self.suggestions: list[Suggestion] = []
        self.cues: list[msgspec.Raw] = []
        self.alerts: list[msgspec.Raw] = []
        self.handovers: list[msgspec.Raw] = []
        self.history: CallerHistory | None = None
        self.incidents: list[msgspec.Raw] = []
        self.dynamics: Dynamics | None = None
        self.wrapup: Wrapup | None = None
        self.accepted: WrapupAccepted | None = None

    def add(self, payload: Payload, body: str) -> None:
        raw = msgspec.Raw(body.encode())
        match payload:
            case TranscriptFinal():
                self.transcript.append(raw)
            case IntentDetected():
                self.intent = payload
            case Summary():
                self.summary = payload
            case CallEnded(summary=summary) if summary is not None:
                self.summary = summary  # the co-pilot's last word
            case Sentiment():
                self.sentiment.append(payload)
            case Suggestion():
                self.suggestions.append(payload)
            case HandoverCue():
                self.cues.append(raw)
            case Alert():
                self.alerts.append(raw)
            case HandoverPackage():
                self.handovers.append(raw)
            case CallerHistory():
                self.history = payload  # the last: once the intent showed a repeat
            case DynamicsIncident():
                self.incidents.append(raw)
            case Dynamics():
                self.dynamics = payload  # the last snapshot
            case Wrapup():
                self.wrapup = payload
            case WrapupAccepted():
                self.accepted = payload  # the agent may accept again: the last one stands
            case CallStarted() | CallEnded() | TranscriptPartial() | Translation():
                pass
            case CallPaused() | CallResumed():
                pass  # in `events`, in order: when the call was not being heard
            case _:
                assert_never(payload)
