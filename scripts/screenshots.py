"""Screenshots of both pages during a live call, for the README.

    .venv/bin/python -m scripts.screenshots [--out docs/screenshots]   # from the repository root

Starts a server, streams the labelled billing call through /v1/twilio at twice
real time, and photographs the agent desktop and the supervisor dashboard just
after the handover cue, and the desktop again with the wrap-up drafted as the call
ends, in Debian's Chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from playwright.async_api import ViewportSize, async_playwright, expect
from websockets.asyncio.client import connect

from streams.client import send_paced, twilio_messages
from testkit import FIXTURES, ROOT
from testkit.browser import CHROMIUM, CHROMIUM_ARGS
from testkit.calls import LabelledCall
from testkit.server import LocalServer

CALL = FIXTURES / "calls" / "billing_double_charge"
CALL_ID = "demo-billing-1"


async def main(out: Path, data_dir: Path) -> None:
    server = LocalServer(data_dir).start()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            viewport = ViewportSize(width=1280, height=860)
            supervisor = await browser.new_page(viewport=viewport)
            await supervisor.goto(f"{server.http}/supervisor")
            desktop = await browser.new_page(viewport=viewport)
            await desktop.goto(f"{server.http}/desktop?call={CALL_ID}")
            call = LabelledCall.load(CALL)
            async with connect(f"{server.ws}/v1/twilio") as ws:
                sending = asyncio.create_task(
                    send_paced(ws, twilio_messages(call.recording, CALL_ID), 2.0)
                )
                await expect(desktop.locator("#handover")).to_be_visible(timeout=120_000)
                await asyncio.sleep(1.0)
                await desktop.screenshot(path=str(out / "desktop.png"))
                await supervisor.screenshot(path=str(out / "supervisor.png"))
                await sending
            await expect(desktop.locator("#wrapup")).to_be_visible(timeout=120_000)
            await asyncio.sleep(0.5)
            await desktop.screenshot(path=str(out / "wrapup.png"))
            await browser.close()
    finally:
        server.stop()
    print(f"wrote desktop.png, supervisor.png and wrapup.png in {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    out_dir = parser.parse_args().out
    out_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(out_dir, Path(tempfile.mkdtemp(prefix="screenshots-"))))
