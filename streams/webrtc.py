"""WebRTC at `ws /v1/webrtc`, through aiortc: the only module that imports aiortc.

Signalling is JSON over the websocket:

    client -> {"type": "offer", "sdp": "...", "call_id": "c-1",
               "speakers": ["customer", "agent"], "language": "en", "metadata": {...}}
    server -> {"type": "answer", "sdp": "..."}
    client -> {"type": "stop"}        (or it closes the socket)

Each remote audio track is one speaker, in the order of `speakers` (default:
customer, then agent). Any codec aiortc negotiates (Opus, G.711) at any rate is
decoded and resampled to 16 kHz mono by PyAV. No trickle ICE: the answer
carries every candidate. Candidates are the host's own addresses unless
`[webrtc] ice_servers` names STUN/TURN servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from contract.codec import encode_error
from contract.events import EndReason, Protocol, Speaker
from streams.calls import CallRegistry, CallRejected, CallSession
from streams.errors import ProtocolError
from streams.protocols.base import (
    AudioFrames,
    CallStart,
    CallStop,
    parse_json_object,
    parse_speaker,
    validate_call_id,
)
from voice.audio import MODEL_SAMPLE_RATE_HZ, AudioFormat, Encoding

log = logging.getLogger(__name__)

DEFAULT_SPEAKERS = (Speaker.CUSTOMER, Speaker.AGENT)


@dataclass(frozen=True, slots=True)
class WebRtcOptions:
    ice_servers: str = ""  # comma-separated URLs, e.g. "stun:stun.example.com:3478"
    ice_username: str = ""  # for TURN
    ice_credential: str = ""


def parse_offer(text: str) -> tuple[CallStart, str]:
    """The call an offer message opens, and its SDP."""
    message = parse_json_object(text)
    if message.get("type") != "offer" or not isinstance(message.get("sdp"), str):
        raise ProtocolError("bad_offer", 'the first message must be {"type": "offer", "sdp": ...}')
    names = message.get("speakers") or [s.value for s in DEFAULT_SPEAKERS]
    if not isinstance(names, list) or not 1 <= len(names) <= 2:
        raise ProtocolError("bad_offer", "speakers must list one or two speakers")
    metadata = message.get("metadata") or {}
    start = CallStart(
        call_id=validate_call_id(message.get("call_id")),
        audio_format=AudioFormat(Encoding.PCM16, MODEL_SAMPLE_RATE_HZ, 1),
        channel_speakers=tuple(parse_speaker(n) for n in names),
        language=message.get("language") or None,
        agent_language=message.get("agent_language") or None,
        metadata={**(metadata if isinstance(metadata, dict) else {})},
    )
    return start, message["sdp"]


class WebRtcPeer:
    """One browser or gateway: answers its offer and feeds each audio track to the call."""

    def __init__(
        self,
        options: WebRtcOptions,
        speakers: tuple[Speaker, ...],
        feed: Callable[[AudioFrames], Awaitable[None]],
    ) -> None:
        self._pc = RTCPeerConnection(_configuration(options))
        self._speakers = list(speakers)
        self._feed = feed
        self._pumps: list[asyncio.Task[None]] = []
        self._pc.on("track", self._on_track)

    async def answer(self, sdp: str) -> str:
        await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self._pc.setLocalDescription(await self._pc.createAnswer())
        return json.dumps({"type": "answer", "sdp": self._pc.localDescription.sdp})

    async def close(self) -> None:
        await self._pc.close()
        for pump in self._pumps:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "audio" or not self._speakers:
            return  # video, or more audio tracks than speakers: not ours to transcribe
        speaker = self._speakers.pop(0)
        self._pumps.append(asyncio.get_running_loop().create_task(self._pump(track, speaker)))

    async def _pump(self, track: MediaStreamTrack, speaker: Speaker) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=MODEL_SAMPLE_RATE_HZ)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return  # the remote side ended the track
            if not isinstance(frame, av.AudioFrame):
                continue
            for out in resampler.resample(frame):
                samples = np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1, 1)
                await self._feed(AudioFrames(samples, (speaker,)))


def _configuration(options: WebRtcOptions) -> RTCConfiguration:
    urls = [u.strip() for u in options.ice_servers.split(",") if u.strip()]
    servers: list[Any] = (
        [
            RTCIceServer(
                urls=urls,
                username=options.ice_username or None,
                credential=options.ice_credential or None,
            )
        ]
        if urls
        else []
    )
    return RTCConfiguration(iceServers=servers)


async def serve_peer(ws: ServerConnection, calls: CallRegistry, options: WebRtcOptions) -> None:
    """One `ws /v1/webrtc` connection: offer in, answer out, tracks into one call."""
    session: CallSession | None = None
    peer: WebRtcPeer | None = None
    stop = CallStop(EndReason.CLIENT_DISCONNECTED)
    try:
        start, sdp = parse_offer(str(await ws.recv()))
        session = calls.open(start, Protocol.WEBRTC)
        live = session

        async def feed(frames: AudioFrames) -> None:
            live.feed(frames)
            await live.room()

        peer = WebRtcPeer(options, start.channel_speakers, feed)
        await ws.send(await peer.answer(sdp))
        async for message in ws:
            if isinstance(message, str) and parse_json_object(message).get("type") == "stop":
                stop = CallStop(EndReason.STOP)
                break
    except (ProtocolError, CallRejected) as exc:
        code = exc.code
        await ws.send(encode_error(session.call_id if session else None, code, str(exc)))
        await ws.close(1008, str(exc)[:120])
        stop = CallStop(EndReason.ERROR, code)
    except ConnectionClosed:
        pass
    finally:
        if peer is not None:
            await peer.close()
        if session is not None:
            await calls.close(session, stop)
