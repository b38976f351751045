"""Typed values that leave the `assist` package: the co-pilot's events.

Every event that a segment caused carries that segment's id (`segment_id`), so a
client can trace a cue, a data point or a suggestion back to the words behind it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class SuggestionKind(enum.StrEnum):
    KNOWLEDGE = "knowledge"
    NEXT_ACTION = "next_action"


@dataclass(frozen=True, slots=True)
class Sentiment:
    segment_id: str
    speaker: str
    score: float  # -1 (hostile) .. 1 (delighted), from the words
    arousal: float  # 0 (flat) .. 1 (shouting), from the voice against this speaker's start
    spike: bool
    reason: str  # why the score and arousal are what they are; empty when unremarkable
    t_end: float


@dataclass(frozen=True, slots=True)
class IntentDetected:
    segment_id: str
    intent: str
    description: str
    confidence: float
    evidence: tuple[str, ...]  # the caller's words that show it


@dataclass(frozen=True, slots=True)
class DataPoint:
    kind: str  # account_number, order_number, amount, date, email, phone, ...
    value: str  # normalised: "4471", "89.99 USD", "2025-03-01" or the spoken phrase
    text: str  # as it was transcribed
    segment_id: str


@dataclass(frozen=True, slots=True)
class Item:
    """One extractive summary line, with the segment it was taken from."""

    text: str
    segment_id: str
    speaker: str


@dataclass(frozen=True, slots=True)
class Summary:
    intent: str | None
    steps_tried: tuple[Item, ...] = ()
    data_points: tuple[DataPoint, ...] = ()
    next_steps: tuple[Item, ...] = ()
    open_questions: tuple[Item, ...] = ()
    segment_id: str = ""  # the segment whose arrival changed it


@dataclass(frozen=True, slots=True)
class Suggestion:
    segment_id: str
    kind: SuggestionKind
    title: str
    body: str
    score: float
    source: str  # knowledge file, or the rule / intent that proposes the action
    why: str


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    speaker: str
    text: str
    t_start: float


@dataclass(frozen=True, slots=True)
class HandoverCue:
    """To the agent's desktop: hand over now, and here is everything the next person needs."""

    rule: str
    reason: str
    urgency: Severity
    evidence: tuple[str, ...]
    open_items: tuple[str, ...]
    summary: Summary
    transcript_tail: tuple[TranscriptLine, ...]
    segment_id: str


@dataclass(frozen=True, slots=True)
class Alert:
    """To every supervisor: the same context as the cue, for the person who may step in."""

    rule: str
    severity: Severity
    reason: str
    evidence: tuple[str, ...]
    open_items: tuple[str, ...]
    summary: Summary
    transcript_tail: tuple[TranscriptLine, ...]
    segment_id: str


@dataclass(frozen=True, slots=True)
class Translation:
    """A final segment in the agent's language. `engine` says who translated it: "argos",
    "whisper" (speech translation), or "none" with a `note` when nothing could."""

    segment_id: str
    source_language: str
    target_language: str
    text: str
    engine: str
    note: str = ""


AssistEvent = Translation | Sentiment | IntentDetected | Summary | Suggestion | HandoverCue | Alert
