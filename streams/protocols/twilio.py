"""Twilio Media Streams at `ws /v1/twilio`.

Messages (JSON text): `connected`, `start` (callSid, tracks, customParameters,
mediaFormat), `media` (track inbound = customer / outbound = agent, timestamp in
ms, base64 mu-law 8 kHz payload), `dtmf`, `mark`, `stop`. The call id is
`customParameters.call_id` when given, else the callSid. Gaps in a track's
timestamps are filled with silence so both speakers stay on one timeline.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from contract.codec import encode_error
from contract.events import EndReason, Speaker
from streams.errors import ProtocolError
from streams.protocols.base import (
    AudioFrames,
    CallStart,
    CallStop,
    ProtocolEvent,
    parse_json_object,
    validate_call_id,
)
from voice.audio import AudioFormat, Encoding, decode_pcm16
from voice.errors import AudioFormatError

TWILIO_FORMAT = AudioFormat(Encoding.MULAW, 8000, 1)
_SAMPLES_PER_MS = 8
_GAP_TOLERANCE_MS = 40  # jitter below this is not a gap
_TRACKS = {"inbound": Speaker.CUSTOMER, "outbound": Speaker.AGENT}
_IGNORED = frozenset({"connected", "mark", "dtmf"})


class TwilioParser:
    close_reason = EndReason.CLIENT_DISCONNECTED  # a socket that closes before stop

    def __init__(self) -> None:
        self._start: CallStart | None = None
        self._stream_sid = ""
        self._samples_seen: dict[Speaker, int] = {}
        self._stopped = False
        self.custom_parameters: dict[str, Any] = {}

    def feed_text(self, text: str) -> list[ProtocolEvent]:
        message = parse_json_object(text)
        event = message.get("event")
        if event == "start":
            return [self._on_start(message)]
        if event == "media":
            return self._on_media(message)
        if event == "stop":
            self._stopped = True
            return [CallStop(EndReason.STOP)] if self._start else []
        if event in _IGNORED:
            return []
        raise ProtocolError("unknown_message", f"unknown Twilio event {event!r}")

    def feed_bytes(self, data: bytes) -> list[ProtocolEvent]:
        raise ProtocolError("binary_frame", "Twilio Media Streams sends JSON text frames only")

    def error_message(self, call_id: str | None, code: str, message: str) -> str:
        return encode_error(call_id, code, message)

    def _on_start(self, message: dict[str, Any]) -> CallStart:
        if self._start is not None:
            raise ProtocolError("duplicate_start", "the stream has already started")
        start = message.get("start")
        if not isinstance(start, dict):
            raise ProtocolError("bad_start", "start message without a 'start' object")
        fmt = start.get("mediaFormat") or {}
        if (
            fmt.get("encoding", "audio/x-mulaw") != "audio/x-mulaw"
            or int(fmt.get("sampleRate", 8000)) != 8000
        ):
            raise ProtocolError(
                "bad_format", f"unsupported Twilio media format {fmt!r} (expected mu-law 8 kHz)"
            )
        params = start.get("customParameters") or {}
        if not isinstance(params, dict):
            raise ProtocolError("bad_start", "customParameters must be an object")
        self.custom_parameters = params
        call_id = validate_call_id(params.get("call_id") or start.get("callSid"))
        self._stream_sid = str(message.get("streamSid") or start.get("streamSid") or "")
        tracks = start.get("tracks") or ["inbound"]
        speakers = tuple(_TRACKS[t] for t in tracks if t in _TRACKS) or (Speaker.CUSTOMER,)
        metadata = {
            "protocol": "twilio",
            "call_sid": start.get("callSid"),
            "stream_sid": self._stream_sid,
            "tracks": [s.value for s in speakers],
            "custom_parameters": {k: v for k, v in params.items() if k != "token"},
        }
        self._start = CallStart(
            call_id=call_id,
            audio_format=TWILIO_FORMAT,
            channel_speakers=speakers,
            language=params.get("language") or None,
            agent_language=params.get("agent_language") or None,
            metadata=metadata,
        )
        return self._start

    def _on_media(self, message: dict[str, Any]) -> list[ProtocolEvent]:
        if self._start is None:
            raise ProtocolError("not_started", "media before start: send the start message first")
        if self._stopped:
            raise ProtocolError("after_stop", "media after stop is ignored")
        media = message.get("media")
        if not isinstance(media, dict):
            raise ProtocolError("bad_media", "media message without a 'media' object")
        track = media.get("track", "inbound")
        speaker = _TRACKS.get(track)
        if speaker is None:
            raise ProtocolError("bad_track", f"unknown track {track!r} (inbound or outbound)")
        try:
            payload = base64.b64decode(media.get("payload", ""), validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ProtocolError("bad_base64", "media payload is not valid base64") from None
        try:
            samples = decode_pcm16(payload, TWILIO_FORMAT)
        except AudioFormatError as exc:
            raise ProtocolError("bad_audio", str(exc)) from None
        return [AudioFrames(self._fill_gap(speaker, media.get("timestamp"), samples), (speaker,))]

    def _fill_gap(self, speaker: Speaker, timestamp: object, samples: np.ndarray) -> np.ndarray:
        seen = self._samples_seen.get(speaker, 0)
        try:
            expected = int(str(timestamp)) * _SAMPLES_PER_MS
        except ValueError:
            expected = seen
        gap = expected - seen
        if gap > _GAP_TOLERANCE_MS * _SAMPLES_PER_MS:
            samples = np.concatenate([np.zeros((gap, 1), dtype=np.int16), samples])
        self._samples_seen[speaker] = seen + len(samples)
        return samples
