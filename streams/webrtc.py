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

Bounded whatever the offer: a video m-line, and audio m-lines beyond the
speakers, are answered `inactive` (aiortc has no port-0 rejection; inactive
means nothing is sent, received or decoded for them). An offer without audio,
or one aiortc cannot parse, is refused (`bad_offer`) before any call exists.
RTP cannot wait: each track is read as it arrives into at most
`MAX_HELD_S` of audio while the call is backed up; past that the oldest is
dropped, counted (`WebRtcPeer.dropped_s`, `on_dropped`), and becomes a gap so
later times stay on the call's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
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
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription
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
    parse_language,
    parse_speaker,
    shown,
    validate_call_id,
)
from voice.audio import MODEL_SAMPLE_RATE_HZ, AudioFormat, Encoding

log = logging.getLogger(__name__)

DEFAULT_SPEAKERS = (Speaker.CUSTOMER, Speaker.AGENT)
MAX_SDP_CHARS = 65_536  # a real offer is a few kB
MAX_HELD_S = 5.0  # audio per track held while the call is backed up; older audio is dropped
_SDP_ERRORS = (
    ValueError,
    LookupError,
    AssertionError,  # aiortc checks an SDP's lines with assert
    InvalidAccessError,
    InvalidStateError,
    OperationError,
)


@dataclass(frozen=True, slots=True)
class WebRtcOptions:
    ice_servers: str = ""  # comma-separated URLs, e.g. "stun:stun.example.com:3478"
    ice_username: str = ""  # for TURN
    ice_credential: str = ""


def parse_offer(text: str) -> tuple[CallStart, str]:
    """The call an offer message opens, and its SDP (which must offer audio)."""
    message = parse_json_object(text)
    sdp = message.get("sdp")
    if message.get("type") != "offer" or not isinstance(sdp, str):
        raise ProtocolError("bad_offer", 'the first message must be {"type": "offer", "sdp": ...}')
    names = message.get("speakers") or [s.value for s in DEFAULT_SPEAKERS]
    if not isinstance(names, list) or not 1 <= len(names) <= 2:
        raise ProtocolError("bad_offer", "speakers must list one or two speakers")
    speakers = tuple(parse_speaker(n) for n in names)
    if len(set(speakers)) != len(speakers):
        raise ProtocolError("bad_offer", "speakers must not name a speaker twice")
    metadata = message.get("metadata") or {}
    start = CallStart(
        call_id=validate_call_id(message.get("call_id")),
        audio_format=AudioFormat(Encoding.PCM16, MODEL_SAMPLE_RATE_HZ, 1),
        channel_speakers=speakers,
        language=parse_language(message.get("language")),
        agent_language=parse_language(message.get("agent_language"), "agent_language"),
        metadata={**(metadata if isinstance(metadata, dict) else {})},
    )
    _check_sdp(sdp)
    return start, sdp


def _check_sdp(sdp: str) -> None:
    """Refuses an SDP aiortc cannot read, or one without an audio m-line."""
    if len(sdp) > MAX_SDP_CHARS:
        raise ProtocolError("bad_offer", f"the SDP is over {MAX_SDP_CHARS} characters")
    try:
        kinds = [media.kind for media in SessionDescription.parse(sdp).media]
    except Exception as exc:  # aiortc's parser asserts, indexes and converts: any failure
        # there is an SDP we cannot read, never a reason to fail the connection otherwise
        raise ProtocolError("bad_offer", f"the SDP cannot be read: {shown(str(exc))}") from None
    if "audio" not in kinds:
        raise ProtocolError("bad_offer", "the SDP offers no audio")


class HeldAudio:
    """One track's audio waiting for its call, at most `max_s` of it: past that the
    oldest is dropped, and comes back as a gap before what is taken next."""

    def __init__(self, max_s: float = MAX_HELD_S) -> None:
        self._chunks: deque[np.ndarray] = deque()
        self._held = 0
        self._max = round(max_s * MODEL_SAMPLE_RATE_HZ)
        self._dropped_since_take = 0
        self.dropped_s = 0.0  # in all

    @property
    def held_s(self) -> float:
        return self._held / MODEL_SAMPLE_RATE_HZ

    def push(self, samples: np.ndarray) -> float:
        """Holds `samples` (int16 at the model rate); returns the seconds dropped for it."""
        self._chunks.append(samples)
        self._held += len(samples)
        dropped = 0
        while self._held > self._max and len(self._chunks) > 1:
            oldest = self._chunks.popleft()
            self._held -= len(oldest)
            dropped += len(oldest)
        self._dropped_since_take += dropped
        seconds = dropped / MODEL_SAMPLE_RATE_HZ
        self.dropped_s += seconds
        return seconds

    def take(self) -> tuple[np.ndarray, float]:
        """Everything held, and the seconds dropped before it."""
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int16)
        gap_s = self._dropped_since_take / MODEL_SAMPLE_RATE_HZ
        self._chunks.clear()
        self._held = self._dropped_since_take = 0
        return samples, gap_s


