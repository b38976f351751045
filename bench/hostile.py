"""Hostile clients against a real server process: per case, what the service did and its
RSS before and after. Each case was once a finding of a security review (see README,
Security); the figures show the service stays bounded.

    .venv/bin/python -m bench.hostile
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiortc import RTCPeerConnection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from testkit.server import LocalServer

SILENT_SOCKETS = 200


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def answer(ws: ClientConnection, limit_s: float = 10.0) -> str:
    """What the service says next: an error code, a close code, or its message type."""
    try:
        async with asyncio.timeout(limit_s):
            message = json.loads(await ws.recv())
    except ConnectionClosed:
        return f"closed {ws.close_code} {ws.close_reason}"
    except TimeoutError:
        return "nothing"
    if message.get("type") == "error":
        return f"error {message['code']}"
    return str(message.get("type") or message.get("event"))


def twilio(event: str, **fields: object) -> str:
    return json.dumps({"event": event, "streamSid": "MZ1", **fields})


def twilio_start(call_id: str, media_format: object) -> str:
    start = {"callSid": call_id, "streamSid": "MZ1", "tracks": ["inbound"]}
    return twilio("start", start={**start, "mediaFormat": media_format})


async def day_long_gap(ws_url: str) -> str:
    media = base64.b64encode(b"\xff" * 160).decode()
    async with connect(f"{ws_url}/v1/twilio") as ws:
        await ws.send(twilio_start("gap", {"encoding": "audio/x-mulaw", "sampleRate": 8000}))
        for timestamp in (0, 20, 86_400_000):
            body = {"track": "inbound", "timestamp": str(timestamp), "payload": media}
            await ws.send(twilio("media", media=body))
        await ws.send(twilio("stop", stop={"callSid": "gap"}))
        await asyncio.sleep(1.0)
    return "clock moved a day on, no audio made"


async def malformed(ws_url: str) -> str:
    said = []
    cases = [
        ("/v1/twilio", twilio_start("bad1", {"sampleRate": "abc"})),
        ("/v1/twilio", twilio_start("bad2", "x")),
        ("/v1/ingest", '{"type": "start", "call_id": "bad3", "sample_rate": NaN}'),
        ("/v1/ingest", '{"type": "start", "call_id": "bad4", "language": 7}'),
        ("/v1/ingest", "[" * 100_000 + "]" * 100_000),
    ]
    for route, text in cases:
        async with connect(f"{ws_url}{route}", max_size=None) as ws:
            await ws.send(text)
            said.append(await answer(ws))
    return ", ".join(said)


async def silent_sockets(ws_url: str) -> str:
    async def one() -> str:
        try:
            async with connect(f"{ws_url}/v1/twilio") as ws:
                return await answer(ws, 15)
        except Exception as exc:  # refused at the handshake: the cap
            return type(exc).__name__

    outcomes = await asyncio.gather(*(one() for _ in range(SILENT_SOCKETS)))
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return "; ".join(f"{n} x {what}" for what, n in sorted(counts.items()))


async def webrtc_video(ws_url: str) -> str:
    client = RTCPeerConnection()
    client.addTransceiver("audio", direction="sendonly")
    client.addTransceiver("video", direction="sendonly")
    await client.setLocalDescription(await client.createOffer())
    try:
        async with connect(f"{ws_url}/v1/webrtc") as ws:
            offer = {"type": "offer", "sdp": client.localDescription.sdp, "call_id": "video"}
            await ws.send(json.dumps(offer))
            reply = json.loads(await ws.recv())
            video = reply.get("sdp", "").split("m=video", 1)[-1]
            await asyncio.sleep(5)  # long enough for an unread video queue to grow
            state = "inactive" if "a=inactive" in video else "active"
            return f"{reply.get('type')}, video answered {state}"
    finally:
        await client.close()


async def audiohook_discarded(ws_url: str) -> str:
    open_message = {
        "version": "2",
        "id": "e160e428-53e2-487c-977d-96989bf5c99d",
        "type": "open",
        "seq": 1,
        "serverseq": 0,
        "position": "PT0S",
        "parameters": {
            "organizationId": "d7934305-0972-4844-938e-9060eef73d05",
            "conversationId": "090eaa2f-72fa-480a-83e0-8667ff89c0ec",
            "participant": {"id": "p", "ani": "+1", "aniName": "a", "dnis": "+2"},
            "media": [{"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000}],
            "language": "en-US",
        },
    }
    async with connect(f"{ws_url}/v1/audiohook") as ws:
        await ws.send(json.dumps(open_message))
        opened = await answer(ws)
        discarded = {
            **open_message,
            "type": "discarded",
            "seq": 2,
            "parameters": {"start": "PT0S", "discarded": "PT86400S"},
        }
        await ws.send(json.dumps(discarded))
        await ws.send(json.dumps({**open_message, "type": "close", "seq": 3, "parameters": {}}))
        closed = await answer(ws)
    return f"{opened}, a day discarded, {closed}"


CASES: list[tuple[str, Callable[[str], Awaitable[str]]]] = [
    ("Twilio media claiming a 24-hour gap", day_long_gap),
    ("AudioHook discarded PT86400S", audiohook_discarded),
    ("malformed messages (sampleRate abc, mediaFormat x, NaN, language 7, 100k-deep)", malformed),
    (f"{SILENT_SOCKETS} silent sockets on /v1/twilio", silent_sockets),
    ("WebRTC offer with audio and video", webrtc_video),
]


async def run(data_dir: Path) -> None:
    server = LocalServer(data_dir, "--log-level", "ERROR").start()
    try:
        print(f"{'case':78} {'RSS before':>10} {'after':>7}  what the service did")
        for name, case in CASES:
            before = rss_mb(server.pid)
            started = time.monotonic()
            outcome = await case(server.ws)
            await asyncio.sleep(1.0)
            after = rss_mb(server.pid)
            seconds = time.monotonic() - started
            print(f"{name:78} {before:8.0f} MB {after:5.0f} MB  {outcome} ({seconds:.1f} s)")
    finally:
        server.stop()


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    asyncio.run(run(Path(tempfile.mkdtemp(prefix="hostile-"))))


if __name__ == "__main__":
    main()
