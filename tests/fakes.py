"""Fakes for fast tests of the logic around the model: scripted VAD and decoder."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import numpy as np

from contract.events import Word
from voice.audio import MODEL_SAMPLE_RATE_HZ
from voice.clock import ManualClock
from voice.decoding import DecodeRequest, Hypothesis, Segment
from voice.vad import VAD_FRAME_SAMPLES

_HOLD_LIMIT_S = 10.0  # a held decode gives up after this: a failed test must not hang


class EnergyVad:
    """Speech probability 0.9 for frames louder than a threshold, else 0.05."""

    def __init__(self, threshold: float = 0.01) -> None:
        self.threshold = threshold

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        frames = samples.reshape(-1, VAD_FRAME_SAMPLES)
        loud = np.sqrt((frames**2).mean(axis=1)) > self.threshold
        return np.where(loud, 0.9, 0.05).astype(np.float32)


def hypothesis(
    text: str, *, start: float = 0.0, word_s: float = 0.3, **scores: float
) -> Hypothesis:
    words = tuple(
        Word(w, start + i * word_s, start + (i + 1) * word_s, 0.9)
        for i, w in enumerate(text.split())
    )
    segment = Segment(
        text=text,
        words=words,
        no_speech_prob=scores.get("no_speech_prob", 0.01),
        avg_logprob=scores.get("avg_logprob", -0.2),
    )
    return Hypothesis(segments=(segment,), language="en")


class ScriptedDecoder:
    """Answers each decode with `respond(audio_seconds)`; records what it was asked.

    Time, for tests of the logic around it: `hold()` makes decodes wait until
    `release()`; with a `clock`, each decode takes `decode_s` of that clock's time.
    `delay_s` makes each decode take real time instead.
    """

    def __init__(
        self,
        respond: Callable[[float], Hypothesis] | None = None,
        delay_s: float = 0.0,
        *,
        clock: ManualClock | None = None,
        decode_s: float = 0.0,
    ) -> None:
        self.respond = respond or (lambda seconds: hypothesis("hello there"))
        self.delay = threading.Event()
        self.delay_s = delay_s
        self.clock = clock
        self.decode_s = decode_s
        self.calls: list[float] = []  # audio seconds of each request, in the order decoded
        self.requests: list[DecodeRequest] = []
        self._open = threading.Event()
        self._open.set()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def decode(self, request: DecodeRequest) -> Hypothesis:
        self.requests.append(request)
        self.calls.append(request.audio_s)
        if not self._open.wait(_HOLD_LIMIT_S):
            raise TimeoutError("a held decode was never released")
        if self.delay_s:
            self.delay.wait(self.delay_s)
        if self.clock is not None:
            self.clock.advance(self.decode_s)
        return self.respond(request.audio_s)


async def until(condition: Callable[[], bool], limit_s: float = 5.0) -> None:
    """Lets the loop (and worker threads) run until `condition()` holds."""
    async with asyncio.timeout(limit_s):
        while not condition():  # noqa: ASYNC110 (worker threads change it: nothing to await)
            await asyncio.sleep(0.005)


def tone(seconds: float, amplitude: float = 0.3, rate: int = MODEL_SAMPLE_RATE_HZ) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float, rate: int = MODEL_SAMPLE_RATE_HZ) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.float32)
