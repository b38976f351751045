"""Fakes for fast tests of the logic around the model: scripted VAD and decoder."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from contract.events import Word
from voice.decoding import Hypothesis, Segment
from voice.vad import VAD_FRAME_SAMPLES


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
    """Answers each decode with `respond(audio_seconds, is_timed)`; records what it was asked."""

    def __init__(self, respond: Callable[[float], Hypothesis] | None = None, delay_s: float = 0.0):
        self.respond = respond or (lambda seconds: hypothesis("hello there"))
        self.delay = threading.Event()
        self.delay_s = delay_s
        self.calls: list[float] = []

    def decode(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        prompt: str = "",
        word_timestamps: bool = False,
        final: bool = True,
        busy: bool = False,
        task: str = "transcribe",
    ) -> Hypothesis:
        self.calls.append(len(audio) / 16_000)
        if self.delay_s:
            self.delay.wait(self.delay_s)
        return self.respond(len(audio) / 16_000)


def tone(seconds: float, amplitude: float = 0.3, rate: int = 16_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float, rate: int = 16_000) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.float32)
