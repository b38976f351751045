"""Live calls on fakes: a failing step, backpressure, a failing scheduler, and final
latency on a ManualClock."""

import asyncio
import json

import numpy as np
import pytest

from contract.events import EndReason, Protocol, Speaker
from streams.calls import CallRegistry, CallRejected, CallSession, Voice
from streams.hub import Hub
from streams.protocols.base import AudioFrames, CallStart, CallStop
from streams.store import Store
from tests.fakes import EnergyVad, ScriptedDecoder, silence, tone, until
from voice.audio import MODEL_SAMPLE_RATE_HZ, AudioFormat, Encoding
from voice.clock import ManualClock
from voice.online import StreamingOptions
from voice.scheduler import DecodeRecord, DecodeScheduler


class FailsOnceVad(EnergyVad):
    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        if not self.failed:
            self.failed = True
            raise RuntimeError("onnxruntime hiccup")
        return super().probabilities(samples)


def frames(audio: np.ndarray) -> AudioFrames:
    pcm = (audio * 32767).astype(np.int16).reshape(-1, 1)
    return AudioFrames(pcm, (Speaker.CUSTOMER,))


def call_start(call_id: str) -> CallStart:
    return CallStart(
        call_id, AudioFormat(Encoding.PCM16, MODEL_SAMPLE_RATE_HZ, 1), (Speaker.CUSTOMER,)
    )


def utterance() -> np.ndarray:
    return np.concatenate([tone(0.5), silence(0.6)])


def stored_types(store: Store, call_id: str) -> list[str]:
    return [json.loads(body)["type"] for _, body in store.events_after(call_id, 0)]


async def test_a_failing_audio_step_costs_that_audio_not_the_call(tmp_path, caplog):
    store = Store(tmp_path / "calls.sqlite3")
    hub = Hub(store)
    scheduler = DecodeScheduler(ScriptedDecoder())
    voice = Voice(scheduler, FailsOnceVad, StreamingOptions())
    session = CallSession(call_start("c1"), Protocol.NATIVE, hub, voice, "en")
    session.feed(frames(silence(0.2)))
    await until(lambda: "audio step failed" in caplog.text)  # the first step fails here
    session.feed(frames(np.concatenate([tone(1.0), silence(1.0)])))
    await session.close(CallStop(EndReason.STOP))
    events = stored_types(store, "c1")
    assert events[0] == "call.started" and events[-1] == "call.ended"
    assert "transcript.final" in events
    scheduler.close()
    store.close()


async def test_backed_up_finals_hold_the_platform_back(tmp_path):
    store = Store(tmp_path / "calls.sqlite3")
    hub = Hub(store)
    decoder = ScriptedDecoder()
    decoder.hold()  # the model is busy until released
    scheduler = DecodeScheduler(decoder)
    voice = Voice(scheduler, EnergyVad, StreamingOptions(), max_backlog_s=2.0)
    session = CallSession(call_start("c2"), Protocol.NATIVE, hub, voice, "en")
    for _ in range(5):  # five short utterances arrive at once
        session.feed(frames(utterance()))
    room = asyncio.ensure_future(session.room())
    await asyncio.sleep(0.1)  # the worker cuts the utterances; their finals wait for the model
    assert not room.done()  # finals are queued: stop reading
    decoder.release()
    await asyncio.wait_for(room, 5)  # they drain, reading resumes
    await session.close(CallStop(EndReason.STOP))
    finals = [b for _, b in store.events_after("c2", 0) if '"transcript.final"' in b]
    assert len(finals) == 5  # nothing was dropped
    scheduler.close()
    store.close()


async def test_a_failing_scheduler_costs_one_final_and_the_call_still_ends(tmp_path, caplog):
    failures = iter([RuntimeError("a bug in the metrics")])

    def observer(record: DecodeRecord) -> None:
        if record.final and (error := next(failures, None)) is not None:
            raise error

    store = Store(tmp_path / "calls.sqlite3")
    scheduler = DecodeScheduler(ScriptedDecoder(), observer=observer)
    voice = Voice(scheduler, EnergyVad, StreamingOptions())  # final_timeout_s: 120 s
    session = CallSession(call_start("c4"), Protocol.NATIVE, Hub(store), voice, "en")
    for _ in range(3):
        session.feed(frames(utterance()))
    async with asyncio.timeout(5):  # promptly: no speaker waits for a lost decode
        await session.close(CallStop(EndReason.STOP))
    events = stored_types(store, "c4")
    assert events.count("transcript.final") == 2  # the other finals are all there
    assert events[-1] == "call.ended"
    assert "decode bookkeeping failed" in caplog.text
    scheduler.close()
    store.close()


