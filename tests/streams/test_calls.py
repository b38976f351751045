import asyncio
import json

import numpy as np
import pytest

from contract.events import EndReason, Protocol, Speaker
from streams.calls import CallRegistry, CallRejected, CallSession, Voice
from streams.hub import Hub
from streams.protocols.base import AudioFrames, CallStart, CallStop
from streams.store import Store
from tests.fakes import EnergyVad, ScriptedDecoder, silence, tone
from voice.audio import AudioFormat, Encoding
from voice.online import StreamingOptions
from voice.scheduler import DecodeScheduler


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


async def test_a_failing_audio_step_costs_that_audio_not_the_call(tmp_path):
    store = Store(tmp_path / "calls.sqlite3")
    hub = Hub(store)
    scheduler = DecodeScheduler(ScriptedDecoder())
    voice = Voice(scheduler, FailsOnceVad, StreamingOptions())
    start = CallStart("c1", AudioFormat(Encoding.PCM16, 16000, 1), (Speaker.CUSTOMER,))
    session = CallSession(start, Protocol.NATIVE, hub, voice, "en")
    session.feed(frames(silence(0.2)))
    await asyncio.sleep(0.2)  # the first step fails here
    session.feed(frames(np.concatenate([tone(1.0), silence(1.0)])))
    await session.close(CallStop(EndReason.STOP))
    events = [json.loads(body)["type"] for _, body in store.events_after("c1", 0)]
    assert events[0] == "call.started" and events[-1] == "call.ended"
    assert "transcript.final" in events
    scheduler.close()
    store.close()


async def test_backed_up_finals_hold_the_platform_back(tmp_path):
    store = Store(tmp_path / "calls.sqlite3")
    hub = Hub(store)
    scheduler = DecodeScheduler(ScriptedDecoder(delay_s=0.3))
    voice = Voice(scheduler, EnergyVad, StreamingOptions(), max_backlog_s=2.0)
    start = CallStart("c2", AudioFormat(Encoding.PCM16, 16000, 1), (Speaker.CUSTOMER,))
    session = CallSession(start, Protocol.NATIVE, hub, voice, "en")
    for _ in range(5):  # five short utterances arrive at once
        session.feed(frames(np.concatenate([tone(0.5), silence(0.6)])))
    await asyncio.sleep(0.1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(session.room(), 0.2)  # finals are queued: stop reading
    await asyncio.wait_for(session.room(), 5)  # they drain, reading resumes
    await session.close(CallStop(EndReason.STOP))
    finals = [b for _, b in store.events_after("c2", 0) if '"transcript.final"' in b]
    assert len(finals) == 5  # nothing was dropped
    scheduler.close()
    store.close()


def test_an_overloaded_recogniser_refuses_new_calls(tmp_path):
    class Overloaded:
        overloaded = True

    hub = Hub(Store(tmp_path / "calls.sqlite3"))
    voice = Voice(Overloaded(), EnergyVad, StreamingOptions())  # type: ignore[arg-type]
    registry = CallRegistry(hub, voice, "en")
    start = CallStart("c3", AudioFormat(Encoding.PCM16, 16000, 1), (Speaker.CUSTOMER,))
    with pytest.raises(CallRejected) as refused:
        registry.open(start, Protocol.NATIVE)
    assert refused.value.code == "busy"
    assert hub.store.call_row("c3") is None  # nothing stored for a refused call
