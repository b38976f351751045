"""Language identification chooses only among the deployment's candidate languages."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from voice.decoding import DecodeRequest
from voice.options import WhisperOptions
from voice.whisper import WhisperEngine

# What base said of accented English on the telephone: Japanese, sure of it.
HEARD = [("ja", 0.62), ("en", 0.30), ("de", 0.05), ("zh", 0.03)]


@dataclass
class MultilingualModel:
    """Identifies the language as HEARD says, and transcribes in whatever it is asked."""

    asked: list[str | None] = field(default_factory=list)
    model: Any = field(default_factory=lambda: SimpleNamespace(is_multilingual=True))

    def transcribe(self, audio: np.ndarray, **options: Any) -> tuple[list[Any], Any]:
        language = options["language"]
        self.asked.append(language)
        heard = language or HEARD[0][0]
        text = {"ja": " はいはい", "en": " Yes, yes."}[heard]
        segment = SimpleNamespace(text=text, words=[], no_speech_prob=0.0, avg_logprob=-0.3)
        info = SimpleNamespace(
            language=heard,
            language_probability=1.0 if language else HEARD[0][1],
            all_language_probs=None if language else HEARD,
        )
        return [segment], info


@pytest.fixture(scope="module")
def loaded() -> WhisperEngine:
    return WhisperEngine(WhisperOptions())


def engine(loaded: WhisperEngine, candidates: tuple[str, ...], monkeypatch) -> MultilingualModel:
    model = MultilingualModel()
    monkeypatch.setattr(loaded, "_model", model)
    monkeypatch.setattr(loaded, "candidates", candidates)
    return model


def test_a_language_outside_the_candidates_is_never_chosen(loaded, monkeypatch):
    model = engine(loaded, ("en", "de"), monkeypatch)
    hypothesis = loaded.decode(DecodeRequest(np.zeros(16000, dtype=np.float32), None))
    assert model.asked == [None, "en"]  # identified, then transcribed in the best candidate
    assert hypothesis.language == "en"
    assert hypothesis.language_probability == pytest.approx(0.30 / 0.35)
    assert [s.text for s in hypothesis.segments] == ["Yes, yes."]


def test_with_no_candidates_any_language_may_be_chosen(loaded, monkeypatch):
    model = engine(loaded, (), monkeypatch)
    hypothesis = loaded.decode(DecodeRequest(np.zeros(16000, dtype=np.float32), None))
    assert model.asked == [None] and hypothesis.language == "ja"


def test_a_fixed_language_is_decoded_once(loaded, monkeypatch):
    model = engine(loaded, ("en", "de"), monkeypatch)
    loaded.decode(DecodeRequest(np.zeros(16000, dtype=np.float32), "en"))
    assert model.asked == ["en"]
