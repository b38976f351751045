"""Streams a recording into the service as a platform would, and follows a call's events.

`callassist play` uses it; so do the end-to-end tests, the benchmarks and the
scripts (with `testkit/`, their own support code, which is not installed), so all
of them speak the protocols exactly the same way.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
import wave
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from websockets.asyncio.client import ClientConnection, connect

from contract import codec
from contract.events import CallEnded, Event
from voice.audio import to_ulaw

FRAME_MS = 20  # what telephony platforms send per message


@dataclass(frozen=True, slots=True)
class Recording:
    samples: np.ndarray  # int16, shape (frames, channels): channel 0 customer, 1 agent
    sample_rate_hz: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate_hz

    @classmethod
    def from_wav(cls, path: Path) -> Recording:
        with wave.open(str(path)) as w:
            if w.getsampwidth() != 2:
                raise ValueError(f"{path}: only 16-bit PCM WAV files are supported")
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            return cls(data.reshape(-1, w.getnchannels()), w.getframerate())

    @classmethod
    def from_tracks(cls, customer: Path, agent: Path) -> Recording:
        a, b = cls.from_wav(customer), cls.from_wav(agent)
        n = min(len(a.samples), len(b.samples))
        return cls(np.concatenate([a.samples[:n, :1], b.samples[:n, :1]], axis=1), a.sample_rate_hz)


def native_messages(
    recording: Recording, call_id: str, speaker: str = "customer"
) -> Iterator[tuple[float, str | bytes]]:
    """(seconds of call audio, message) pairs in our own protocol, 20 ms per frame."""
    start = {
        "type": "start",
        "call_id": call_id,
        "sample_rate": recording.sample_rate_hz,
        "encoding": "pcm16",
        "channels": recording.samples.shape[1],
        "speaker": speaker,
    }
    yield 0.0, json.dumps(start)
    step = recording.sample_rate_hz * FRAME_MS // 1000
    for i in range(0, len(recording.samples), step):
        yield (i + step) / recording.sample_rate_hz, recording.samples[i : i + step].tobytes()
    yield recording.duration_s, json.dumps({"type": "stop"})


def twilio_messages(
    recording: Recording,
    call_id: str | None = None,
    call_sid: str | None = None,
    custom: dict[str, str] | None = None,
) -> Iterator[tuple[float, str | bytes]]:
    """The recording as Twilio Media Streams sends it: mu-law 8 kHz, one track per speaker."""
    call_sid = call_sid or "CA" + uuid.uuid4().hex
    stream_sid = "MZ" + uuid.uuid4().hex
    tracks = ["inbound", "outbound"][: recording.samples.shape[1]]
    params = dict(custom or {})
    if call_id:
        params["call_id"] = call_id
    audio = soxr.resample(
        recording.samples.astype(np.float32) / 32768, recording.sample_rate_hz, 8000
    )
    audio = audio.reshape(len(audio), -1)
    seq = 0

    def message(event: str, **body: Any) -> str:
        nonlocal seq
        seq += 1
        return json.dumps(
            {"event": event, "sequenceNumber": str(seq), "streamSid": stream_sid, **body}
        )

    yield 0.0, json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    yield (
        0.0,
        message(
            "start",
            start={
                "streamSid": stream_sid,
                "accountSid": "AC" + "0" * 32,
                "callSid": call_sid,
                "tracks": tracks,
                "customParameters": params,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        ),
    )
    step = 8000 * FRAME_MS // 1000
    for chunk, i in enumerate(range(0, len(audio), step)):
        for channel, track in enumerate(tracks):
            payload = base64.b64encode(to_ulaw(audio[i : i + step, channel])).decode()
            yield (
                (i + step) / 8000,
                message(
                    "media",
                    media={
                        "track": track,
                        "chunk": str(chunk + 1),
                        "timestamp": str(i // 8),
                        "payload": payload,
                    },
                ),
            )
    yield (
        len(audio) / 8000,
        message("stop", stop={"accountSid": "AC" + "0" * 32, "callSid": call_sid}),
    )


async def send_paced(
    ws: ClientConnection,
    messages: Iterator[tuple[float, str | bytes]],
    speed: float,
    sent_at: dict[float, float] | None = None,
) -> None:
    """Sends each message when its audio time comes (speed 2 = twice real time, 0 = at once)."""
    t0 = time.monotonic()
    for audio_s, message in messages:
        if speed > 0:
            delay = t0 + audio_s / speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await ws.send(message)
        if sent_at is not None:
            sent_at[audio_s] = time.monotonic()


async def follow_events(
    base_url: str, call_id: str, since: int = 0, token: str | None = None
) -> AsyncIterator[Event]:
    """Yields a call's events (replayed from `since`, then live) until call.ended."""
    url = f"{base_url}/v1/calls/{call_id}/events?since={since}"
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with connect(url, additional_headers=headers, max_size=None) as ws:
        async for text in ws:
            event = codec.decode(text)
            yield event
            if isinstance(event.payload, CallEnded):
                return
