"""Pause and resume over real sockets (a scripted decoder): the agent's on the call's event
stream, the platform's on its ingest socket, and the errors and limits around them."""

import asyncio
import json

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from streams.config import load_config
from streams.controls import CONTROLS_PER_MINUTE
from streams.server import Service
from tests.fakes import ScriptedDecoder

SPEECH = (np.sin(np.arange(16000) / 3) * 9000).astype("<i2").tobytes()  # 1 s, 16 kHz


async def start_service(tmp_path, **server) -> tuple[Service, str]:
    config = load_config(
        environ={},
        server={"port": 0, "data_dir": str(tmp_path), **server},
        assist={"embeddings_model": "none"},
    )
    service = Service(config, engine=ScriptedDecoder())
    return service, f"127.0.0.1:{await service.start()}"


@pytest.fixture
async def service(tmp_path):
    service, address = await start_service(tmp_path, max_errors_per_connection=4)
    yield address
    await service.stop()


def start(call_id: str) -> str:
    return json.dumps({"type": "start", "call_id": call_id, "sample_rate": 16000})


async def next_of(ws: ClientConnection, *types: str, limit_s: float = 5.0) -> dict:
    """The next message of one of `types`, skipping the call's other events."""
    async with asyncio.timeout(limit_s):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] in types:
                return message


async def test_the_agent_pauses_and_resumes_on_the_event_stream(service):
    async with (
        connect(f"ws://{service}/v1/ingest") as platform,
        connect(f"ws://{service}/v1/calls/agent-1/events") as desktop,
    ):
        await platform.send(start("agent-1"))
        await next_of(desktop, "call.started")
        await desktop.send(json.dumps({"type": "pause", "reason": "payment"}))
        paused = await next_of(desktop, "call.paused", "error")
        assert (paused["type"], paused["by"], paused["reason"]) == (
            "call.paused",
            "agent",
            "payment",
        )
        await desktop.send(json.dumps({"type": "pause", "reason": "payment"}))  # no change
        await platform.send(SPEECH)
        await desktop.send('{"type": "resume"}')
        resumed = await next_of(desktop, "call.resumed", "call.paused", "error")
        assert (resumed["type"], resumed["by"], resumed["reason"]) == (
            "call.resumed",
            "agent",
            "payment",
        )
        assert resumed["paused_s"] >= 0
        await platform.send('{"type": "stop"}')
        ended = await next_of(desktop, "call.ended", "call.paused", "call.resumed")
        assert ended["type"] == "call.ended"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", "invalid_json"),
        (b"\x00\x01", "unknown_message"),
        ('{"type": "stop"}', "unknown_message"),
        ('{"type": "pause", "reason": 5}', "bad_reason"),
        ('{"type": "pause", "reason": "' + "x" * 20_000 + '"}', "too_large"),
    ],
)
async def test_anything_else_gets_an_error_and_the_stream_goes_on(service, message, code):
    async with (
        connect(f"ws://{service}/v1/ingest") as platform,
        connect(f"ws://{service}/v1/calls/bad-1/events") as desktop,
    ):
        await platform.send(start("bad-1"))
        await next_of(desktop, "call.started")
        await desktop.send(message)
        error = await next_of(desktop, "error")
        assert (error["code"], error["call_id"]) == (code, "bad-1")
        await desktop.send('{"type": "pause"}')  # still served
        paused = await next_of(desktop, "call.paused")
        assert (paused["by"], paused["reason"]) == ("agent", "")


async def test_a_call_that_is_not_live_cannot_be_paused(service):
    async with connect(f"ws://{service}/v1/calls/ghost/events") as desktop:
        await desktop.send('{"type": "pause", "reason": "payment"}')
        error = await next_of(desktop, "error")
        assert error["code"] == "call_not_live"


async def test_too_many_errors_close_the_stream(service):
    async with connect(f"ws://{service}/v1/calls/ghost/events") as desktop:
        for _ in range(4):
            await desktop.send("{")
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(desktop.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_the_platform_pauses_and_a_silent_paused_platform_is_not_idle(tmp_path):
    service, address = await start_service(tmp_path, idle_timeout_s=0.5)
    try:
        async with (
            connect(f"ws://{address}/v1/ingest") as platform,
            connect(f"ws://{address}/v1/calls/ivr-1/events") as desktop,
        ):
            await platform.send(start("ivr-1"))
            await platform.send('{"type": "pause", "reason": "payment"}')
            paused = await next_of(desktop, "call.paused")
            assert (paused["by"], paused["reason"]) == ("platform", "payment")
            await asyncio.sleep(1.2)  # no audio while paused: longer than idle_timeout_s
            await platform.send('{"type": "resume"}')
            resumed = await next_of(desktop, "call.resumed", "call.ended")
            assert (resumed["type"], resumed["by"]) == ("call.resumed", "platform")
            assert resumed["paused_s"] >= 1.2
            await platform.send('{"type": "stop"}')
            ended = await next_of(desktop, "call.ended")
            assert ended["reason"] == "stop"
    finally:
        await service.stop()


async def test_a_script_cannot_toggle_the_pause_without_end(service):
    async with (
        connect(f"ws://{service}/v1/ingest") as platform,
        connect(f"ws://{service}/v1/calls/spam-1/events") as desktop,
    ):
        await platform.send(start("spam-1"))
        await next_of(desktop, "call.started")
        for _ in range(CONTROLS_PER_MINUTE):
            await desktop.send('{"type": "resume"}')  # not paused: accepted, changes nothing
        await desktop.send('{"type": "pause"}')
        error = await next_of(desktop, "error", "call.paused")
        assert error["type"] == "error" and error["code"] == "too_many_requests"
