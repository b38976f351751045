"""WebRTC offers as aiortc makes them: video and surplus audio are answered inactive, an
offer without audio is refused before any call exists, and held audio is bounded."""

import json

import numpy as np
import pytest
from aiortc import RTCPeerConnection

from contract.events import Speaker
from streams.errors import ProtocolError
from streams.webrtc import HeldAudio, WebRtcOptions, WebRtcPeer, parse_offer
from voice.audio import MODEL_SAMPLE_RATE_HZ


async def offer_sdp(*kinds: str) -> str:
    client = RTCPeerConnection()
    for kind in kinds:
        client.addTransceiver(kind, direction="sendonly")
    await client.setLocalDescription(await client.createOffer())
    sdp = client.localDescription.sdp
    await client.close()
    return sdp


def offer_message(sdp: str, **fields) -> str:
    return json.dumps({"type": "offer", "sdp": sdp, "call_id": "w1", **fields})


def directions(sdp: str) -> list[tuple[str, str]]:
    """(kind, direction) of each m-line of an answer."""
    out: list[tuple[str, str]] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            out.append((line[2:].split()[0], ""))
        elif line[2:] in ("sendrecv", "sendonly", "recvonly", "inactive") and out:
            out[-1] = (out[-1][0], line[2:])
    return out


async def test_video_and_extra_audio_are_answered_inactive():
    sdp = await offer_sdp("audio", "video", "audio", "audio")
    start, offered = parse_offer(offer_message(sdp))
    peer = WebRtcPeer(WebRtcOptions(), start.channel_speakers)
    try:
        answer = json.loads(await peer.answer(offered))
    finally:
        await peer.close()
    assert answer["type"] == "answer"
    assert directions(answer["sdp"]) == [
        ("audio", "recvonly"),  # customer
        ("video", "inactive"),  # never received nor decoded
        ("audio", "recvonly"),  # agent
        ("audio", "inactive"),  # no third speaker
    ]
    assert peer.rejected_mlines == 2


async def test_an_offer_without_audio_is_refused():
    sdp = await offer_sdp("video")
    with pytest.raises(ProtocolError) as error:
        parse_offer(offer_message(sdp))
    assert error.value.code == "bad_offer" and "no audio" in error.value.message


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"speakers": ["customer", "customer"]}, "bad_offer"),
        ({"speakers": [["agent"]]}, "bad_speaker"),
        ({"language": ["en"]}, "bad_language"),
        ({"sdp": "v=0\r\nm=audio x\r\n"}, "bad_offer"),
        ({"sdp": 42}, "bad_offer"),
        ({"call_id": None}, "bad_call_id"),
    ],
)
def test_malformed_offers_are_refused_with_a_code(fields, code):
    with pytest.raises(ProtocolError) as error:
        parse_offer(json.dumps({"type": "offer", "sdp": "", "call_id": "w1", **fields}))
    assert error.value.code == code


def test_held_audio_drops_the_oldest_and_returns_it_as_a_gap():
    held = HeldAudio(max_s=0.1)
    chunk = MODEL_SAMPLE_RATE_HZ // 50  # 20 ms
    dropped = [held.push(np.full(chunk, k, dtype=np.int16)) for k in range(8)]
    assert held.held_s == pytest.approx(0.1)
    assert sum(dropped) == pytest.approx(0.06) and held.dropped_s == pytest.approx(0.06)
    samples, gap_s = held.take()
    assert gap_s == pytest.approx(0.06)
    assert samples[0] == 3 and samples[-1] == 7  # the newest 100 ms, oldest first
    assert held.take()[1] == 0 and held.held_s == 0


def test_a_speakers_list_sets_the_track_order():
    start, _ = parse_offer(
        offer_message("v=0\r\n", speakers=["agent"]).replace('"v=0\\r\\n"', json.dumps(AUDIO))
    )
    assert start.channel_speakers == (Speaker.AGENT,)


AUDIO = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:0 PCMU/8000\r\n"
)
