"""End to end: a platform pauses a call while the caller says something, and nothing said
during the pause reaches any transcript, while what was said before and after does."""

from __future__ import annotations

import asyncio
import re

import numpy as np
from websockets.asyncio.client import connect

from contract.events import (
    CallPaused,
    CallResumed,
    Event,
    PausedBy,
    TranscriptFinal,
    TranscriptPartial,
    Translation,
)
from streams.client import Recording, native_messages, send_paced
from testkit import FIXTURES
from testkit.events import numbered, payloads, watch
from testkit.platforms import paused_between
from testkit.server import LocalServer

HARVARD = FIXTURES / "audio" / "en_sb_harvard_spk1_snt1.wav"  # "the child almost hurt ... dog"
JFK = FIXTURES / "audio" / "en_whisper_jfk.wav"
# JFK says "And so my fellow Americans" before 2.2 s, then nothing until "ask not" at 3.2 s.
JFK_PAUSED_S = 2.7
SPEED = 3.0  # faster than real time: 14 s of call in under 5 s
NEVER_HEARD = ("fellow", "american")  # said only while paused


def words(events: list[Event]) -> str:
    """Every word any transcript event carried, partials and translations included."""
    texts = [p.text for p in payloads(events, TranscriptPartial)]
    texts += [f.text for f in payloads(events, TranscriptFinal)]
    texts += [t.text for t in payloads(events, Translation)]
    return " ".join(re.sub(r"[^a-z ]", " ", " ".join(texts).lower()).split())


async def test_nothing_said_while_paused_reaches_a_transcript(server: LocalServer):
    before = Recording.from_wav(HARVARD).samples  # still speaking when the pause comes
    jfk = Recording.from_wav(JFK).samples
    recording = Recording(np.concatenate([before, jfk]), 16000)
    pause_s = len(before) / 16000
    messages = paused_between(
        native_messages(recording, "e2e-pause"), pause_s, pause_s + JFK_PAUSED_S
    )
    watcher = await watch(server.ws, "e2e-pause")
    async with connect(f"{server.ws}/v1/ingest") as ws:
        await send_paced(ws, messages, SPEED)
    events = await asyncio.wait_for(watcher, 120)

    heard = words(events)
    assert not [w for w in NEVER_HEARD if w in heard], heard
    assert "dog" in heard and "child" in heard, heard  # before the pause: cut and decoded
    assert "country" in heard, heard  # after the resume
    pauses = numbered(events, CallPaused)
    resumes = numbered(events, CallResumed)
    assert len(pauses) == len(resumes) == 1 and pauses[0][0] < resumes[0][0]
    assert (pauses[0][1].by, pauses[0][1].reason) == (PausedBy.PLATFORM, "payment")
    assert resumes[0][1].by is PausedBy.PLATFORM and resumes[0][1].paused_s > 0
    # the paused stretch moved the call's clock on: later words keep their call times
    after = [f for f in payloads(events, TranscriptFinal) if "country" in f.text.lower()]
    assert after[0].t_start > pause_s + JFK_PAUSED_S - 0.5
