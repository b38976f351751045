"""Assist in translation: the agent-language words drive every detector."""

import dataclasses

from assist.session import AssistSession
from assist.translate import SentenceSplitter
from contract.events import Speaker, TranscriptFinal, type_name

GERMAN = "Zehn Tage? Das ist eine Frechheit. Ich möchte sofort mit einem Manager sprechen."
ENGLISH = "Ten days? This is outrageous. I want to speak to a manager right now."


class FakeArgos:
    def can_translate(self, source: str, target: str) -> bool:
        return (source, target) == ("de", "en")

    def translate(self, text: str, source: str, target: str) -> str:
        return ENGLISH


def final(text: str, language: str, k: int = 1) -> TranscriptFinal:
    return TranscriptFinal(f"c-{k}", Speaker.CUSTOMER, text, 5.0 * k, 5.0 * k + 4, language, ())


def kinds(events) -> list[str]:
    return [type_name(type(e)) for e in events]


def test_a_german_complaint_raises_the_same_cue_as_an_english_one(assistant):
    session = AssistSession(dataclasses.replace(assistant, translator=FakeArgos()))
    events = session.on_final(final(GERMAN, "de"))
    assert kinds(events)[0] == "translation"
    assert events[0].engine == "argos" and events[0].text == ENGLISH  # type: ignore[union-attr]
    cues = [e for e in events if kinds([e]) == ["handover.cue"]]
    assert cues and "manager_request" in cues[0].rule  # type: ignore[union-attr]


def test_without_argos_the_speech_translation_brings_the_words(assistant):
    session = AssistSession(dataclasses.replace(assistant, translator=None))
    german = final(GERMAN, "de")
    assert session.wants_speech_translation("de")
    assert session.on_final(german) == []  # waits for Whisper's English
    events = session.on_speech_translation(german, ENGLISH)
    assert events[0].engine == "whisper"  # type: ignore[union-attr]
    assert "handover.cue" in kinds(events)


def test_no_engine_at_all_is_said_once_and_the_call_goes_on(assistant):
    session = AssistSession(dataclasses.replace(assistant, translator=None), agent_language="fr")
    first = session.on_final(final("I was charged twice for my plan.", "en", 1))
    assert first[0].engine == "none" and "install" in first[0].note  # type: ignore[union-attr]
    second = session.on_final(final("Nothing works.", "en", 2))
    assert "translation" not in kinds(second) and "sentiment" in kinds(second)


def test_english_for_an_english_agent_is_not_translated(assistant):
    session = AssistSession(assistant)
    assert "translation" not in kinds(session.on_final(final(ENGLISH, "en")))
    assert not session.wants_speech_translation("en")


def test_our_sentence_splitter_needs_no_model():
    splitter = SentenceSplitter()
    assert splitter.split_sentences("Guten Tag. Zehn Tage? Das ist 2025 so! ok.") == [
        "Guten Tag.",
        "Zehn Tage?",
        "Das ist 2025 so! ok.",
    ]


def test_a_failed_speech_translation_still_lets_assist_read_the_original(assistant):
    session = AssistSession(dataclasses.replace(assistant, translator=None))
    german = final(GERMAN, "de")
    assert session.on_final(german) == []
    events = session.on_speech_translation(german, "")
    assert "translation" not in kinds(events) and "sentiment" in kinds(events)
