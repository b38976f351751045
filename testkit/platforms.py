"""Clients for the platforms that `callassist play` does not speak: Genesys AudioHook and
FreeSWITCH / jambonz audio fork, and a pause for payment in our own protocol. Written
from the published protocols, for the end-to-end tests; `streams.client` has the
native and Twilio ones."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
import numpy as np
import soxr
from websockets.asyncio.client import ClientConnection

from streams.client import FRAME_MS, Recording, send_paced
from voice.audio import to_ulaw

AUDIOHOOK_RATE_HZ = 8000
AUDIOHOOK_FRAME = AUDIOHOOK_RATE_HZ * FRAME_MS // 1000  # samples per channel in a frame
REPLY_TIMEOUT_S = 60.0


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


def paused_between(
    messages: Iterable[tuple[float, str | bytes]],
    pause_s: float,
    resume_s: float,
    reason: str = "payment",
) -> Iterator[tuple[float, str | bytes]]:
    """Our own protocol's messages with a pause before the first audio frame that ends
    after `pause_s` and a resume before the first that ends after `resume_s`, as a
    platform sends them while a caller reads out a card number. The audio between is
    still sent: the service must drop it unheard."""
    marks = [(pause_s, {"type": "pause", "reason": reason}), (resume_s, {"type": "resume"})]
    for audio_s, message in messages:
        while marks and isinstance(message, bytes) and audio_s > marks[0][0]:
            yield audio_s, json.dumps(marks.pop(0)[1])
        yield audio_s, message


class AudioHookReply(msgspec.Struct, frozen=True):
    """A server message of AudioHook v2 (opened, pong, closed, disconnect, ...)."""

    type: str
    seq: int
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)


_reply_decoder = msgspec.json.Decoder(AudioHookReply)


class AudioHookClient:
    """A Genesys AudioHook v2 client: open, wait for opened, stream PCMU stereo
    (external = customer, internal = agent), ping, close."""

    PING_EVERY_S = 5.0

    def __init__(self, ws: ClientConnection, conversation_id: str) -> None:
        self.ws = ws
        self.conversation_id = conversation_id
        self.session_id = str(uuid.uuid4())
        self.seq = 0
        self.serverseq = 0
        self.position_s = 0.0
        self.received: list[AudioHookReply] = []

    async def stream(self, recording: Recording, speed: float) -> None:
        opened = await self._request("open", self._open_parameters(), "opened")
        if opened.type != "opened":
            raise RuntimeError(f"AudioHook open refused: {opened}")
        await send_paced(self.ws, self._audio(recording), speed)
        closed = await self._request("close", {"reason": "end"}, "closed")
        if closed.type != "closed":
            raise RuntimeError(f"AudioHook close not acknowledged: {closed}")

    def _audio(self, recording: Recording) -> Iterator[tuple[float, str | bytes]]:
        """20 ms PCMU frames, interleaved like the offer's channels, and a ping now and then."""
        audio = soxr.resample(
            recording.samples.astype(np.float32) / 32768,
            recording.sample_rate_hz,
            AUDIOHOOK_RATE_HZ,
        ).reshape(-1, recording.samples.shape[1])
        last_ping_s = 0.0
        for i in range(0, len(audio), AUDIOHOOK_FRAME):
            self.position_s = (i + AUDIOHOOK_FRAME) / AUDIOHOOK_RATE_HZ
            if self.position_s - last_ping_s >= self.PING_EVERY_S:
                last_ping_s = self.position_s
                yield self.position_s, self._message("ping", {})
            yield self.position_s, to_ulaw(audio[i : i + AUDIOHOOK_FRAME].reshape(-1))

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
                    "rate": AUDIOHOOK_RATE_HZ,
                },
                {
                    "type": "audio",
                    "format": "PCMU",
                    "channels": ["external"],
                    "rate": AUDIOHOOK_RATE_HZ,
                },
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

    async def _request(self, kind: str, parameters: dict[str, Any], answer: str) -> AudioHookReply:
        """Sends one message; returns the server's `answer` (or its disconnect)."""
        await self.ws.send(self._message(kind, parameters))
        while True:
            reply = _reply_decoder.decode(await asyncio.wait_for(self.ws.recv(), REPLY_TIMEOUT_S))
            self.received.append(reply)
            self.serverseq = reply.seq
            if reply.type in (answer, "disconnect"):
                return reply
