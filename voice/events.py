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
class Prosody:
    """How a final segment sounded (see voice/prosody.py): the voice side of sentiment."""

    loudness_dbfs: float
    pitch_hz: float | None  # median over voiced frames; None when nothing was voiced
    voiced_s: float


@dataclass(frozen=True, slots=True)
class TranscriptPartial:
    """The newest, still-changing words of one speaker; replaces the previous partial."""

    speaker: Speaker
    text: str
    t_start: float
    t_end: float
    language: str
    language_probability: float = 1.0  # 1.0 where the platform set the language


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
    prosody: Prosody | None = None
    language_probability: float = 1.0  # 1.0 where the platform set the language


TranscriptUpdate = TranscriptPartial | TranscriptFinal
