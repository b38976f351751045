"""The supervisor dashboard resumes the alert feed where it left off: after a restart it
asks for what it missed with `since` instead of refetching every live call's record."""

from __future__ import annotations

from playwright.async_api import Request, expect
from websockets.asyncio.client import connect

from contract.events import (
    Alert,
    CallEnded,
    CallStarted,
    EndReason,
    Protocol,
    Severity,
    Speaker,
    Summary,
)
from streams.client import Recording, native_messages, send_paced
from streams.hub import Hub
from streams.store import Store
from testkit import FIXTURES
from testkit.server import LocalServer

JFK = FIXTURES / "audio" / "en_whisper_jfk.wav"
TIMEOUT_MS = 60_000


def store_a_call_with_an_alert(database, call_id: str) -> None:
    """What another node (or this one, before a restart) stored while the page was away."""
    store = Store(database)
    hub = Hub(store)
    hub.start_call(call_id, CallStarted(Protocol.TWILIO, ("en",), (Speaker.CUSTOMER,)))
    reason = "The caller asked for a manager"
    hub.publish(
        call_id, Alert("manager_request", Severity.HIGH, reason, (), (), Summary(None), (), "s1")
    )
    hub.end_call(call_id, CallEnded(12.0, EndReason.STOP))
    store.close()


async def test_supervisor_replays_the_feed_it_missed_after_a_restart(tmp_path, browser):
    server = LocalServer(tmp_path).start()
    port = server.address.rsplit(":", 1)[1]
    page = await browser.new_page()
    sockets: list[str] = []
    record_reads: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))

    def on_request(request: Request) -> None:
        if "/v1/calls/" in request.url:
            record_reads.append(request.url)

    page.on("request", on_request)
    try:
        await page.goto(f"{server.http}/supervisor")
        await expect(page.locator("#conn")).to_have_text("live")
        async with connect(f"{server.ws}/v1/ingest") as ws:
            await send_paced(ws, native_messages(Recording.from_wav(JFK), "feed-first"), 2.0)
        await expect(page.locator('tr[data-call="feed-first"]')).to_contain_text(
            "(ended)", timeout=TIMEOUT_MS
        )
        server.stop()
        await expect(page.locator("#conn")).to_have_text("reconnecting…", timeout=10_000)
        store_a_call_with_an_alert(tmp_path / "calls.sqlite3", "feed-missed")
        reads_before = len(record_reads)
        server = LocalServer(tmp_path, "--port", port).start()  # same address, same store

        alert = page.locator('#alerts li[data-call="feed-missed"]')
        await expect(alert).to_contain_text("asked for a manager", timeout=TIMEOUT_MS)
        await expect(page.locator('tr[data-call="feed-missed"]')).to_contain_text("(ended)")
        assert "since=" not in sockets[0]
        assert "since=" in sockets[-1], sockets
        assert len(record_reads) == reads_before, "a reconnect must not refetch records"
    finally:
        await page.close()
        server.stop()
