"""End to end: real recordings, the real tiny.en model, a real server over loopback."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from pathlib import Path

import jiwer
import numpy as np
import soxr
from websockets.asyncio.client import connect
from whisper_normalizer.english import EnglishTextNormalizer

from contract.events import (
    CallEnded,
    CallStarted,
    Event,
    Speaker,
    TranscriptFinal,
    TranscriptPartial,
)
from streams.client import (
    Recording,
    follow_events,
    native_messages,
    send_paced,
    twilio_messages,
)
from testkit import FIXTURES
from testkit.calls import load_timeline
from testkit.events import collect, payloads, watch
from testkit.server import LocalServer
from voice.whisper import WhisperEngine, WhisperOptions

JFK = FIXTURES / "audio" / "en_whisper_jfk.wav"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
CALL = FIXTURES / "calls" / "billing_double_charge"


normalize = EnglishTextNormalizer()


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


async def stream_and_watch(
    server: LocalServer, messages, route: str, call_id: str, speed: float
) -> list[Event]:
    watcher = await watch(server.ws, call_id)
    async with connect(server.ws + route) as ws:
        await send_paced(ws, messages, speed)
    return await asyncio.wait_for(watcher, 120)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def assert_framed_without_gaps(events: list[Event]) -> None:
    assert isinstance(events[0].payload, CallStarted)
    assert isinstance(events[-1].payload, CallEnded)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_native_ingest_transcribes_real_speech_with_partials_first(server):
    recording = Recording.from_wav(JFK)
    events = await stream_and_watch(
        server, native_messages(recording, "jfk-native"), "/v1/ingest", "jfk-native", speed=1.0
    )
    assert_framed_without_gaps(events)
    finals = payloads(events, TranscriptFinal)
    text = " ".join(f.text for f in finals)
    assert jiwer.wer(words(JFK_TEXT), words(text)) < 0.25, text
    kinds = [type(e.payload) for e in events]
    assert TranscriptPartial in kinds
    assert kinds.index(TranscriptPartial) < kinds.index(TranscriptFinal), "partials first"
    for final in finals:
        assert final.speaker is Speaker.CUSTOMER and final.language == "en"
        assert 0 <= final.t_start < final.t_end <= recording.duration_s + 0.5
        assert final.segment_id
    assert [f.t_start for f in finals] == sorted(f.t_start for f in finals)
    stored = get_json(f"{server.http}/v1/calls/jfk-native")
    assert [t["text"] for t in stored["transcript"]] == [f.text for f in finals]


async def test_twilio_two_track_call_keeps_speakers_apart(server):
    recording = Recording.from_tracks(Path(f"{CALL}.customer.wav"), Path(f"{CALL}.agent.wav"))
    events = await stream_and_watch(
        server, twilio_messages(recording, "billing-1"), "/v1/twilio", "billing-1", speed=1.0
    )
    assert_framed_without_gaps(events)
    said = {Speaker.CUSTOMER: "", Speaker.AGENT: ""}
    for final in payloads(events, TranscriptFinal):
        said[final.speaker] += " " + words(final.text)
    script = load_timeline(CALL).turns
    offline = WhisperEngine(WhisperOptions())
    for speaker in (Speaker.CUSTOMER, Speaker.AGENT):
        reference = " ".join(t.text for t in script if t.speaker is speaker)
        track = Recording.from_wav(Path(f"{CALL}.{speaker}.wav")).samples[:, 0] / 32768
        offline_text = offline.transcribe_offline(soxr.resample(track, 8000, 16000))
        streaming_wer = jiwer.wer(normalize(reference), normalize(said[speaker]))
        offline_wer = jiwer.wer(normalize(reference), normalize(offline_text))
        assert streaming_wer <= offline_wer + 0.10, (speaker, streaming_wer, offline_wer)
    # each side's words stay on its own track
    for phrase in ("monthly plan", "third time", "manager"):
        assert phrase in said[Speaker.CUSTOMER] and phrase not in said[Speaker.AGENT], phrase
    for phrase in ("how can i help you", "contact your bank"):
        assert phrase in said[Speaker.AGENT] and phrase not in said[Speaker.CUSTOMER], phrase


async def test_reconnecting_desktop_gets_exactly_what_it_missed(server):
    recording = Recording.from_wav(JFK)
    seen: list[Event] = []

    async def first_look() -> None:
        async for event in follow_events(server.ws, "jfk-replay"):
            seen.append(event)
            if isinstance(event.payload, TranscriptFinal):
                return  # the desktop drops here, mid-call

    viewer = asyncio.create_task(first_look())
    await asyncio.sleep(0.2)
    async with connect(server.ws + "/v1/ingest") as ws:
        await send_paced(ws, native_messages(recording, "jfk-replay"), 2.0)
    await viewer
    rest = await collect(server.ws, "jfk-replay", since=seen[-1].seq)
    assert_framed_without_gaps(seen + rest)
    assert payloads(rest, TranscriptFinal)


async def test_silence_and_noise_give_no_transcript(server):
    rng = np.random.default_rng(7)
    audio = np.concatenate(
        [
            np.zeros(4 * 16000),
            0.05 * rng.standard_normal(4 * 16000),
            np.zeros(2 * 16000),
        ]
    )
    pcm = (audio * 32767).astype(np.int16).reshape(-1, 1)
    events = await stream_and_watch(
        server, native_messages(Recording(pcm, 16000), "quiet"), "/v1/ingest", "quiet", speed=0
    )
    assert_framed_without_gaps(events)
    assert payloads(events, TranscriptFinal) == []
