"""The agent desktop and the supervisor dashboard in a real browser, during real calls.

A labelled two-track call streams through /v1/twilio (real model, real assist)
while Chromium shows the pages; assertions are on what a person would see.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request

from playwright.async_api import Page, expect
from websockets.asyncio.client import connect

from streams.client import Recording, native_messages, send_paced, twilio_messages
from testkit import FIXTURES
from testkit.calls import LabelledCall
from testkit.server import LocalServer

CANCEL = FIXTURES / "calls" / "cancel_contract"
JFK = FIXTURES / "audio" / "en_whisper_jfk.wav"
SPEED = 1.0  # real time: at 2x a slow 2-core machine falls behind and sheds partials
TIMEOUT_MS = 90_000


async def stream(server: LocalServer, call: LabelledCall, call_id: str) -> None:
    async with connect(f"{server.ws}/v1/twilio") as ws:
        await send_paced(ws, twilio_messages(call.recording, call_id), SPEED)


async def test_desktop_shows_the_live_call_and_the_copilot(server, browser):
    call = LabelledCall.load(CANCEL)
    page = await browser.new_page()
    await page.goto(f"{server.http}/desktop?call=web-desktop")
    await expect(page.locator("#conn")).to_have_text("live")
    streaming = asyncio.create_task(stream(server, call, "web-desktop"))

    await expect(page.locator("#lines li.partial").first).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#lines li.final").first).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#intent")).to_contain_text("cancel service", timeout=TIMEOUT_MS)
    data_points = page.locator('#summary dd[data-field="data_points"]')
    await expect(data_points).to_contain_text("March", timeout=TIMEOUT_MS)
    banner = page.locator("#handover")
    await expect(banner).to_be_visible(timeout=TIMEOUT_MS)
    await expect(banner).to_contain_text("complaint")
    await expect(page.locator("#handover-open li").first).to_be_visible()
    await streaming
    await expect(page.locator("#conn")).to_have_text("call ended", timeout=TIMEOUT_MS)

    # partials were replaced in place: every line left is a final, each shown once
    assert await page.locator("#lines li.partial").count() == 0
    seqs = await page.locator("#lines li.final").evaluate_all("els => els.map(e => e.dataset.seq)")
    assert len(seqs) == len(set(seqs)) == len(record(server, "web-desktop")["transcript"])
    # suggestions can be dismissed, and the summary copied, only by the agent's click
    suggestions = page.locator("#suggestions li")
    before = await suggestions.count()
    assert before > 0
    await suggestions.first.get_by_role("button").click()
    await expect(suggestions).to_have_count(before - 1)
    await page.get_by_role("button", name="Copy summary").click()
    await expect(page.locator("#copied")).to_have_text("Copied.")
    assert "Copy summary" in await keyboard_reachable(page), "keyboard users reach it too"


async def test_supervisor_lists_the_call_and_links_its_alert(server, browser):
    call = LabelledCall.load(CANCEL)
    page = await browser.new_page()
    await page.goto(f"{server.http}/supervisor")
    await expect(page.locator("#conn")).to_have_text("live")
    streaming = asyncio.create_task(stream(server, call, "web-supervisor"))

    row = page.locator('#calls tr[data-call="web-supervisor"]')
    await expect(row).to_be_visible(timeout=TIMEOUT_MS)
    await expect(row).to_contain_text("cancel service", timeout=TIMEOUT_MS)
    alert = page.locator('#alerts li[data-call="web-supervisor"]').first
    await expect(alert).to_be_visible(timeout=TIMEOUT_MS)
    await expect(alert.locator(".badge")).to_have_text("high")
    await expect(alert).to_contain_text("complaint")
    assert await page.locator("#alerts").get_attribute("aria-live") == "assertive"
    await streaming

    await alert.get_by_role("link").click()
    await page.wait_for_url("**/desktop?call=web-supervisor")
    await expect(page.locator("#lines li.final").first).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#intent")).to_contain_text("cancel service")


async def test_desktop_resumes_after_a_server_restart_without_duplicates(tmp_path, browser):
    server = LocalServer(tmp_path).start()
    port = server.address.rsplit(":", 1)[1]
    recording = Recording.from_wav(JFK)
    page = await browser.new_page()
    try:
        await page.goto(f"{server.http}/desktop?call=web-restart")
        await expect(page.locator("#conn")).to_have_text("live")
        async with connect(f"{server.ws}/v1/ingest") as ws:
            sender = asyncio.create_task(
                send_paced(ws, native_messages(recording, "web-restart"), 1.0)
            )
            await expect(page.locator("#lines li.final").first).to_be_visible(timeout=TIMEOUT_MS)
            server.kill()  # the socket drops mid-call
            await asyncio.gather(sender, return_exceptions=True)
        await expect(page.locator("#conn")).to_have_text("reconnecting…", timeout=10_000)
        server = LocalServer(tmp_path, "--port", port).start()  # same address, same store
        async with connect(f"{server.ws}/v1/ingest") as ws:  # the platform comes back
            await send_paced(ws, native_messages(recording, "web-restart"), 0)
        stored = record(server, "web-restart")["transcript"]
        finals = page.locator("#lines li.final")
        await expect(finals).to_have_count(len(stored), timeout=TIMEOUT_MS)
        seqs = await finals.evaluate_all("els => els.map(e => Number(e.dataset.seq))")
        assert seqs == sorted(set(seqs)) == [t["seq"] for t in stored]
    finally:
        await page.close()
        server.stop()


def record(server: LocalServer, call_id: str) -> dict:
    with urllib.request.urlopen(f"{server.http}/v1/calls/{call_id}", timeout=10) as response:
        return json.loads(response.read())


async def keyboard_reachable(page: Page) -> list[str]:
    """The names of what Tab reaches from the top of the page."""
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    names = []
    for _ in range(40):  # the header, hidden panels skipped, then the side panel's cards
        await page.keyboard.press("Tab")
        names.append(await page.evaluate("document.activeElement.textContent.trim()"))
    return names


async def test_softphone_sends_a_browser_microphone_over_webrtc(server):
    from playwright.async_api import async_playwright

    from testkit.browser import CHROMIUM, CHROMIUM_ARGS

    microphone = [  # Chromium's fake microphone plays a real recording
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={JFK}",
    ]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *microphone]
        )
        phone = await browser.new_page()
        await phone.goto(f"{server.http}/softphone")
        await phone.fill("#call-id", "web-softphone")
        await phone.get_by_role("button", name="Start call").click()
        await expect(phone.locator("#conn")).to_have_text("live", timeout=20_000)
        desktop = await browser.new_page()
        await desktop.goto(f"{server.http}/desktop?call=web-softphone")
        lines = desktop.locator("#lines li.final")
        await expect(lines.filter(has_text="country")).not_to_have_count(0, timeout=TIMEOUT_MS)
        await phone.get_by_role("button", name="Stop call").click()
        await expect(desktop.locator("#conn")).to_have_text("call ended", timeout=TIMEOUT_MS)
        assert await lines.first.locator(".who").text_content() == "customer"
        await browser.close()


async def test_pages_hide_the_token_and_break_no_content_security_rule(server, browser):
    page = await browser.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    await page.goto(f"{server.http}/desktop?token=s3cret-in-url&call=web-token")
    await expect(page.locator("#conn")).to_have_text("live")
    assert page.url == f"{server.http}/desktop?call=web-token"  # gone from the address bar
    kept = await page.evaluate("sessionStorage.getItem('callassist.token')")
    assert kept == "s3cret-in-url"  # ... and kept for this tab
    await expect(page.locator(".legend .who.customer")).to_have_css("color", "rgb(10, 88, 202)")
    for path in ("/supervisor", "/softphone", "/desktop"):
        await page.goto(f"{server.http}{path}")
    assert violations == []
    await page.close()
