"""Language identification: it chooses only among the deployment's candidate languages,
English is still decoded by the English model, and a speaker's language is decided on
clear evidence and switched only on repeated, sure checks."""

from __future__ import annotations

import audioop
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import soxr
from scipy.io import wavfile

from contract.events import Speaker, TranscriptFinal
from testkit import FIXTURES
from tests.fakes import EnergyVad, silence, tone
from voice.audio import to_ulaw
from voice.decoding import DecodeRequest, Hypothesis, Segment
from voice.online import SpeakerStream, StreamingOptions
from voice.options import WhisperOptions
from voice.whisper import LanguageRouter, WhisperEngine

# What base said of accented English on the telephone: Japanese, sure of it.
HEARD = [("ja", 0.62), ("en", 0.30), ("de", 0.05), ("zh", 0.03)]
Heard = tuple[tuple[str, float], ...]
SECOND = np.zeros(16000, dtype=np.float32)


@dataclass
class MultilingualModel:
    """Identifies the language as HEARD says, and transcribes in whatever it is asked."""

    asked: list[str | None] = field(default_factory=list)
    identified: int = 0
    model: Any = field(default_factory=lambda: SimpleNamespace(is_multilingual=True))

    def detect_language(self, audio: np.ndarray) -> tuple[str, float, list[tuple[str, float]]]:
        self.identified += 1
        return HEARD[0][0], HEARD[0][1], HEARD

    def transcribe(self, audio: np.ndarray, **options: Any) -> tuple[list[Any], Any]:
        language = options["language"]
        self.asked.append(language)
        text = {"ja": " はいはい", "en": " Yes, yes.", "de": " Ja, ja."}[language]
        segment = SimpleNamespace(text=text, words=[], no_speech_prob=0.0, avg_logprob=-0.3)
        return [segment], SimpleNamespace(language=language, language_probability=1.0)


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
    hypothesis = loaded.decode(DecodeRequest(SECOND, None))
    assert model.identified == 1 and model.asked == ["en"]  # identified, then decoded once
    assert hypothesis.language == "en"
    assert hypothesis.language_probability == pytest.approx(0.30 / 0.35)
    assert [code for code, _ in hypothesis.languages] == ["en", "de"]
    assert [s.text for s in hypothesis.segments] == ["Yes, yes."]


def test_with_no_candidates_any_language_may_be_chosen(loaded, monkeypatch):
    model = engine(loaded, (), monkeypatch)
    hypothesis = loaded.decode(DecodeRequest(SECOND, None))
    assert model.asked == ["ja"] and hypothesis.language == "ja"


def test_an_unsure_identification_decodes_in_the_main_language(loaded, monkeypatch):
    model = engine(loaded, ("de", "ja", "en"), monkeypatch)  # ja 0.62 of 0.97: sure
    assert loaded.decode(DecodeRequest(SECOND, None)).language == "ja"
    monkeypatch.setattr(loaded, "candidates", ("de", "zh"))  # de 0.05 of 0.08: not sure
    assert loaded.decode(DecodeRequest(SECOND, None)).language == "de"
    monkeypatch.setattr(loaded, "candidates", ("zh", "de"))  # the main language: zh
    assert loaded.decode(DecodeRequest(SECOND, None)).language == "de"  # de 0.625 is sure
    assert model.asked == ["ja", "de", "de"]


def test_a_speaker_whose_language_is_known_is_decoded_in_it_while_checked(loaded, monkeypatch):
    model = engine(loaded, ("en", "ja"), monkeypatch)
    hypothesis = loaded.decode(DecodeRequest(SECOND, None, known_language="en"))
    assert model.asked == ["en"] and hypothesis.languages[0][0] == "ja"


def test_a_fixed_language_is_decoded_once(loaded, monkeypatch):
    model = engine(loaded, ("en", "de"), monkeypatch)
    loaded.decode(DecodeRequest(SECOND, "en"))
    assert model.asked == ["en"] and model.identified == 0


class Engine:
    """A router's engine: English only, or multilingual with HEARD's opinion."""

    def __init__(self, multilingual: bool) -> None:
        self.multilingual = multilingual
        self.main_language = "en"
        self.decoded: list[str | None] = []

    def identify(self, request: DecodeRequest) -> tuple[tuple[str, float], ...]:
        return (("en", 0.9), ("de", 0.1))

    def decode(self, request: DecodeRequest) -> Hypothesis:
        self.decoded.append(request.language)
        return Hypothesis((Segment("yes", (), 0.0, -0.2),), request.language or "en")


def test_english_heard_by_the_multilingual_model_is_decoded_by_the_english_one():
    english, multilingual = Engine(False), Engine(True)
    router = LanguageRouter(WhisperOptions(), english=english)  # type: ignore[arg-type]
    router._multilingual = multilingual  # type: ignore[assignment]
    hypothesis = router.decode(DecodeRequest(SECOND, None))
    assert english.decoded == ["en"] and multilingual.decoded == []
    assert hypothesis.language == "en" and hypothesis.language_probability == 0.9


