"""Genesys Cloud AudioHook, protocol version 2, at `ws /v1/audiohook`.

Client messages (JSON text): every one has `version` "2", `id` (the session),
`type`, `seq` (1, 2, 3 ...), `serverseq` (the last server seq it saw),
`position` (ISO 8601 duration of audio so far) and `parameters`:

    open      -> opened   one offered media format chosen: PCMU or L16, 8 kHz,
                          channels ["external", "internal"] (customer, agent) or one;
                          `supportedLanguages` too when the open asks for them
    ping      -> pong
    update    -> updated  (a new language)
    paused / resumed      the client paused its audio (Genesys pauses a conversation's
                          AudioHook for a secure flow or when asked): `CallPause`, so
                          the call shows as paused and nothing is transcribed until
                          `resumed`. The protocol gives no reason (the reason is "").
                          `resumed`'s `discarded` is a gap, as below.
    discarded             audio not sent: the gap moves the call's clock on
                          (`AudioFrames.gap_s`, no silence made), so times stay on
                          the call's own timeline
    close     -> closed   the call ends
    error                 logged

Binary frames carry audio only while the session is open and not paused:
interleaved samples in the order of the chosen `channels`. A violation of the
protocol (audio before `open`, a wrong `seq`, unsupported media) gets the
protocol's own answer, `disconnect` with reason "error" and an `info`, after
which audio is ignored until the client sends `close`. Authentication is the
`X-API-KEY` header, checked at the handshake (see server.py), and the request's
signature when a client secret is configured (streams/protocols/signature.py).

A connection probe (conversationId all zeros, as Genesys sends to test an
integration) is answered like any session (opened, pong, closed) but is no
call: no CallStart, and its audio is read and dropped.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contract.events import EndReason, Speaker
from streams.errors import ProtocolError
from streams.protocols.base import (
    AudioFrames,
    CallPause,
    CallStart,
    CallStop,
    ProtocolEvent,
    Reply,
    clamp_gap,
    parse_json_object,
    parse_language,
    shown,
    validate_call_id,
)
from voice.audio import AudioFormat, Encoding, decode_pcm16
from voice.errors import AudioFormatError

VERSION = "2"
RATE_HZ = 8000
MAX_TEXT_CHARS = 65_535  # the protocol's own limit for a text message
CHANNEL_SPEAKERS = {"external": Speaker.CUSTOMER, "internal": Speaker.AGENT}
FORMATS = {"PCMU": Encoding.MULAW, "L16": Encoding.PCM16}
_DURATION = re.compile(r"^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$")
PROBE_CONVERSATION_ID = "00000000-0000-0000-0000-000000000000"
# What `opened` lists when the client's open asks for supportedLanguages: the languages
# Whisper transcribes well, as Genesys names them. The server can pass its own list.
DEFAULT_SUPPORTED_LANGUAGES = (
    "en-US",
    "en-GB",
    "de-DE",
    "es-ES",
    "fr-FR",
    "it-IT",
    "nl-NL",
    "pt-BR",
)
_CLIENT_TYPES = frozenset(
    {"open", "ping", "update", "paused", "resumed", "discarded", "close", "error"}
)


@dataclass(frozen=True, slots=True)
class AudioHookOptions:
    """`[audiohook]`: what Genesys is told and how its requests are checked."""

    # base64, as entered in Genesys; when set, every handshake's RFC 9421 signature
    # must verify with it (see streams/protocols/signature.py)
    client_secret: str | None = None
    supported_languages: tuple[str, ...] = DEFAULT_SUPPORTED_LANGUAGES  # for `opened`


class State(enum.Enum):
    PREPARING = "preparing"  # before open
    ACTIVE = "active"
    PAUSED = "paused"
    SIGNALED_ERROR = "signaled-error"  # we sent disconnect; waiting for close
    CLOSED = "closed"


class AudioHookParser:
    close_reason = EndReason.CLIENT_DISCONNECTED  # a socket that drops before close

    def __init__(self, languages: Sequence[str] = DEFAULT_SUPPORTED_LANGUAGES) -> None:
        self.state = State.PREPARING
        self.session_id = ""
        self.probe = False  # a connection probe: answered, but no call
        self._languages = list(languages)
        self._seq = 0  # ours
        self._clientseq = 0  # theirs, last accepted
        self._media: dict[str, Any] | None = None
        self._start: CallStart | None = None

    # --- websocket messages ---------------------------------------------------------
    def feed_text(self, text: str) -> list[ProtocolEvent]:
        if len(text) > MAX_TEXT_CHARS:
            raise ProtocolError("too_large", f"text message too large ({len(text)} characters)")
        message = parse_json_object(text)
        self._check_envelope(message)
        kind, parameters = message["type"], message["parameters"]
        if kind == "open":
            return self._on_open(parameters)
        if kind == "ping":
            return [self._reply("pong", {})]
        if kind == "update":
            return [self._reply("updated", {})]
        if kind == "paused":
            return self._on_paused()
        if kind == "resumed":
            return self._on_resumed(parameters)
        if kind == "discarded":
            return self._silence(parameters.get("discarded"))
        if kind == "close":
            return self._on_close(parameters)
        return []  # "error": the client reports a problem of its own; nothing to answer

    def feed_bytes(self, data: bytes) -> list[ProtocolEvent]:
        if self.state is State.SIGNALED_ERROR:
            return []  # already told the client; it will close
        if self.state is not State.ACTIVE or self._start is None:
            raise ProtocolError("not_active", f"received audio in state {self.state.value}")
        if self.probe:
            return []  # a probe's audio tests the connection; it is no call's audio
        try:
            samples = decode_pcm16(data, self._start.audio_format)
        except AudioFormatError as exc:
            raise ProtocolError(
                "bad_audio", f"binary data not a valid audio frame: {exc}"
            ) from None
        return [AudioFrames(samples, self._start.channel_speakers)]

    def error_message(self, call_id: str | None, code: str, message: str) -> str:
        """A violation, answered the AudioHook way: disconnect with reason error."""
        if self.state is not State.CLOSED:
            self.state = State.SIGNALED_ERROR
        return self._reply(
            "disconnect", {"reason": "error", "info": f"Client Error: {message}"}
        ).text

    # --- client messages --------------------------------------------------------------
    def _check_envelope(self, message: dict[str, Any]) -> None:
        if message.get("version") != VERSION:
            raise ProtocolError(
                "bad_version", f"version must be '2', not {message.get('version')!r}"
            )
        kind, seq = message.get("type"), message.get("seq")
        if not isinstance(kind, str):
            raise ProtocolError("bad_message", "message not a well-formed client message (type)")
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise ProtocolError("bad_message", "message not a well-formed client message (seq)")
        if not isinstance(message.get("parameters"), dict) or not isinstance(
            message.get("id"), str
        ):
            raise ProtocolError("bad_message", "message not a well-formed client message")
        if seq != self._clientseq + 1:
            raise ProtocolError(
                "bad_seq", f"invalid seq value {seq} (expected {self._clientseq + 1})"
            )
        self._clientseq = seq
        serverseq = message.get("serverseq", 0)
        if not isinstance(serverseq, int) or isinstance(serverseq, bool) or serverseq > self._seq:
            raise ProtocolError("bad_serverseq", f"invalid serverseq value {shown(serverseq)}")
        if self.session_id and message["id"] != self.session_id:
            raise ProtocolError("bad_session", "session identifier mismatch")
        self.session_id = message["id"]
        if kind not in _CLIENT_TYPES:
            raise ProtocolError(
                "unknown_message", f"{shown(kind)} is not a supported client message"
            )

    def _on_open(self, parameters: dict[str, Any]) -> list[ProtocolEvent]:
        if self.state is not State.PREPARING:
            raise ProtocolError("duplicate_open", f"open in state {self.state.value}")
        media = _choose_media(parameters.get("media"))
        if media is None:
            raise ProtocolError(
                "unsupported_media",
                "no supported media offered (PCMU or L16 at 8000 Hz, channels external/internal)",
            )
        call_id = validate_call_id(parameters.get("conversationId"))
        language = parse_language(parameters.get("language"))
        asks_languages = parameters.get("supportedLanguages", False)
        if not isinstance(asks_languages, bool):
            raise ProtocolError("bad_message", "supportedLanguages must be true or false")
        channels = media["channels"]
        participant = parameters.get("participant") or {}
        custom = parameters.get("customConfig") or {}
        self._media = media
        self.probe = call_id == PROBE_CONVERSATION_ID
        self._start = CallStart(
            call_id=call_id,
            audio_format=AudioFormat(FORMATS[media["format"]], RATE_HZ, len(channels)),
            channel_speakers=tuple(CHANNEL_SPEAKERS[c] for c in channels),
            language=language,
            metadata={
                "protocol": "audiohook",
                "session_id": self.session_id,
                "organization_id": parameters.get("organizationId"),
                "participant": participant if isinstance(participant, dict) else {},
                "media": media,
                "custom_config": custom if isinstance(custom, dict) else {},  # record=false
            },
        )
        self.state = State.ACTIVE
        opened: dict[str, Any] = {"media": [media], "startPaused": False}
        if asks_languages:
            opened["supportedLanguages"] = list(self._languages)
        reply = self._reply("opened", opened)
        return [reply] if self.probe else [self._start, reply]

    def _on_paused(self) -> list[ProtocolEvent]:
        if self.state is not State.ACTIVE:
            return []
        self.state = State.PAUSED
        return [CallPause(paused=True)] if self._is_call else []

    def _on_resumed(self, parameters: dict[str, Any]) -> list[ProtocolEvent]:
        if self.state is not State.PAUSED:
            return []
        self.state = State.ACTIVE
        # the gap first: the clock moves over the pause while the call is still paused
        resumed: list[ProtocolEvent] = [CallPause(paused=False)] if self._is_call else []
        return [*self._silence(parameters.get("discarded")), *resumed]

    def _on_close(self, parameters: dict[str, Any]) -> list[ProtocolEvent]:
        was_open = self._start is not None and self.state is not State.CLOSED and not self.probe
        self.state = State.CLOSED
        reason = parameters.get("reason", "end")
        events: list[ProtocolEvent] = [CallStop.said("stop" if reason == "end" else reason)]
        return [*(events if was_open else []), self._reply("closed", {})]

    # --- helpers ----------------------------------------------------------------------
    @property
    def _is_call(self) -> bool:
        """Opened, and not a connection probe: its pauses are a call's."""
        return self._start is not None and not self.probe

    def _silence(self, duration: object) -> list[ProtocolEvent]:
        """Audio the client did not send, as a gap: the call's clock moves on by that much
        (no silence is made for it), so later times stay on the conversation's clock."""
        if self._start is None or self.probe:
            return []
        seconds = parse_duration(duration)
        if seconds * RATE_HZ < 1:
            return []
        return [AudioFrames.gap(seconds, self._start.channel_speakers)]

    def _reply(self, kind: str, parameters: dict[str, Any]) -> Reply:
        self._seq += 1
        message = {
            "version": VERSION,
            "type": kind,
            "seq": self._seq,
            "clientseq": self._clientseq,
            "id": self.session_id,
            "parameters": parameters,
        }
        return Reply(json.dumps(message, separators=(",", ":")))


def _choose_media(offers: object) -> dict[str, Any] | None:
    """The first offer we can take, as it was offered."""
    if not isinstance(offers, list):
        return None
    for offer in offers:
        if not isinstance(offer, dict):
            continue
        channels, media_format = offer.get("channels"), offer.get("format")
        if (
            offer.get("type", "audio") == "audio"
            and isinstance(media_format, str)
            and media_format in FORMATS
            and offer.get("rate") == RATE_HZ
            and isinstance(channels, list)
            and 1 <= len(channels) <= 2
            and all(isinstance(c, str) and c in CHANNEL_SPEAKERS for c in channels)
            and len(set(channels)) == len(channels)
        ):
            return offer
    return None


def parse_duration(value: object) -> float:
    """Seconds in an ISO 8601 duration such as PT12.34S; 0 when absent, malformed or
    too long to be a real one (over a day: see `base.clamp_gap`)."""
    match = _DURATION.match(value) if isinstance(value, str) and len(value) <= 64 else None
    if not match:
        return 0.0
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return clamp_gap(hours * 3600 + minutes * 60 + seconds)
