"""Twilio Media Streams at `ws /v1/twilio`.

Messages (JSON text): `connected`, `start` (callSid, tracks, customParameters,
mediaFormat), `media` (track inbound = customer / outbound = agent, timestamp in
ms, base64 mu-law 8 kHz payload), `dtmf`, `mark`, `stop`. The call id is
`customParameters.call_id` when given, else the callSid. A gap in a track's
timestamps is reported as `AudioFrames.gap_s` (no silence is made for it), so
both speakers stay on one timeline whatever a timestamp claims.

Media Streams has no pause message (only `stop`), so a Twilio call is paused for
payment from the agent's desktop ("Pause for payment"), or by stopping the
`<Stream>` and starting it again with the same `call_id` parameter afterwards
(the call's record then resumes where it ended).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from contract.codec import encode_error
from contract.events import EndReason, Speaker
from streams.errors import ProtocolError
from streams.protocols.base import (
    AudioFrames,
    CallStart,
    CallStop,
    ProtocolEvent,
    clamp_gap,
    parse_json_object,
    parse_language,
    shown,
    validate_call_id,
)
from voice.audio import AudioFormat, Encoding, decode_pcm16
from voice.errors import AudioFormatError

TWILIO_FORMAT = AudioFormat(Encoding.MULAW, 8000, 1)
_SAMPLES_PER_MS = 8
_MAX_TIMESTAMP_DIGITS = 15  # ms: some 30,000 years; longer is not a timestamp
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
        if isinstance(event, str) and event in _IGNORED:
            return []
        raise ProtocolError("unknown_message", f"unknown Twilio event {shown(event)}")

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
        _check_media_format(start.get("mediaFormat") or {})
        params = start.get("customParameters") or {}
        if not isinstance(params, dict):
            raise ProtocolError("bad_start", "customParameters must be an object")
        call_id = validate_call_id(params.get("call_id") or start.get("callSid"))
        language = parse_language(params.get("language"))
        agent_language = parse_language(params.get("agent_language"), "agent_language")
        stream_sid = message.get("streamSid") or start.get("streamSid") or ""
        tracks = start.get("tracks") or ["inbound"]
        if not isinstance(tracks, list):
            raise ProtocolError("bad_start", f"tracks must be a list, not {shown(tracks)}")
        speakers = tuple(_TRACKS[t] for t in tracks if isinstance(t, str) and t in _TRACKS) or (
            Speaker.CUSTOMER,
        )
        self.custom_parameters = params
        self._stream_sid = stream_sid if isinstance(stream_sid, str) else ""
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
            language=language,
            agent_language=agent_language,
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
        speaker = _TRACKS.get(track) if isinstance(track, str) else None
        if speaker is None:
            raise ProtocolError("bad_track", f"unknown track {shown(track)} (inbound or outbound)")
        encoded = media.get("payload", "")
        if not isinstance(encoded, str):
            raise ProtocolError("bad_base64", "media payload must be a base64 string")
        try:
            payload = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("bad_base64", "media payload is not valid base64") from None
        try:
            samples = decode_pcm16(payload, TWILIO_FORMAT)
        except AudioFormatError as exc:
            raise ProtocolError("bad_audio", str(exc)) from None
        gap_s = self._gap_s(speaker, media.get("timestamp"), len(samples))
        return [AudioFrames(samples, (speaker,), gap_s)]

    def _gap_s(self, speaker: Speaker, timestamp: object, frames: int) -> float:
        """Seconds this track's timestamp says were not sent before this frame. The clock
        moves on by that much (at most a day a frame); no silence is made for it."""
        seen = self._samples_seen.get(speaker, 0)
        expected = _timestamp_samples(timestamp)
        gap = 0 if expected is None else expected - seen
        if gap <= _GAP_TOLERANCE_MS * _SAMPLES_PER_MS:
            gap = 0  # jitter, a repeat, or time running backwards: no gap
        gap_s = clamp_gap(gap / TWILIO_FORMAT.sample_rate_hz)
        self._samples_seen[speaker] = seen + round(gap_s * TWILIO_FORMAT.sample_rate_hz) + frames
        return gap_s


def _timestamp_samples(timestamp: object) -> int | None:
    """A media timestamp (milliseconds: Twilio's decimal string, or a JSON integer) in
    8 kHz samples; None when it is neither."""
    ms: int | None = None
    if isinstance(timestamp, str):
        text = timestamp.strip()
        if text.isascii() and text.isdigit() and len(text) <= _MAX_TIMESTAMP_DIGITS:
            ms = int(text)
    elif isinstance(timestamp, int) and not isinstance(timestamp, bool):
        ms = timestamp if 0 <= timestamp < 10**_MAX_TIMESTAMP_DIGITS else None
    return None if ms is None else ms * _SAMPLES_PER_MS


def _check_media_format(fmt: object) -> None:
    """Twilio sends mu-law at 8 kHz, mono; anything else is refused."""
    if isinstance(fmt, dict):
        encoding = fmt.get("encoding", "audio/x-mulaw")
        rate = fmt.get("sampleRate", 8000)
        channels = fmt.get("channels", 1)
        if encoding == "audio/x-mulaw" and _is_number(rate, 8000) and _is_number(channels, 1):
            return
    raise ProtocolError(
        "bad_format", f"unsupported Twilio media format {shown(fmt)} (expected mu-law 8 kHz)"
    )


def _is_number(value: object, wanted: int) -> bool:
    """`value` is `wanted`, as a JSON number or its decimal text ("8000")."""
    if isinstance(value, str):
        return value.strip() == str(wanted)
    return isinstance(value, int | float) and not isinstance(value, bool) and value == wanted