@dataclass(frozen=True, slots=True)
class _Sink:
    feed: Callable[[AudioFrames], None]
    has_room: Callable[[], bool]


class WebRtcPeer:
    """One browser or gateway: answers its offer and feeds each audio track to the call."""

    def __init__(
        self,
        options: WebRtcOptions,
        speakers: tuple[Speaker, ...],
        on_dropped: Callable[[float], None] = lambda seconds: None,
    ) -> None:
        self._pc = RTCPeerConnection(_configuration(options))
        self._speakers = speakers
        self._on_dropped = on_dropped
        self._sink: _Sink | None = None
        self._held: list[HeldAudio] = []
        self._pumps: list[asyncio.Task[None]] = []
        self.rejected_mlines = 0  # video and surplus audio, answered inactive

    @property
    def dropped_s(self) -> float:
        """Seconds of audio dropped because the call could not take them in time."""
        return sum(h.dropped_s for h in self._held)

    async def answer(self, sdp: str) -> str:
        """The answer to an offer: one speaker per audio track, everything else inactive."""
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            speakers = list(self._speakers)
            for transceiver in self._pc.getTransceivers():
                track = transceiver.receiver.track
                if transceiver.kind == "audio" and speakers and track is not None:
                    self._start_pump(track, speakers.pop(0))
                else:
                    transceiver.direction = "inactive"  # not received, not decoded
                    self.rejected_mlines += 1
            await self._pc.setLocalDescription(await self._pc.createAnswer())
        except _SDP_ERRORS as exc:
            raise ProtocolError(
                "bad_offer", f"cannot answer the offer: {shown(str(exc))}"
            ) from None
        return json.dumps({"type": "answer", "sdp": self._pc.localDescription.sdp})

    def attach(self, feed: Callable[[AudioFrames], None], has_room: Callable[[], bool]) -> None:
        """Where the tracks' audio goes from now on (the call, once it is open)."""
        self._sink = _Sink(feed, has_room)

    async def close(self) -> None:
        await self._pc.close()
        for pump in self._pumps:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    def _start_pump(self, track: MediaStreamTrack, speaker: Speaker) -> None:
        held = HeldAudio()
        self._held.append(held)
        task = asyncio.get_running_loop().create_task(self._pump(track, speaker, held))
        self._pumps.append(task)

    async def _pump(self, track: MediaStreamTrack, speaker: Speaker, held: HeldAudio) -> None:
        """Reads a track as fast as it comes (aiortc's own queue stays short), holding
        what the call cannot take yet."""
        resampler = av.AudioResampler(format="s16", layout="mono", rate=MODEL_SAMPLE_RATE_HZ)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return  # the remote side ended the track
            if not isinstance(frame, av.AudioFrame):
                continue
            for out in resampler.resample(frame):
                dropped_s = held.push(np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1))
                if dropped_s:
                    self._dropped(dropped_s)
            self._deliver(held, speaker)

    def _deliver(self, held: HeldAudio, speaker: Speaker) -> None:
        sink = self._sink
        if sink is None or not sink.has_room():
            return
        samples, gap_s = held.take()
        sink.feed(AudioFrames(samples.reshape(-1, 1), (speaker,), gap_s))

    def _dropped(self, seconds: float) -> None:
        try:
            self._on_dropped(seconds)
        except Exception:  # a metrics bug must not stop the track
            log.exception("webrtc: drop observer failed")


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


async def serve_peer(
    ws: ServerConnection,
    calls: CallRegistry,
    options: WebRtcOptions,
    offer: str,
    on_dropped: Callable[[float], None] = lambda seconds: None,
) -> None:
    """One `ws /v1/webrtc` connection: offer in, answer out, tracks into one call.
    The offer is answered before the call opens, so a bad one leaves no record."""
    session: CallSession | None = None
    peer: WebRtcPeer | None = None
    stop = CallStop(EndReason.CLIENT_DISCONNECTED)
    try:
        start, sdp = parse_offer(offer)
        peer = WebRtcPeer(options, start.channel_speakers, on_dropped)
        answer = await peer.answer(sdp)
        session = calls.open(start, Protocol.WEBRTC)
        live = session
        peer.attach(live.feed, lambda: live.has_room)
        await ws.send(answer)
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
