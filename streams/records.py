"""The after-call record served at GET /v1/calls/{id}: ready for a CRM.

Built from the stored events alone, so a record is complete for every call the
store holds, including calls that ended before a restart.
"""

from __future__ import annotations

from typing import Any


def with_assist_view(record: dict[str, Any]) -> dict[str, Any]:
    """Adds intent, summary, sentiment timeline, suggestions, cues and alerts to a call record."""
    events: list[dict[str, Any]] = record["events"]
    intents = [e for e in events if e["type"] == "intent"]
    summaries = [e for e in events if e["type"] == "summary"]
    ended = next((e for e in reversed(events) if e["type"] == "call.ended"), None)
    summary = (ended or {}).get("summary") or (summaries[-1] if summaries else None)
    record.update(
        intent=_pick(intents[-1], "intent", "confidence", "evidence") if intents else None,
        summary=_pick(summary, *_SUMMARY_FIELDS) if summary else None,
        sentiment_timeline=[
            _pick(e, "segment_id", "speaker", "score", "arousal", "spike", "reason", "t_end")
            for e in events
            if e["type"] == "sentiment"
        ],
        suggestions=[
            _pick(e, "kind", "title", "body", "score", "source", "why", "segment_id")
            for e in events
            if e["type"] == "suggestion"
        ],
        cues=[
            _pick(e, "seq", "ts", "rule", "reason", "urgency", "evidence", "open_items")
            for e in events
            if e["type"] == "handover.cue"
        ],
        alerts=[
            _pick(e, "seq", "ts", "rule", "severity", "reason", "evidence")
            for e in events
            if e["type"] == "alert"
        ],
    )
    return record


_SUMMARY_FIELDS = ("intent", "steps_tried", "data_points", "next_steps", "open_questions")


def _pick(event: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: event.get(k) for k in keys}
