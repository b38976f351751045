"""End to end, per platform protocol: real recordings into the running server, and the
desktop receives the right words for the right speaker."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import numpy as np
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from contract.events import (
    CallEnded,
    CallStarted,
    EndReason,
    Event,
    Protocol,
    Speaker,
    TranscriptFinal,
)
from streams.client import Recording, send_paced
from testkit import FIXTURES
from testkit.events import payloads, watch
from testkit.platforms import AudioHookClient, fork_messages

JFK = FIXTURES / "audio" / "en_whisper_jfk.wav"
HARVARD = (
    FIXTURES / "audio" / "en_sb_harvard_spk1_snt1.wav"
)  # "the child almost hurt the small dog"


def two_speakers() -> Recording:
    """JFK on the customer channel, then the Harvard sentence on the agent channel."""
    customer = Recording.from_wav(JFK).samples[:, 0]
    agent = Recording.from_wav(HARVARD).samples[:, 0]
    gap = np.zeros(16000, dtype=np.int16)
    left = np.concatenate([customer, gap, np.zeros_like(agent), gap])
    right = np.concatenate([np.zeros_like(customer), gap, agent, gap])
    return Recording(np.stack([left, right], axis=1), 16000)


def said(events: list[Event], speaker: Speaker) -> str:
    text = " ".join(f.text for f in payloads(events, TranscriptFinal) if f.speaker is speaker)
    return " ".join(re.sub(r"[^a-z ]", " ", text.lower()).split())


def started_and_ended(events: list[Event]) -> tuple[CallStarted, CallEnded]:
    first, last = events[0].payload, events[-1].payload
    assert isinstance(first, CallStarted) and isinstance(last, CallEnded), (first, last)
    return first, last


def assert_right_words_right_speaker(events: list[Event], protocol: Protocol) -> None:
    started, ended = started_and_ended(events)
    assert started.protocol is protocol and ended.reason is EndReason.STOP
    customer, agent = said(events, Speaker.CUSTOMER), said(events, Speaker.AGENT)
    assert "your country can do for you" in customer and "dog" not in customer, customer
    assert "small dog" in agent and "country" not in agent, agent


async def test_genesys_audiohook_stereo_pcmu(server):
    conversation = str(uuid.uuid4())
    watcher = await watch(server.ws, conversation)
    headers = {
        "Audiohook-Organization-Id": str(uuid.uuid4()),
        "Audiohook-Correlation-Id": str(uuid.uuid4()),
        "Audiohook-Session-Id": str(uuid.uuid4()),
        "X-API-KEY": "any-key-while-tokens-are-off",
    }
    async with connect(f"{server.ws}/v1/audiohook", additional_headers=headers) as ws:
        client = AudioHookClient(ws, conversation)
        await client.stream(two_speakers(), speed=3.0)
    events = await asyncio.wait_for(watcher, 120)
    assert_right_words_right_speaker(events, Protocol.AUDIOHOOK)
    assert any(r.type == "pong" for r in client.received)
    started, _ = started_and_ended(events)
    # the platform's own metadata, but the caller's number only as its keyed hash
    assert "ani" not in started.metadata["participant"] and len(started.caller) == 32
    assert "5555551234" not in repr(events)


async def test_audio_fork_stereo_l16_with_the_drachtio_subprotocol(server):
    watcher = await watch(server.ws, "fork-e2e")
    drachtio = Subprotocol("audio.drachtio.org")
    async with connect(f"{server.ws}/v1/fork", subprotocols=[drachtio]) as ws:
        assert ws.subprotocol == "audio.drachtio.org"
        await send_paced(ws, fork_messages(two_speakers(), "fork-e2e"), 3.0)
    events = await asyncio.wait_for(watcher, 120)
    assert_right_words_right_speaker(events, Protocol.FORK)


async def test_webrtc_track_from_an_aiortc_peer(server):
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaPlayer

    watcher = await watch(server.ws, "webrtc-e2e")
    peer = RTCPeerConnection()
    player = MediaPlayer(str(JFK))  # a real recording as a live audio track
    assert player.audio is not None
    peer.addTrack(player.audio)
    await peer.setLocalDescription(await peer.createOffer())
    async with connect(f"{server.ws}/v1/webrtc") as ws:
        offer = {
            "type": "offer",
            "sdp": peer.localDescription.sdp,
            "call_id": "webrtc-e2e",
            "speakers": ["customer"],
        }
        await ws.send(json.dumps(offer))
        answer = json.loads(await ws.recv())
        assert answer["type"] == "answer"
        await peer.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await asyncio.sleep(Recording.from_wav(JFK).duration_s + 1.5)  # it plays in real time
        await ws.send(json.dumps({"type": "stop"}))
        events = await asyncio.wait_for(watcher, 120)
    await peer.close()
    started, ended = started_and_ended(events)
    assert started.protocol is Protocol.WEBRTC and ended.reason is EndReason.STOP
    customer = said(events, Speaker.CUSTOMER)
    assert "your country can do for you" in customer, customer
