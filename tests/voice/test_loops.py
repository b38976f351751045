"""Repetition loops: found, decoded again without repeated trigrams, cut if they persist."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from voice.decoding import DecodeRequest
from voice.loops import loops, trim
from voice.options import WhisperOptions
from voice.whisper import WhisperEngine


@pytest.mark.parametrize(
    "looped, kept",
    [
        ("3. 3. 3. 3. 3. 3. 3. 3.", "3."),
        (
            "Was für den Land und der Land und der Land und der Land und der Land",
            "Was für den Land und der Land",
        ),
        ("Thank you. Thank you. Thank you. Thank you. Bye.", "Thank you. Bye."),
    ],
)
def test_a_loop_is_cut_to_one_occurrence(looped: str, kept: str):
    assert loops(looped) and trim(looped) == kept


@pytest.mark.parametrize(
    "speech",
    [
        "No, no, no, I said the twenty third.",  # three times is speech, not a loop
        "I want to speak to a manager right now.",
        "My card number is 4929 4061 7253 0866.",
        "one two three four five six seven eight nine ten",
    ],
)
def test_speech_that_repeats_a_little_stays(speech: str):
    assert not loops(speech) and trim(speech) == speech


@dataclass
class LoopingModel:
    """Answers like Whisper stuck in a loop unless repeated trigrams are forbidden;
    `stubborn` loops even then."""

    stubborn: bool = False
    asked: list[int] = field(default_factory=list)
    model: Any = field(default_factory=lambda: SimpleNamespace(is_multilingual=False))

    def transcribe(self, audio: np.ndarray, **options: Any) -> tuple[list[Any], Any]:
        self.asked.append(options["no_repeat_ngram_size"])
        looping = self.stubborn or options["no_repeat_ngram_size"] == 0
        text = " 3. 3. 3. 3. 3. 3." if looping else " 3."
        words = [
            SimpleNamespace(word=f" {w}", start=0.1, end=0.4, probability=0.9) for w in text.split()
        ]
        segment = SimpleNamespace(text=text, words=words, no_speech_prob=0.0, avg_logprob=-0.2)
        return [segment], SimpleNamespace(language="en", language_probability=1.0)


@pytest.fixture(scope="module")
def engine() -> WhisperEngine:
    return WhisperEngine(WhisperOptions())


def request() -> DecodeRequest:
    return DecodeRequest(np.zeros(7000, dtype=np.float32), "en", word_timestamps=True)


def test_a_looping_decode_is_decoded_once_more_without_repeated_trigrams(engine, monkeypatch):
    model = LoopingModel()
    monkeypatch.setattr(engine, "_model", model)
    hypothesis = engine.decode(request())
    assert model.asked == [0, 3]
    assert [s.text for s in hypothesis.segments] == ["3."]


def test_a_loop_that_persists_is_cut_with_its_words(engine, monkeypatch):
    model = LoopingModel(stubborn=True)
    monkeypatch.setattr(engine, "_model", model)
    (segment,) = engine.decode(request()).segments
    assert model.asked == [0, 3]  # once more, never more: a decode's time stays bounded
    assert segment.text == "3." and [w.text for w in segment.words] == ["3."]
