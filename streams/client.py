"""Streams a recording into the service as a platform would, and follows a call's events.

Used by `callassist play`, the end-to-end tests and the benchmarks, so all three
speak the protocols exactly the same way.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
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


def fork_messages(
    recording: Recording, call_id: str, direction: str = "inbound"
) -> Iterator[tuple[float, str | bytes]]:
    """As FreeSWITCH mod_audio_fork / jambonz listen send it: metadata, then L16 frames.
    The socket's close (not a message) ends the call."""
    channels = recording.samples.shape[1]
    metadata = {
        "callSid": call_id,
        "direction": direction,
        "sampleRate": recording.sample_rate_hz,
        "mixType": "stereo" if channels == 2 else "mono",
    }
    yield 0.0, json.dumps(metadata)
    step = recording.sample_rate_hz * FRAME_MS // 1000
    for i in range(0, len(recording.samples), step):
        chunk = recording.samples[i : i + step].astype("<i2")
        yield (i + step) / recording.sample_rate_hz, chunk.tobytes()


class AudioHookClient:
    """A Genesys AudioHook v2 client, written from the published protocol: open, wait for
    opened, stream PCMU stereo (external = customer, internal = agent), ping, close."""

    PING_EVERY_S = 5.0

    def __init__(self, ws: ClientConnection, conversation_id: str) -> None:
        self.ws = ws
        self.conversation_id = conversation_id
        self.session_id = str(uuid.uuid4())
        self.seq = 0
        self.serverseq = 0
        self.position_s = 0.0
        self.received: list[dict[str, Any]] = []

    async def stream(self, recording: Recording, speed: float) -> None:
        opened = await self._request("open", self._open_parameters(), "opened")
        if opened["type"] != "opened":
            raise RuntimeError(f"AudioHook open refused: {opened}")
        await send_paced(self.ws, self._audio(recording), speed)
        closed = await self._request("close", {"reason": "end"}, "closed")
        if closed["type"] != "closed":
            raise RuntimeError(f"AudioHook close not acknowledged: {closed}")

    def _audio(self, recording: Recording) -> Iterator[tuple[float, str | bytes]]:
        """20 ms PCMU frames, interleaved like the offer's channels, and a ping now and then."""
        audio = soxr.resample(
            recording.samples.astype(np.float32) / 32768, recording.sample_rate_hz, 8000
        ).reshape(-1, recording.samples.shape[1])
        last_ping_s = 0.0
        for i in range(0, len(audio), 160):
            self.position_s = (i + 160) / 8000
            if self.position_s - last_ping_s >= self.PING_EVERY_S:
                last_ping_s = self.position_s
                yield self.position_s, self._message("ping", {})
            yield self.position_s, to_ulaw(audio[i : i + 160].reshape(-1))

    def _open_parameters(self) -> dict[str, Any]:
        return {
            "organizationId": str(uuid.uuid4()),
            "conversationId": self.conversation_id,
            "participant": {
                "id": str(uuid.uuid4()),
                "ani": "+15555551234",
                "aniName": "",
                "dnis": "+18005556789",
            },
            "media": [
                {
                    "type": "audio",
                    "format": "PCMU",
                    "channels": ["external", "internal"],
                    "rate": 8000,
                },
                {"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000},
            ],
            "language": "en-US",
        }

    def _message(self, kind: str, parameters: dict[str, Any]) -> str:
        self.seq += 1
        return json.dumps(
            {
                "version": "2",
                "type": kind,
                "seq": self.seq,
                "serverseq": self.serverseq,
                "id": self.session_id,
                "position": f"PT{self.position_s:.3f}S",
                "parameters": parameters,
            }
        )

    async def _request(self, kind: str, parameters: dict[str, Any], answer: str) -> dict[str, Any]:
        """Sends one message; returns the server's `answer` (or its disconnect)."""
        await self.ws.send(self._message(kind, parameters))
        while True:
            reply = json.loads(await asyncio.wait_for(self.ws.recv(), 60))
            self.received.append(reply)
            self.serverseq = reply.get("seq", self.serverseq)
            if reply.get("type") in (answer, "disconnect"):
                return reply


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
) -> AsyncIterator[dict[str, Any]]:
    """Yields a call's events (replayed from `since`, then live) until call.ended."""
    url = f"{base_url}/v1/calls/{call_id}/events?since={since}"
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with connect(url, additional_headers=headers, max_size=None) as ws:
        async for text in ws:
            event = json.loads(text)
            yield event
            if event["type"] == "call.ended":
                return


class LocalServer:
    """A `callassist serve` process on a free loopback port (for tests and benchmarks)."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.extra = extra
        self.process: subprocess.Popen[str] | None = None
        self.address = ""

    def start(self) -> LocalServer:
        command = [
            sys.executable,
            "-m",
            "streams.cli",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            "WARNING",
            *self.extra,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "callassist listening on http://127.0.0.1:PORT"
        if "listening on http://" not in line:
            self.process.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.address = line.strip().rsplit("http://", 1)[1]
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine loses the process."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def ws(self) -> str:
        return f"ws://{self.address}"

    @property
    def http(self) -> str:
        return f"http://{self.address}"
