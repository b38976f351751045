"""What every protocol parser produces."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from contract.events import EndReason, Speaker
from streams.errors import ProtocolError
from voice.audio import AudioFormat

_CALL_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


@dataclass(frozen=True, slots=True)
class CallStart:
    call_id: str
    audio_format: AudioFormat
    channel_speakers: tuple[Speaker, ...]  # which speaker each channel carries
    language: str | None = None  # fixed by the platform, or None to use the default
    agent_language: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class AudioFrames:
    samples: np.ndarray  # int16, shape (frames, channels)
    channel_speakers: tuple[Speaker, ...]


@dataclass(frozen=True, slots=True)
class CallStop:
    reason: EndReason
    detail: str = ""  # the platform's own words for it, when they are not one of ours

    @classmethod
    def said(cls, words: object) -> CallStop:
        """A stop whose reason the platform named in its own words."""
        text = str(words)[:120]
        try:
            return cls(EndReason(text))
        except ValueError:
            return cls(EndReason.STOP, text)


@dataclass(frozen=True, slots=True)
class Reply:
    """A message the protocol says we must send back (AudioHook's opened, pong, closed)."""

    text: str


ProtocolEvent = CallStart | AudioFrames | CallStop | Reply


def validate_call_id(call_id: object) -> str:
    if not isinstance(call_id, str) or not _CALL_ID.match(call_id):
        raise ProtocolError(
            "bad_call_id",
            "call_id must be 1-128 characters of letters, digits and . _ : @ -",
        )
    return call_id


def parse_json_object(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError("invalid_json", f"message is not valid JSON: {exc.msg}") from None
    if not isinstance(message, dict):
        raise ProtocolError("invalid_json", "message must be a JSON object")
    return message


def parse_speaker(value: object) -> Speaker:
    try:
        return Speaker(str(value))
    except ValueError:
        raise ProtocolError(
            "bad_speaker", f"speaker must be 'customer' or 'agent', not {value!r}"
        ) from None
