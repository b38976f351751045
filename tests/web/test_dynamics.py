"""Conversation dynamics in a real browser: a silence on a live call shows as dead air
on the agent's desktop and as an incident on the supervisor page."""

from __future__ import annotations

import numpy as np
from playwright.async_api import expect
from websockets.asyncio.client import connect

from streams.client import Recording, native_messages, send_paced
from testkit import FIXTURES
from testkit.server import LocalServer

JFK = FIXTURES / "audio" / "en_whisper_jfk.wav"
TIMEOUT_MS = 60_000
CALL = "web-dynamics"
SILENCE_S = 14  # past the 10 s dead-air threshold


def speech_then_silence():
    """JFK, then SILENCE_S of nothing, in our protocol's 20 ms frames."""
    recording = Recording.from_wav(JFK)
    quiet = np.zeros((SILENCE_S * recording.sample_rate_hz, 1), np.int16)
    both = Recording(np.concatenate([recording.samples, quiet]), recording.sample_rate_hz)
    yield from native_messages(both, CALL)


async def test_dead_air_on_the_desktop_and_the_supervisor_page(server: LocalServer, browser):
    desk = await browser.new_page()
    supervisor = await browser.new_page()
    await supervisor.goto(f"{server.http}/supervisor")
    await desk.goto(f"{server.http}/desktop?call={CALL}")
    await expect(desk.locator("#conn")).to_have_text("live")
    async with connect(f"{server.ws}/v1/ingest") as ws:
        await send_paced(ws, speech_then_silence(), 8.0)

    await expect(desk.locator("#dyn-incident")).to_contain_text("dead air", timeout=TIMEOUT_MS)
    await expect(desk.locator("#dynamics")).to_be_visible()
    # Streamed at 8x on a busy machine, a final can land after the silence was judged,
    # which splits it in two: at least one incident, each saying how long.
    incident = supervisor.locator(f'#alerts li.incident[data-call="{CALL}"][data-kind="dead_air"]')
    await expect(incident.first).to_contain_text("s of dead air", timeout=TIMEOUT_MS)
