"""Pause for payment on a live call, with fakes: paused audio never reaches a decode,
the utterance in progress is decoded from what came before, the events come once each,
and a pause left too long raises one cue."""

import asyncio
import json

import numpy as np
import pytest

from assist.assistant import Assistant, AssistOptions
from assist.session import AssistSession
from contract.events import (
    EndReason,
    HandoverCue,
    PausedBy,
    Protocol,
    Severity,
    Speaker,
    TranscriptFinal,
)
from streams.assisting import AssistRuntime, CallAssist
from streams.calls import CallSession, Voice
from streams.hub import Hub
from streams.pausing import PAUSE_RULE
from streams.protocols.base import AudioFrames, CallStart, CallStop
from streams.store import Store
from tests.fakes import EnergyVad, ScriptedDecoder, hypothesis, silence, tone, until
from voice.audio import AudioFormat, Encoding
from voice.clock import ManualClock
from voice.online import StreamingOptions
from voice.scheduler import DecodeScheduler

RATE_HZ = 8000  # a telephony rate: the resampler is in the path
SPOKEN = 0.3  # amplitude of what may be heard
PAYMENT = 0.9  # amplitude of what is said while paused: it must never reach a decode


def frames(audio: np.ndarray) -> AudioFrames:
    pcm = (audio * 32767).astype(np.int16).reshape(-1, 1)
    return AudioFrames(pcm, (Speaker.CUSTOMER,))


def in_frames(audio: np.ndarray, frame_s: float = 0.02) -> list[AudioFrames]:
    """As a platform sends it: 20 ms at a time."""
    step = round(frame_s * RATE_HZ)
    return [frames(audio[i : i + step]) for i in range(0, len(audio), step)]


def stored(store: Store, call_id: str) -> list[dict]:
    return [json.loads(body) for _, body in store.events_after(call_id, 0)]


class Call:
    """One call on fakes: a scripted decoder, energy VAD, a manual clock, a real store."""

    def __init__(self, tmp_path, max_pause_s: float = 300.0, assist: bool = False) -> None:
        self.clock = ManualClock()
        self.store = Store(tmp_path / "calls.sqlite3")
        self.decoder = ScriptedDecoder(lambda s: hypothesis("my card is ready"))
        self.scheduler = DecodeScheduler(self.decoder)
        voice = Voice(self.scheduler, EnergyVad, StreamingOptions(), clock=self.clock)
        runtime = None
        if assist:
            options = AssistOptions(embeddings_model="none", translation=False)
            runtime = AssistRuntime(Assistant.load(options))
        start = CallStart("p1", AudioFormat(Encoding.PCM16, RATE_HZ, 1), (Speaker.CUSTOMER,))
        self.session = CallSession(
            start, Protocol.NATIVE, Hub(self.store), voice, "en", runtime, max_pause_s=max_pause_s
        )

    def feed(self, audio: np.ndarray) -> None:
        for piece in in_frames(audio):
            self.session.feed(piece)

    async def end(self) -> list[dict]:
        await self.session.close(CallStop(EndReason.STOP))
        events = stored(self.store, "p1")
        self.scheduler.close()
        self.store.close()
        return events


async def test_paused_audio_never_reaches_a_decode_and_the_open_utterance_is_cut(tmp_path):
    call = Call(tmp_path)
    call.feed(tone(0.8, SPOKEN, RATE_HZ))  # still speaking when the pause comes
    assert call.session.pause(PausedBy.AGENT, "payment")
    assert not call.session.pause(PausedBy.PLATFORM, "again")  # already paused: nothing
    call.feed(tone(2.0, PAYMENT, RATE_HZ))  # the card number
    # what was said before the pause is final while the call is still paused
    await until(lambda: any(r.final for r in call.decoder.requests))
    call.clock.advance(42.0)
    assert call.session.resume(PausedBy.AGENT)
    assert not call.session.resume(PausedBy.PLATFORM)  # not paused: nothing
    call.feed(np.concatenate([silence(0.6, RATE_HZ), tone(0.5, SPOKEN, RATE_HZ)]))
    call.feed(silence(0.6, RATE_HZ))
    events = await call.end()

    heard = [float(np.abs(r.audio).max()) for r in call.decoder.requests]
    assert heard and max(heard) < (SPOKEN + PAYMENT) / 2  # nothing paused was decoded
    finals = [r for r in call.decoder.requests if r.final]
    assert len(finals) == 2
    assert finals[0].audio_s < 0.8 + 0.3 + 0.05  # the pre-pause speech and its padding only
    types = [e["type"] for e in events]
    assert types.count("call.paused") == types.count("call.resumed") == 1
    paused = next(e for e in events if e["type"] == "call.paused")
    resumed = next(e for e in events if e["type"] == "call.resumed")
    assert (paused["by"], paused["reason"]) == ("agent", "payment")
    assert (resumed["by"], resumed["reason"], resumed["paused_s"]) == ("agent", "payment", 42.0)
    # the paused time moved the clock on: the speech after it is at its own call time
    texts = [e for e in events if e["type"] == "transcript.final"]
    assert texts[0]["t_start"] < 0.8 < texts[1]["t_start"]
    assert texts[1]["t_start"] == pytest.approx(0.8 + 2.0 + 0.6 - 0.3, abs=0.1)
    assert events[-1]["duration_s"] == pytest.approx(0.8 + 2.0 + 1.7, abs=0.1)


