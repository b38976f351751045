"""Caller history on the agent desktop, in a real browser: a caller's second call shows
the first (from a keyed hash of the number, which the page never sees), with the
agent's disposition of it; and the supervisor's KPIs count them."""

from __future__ import annotations

import json

from playwright.async_api import expect
from websockets.asyncio.client import connect

from streams.client import Recording, native_messages, send_paced
from testkit import FIXTURES
from testkit.server import LocalServer

JFK = FIXTURES / "audio" / "en_whisper_jfk.wav"
TIMEOUT_MS = 60_000
NUMBER = "+1 415 555 0134"


def with_caller(call_id: str):
    """Our protocol's messages for JFK, the start naming the caller."""
    for k, (t, message) in enumerate(native_messages(Recording.from_wav(JFK), call_id)):
        if k == 0:
            start = json.loads(message) | {"metadata": {"caller": NUMBER}}
            message = json.dumps(start)
        yield t, message


async def first_call(server: LocalServer, call_id: str) -> None:
    """A call from NUMBER, wrapped up by its agent as not resolved."""
    async with connect(f"{server.ws}/v1/calls/{call_id}/events") as desktop:
        async with connect(f"{server.ws}/v1/ingest") as ws:
            await send_paced(ws, with_caller(call_id), 8.0)
        while (draft := json.loads(await desktop.recv()))["type"] != "wrapup":
            pass
        accept = {"type": "wrapup.accept", "disposition": "unresolved", "notes": draft["notes"]}
        await desktop.send(json.dumps(accept))
        while json.loads(await desktop.recv())["type"] != "wrapup.accepted":
            pass


async def test_the_desktop_shows_the_callers_earlier_call(server, browser):
    await first_call(server, "web-history-1")
    page = await browser.new_page()
    await page.goto(f"{server.http}/desktop?call=web-history-2")
    await expect(page.locator("#conn")).to_have_text("live")
    async with connect(f"{server.ws}/v1/ingest") as ws:
        await send_paced(ws, with_caller("web-history-2"), 8.0)

    earlier = page.locator('#history-calls li[data-call="web-history-1"]')
    await expect(earlier).to_be_visible(timeout=TIMEOUT_MS)
    await expect(earlier).to_contain_text("unresolved (not resolved)")
    await expect(page.locator("#history-none")).to_be_hidden()
    assert "555" not in await page.content()  # the number itself never reaches the page

    await expect(page.locator("#conn")).to_have_text("call ended", timeout=TIMEOUT_MS)
    supervisor = await browser.new_page()  # and the KPIs count both calls and the ACW
    await supervisor.goto(f"{server.http}/supervisor")
    overall = supervisor.locator('#kpis tbody tr[data-intent="All calls"]')
    await expect(overall).to_be_visible(timeout=TIMEOUT_MS)
    cells = overall.locator("td")
    assert int(await cells.nth(0).inner_text()) >= 2
    assert "s /" in await cells.nth(6).inner_text()  # ACW p50 / p90 of the accepted wrap-up
