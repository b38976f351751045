"""The wrap-up on the agent desktop, in a real browser: the draft opens as the call
ends, the agent edits and accepts it, and what was accepted is what is stored (and
what a reload shows)."""

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
TIMEOUT_MS = 60_000
CALL = "web-wrapup"


async def stream(server: LocalServer) -> None:
    async with connect(f"{server.ws}/v1/ingest") as ws:
        await send_paced(ws, native_messages(Recording.from_wav(JFK), CALL), 8.0)


def record(server: LocalServer) -> dict:
    with urllib.request.urlopen(f"{server.http}/v1/calls/{CALL}", timeout=10) as response:
        return json.loads(response.read())


async def test_the_agent_edits_and_accepts_the_drafted_wrapup(server, browser):
    page = await browser.new_page()
    await page.goto(f"{server.http}/desktop?call={CALL}")
    await expect(page.locator("#conn")).to_have_text("live")
    await stream(server)

    panel = page.locator("#wrapup")
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)  # the draft, as the call ended
    await expect(page.locator("#wrapup-status")).to_contain_text("Check the draft")
    drafted = (await asyncio.to_thread(record, server))["wrapup"]
    disposition = page.get_by_label("Disposition")
    await expect(disposition).to_have_value(drafted["disposition"])
    await expect(page.get_by_label("Reason for the call")).not_to_be_empty()

    await disposition.select_option("follow_up_scheduled")
    await page.get_by_label("Outcome").fill("Caller will ring back with the speech reference.")
    await page.get_by_role("button", name="Add follow-up").click()
    await page.get_by_label("Follow-up", exact=True).last.fill("send the speech transcript")
    await page.get_by_label("When", exact=True).last.fill("tomorrow")
    await page.get_by_role("button", name="Accept wrap-up").click()

    status = page.locator("#wrapup-status")
    await expect(status).to_contain_text("Accepted with your edits", timeout=TIMEOUT_MS)
    accepted = (await asyncio.to_thread(record, server))["wrapup_accepted"]
    assert accepted["disposition"] == "follow_up_scheduled"
    assert accepted["notes"]["outcome"] == "Caller will ring back with the speech reference."
    assert {"what": "send the speech transcript", "owner": "agent", "when": "tomorrow"}.items() <= (
        accepted["notes"]["follow_ups"][-1].items()
    )
    assert accepted["edited"] is True and accepted["acw_s"] >= 0

    await page.reload()  # what the page shows comes from the stored events
    await expect(status).to_contain_text("Accepted with your edits", timeout=TIMEOUT_MS)
    await expect(page.get_by_label("Disposition")).to_have_value("follow_up_scheduled")
