"""Faults a contact centre will have: a killed process, a full disk, a shutdown. Real server
processes, the real model, real speech; what desktops were shown is never lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from contract.events import CallEnded, EndReason, TranscriptFinal
from streams.client import Recording, follow_events, native_messages, send_paced
from testkit import FIXTURES
from testkit.server import LocalServer

JFK = FIXTURES / "audio" / "en_whisper_jfk.wav"
CALLS = 4


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def test_sigkill_during_live_calls_keeps_every_final_a_desktop_saw(tmp_path):
    server = LocalServer(tmp_path).start()
    recording = Recording.from_wav(JFK)
    received: dict[str, list[TranscriptFinal]] = {f"kill-{k}": [] for k in range(CALLS)}
    each_has_a_final = asyncio.Event()

    async def desktop(call_id: str) -> None:
        async for event in follow_events(server.ws, call_id):
            if isinstance(event.payload, TranscriptFinal):
                received[call_id].append(event.payload)
                if all(received.values()):
                    each_has_a_final.set()

    async def platform(call_id: str) -> None:
        async with connect(server.ws + "/v1/ingest") as ws:
            await send_paced(ws, native_messages(recording, call_id), 1.0)

    desktops = [asyncio.create_task(desktop(c)) for c in received]
    await asyncio.sleep(0.2)
    platforms = [asyncio.create_task(platform(c)) for c in received]
    try:
        await asyncio.wait_for(each_has_a_final.wait(), 90)
        server.kill()  # mid-call for all four, mid-sentence
        await asyncio.gather(*platforms, *desktops, return_exceptions=True)
        server = LocalServer(tmp_path).start()
        records = {
            c: (await asyncio.to_thread(get, f"{server.http}/v1/calls/{c}"))[1] for c in received
        }
    finally:
        server.stop()
    for call_id, finals in received.items():
        record = records[call_id]
        stored = [(t["segment_id"], t["text"]) for t in record["transcript"]]
        assert [(f.segment_id, f.text) for f in finals] == stored[: len(finals)], call_id
        assert record["status"] == "ended" and record["end_reason"] == EndReason.INTERRUPTED


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 MiB tmpfs: a disk that can really fill up."""
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs: run it as root (scripts/test does, as CI)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Writes a file until the disk has no room left."""
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


async def test_a_full_disk_mid_call_is_reported_and_nothing_is_lost(small_disk):
    server = LocalServer(small_disk / "data").start()
    recording = Recording.from_wav(JFK)
    events = []
    errors: list[dict] = []
    first_final = asyncio.Event()

    async def desktop() -> None:
        async for event in follow_events(server.ws, "full-disk"):
            events.append(event)
            if isinstance(event.payload, TranscriptFinal):
                first_final.set()

    async def platform() -> None:
        async with connect(server.ws + "/v1/ingest") as ws:
            reader = asyncio.create_task(read_errors(ws, errors))
            await send_paced(ws, native_messages(recording, "full-disk"), 1.0)
            await asyncio.wait_for(watcher, 60)  # the call ended: the platform hangs up
            reader.cancel()

    watcher = asyncio.create_task(desktop())
    await asyncio.sleep(0.2)
    streaming = asyncio.create_task(platform())
    try:
        await asyncio.wait_for(first_final.wait(), 60)
        filler = await asyncio.to_thread(fill, small_disk)
        health = await wait_for_health(server, 503)
        assert "full" in health["reason"], health
        refused = await try_a_new_call(server)
        assert refused["code"] == "store_unavailable"
        filler.unlink()  # space comes back
        await wait_for_health(server, 200)
        await asyncio.wait_for(streaming, 90)
        record = await record_of(server, "full-disk")
    finally:
        server.stop()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # no gap
    assert isinstance(events[-1].payload, CallEnded)
    shown = [e.payload.text for e in events if isinstance(e.payload, TranscriptFinal)]
    assert [t["text"] for t in record["transcript"]] == shown and len(shown) >= 2
    assert any(e["code"] == "store_unavailable" for e in errors), errors


async def read_errors(ws, errors: list[dict]) -> None:
    async for text in ws:
        message = json.loads(text)
        if message.get("type") == "error":
            errors.append(message)


async def record_of(server: LocalServer, call_id: str) -> dict:
    return (await asyncio.to_thread(get, f"{server.http}/v1/calls/{call_id}"))[1]


async def wait_for_health(server: LocalServer, status: int) -> dict:
    for _ in range(100):
        got, body = await asyncio.to_thread(get, f"{server.http}/healthz")
        if got == status:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"/healthz never answered {status}: {got} {body}")


async def try_a_new_call(server: LocalServer) -> dict:
    async with connect(server.ws + "/v1/ingest") as ws:
        start = {"type": "start", "call_id": "while-full", "sample_rate": 16000}
        await ws.send(json.dumps(start))
        return json.loads(await asyncio.wait_for(ws.recv(), 10))


async def test_sigterm_drains_new_calls_go_elsewhere_live_ones_finish(tmp_path):
    server = LocalServer(tmp_path).start()
    recording = Recording.from_wav(JFK)
    events = []
    first_final = asyncio.Event()

    async def desktop() -> None:
        async for event in follow_events(server.ws, "draining"):
            events.append(event)
            if isinstance(event.payload, TranscriptFinal):
                first_final.set()

    async def platform() -> None:
        async with connect(server.ws + "/v1/ingest") as ws:
            await send_paced(ws, native_messages(recording, "draining"), 1.0)

    watcher = asyncio.create_task(desktop())
    supervisor = await connect(server.ws + "/v1/alerts")
    await asyncio.sleep(0.2)
    streaming = asyncio.create_task(platform())
    try:
        await asyncio.wait_for(first_final.wait(), 60)
        assert (await asyncio.to_thread(http_status, server.http + "/readyz")) == 200
        server.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        await asyncio.sleep(0.3)
        # still answering, so that a balancer learns to send new calls elsewhere
        assert (await asyncio.to_thread(http_status, server.http + "/readyz")) == 503
        with pytest.raises(InvalidStatus) as refused:
            async with connect(server.ws + "/v1/ingest", open_timeout=5):
                pass
        assert refused.value.response.status_code == 503
        await asyncio.wait_for(watcher, 60)
        await asyncio.gather(streaming, return_exceptions=True)
        # a supervisor still watching does not hold the shutdown up: its socket is closed
        assert await asyncio.to_thread(server.process.wait, 30) == 0  # type: ignore[union-attr]
        async with asyncio.timeout(5):
            async for _ in supervisor:  # the feed's events, then the close
                pass
        assert supervisor.close_code == 1001  # going away
    finally:
        server.stop()
    ended = events[-1].payload
    # the live call was let finish: its platform said stop, within [server] drain_s
    assert isinstance(ended, CallEnded) and ended.reason is EndReason.STOP
    finals = [e.payload for e in events if isinstance(e.payload, TranscriptFinal)]
    assert finals and finals[-1].t_end > recording.duration_s - 3


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code
