"""What a call came to, gathered from its events as the hub stores them: the columns
that caller history and the KPIs read (streams.storage.CallFacts), written with
call.ended, so that neither ever has to read a call's events again."""

from __future__ import annotations

from dataclasses import dataclass, field

from contract.events import (
    CallerHistory,
    HandoverCue,
    HandoverPackage,
    IntentDetected,
    Payload,
    Sentiment,
    Speaker,
    Summary,
    Wrapup,
)
from streams.storage import CallFacts

TREND_SEGMENTS = 2  # the customer's first and last segments that make start and end
SUMMARY_LINE_CHARS = 160


@dataclass
class FactsTracker:
    """One call's facts, event by event (the store's view: nothing raw)."""

    intent: str | None = None
    disposition: str | None = None
    resolved: bool | None = None
    cues: int = 0
    handovers: int = 0
    repeat_contact: bool = False
    first_scores: list[float] = field(default_factory=list)
    last_scores: list[float] = field(default_factory=list)

    def add(self, payload: Payload) -> None:
        match payload:
            case IntentDetected():
                self.intent = payload.intent
            case HandoverCue():
                self.cues += 1
            case HandoverPackage():
                self.handovers += 1
            case Sentiment(speaker=Speaker.CUSTOMER):
                if len(self.first_scores) < TREND_SEGMENTS:
                    self.first_scores.append(payload.score)
                self.last_scores = [*self.last_scores, payload.score][-TREND_SEGMENTS:]
            case Wrapup():
                self.disposition, self.resolved = payload.disposition, payload.resolved
            case CallerHistory():
                self.repeat_contact = payload.repeat_contact
            case _:
                pass

    def facts(self, summary: Summary | None) -> CallFacts:
        return CallFacts(
            intent=self.intent,
            disposition=self.disposition,
            resolved=self.resolved,
            cues=self.cues,
            handovers=self.handovers,
            sentiment_start=_mean(self.first_scores),
            sentiment_end=_mean(self.last_scores),
            summary_line=summary_line(summary),
            repeat_contact=self.repeat_contact,
        )


def summary_line(summary: Summary | None) -> str:
    """One line for a list of earlier calls: the intent and what was promised."""
    if summary is None:
        return ""
    parts = [summary.intent.replace("_", " ") if summary.intent else "no clear intent"]
    if summary.next_steps:
        parts.append(f"promised: {summary.next_steps[0].text}")
    elif summary.steps_tried:
        parts.append(f"tried: {summary.steps_tried[0].text}")
    line = "; ".join(parts)
    return line if len(line) <= SUMMARY_LINE_CHARS else line[: SUMMARY_LINE_CHARS - 1] + "\u2026"


def _mean(scores: list[float]) -> float | None:
    return round(sum(scores) / len(scores), 3) if scores else None
