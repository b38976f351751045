"""What a decode is asked and what it returns, and the interface every decoder (real
or fake) offers."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from contract.events import Word
from voice.audio import MODEL_SAMPLE_RATE_HZ


class DecodeTask(enum.StrEnum):
    TRANSCRIBE = "transcribe"
    TRANSLATE = "translate"  # Whisper's speech translation into English (multilingual models)


@dataclass(frozen=True, slots=True, eq=False)
class DecodeRequest:
    """One utterance (or the start of one) to decode, and how.

    Built from a `voice.online.DecodeJob` by `DecodeJob.request`, in one place."""

    audio: np.ndarray  # mono float32 at MODEL_SAMPLE_RATE_HZ, at most 30 s
    language: str | None  # None: the model identifies the language
    # with language None: the speaker's language so far, which the utterance is decoded in
    # whatever identification hears (the speaker switches only on repeated checks)
    known_language: str | None = None
    prompt: str = ""  # the speaker's latest final words: context for the model
    word_timestamps: bool = False
    final: bool = True  # False: a partial, shown while the utterance goes on
    busy: bool = False  # the machine is behind: the decoder may trade accuracy for speed
    task: DecodeTask = DecodeTask.TRANSCRIBE

    @property
    def audio_s(self) -> float:
        return len(self.audio) / MODEL_SAMPLE_RATE_HZ


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
    # what identification heard, most likely first, among the candidate languages
    # (empty when the language was given)
    languages: tuple[tuple[str, float], ...] = ()


class Decoder(Protocol):
    def decode(self, request: DecodeRequest) -> Hypothesis:
        """Blocking; called on a worker thread, never on the event loop."""
        ...
