"""Audio-fork websockets at `ws /v1/fork`: FreeSWITCH mod_audio_fork and jambonz `listen`.

One JSON text frame of metadata first, then binary L16 frames (16-bit
little-endian PCM), mono or stereo (caller and callee interleaved), 8 or 16 kHz.
Subprotocols `audio.drachtio.org` and `audio.jambonz.org`. The call ends when
the platform closes the socket.

The format comes from the metadata when it says (jambonz: `sampleRate`,
`mixType`; ours: `sample_rate`, `channels`), else from the URL query
(`?sample_rate=16000&channels=2`, as a FreeSWITCH `uuid_audio_fork` URL can
carry), else 8 kHz mono. Stereo is caller (channel 0) and callee (channel 1):
the caller is the customer unless `direction` is "outbound". The call id is
`call_id`, `callSid` or `uuid` from the metadata or the query.

Pause for payment. Neither platform defines a pause message (jambonz's own
`listen` pause, and mod_audio_fork's `uuid_audio_fork <uuid> pause`, only stop
the audio), but mod_audio_fork sends any text mid-call with
`uuid_audio_fork <uuid> send_text <json>`, so a dialplan or ESL script says it
the way our own protocol does:

    uuid_audio_fork <uuid> send_text {"type":"pause","reason":"payment"}
    uuid_audio_fork <uuid> send_text {"type":"resume"}

(then, if it likes, `uuid_audio_fork <uuid> pause` / `resume` so that no audio
flows meanwhile). Every other later text frame is ignored as before (jambonz
sends none; FreeSWITCH scripts send DTMF notes and the like).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from contract.codec import encode_error
from contract.events import EndReason, Speaker
from streams.errors import ProtocolError
from streams.protocols.base import (
    AudioFrames,
    CallPause,
    CallStart,
    CallTransfer,
    ProtocolEvent,
    parse_json_object,
    parse_language,
    shown,
    validate_call_id,
    whole_number,
)
from voice.audio import AudioFormat, Encoding, decode_pcm16
from voice.errors import AudioFormatError

SUBPROTOCOLS = ("audio.drachtio.org", "audio.jambonz.org")
DEFAULT_RATE_HZ = 8000
_MIX_CHANNELS = {"mono": 1, "mixed": 1, "stereo": 2}


class ForkParser:
    close_reason = EndReason.STOP  # closing the socket is how these platforms end a call

    def __init__(self, query: Mapping[str, str] | None = None) -> None:
        self._query = dict(query or {})
        self._start: CallStart | None = None

    def feed_text(self, text: str) -> list[ProtocolEvent]:
        message = parse_json_object(text)
        if self._start is not None:
            return self._later_text(message)
        self._start = self._call_start(message)
        return [self._start]

    def feed_bytes(self, data: bytes) -> list[ProtocolEvent]:
        if self._start is None:
            raise ProtocolError("not_started", "audio before the metadata frame")
        try:
            samples = decode_pcm16(data, self._start.audio_format)
        except AudioFormatError as exc:
            raise ProtocolError("bad_audio", str(exc)) from None
        return [AudioFrames(samples, self._start.channel_speakers)]

    def error_message(self, call_id: str | None, code: str, message: str) -> str:
        return encode_error(call_id, code, message)

    def _later_text(self, message: dict[str, Any]) -> list[ProtocolEvent]:
        """A text frame after the metadata: a pause, a resume or a transfer, else nothing
        of ours."""
        kind = message.get("type")
        if kind in ("pause", "resume"):
            return [CallPause.said(kind == "pause", message.get("reason"))]
        if kind == "transfer":
            return [CallTransfer.said(message)]
        return []

    def _call_start(self, metadata: dict[str, Any]) -> CallStart:
        def setting(*names: str) -> Any:
            for name in names:
                if metadata.get(name) not in (None, ""):
                    return metadata[name]
                if self._query.get(name):
                    return self._query[name]
            return None

        call_id = setting("call_id", "callSid", "call_sid", "uuid") or f"fork-{uuid.uuid4()}"
        rate = _whole(setting("sample_rate", "sampleRate") or DEFAULT_RATE_HZ, "sample_rate")
        mix = setting("mixType", "mix_type")
        if mix is not None and _MIX_CHANNELS.get(mix if isinstance(mix, str) else "") is None:
            raise ProtocolError(
                "bad_format", f"mixType must be mono, mixed or stereo, not {shown(mix)}"
            )
        channels = (
            _MIX_CHANNELS[mix] if mix is not None else _whole(setting("channels") or 1, "channels")
        )
        direction = setting("direction")
        outbound = isinstance(direction, str) and direction.lower() == "outbound"
        caller, callee = (
            (Speaker.AGENT, Speaker.CUSTOMER) if outbound else (Speaker.CUSTOMER, Speaker.AGENT)
        )
        try:
            fmt = AudioFormat(Encoding.PCM16, rate, channels)
        except AudioFormatError as exc:
            raise ProtocolError("bad_format", str(exc)) from None
        return CallStart(
            call_id=validate_call_id(str(call_id) if isinstance(call_id, int) else call_id),
            audio_format=fmt,
            channel_speakers=(caller, callee) if channels == 2 else (caller,),
            language=parse_language(setting("language")),
            metadata={"protocol": "fork", **{k: v for k, v in metadata.items() if k != "token"}},
        )


def _whole(value: object, name: str) -> int:
    """A whole number from the metadata (a JSON number or its text) or the URL (text)."""
    return whole_number(value, name, strings=True)
