"""What every protocol parser produces, and the checks every parser shares.

Parsers check types as well as values: any JSON shape or byte string gives a
`ProtocolError` (the protocol's own error answer), never another exception.
A gap in the audio (a pause, a discarded stretch, a jump in timestamps) is
data, `AudioFrames.gap_s`: the call clock moves on by that much and no
silence is made for it. A platform's pause for payment is `CallPause`: the call
stops transcribing until the platform (or the agent) resumes it.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from contract.events import EndReason, Speaker
from streams.errors import ProtocolError
from voice.audio import AudioFormat

_CALL_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
_LANGUAGE = re.compile(r"^(?:[a-z]{2,3}|auto)$")
MAX_JSON_DEPTH = 32  # nesting of a message's arrays and objects; deeper is not a real message
MAX_GAP_S = 86_400.0  # one gap moves a call's clock by at most a day
MAX_REASON_CHARS = 100  # of a platform's reason for a pause: a few words, never a transcript
MAX_NOTE_CHARS = 2_000  # of a person's note for whoever takes the call over
AUTO_LANGUAGE = "auto"
_shown = reprlib.Repr()
_shown.maxstring = _shown.maxother = 40
_shown.maxlevel = 2


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
    samples: np.ndarray  # int16, shape (frames, channels); may have no frames
    channel_speakers: tuple[Speaker, ...]
    # Call-audio seconds the platform did not send before these samples (paused,
    # discarded, a timestamp jump): the clock moves on, no audio is made for them.
    gap_s: float = 0.0

    @classmethod
    def gap(cls, seconds: float, channel_speakers: tuple[Speaker, ...]) -> AudioFrames:
        """Only a gap: no samples, the clock moves on by `seconds` (at most MAX_GAP_S)."""
        empty = np.zeros((0, len(channel_speakers)), dtype=np.int16)
        return cls(empty, channel_speakers, clamp_gap(seconds))


@dataclass(frozen=True, slots=True)
class CallStop:
    reason: EndReason
    detail: str = ""  # the platform's own words for it, when they are not one of ours

    @classmethod
    def said(cls, words: object) -> CallStop:
        """A stop whose reason the platform named in its own words (a string, else "stop")."""
        text = words[:120] if isinstance(words, str) and words else EndReason.STOP.value
        try:
            return cls(EndReason(text))
        except ValueError:
            return cls(EndReason.STOP, text)


@dataclass(frozen=True, slots=True)
class CallPause:
    """The platform paused (`paused`) or resumed the call's transcription: while paused,
    its audio is dropped unheard. `reason` is the platform's own words, "" when it gave none."""

    paused: bool
    reason: str = ""

    @classmethod
    def said(cls, paused: bool, reason: object) -> CallPause:
        """A pause or resume with the reason a message gave (absent is "")."""
        return cls(paused, pause_reason(reason))


@dataclass(frozen=True, slots=True)
class CallTransfer:
    """The call changes hands (to a queue or a person, `to`, when named): whoever takes it
    gets the handover package. `reason` and `note` are the sender's words, "" when none."""

    to: str = ""
    reason: str = ""
    note: str = ""

    @classmethod
    def said(cls, message: Mapping[str, Any]) -> CallTransfer:
        return cls(
            pause_reason(message.get("to")),
            pause_reason(message.get("reason")),
            note_text(message.get("note")),
        )


@dataclass(frozen=True, slots=True)
class Reply:
    """A message the protocol says we must send back (AudioHook's opened, pong, closed)."""

    text: str


ProtocolEvent = CallStart | AudioFrames | CallStop | CallPause | CallTransfer | Reply


def validate_call_id(call_id: object) -> str:
    if not isinstance(call_id, str) or not _CALL_ID.match(call_id):
        raise ProtocolError(
            "bad_call_id",
            "call_id must be 1-128 characters of letters, digits and . _ : @ -",
        )
    return call_id


def parse_json_object(text: str) -> dict[str, Any]:
    """One JSON object, nested at most MAX_JSON_DEPTH deep; NaN and Infinity are not JSON."""
    try:
        message = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ProtocolError("invalid_json", f"message is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise ProtocolError("invalid_json", "message is nested too deeply") from None
    except ValueError as exc:  # a constant, or an integer of more digits than Python reads
        raise ProtocolError("invalid_json", f"message is not valid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("invalid_json", "message must be a JSON object")
    # Brackets can only nest as deep as there are of them: most messages skip the walk.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _depth(message) > MAX_JSON_DEPTH:
        raise ProtocolError("invalid_json", f"message is nested over {MAX_JSON_DEPTH} deep")
    return message


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


def _depth(value: object) -> int:
    """How deep arrays and objects nest, without recursion (stops past the limit)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def shown(value: object) -> str:
    """A client's value, short enough to quote back in an error message."""
    return _shown.repr(value)


def parse_speaker(value: object) -> Speaker:
    try:
        return Speaker(value) if isinstance(value, str) else Speaker("")
    except ValueError:
        raise ProtocolError(
            "bad_speaker", f"speaker must be 'customer' or 'agent', not {shown(value)}"
        ) from None


def parse_language(value: object, name: str = "language") -> str | None:
    """A platform's language as Whisper's code: "en-US" and "EN" are "en"; "auto" stays.
    Absent (None or "") is None; anything else that is not a language is refused."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        primary = value.strip().replace("_", "-").split("-")[0].lower()
        if _LANGUAGE.match(primary):
            return primary
    raise ProtocolError(
        "bad_language",
        f"{name} must be a language code such as 'en' or 'en-US', not {shown(value)}",
    )


def whole_number(value: object, name: str, *, strings: bool = False) -> int:
    """A JSON integer (or an integral float); with `strings`, also its decimal text."""
    if strings and isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        text = value.strip()
        if len(text) <= 9:
            return int(text)
    elif isinstance(value, int) and not isinstance(value, bool):
        return value
    elif isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    raise ProtocolError("bad_format", f"{name} must be a whole number, not {shown(value)}")


def note_text(value: object) -> str:
    """A person's note (a handover note): printable text of at most MAX_NOTE_CHARS, lines
    kept; None or absent is ""; anything else is refused."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProtocolError("bad_note", f"a note must be a string, not {shown(value)}")
    head = value[:MAX_NOTE_CHARS]
    return "".join(c if c.isprintable() or c == "\n" else " " for c in head).strip()


def pause_reason(value: object) -> str:
    """A pause's reason as shown to people: one line of printable text, at most
    MAX_REASON_CHARS (longer is cut); None or absent is ""; anything else is refused."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProtocolError("bad_reason", f"reason must be a string, not {shown(value)}")
    # Looked at only as far as can be kept: a megabyte of reason costs nothing.
    head = value[: 4 * MAX_REASON_CHARS]
    text = " ".join("".join(c if c.isprintable() else " " for c in head).split())
    return text[:MAX_REASON_CHARS]


def clamp_gap(seconds: float) -> float:
    """A gap as the clock may take it: finite, at least 0, at most MAX_GAP_S."""
    return min(max(seconds, 0.0), MAX_GAP_S) if math.isfinite(seconds) else 0.0
