"""What a decode returns, and the interface every decoder (real or fake) offers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from contract.events import Word


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    words: tuple[Word, ...]  # empty when decoded without timestamps; times relative to the audio
    no_speech_prob: float
    avg_logprob: float


@dataclass(frozen=True, slots=True)
class Hypothesis:
    segments: tuple[Segment, ...]
    language: str
    language_probability: float = 1.0  # when the model detected the language


class Decoder(Protocol):
    def decode(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        prompt: str = "",
        word_timestamps: bool = False,
        final: bool = True,
        busy: bool = False,
        task: str = "transcribe",  # "translate": into English (multilingual models only)
    ) -> Hypothesis: ...
