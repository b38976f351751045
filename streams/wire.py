"""The one serialiser: event payloads become JSON text here and nowhere else. No I/O."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from datetime import UTC, datetime
from typing import Any

from assist.events import (
    Alert,
    HandoverCue,
    IntentDetected,
    Sentiment,
    Suggestion,
    Summary,
    Translation,
)
from streams.events import CallEnded, CallStarted
from voice.events import TranscriptFinal, TranscriptPartial

EVENT_TYPES: dict[type, str] = {
    CallStarted: "call.started",
    TranscriptPartial: "transcript.partial",
    TranscriptFinal: "transcript.final",
    Translation: "translation",
    Sentiment: "sentiment",
    IntentDetected: "intent",
    Summary: "summary",
    Suggestion: "suggestion",
    HandoverCue: "handover.cue",
    Alert: "alert",
    CallEnded: "call.ended",
}
# Events every supervisor sees, whatever the call: enough for a live wallboard.
ALERT_FEED_TYPES = frozenset(
    {"call.started", "call.ended", "intent", "sentiment", "handover.cue", "alert"}
)


def event_type(payload: object) -> str:
    try:
        return EVENT_TYPES[type(payload)]
    except KeyError:
        raise TypeError(f"{type(payload).__name__} is not an event payload") from None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_event(call_id: str, seq: int, ts: str, payload: object) -> str:
    body: dict[str, Any] = {"type": event_type(payload), "call_id": call_id, "seq": seq, "ts": ts}
    body.update(_plain(dataclasses.asdict(payload)))  # type: ignore[call-overload]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def encode_error(call_id: str | None, code: str, message: str) -> str:
    body = {"type": "error", "call_id": call_id, "ts": now_iso(), "code": code, "message": message}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def encode_json(value: object) -> str:
    """Plain JSON for the HTTP endpoints."""
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "items"):  # read-only mappings
        return {str(k): _plain(v) for k, v in value.items()}
    return value