async def test_a_call_that_ends_paused_just_ends(tmp_path):
    call = Call(tmp_path, max_pause_s=0.05)
    call.feed(np.concatenate([tone(0.5, SPOKEN, RATE_HZ), silence(0.6, RATE_HZ)]))
    call.session.pause(PausedBy.PLATFORM, "")
    call.feed(tone(1.0, PAYMENT, RATE_HZ))
    events = await call.end()
    await asyncio.sleep(0.1)  # past max_pause_s: the ended call raises nothing
    types = [e["type"] for e in events]
    assert types[-1] == "call.ended" and "call.resumed" not in types
    assert "handover.cue" not in types
    assert events[-1]["duration_s"] == pytest.approx(2.1, abs=0.05)  # the pause counts
    assert max(float(np.abs(r.audio).max()) for r in call.decoder.requests) < PAYMENT / 2


async def test_a_pause_left_too_long_raises_one_cue(tmp_path):
    call = Call(tmp_path, max_pause_s=0.05)
    call.session.pause(PausedBy.AGENT, "payment")
    await asyncio.sleep(0.3)  # wall time, not audio: AudioHook sends none while paused
    call.session.resume(PausedBy.AGENT)
    call.session.pause(PausedBy.AGENT, "payment")
    call.session.resume(PausedBy.AGENT)  # resumed in time: no cue for this one
    await asyncio.sleep(0.2)
    events = await call.end()
    cues = [e for e in events if e["type"] == "handover.cue"]
    assert len(cues) == 1
    (cue,) = cues
    assert cue["rule"] == PAUSE_RULE and cue["urgency"] == Severity.MEDIUM
    assert cue["reason"].startswith("Transcription has been paused for")
    assert "(payment): resume it once the payment is done" in cue["reason"]
    assert cue["open_items"] == ["Resume transcription"]
    assert cue["summary"]["intent"] is None and cue["transcript_tail"] == []


async def test_with_assist_the_cue_carries_the_summary_and_transcript(tmp_path):
    call = Call(tmp_path, max_pause_s=0.3, assist=True)
    call.feed(np.concatenate([tone(0.5, SPOKEN, RATE_HZ), silence(0.6, RATE_HZ)]))
    for _ in range(100):  # until the final is decoded and assist has read it
        if any(e["type"] == "sentiment" for e in stored(call.store, "p1")):
            break
        await asyncio.sleep(0.02)
    call.session.pause(PausedBy.AGENT, "payment")
    await asyncio.sleep(0.6)
    events = await call.end()
    (cue,) = [e for e in events if e["type"] == "handover.cue"]
    assert [line["text"] for line in cue["transcript_tail"]] == ["my card is ready"]


def final(speaker: Speaker, text: str, t_start: float) -> TranscriptFinal:
    return TranscriptFinal(f"{speaker}-{t_start}", speaker, text, t_start, t_start + 1, "en", ())


@pytest.mark.parametrize("paused_s", [0.0, 120.0])
async def test_time_spent_paused_is_nobodys_silence(paused_s):
    options = AssistOptions(embeddings_model="none", translation=False)
    published: list = []
    assist = CallAssist("c", AssistSession(Assistant.load(options)), published.append)
    assist.final(final(Speaker.AGENT, "Thanks for calling, how can I help?", 0.0))
    assist.final(final(Speaker.CUSTOMER, "I would like to pay my bill.", 2.0))
    if paused_s:
        assist.paused(paused_s)
    assist.tick(3.0 + 120.0 + 5.0)  # the caller waits 125 s of call time, 120 of it paused
    await assist.close()
    silent = [e for e in published if isinstance(e, HandoverCue) and "silence" in e.rule]
    assert bool(silent) is (paused_s == 0.0)
