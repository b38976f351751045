"""A real server process and Debian's Chromium driven by Playwright, offline."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from streams.client import LocalServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# No network here: keep Chromium from reaching for Google's services at start.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LocalServer]:
    process = LocalServer(tmp_path_factory.mktemp("data")).start()
    yield process
    process.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError("Chromium is missing: apt-get install chromium (scripts/install does)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()