async def test_final_latency_runs_from_the_arrival_of_the_final_words(tmp_path):
    clock = ManualClock()
    latencies: list[float] = []
    store = Store(tmp_path / "calls.sqlite3")
    scheduler = DecodeScheduler(ScriptedDecoder(clock=clock, decode_s=0.25), clock=clock)
    voice = Voice(
        scheduler, EnergyVad, StreamingOptions(), on_final_latency=latencies.append, clock=clock
    )
    session = CallSession(call_start("c5"), Protocol.NATIVE, Hub(store), voice, "en")
    session.feed(frames(tone(1.0)))  # "hello there", in its first 0.6 s
    clock.advance(2.0)
    session.feed(frames(silence(1.0)))  # the pause that ends the utterance, 2 s later
    await session.close(CallStop(EndReason.STOP))
    assert latencies == [2.25]  # the wait for the pause, then a 0.25 s decode
    scheduler.close()
    store.close()


def test_an_overloaded_recogniser_refuses_new_calls(tmp_path):
    class Overloaded:
        overloaded = True

    store = Store(tmp_path / "calls.sqlite3")
    hub = Hub(store)
    voice = Voice(Overloaded(), EnergyVad, StreamingOptions())  # type: ignore[arg-type]
    registry = CallRegistry(hub, voice, "en")
    with pytest.raises(CallRejected) as refused:
        registry.open(call_start("c3"), Protocol.NATIVE)
    assert refused.value.code == "busy"
    assert store.call_row("c3") is None  # nothing stored for a refused call


async def test_times_after_a_gap_are_on_the_conversations_clock(tmp_path):
    store = Store(tmp_path / "calls.sqlite3")
    scheduler = DecodeScheduler(ScriptedDecoder())
    voice = Voice(scheduler, EnergyVad, StreamingOptions())
    session = CallSession(call_start("c6"), Protocol.NATIVE, Hub(store), voice, "en")
    session.feed(frames(utterance()))
    gap = AudioFrames(np.zeros((0, 1), dtype=np.int16), (Speaker.CUSTOMER,), gap_s=3600.0)
    session.feed(gap)  # an hour the platform did not send: no audio is made for it
    session.feed(frames(utterance()))
    await session.close(CallStop(EndReason.STOP))
    finals = [
        json.loads(body) for _, body in store.events_after("c6", 0) if '"transcript.final"' in body
    ]
    assert len(finals) == 2
    assert finals[0]["t_start"] < 1.0
    # 1.1 s of audio, the hour, then speech at 3601.1 s (its text starts 0.3 s of padding earlier)
    assert finals[1]["t_start"] == pytest.approx(3601.1 - 0.3, abs=0.05)
    ended = json.loads(store.events_after("c6", 0)[-1][1])
    assert ended["duration_s"] == pytest.approx(3602.2, abs=0.1)
    assert session.skipped_s == pytest.approx(3600 - 0.5)
    scheduler.close()
    store.close()


async def test_every_sample_sent_is_in_the_call_even_through_the_resampler(tmp_path):
    """8 kHz telephone audio goes through a resampler that holds a few ms back: the end
    of the call flushes it, so the call is as long as the audio sent."""
    store = Store(tmp_path / "calls.sqlite3")
    scheduler = DecodeScheduler(ScriptedDecoder())
    voice = Voice(scheduler, EnergyVad, StreamingOptions())
    start = CallStart("c8k", AudioFormat(Encoding.PCM16, 8000, 1), (Speaker.CUSTOMER,))
    session = CallSession(start, Protocol.NATIVE, Hub(store), voice, "en")
    audio = (np.concatenate([tone(5.0, rate=8000), silence(6.0, rate=8000)]) * 32767).astype(
        np.int16
    )
    for at in range(0, len(audio), 160):  # 20 ms frames, as platforms send them
        session.feed(AudioFrames(audio[at : at + 160].reshape(-1, 1), (Speaker.CUSTOMER,)))
    await session.close(CallStop(EndReason.STOP))
    ended = json.loads(store.events_after("c8k", 0)[-1][1])
    assert ended["duration_s"] == pytest.approx(11.0, abs=0.002)
    scheduler.close()
    store.close()
