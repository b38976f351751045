"""End to end in German: the multilingual model, Whisper's speech translation, Argos.

The caller's language comes from the platform here (Twilio's `language`
parameter, our own `start.language`); the agent speaks the agent language.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from websockets.asyncio.client import connect

from contract.events import (
    Sentiment,
    Speaker,
    TranscriptFinal,
    Translation,
    TranslationEngine,
)
from streams.client import Recording, native_messages, send_paced, twilio_messages
from testkit import FIXTURES
from testkit.calls import LabelledCall, stream_call
from testkit.events import payloads, watch
from testkit.server import LocalServer

AUDIO = FIXTURES / "audio"
GERMAN = AUDIO / "de_picovoice_cheetah_test_de.wav"  # "Die Werbung vermittelt einen ..."
SYNTHETIC_ARGOS = FIXTURES / "models" / "translate-de_en-synthetic.argosmodel"
ENGLISH_WORDS = {"the", "i", "my", "a", "to", "is", "and", "you", "two", "was", "with"}


async def test_german_call_gets_whisper_translations(server):
    call = LabelledCall.load(FIXTURES / "calls" / "billing_de")
    observed = await stream_call(server.ws, call, "de-billing", 1.0)  # real time: see test_pages
    finals = observed.of(TranscriptFinal)
    customer = [f for f in finals if f.speaker is Speaker.CUSTOMER]
    agent = [f for f in finals if f.speaker is Speaker.AGENT]
    assert customer and all(f.language == "de" for f in customer)
    assert agent and all(f.language == "en" for f in agent)
    translations = {t.segment_id: t for t in observed.of(Translation)}
    for final in customer:
        translation = translations[final.segment_id]
        assert translation.engine is TranslationEngine.WHISPER
        assert translation.target_language == "en"
        assert set(translation.text.lower().replace(".", " ").split()) & ENGLISH_WORDS
    assert not any(f.segment_id in translations for f in agent)
    # assist reads the English (tests/assist/test_translation.py checks the cues on it)
    translated = set(translations)
    sentiments = [s for s in observed.of(Sentiment) if s.speaker is Speaker.CUSTOMER]
    assert {s.segment_id for s in sentiments} == translated


async def test_argos_translates_inside_the_service_offline(tmp_path):
    packages = tmp_path / "argos"
    installed = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "streams.cli",
            "translate",
            "install",
            str(SYNTHETIC_ARGOS),
            "--packages-dir",
            str(packages),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "de -> en" in installed.stdout
    os.environ["CALLASSIST_ASSIST_ARGOS_PACKAGES_DIR"] = str(packages)
    try:
        server = LocalServer(tmp_path / "data").start()
    finally:
        del os.environ["CALLASSIST_ASSIST_ARGOS_PACKAGES_DIR"]
    try:
        recording = Recording.from_wav(GERMAN)
        messages = list(native_messages(recording, "de-argos"))
        start = json.loads(messages[0][1]) | {"language": "de"}
        messages[0] = (0.0, json.dumps(start))
        watcher = await watch(server.ws, "de-argos")
        async with connect(f"{server.ws}/v1/ingest") as ws:
            await send_paced(ws, iter(messages), 0)
        events = await asyncio.wait_for(watcher, 120)
    finally:
        server.stop()
    finals = payloads(events, TranscriptFinal)
    translations = payloads(events, Translation)
    assert finals and [t.segment_id for t in translations] == [f.segment_id for f in finals]
    # gibberish by design
    assert all(t.engine is TranslationEngine.ARGOS and t.text for t in translations)
    assert "Werbung" in " ".join(f.text for f in finals)


async def test_german_recordings_are_identified_as_german_over_twilio(server):
    """No language from the platform: the caller's language is identified from the speech."""
    for k, name in enumerate(
        ["de_picovoice_leopard_test_de.wav", "de_picovoice_cheetah_test_de.wav"]
    ):
        recording = Recording.from_wav(AUDIO / name)
        call_id = f"de-lid-{k}"
        watcher = await watch(server.ws, call_id)
        async with connect(f"{server.ws}/v1/twilio") as ws:
            await send_paced(ws, twilio_messages(recording, call_id), 2.0)
        events = await asyncio.wait_for(watcher, 120)
        finals = payloads(events, TranscriptFinal)
        assert finals and all(f.language == "de" for f in finals), finals
        assert all(0.5 <= f.language_probability <= 1.0 for f in finals)
        translations = payloads(events, Translation)
        assert [t.engine for t in translations] == [TranslationEngine.WHISPER] * len(finals)
