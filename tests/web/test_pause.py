"""The agent pauses a live call for payment from the desktop, in a real browser: the
banner follows the stored events (after a reload too), and Resume clears it."""

from __future__ import annotations

import asyncio
import json
import urllib.request

from playwright.async_api import expect
from websockets.asyncio.client import connect

from streams.client import Recording, native_messages, send_paced
from testkit import FIXTURES
from testkit.server import LocalServer

JFK = FIXTURES / "audio" / "en_whisper_jfk.wav"
TIMEOUT_MS = 30_000
CALL = "web-pause"


async def stream(server: LocalServer) -> None:
    """11 s of speech in real time: the call stays live while the agent clicks."""
    async with connect(f"{server.ws}/v1/ingest") as ws:
        await send_paced(ws, native_messages(Recording.from_wav(JFK), CALL), 1.0)


def stored_pauses(server: LocalServer) -> list[dict]:
    with urllib.request.urlopen(f"{server.http}/v1/calls/{CALL}", timeout=10) as response:
        events = json.loads(response.read())["events"]
    return [e for e in events if e["type"] in ("call.paused", "call.resumed")]


async def test_the_agent_pauses_for_payment_and_resumes(server, browser):
    page = await browser.new_page()
    await page.goto(f"{server.http}/desktop?call={CALL}")
    await expect(page.locator("#conn")).to_have_text("live")
    streaming = asyncio.create_task(stream(server))
    pause = page.get_by_role("button", name="Pause for payment")
    await expect(pause).to_be_enabled(timeout=TIMEOUT_MS)  # once call.started came

    await pause.click()
    banner = page.locator("#paused")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text(
        "Paused for payment by the agent: nothing is being transcribed"
    )
    assert await page.locator("#pause-status").get_attribute("role") == "status"
    (paused,) = await asyncio.to_thread(stored_pauses, server)
    assert (paused["type"], paused["by"], paused["reason"]) == ("call.paused", "agent", "payment")

    await page.reload()  # the banner comes from the replayed events, not from the click
    await expect(banner).to_contain_text("Paused for payment by the agent", timeout=TIMEOUT_MS)
    await expect(pause).to_be_hidden()

    await page.get_by_role("button", name="Resume").click()
    await expect(banner).to_be_hidden()
    await expect(pause).to_be_visible()
    await expect(page.locator("#lines li.note")).to_contain_text("Not transcribed: paused")
    stored = await asyncio.to_thread(stored_pauses, server)
    assert [(e["type"], e["by"]) for e in stored] == [
        ("call.paused", "agent"),
        ("call.resumed", "agent"),
    ]
    await streaming
    await expect(page.locator("#conn")).to_have_text("call ended", timeout=TIMEOUT_MS)
    await expect(pause).to_be_disabled()
