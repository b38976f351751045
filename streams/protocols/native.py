"""Our own protocol at `ws /v1/ingest`.

{"type": "start", "call_id": "c1", "sample_rate": 16000, "encoding": "pcm16",
 "channels": 2, "speaker": "customer", "language": "en", "agent_language": "en",
 "metadata": {...}}
<binary audio frames: interleaved when channels = 2 (channel 0 customer, 1 agent)>
{"type": "pause", "reason": "payment"}   stop transcribing (the reason is optional)
{"type": "resume"}                       transcribe again
{"type": "transfer", "to": "billing", "reason": "..."}
                                         the call changes hands: a handover package
{"type": "stop"}

While a call is paused its audio may keep coming or stop: either way none of it
is heard, and the call's clock moves on by what comes. A pause or resume that
changes nothing (a second pause) is no error and publishes nothing.
"""

from __future__ import annotations

from typing import Any

from contract.codec import encode_error
from contract.events import EndReason, Speaker
from streams.errors import ProtocolError
from streams.protocols.base import (
    AudioFrames,
    CallPause,
    CallStart,
    CallStop,
    CallTransfer,
    ProtocolEvent,
    parse_json_object,
    parse_language,
    parse_speaker,
    shown,
    validate_call_id,
    whole_number,
)
from voice.audio import AudioFormat, decode_pcm16, parse_encoding
from voice.errors import AudioFormatError


class NativeParser:
    close_reason = EndReason.CLIENT_DISCONNECTED  # a socket that closes before stop

    def __init__(self) -> None:
        self._start: CallStart | None = None
        self._stopped = False

    def feed_text(self, text: str) -> list[ProtocolEvent]:
        message = parse_json_object(text)
        kind = message.get("type", message.get("event"))
        if kind == "start":
            return [self._on_start(message)]
        if kind == "stop":
            self._require_started("stop")
            self._stopped = True
            return [CallStop.said(message.get("reason", "stop"))]
        if kind in ("pause", "resume"):
            self._require_started(kind)
            return [CallPause.said(kind == "pause", message.get("reason"))]
        if kind == "transfer":
            self._require_started(kind)
            return [CallTransfer.said(message)]
        raise ProtocolError("unknown_message", f"unknown message type {shown(kind)}")

    def feed_bytes(self, data: bytes) -> list[ProtocolEvent]:
        start = self._require_started("audio")
        if self._stopped:
            raise ProtocolError("after_stop", "audio after stop is ignored")
        try:
            samples = decode_pcm16(data, start.audio_format)
        except AudioFormatError as exc:
            raise ProtocolError("bad_audio", str(exc)) from None
        return [AudioFrames(samples, start.channel_speakers)]

    def error_message(self, call_id: str | None, code: str, message: str) -> str:
        return encode_error(call_id, code, message)

    def _on_start(self, message: dict[str, Any]) -> CallStart:
        if self._start is not None:
            raise ProtocolError("duplicate_start", "the call has already started")
        call_id = validate_call_id(message.get("call_id"))
        encoding = message.get("encoding", "pcm16")
        if not isinstance(encoding, str):
            raise ProtocolError("bad_format", f"encoding must be a string, not {shown(encoding)}")
        try:
            fmt = AudioFormat(
                encoding=parse_encoding(encoding),
                sample_rate_hz=whole_number(message.get("sample_rate", 16000), "sample_rate"),
                channels=whole_number(message.get("channels", 1), "channels"),
            )
        except AudioFormatError as exc:
            raise ProtocolError("bad_format", str(exc)) from None
        if fmt.channels == 2:
            speakers: tuple[Speaker, ...] = (Speaker.CUSTOMER, Speaker.AGENT)
        else:
            speakers = (parse_speaker(message.get("speaker", Speaker.CUSTOMER.value)),)
        metadata = message.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ProtocolError("bad_metadata", "metadata must be a JSON object")
        self._start = CallStart(
            call_id=call_id,
            audio_format=fmt,
            channel_speakers=speakers,
            language=parse_language(message.get("language")),
            agent_language=parse_language(message.get("agent_language"), "agent_language"),
            metadata=metadata,
        )
        return self._start

    def _require_started(self, what: str) -> CallStart:
        if self._start is None:
            raise ProtocolError("not_started", f"{what} before start: send a start message first")
        return self._start