# --- a speaker's language over a call ---------------------------------------------------
def speak(heard_per_final: list[Heard], **options: Any):
    """Streams one 1.5 s utterance per entry; an identifying final hears its entry.
    Returns the finals and the language each final was asked to decode in."""
    stream = SpeakerStream(
        Speaker.CUSTOMER, "auto", EnergyVad(), StreamingOptions(language_recheck_every=2, **options)
    )
    asked: list[str | None] = []
    finals: list[TranscriptFinal] = []
    for heard in heard_per_final:
        for chunk in np.split(np.concatenate([tone(1.5), silence(1.0)]), 50):
            stream.push_audio(chunk)
            while (job := stream.next_job()) is not None:
                if not job.is_final:
                    stream.apply(job, None)
                    continue
                asked.append(job.language)
                languages = heard if job.language is None else ()
                language = job.language or languages[0][0]
                result = Hypothesis((Segment("hallo", (), 0.0, -0.2),), language, 1.0, languages)
                finals.extend(
                    u for u in stream.apply(job, result) if isinstance(u, TranscriptFinal)
                )
    return finals, asked


GERMAN: Heard = (("de", 0.9), ("en", 0.1))
ENGLISH: Heard = (("en", 0.95), ("de", 0.05))
UNSURE: Heard = (("pt", 0.55), ("en", 0.45))


def test_words_shown_before_identification_carry_the_language_they_were_decoded_in():
    stream = SpeakerStream(Speaker.CUSTOMER, "auto", EnergyVad(), StreamingOptions())
    shown = []
    for chunk in np.split(tone(3.0), 60):
        stream.push_audio(chunk)
        while (job := stream.next_job()) is not None:
            assert job.language == "en"  # a partial, before any final identified
            result = Hypothesis((Segment("hello", (), 0.0, -0.2),), "en")
            shown += stream.apply(job, result)
    assert shown and all(u.language == "en" for u in shown)


def test_one_short_utterance_does_not_decide_the_language():
    finals, asked = speak([GERMAN, GERMAN, GERMAN])
    assert asked[:2] == [None, None]  # 1.5 s is not enough: the second final identifies too
    assert asked[2] == "de"  # decided on 3 s of clear evidence
    assert finals[-1].language == "de"


def test_unsure_evidence_keeps_identifying():
    _, asked = speak([UNSURE, UNSURE, ENGLISH, ENGLISH])
    assert asked[:3] == [None, None, None]  # pt leads with 0.55: not clear enough ...
    assert asked[3] == "en"  # ... until English holds 0.63 of the evidence


def test_one_sure_check_does_not_switch_but_two_in_a_row_do():
    # checked: finals 3 (German), 4 (at once: English), then 6 and 7 (German, German)
    finals, asked = speak([ENGLISH] * 3 + [GERMAN, ENGLISH, ENGLISH] + [GERMAN] * 4)
    assert [i for i, language in enumerate(asked) if language is None] == [0, 1, 3, 4, 6, 7, 9]
    languages = [f.language for f in finals]
    assert languages[:7] == ["en"] * 7  # one German-sounding check: still English
    assert languages[7:] == ["de"] * 3  # two sure checks in a row: the caller switched


# --- the real models, on telephone audio -------------------------------------------------
DEFAULT_CANDIDATES = ("en", "es", "fr", "de", "it", "pt", "nl")


def telephone(name: str) -> np.ndarray:
    """A fixture recording as a caller's line carries it: 8 kHz mu-law, back at 16 kHz."""
    rate, samples = wavfile.read(FIXTURES / "audio" / name)
    narrow = soxr.resample(samples.astype(np.float32) / 32768, rate, 8000)
    pcm = audioop.ulaw2lin(to_ulaw(narrow), 2)
    return soxr.resample(np.frombuffer(pcm, "<i2").astype(np.float32) / 32768, 8000, 16000)


@pytest.fixture(scope="module")
def router() -> LanguageRouter:
    return LanguageRouter(WhisperOptions(), DEFAULT_CANDIDATES)


@pytest.mark.parametrize(
    ("name", "language", "word"),
    [
        ("de_picovoice_leopard_test_de.wav", "de", "Portal"),
        ("de_picovoice_cheetah_test_de.wav", "de", "Werbung"),
        ("en_sb_harvard_spk1_snt1.wav", "en", "dog"),
    ],
)
def test_the_real_models_identify_telephone_speech_among_the_default_candidates(
    router, name, language, word
):
    hypothesis = router.decode(DecodeRequest(telephone(name), None))
    assert hypothesis.language == language
    assert hypothesis.languages[0][0] == language and hypothesis.language_probability >= 0.5
    assert word.lower() in " ".join(s.text for s in hypothesis.segments).lower()
