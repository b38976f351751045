"""Typed values that leave the `voice` package."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Speaker(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    t_start: float
    t_end: float
    probability: float


@dataclass(frozen=True, slots=True)
class TranscriptPartial:
    """The newest, still-changing words of one speaker; replaces the previous partial."""

    speaker: Speaker
    text: str
    t_start: float
    t_end: float
    language: str


@dataclass(frozen=True, slots=True)
class TranscriptFinal:
    """A stable piece of transcript: never revised once emitted."""

    segment_id: str
    speaker: Speaker
    text: str
    t_start: float
    t_end: float
    language: str
    words: tuple[Word, ...]


TranscriptUpdate = TranscriptPartial | TranscriptFinal
