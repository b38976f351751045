"""The agent hands a live call over from the desktop, in a real browser: the package
opens with the agent's note and the call's context, for this desktop and for whoever
opens the call next, and the supervisor page shows that a handover happened."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect
from websockets.asyncio.client import connect

from streams.client import Recording, native_messages, send_paced
from testkit import FIXTURES
from testkit.server import LocalServer

JFK = FIXTURES / "audio" / "en_whisper_jfk.wav"
TIMEOUT_MS = 30_000
CALL = "web-handover"


async def stream(server: LocalServer) -> None:
    """11 s of speech in real time: the call stays live while the agent clicks."""
    async with connect(f"{server.ws}/v1/ingest") as ws:
        await send_paced(ws, native_messages(Recording.from_wav(JFK), CALL), 1.0)


async def test_the_agent_hands_the_call_over_with_a_note(server, browser):
    desk = await browser.new_page()
    supervisor = await browser.new_page()
    await supervisor.goto(f"{server.http}/supervisor")
    await desk.goto(f"{server.http}/desktop?call={CALL}")
    await expect(desk.locator("#conn")).to_have_text("live")
    streaming = asyncio.create_task(stream(server))
    transfer = desk.get_by_role("button", name="Transfer")
    await expect(transfer).to_be_enabled(timeout=TIMEOUT_MS)  # once call.started came
    await expect(desk.locator("#lines li.final").first).to_be_visible(timeout=TIMEOUT_MS)

    await transfer.click()
    await desk.get_by_label("To (queue or person)").fill("speech team")
    await desk.get_by_label("Note for whoever takes it").fill("Caller quotes JFK; wants the text.")
    await desk.get_by_role("button", name="Send handover").click()

    package = desk.locator("#package")
    await expect(package).to_be_visible(timeout=TIMEOUT_MS)
    await expect(package).to_contain_text("Handed over to speech team by the agent")
    await expect(package).to_contain_text("Note: Caller quotes JFK; wants the text.")
    await expect(desk.locator("#package-tail li").first).to_be_visible()
    await expect(desk.locator("#transfer-form")).to_be_hidden()

    receiver = await browser.new_page()  # the person taking the call opens it
    await receiver.goto(f"{server.http}/desktop?call={CALL}")
    await expect(receiver.locator("#package")).to_contain_text(
        "Caller quotes JFK", timeout=TIMEOUT_MS
    )
    item = supervisor.locator(f'#alerts li.handover[data-call="{CALL}"]')
    await expect(item).to_contain_text("Handed over to speech team by the agent")
    await streaming
