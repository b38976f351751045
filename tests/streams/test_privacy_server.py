"""Privacy through the real server (scripted decoder): each reader's view, the HTTP
erase, a call the platform asked not to record, and a policy that cannot load."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from streams.config import load_config
from streams.errors import ConfigError
from streams.server import Service
from tests.fakes import ScriptedDecoder, hypothesis
from tests.streams.test_server import (
    _blocking_get,
    next_json,
    speech_bytes,
    start_message,
)

SAID = "My card number is 4111 1111 1111 1111 and my date of birth is March 3rd 1985"
TOKENS = {"ingest": "i" * 24, "agent": "a" * 24, "supervisor": "s" * 24}


@pytest.fixture
async def service(tmp_path):
    config = load_config(
        environ={},
        server={"port": 0, "data_dir": str(tmp_path)},
        assist={"embeddings_model": "none"},
        tokens=TOKENS,
    )
    service = Service(config, engine=ScriptedDecoder(lambda seconds: hypothesis(SAID)))
    port = await service.start()
    service.address = f"127.0.0.1:{port}"  # type: ignore[attr-defined]
    yield service
    await service.stop()


async def read_finals(address: str, call_id: str, token: str) -> list[str]:
    texts = []
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(
        f"ws://{address}/v1/calls/{call_id}/events", additional_headers=headers
    ) as ws:
        while (event := await next_json(ws, 20))["type"] != "call.ended":
            if event["type"] == "transcript.final":
                texts.append(event["text"])
    return texts


async def stream(address: str, call_id: str, **start) -> None:
    headers = {"Authorization": f"Bearer {TOKENS['ingest']}"}
    async with connect(f"ws://{address}/v1/ingest", additional_headers=headers) as ws:
        await ws.send(start_message(call_id, **start))
        data = speech_bytes()
        for i in range(0, len(data), 3200):
            await ws.send(data[i : i + 3200])
        await ws.send('{"type": "stop"}')


async def get(address: str, path: str, token: str | None) -> tuple[int, dict]:
    return await asyncio.to_thread(_blocking_get, address, path, token)


async def test_the_agent_sees_the_birth_date_live_nobody_else_and_nothing_keeps_it(service):
    address = service.address
    agent = asyncio.create_task(read_finals(address, "p1", TOKENS["agent"]))
    supervisor = asyncio.create_task(read_finals(address, "p1", TOKENS["supervisor"]))
    await asyncio.sleep(0.3)
    await stream(address, "p1")
    desktop, watching = await agent, await supervisor
    assert desktop and all("[card number]" in t and "March 3rd 1985" in t for t in desktop)
    assert watching and all("[date of birth]" in t and "4111" not in t for t in watching)
    status, record = await get(address, "/v1/calls/p1", TOKENS["supervisor"])
    assert status == 200
    assert "4111" not in json.dumps(record) and "1985" not in json.dumps(record), record
    replay = await read_finals(address, "p1", TOKENS["agent"])  # from the store
    assert replay and all("[date of birth]" in t for t in replay)


async def test_erase_over_http_needs_the_supervisors_bearer_and_a_confirmation(service):
    address = service.address
    await stream(address, "p2")
    for _ in range(100):
        status, record = await get(address, "/v1/calls/p2", TOKENS["supervisor"])
        if record.get("status") == "ended":
            break
        await asyncio.sleep(0.1)
    erase = "/v1/calls/p2/erase"
    assert (await get(address, erase, TOKENS["supervisor"]))[0] == 400  # no confirm
    assert (await get(address, f"{erase}?confirm=p2", TOKENS["agent"]))[0] in (401, 403)
    query = f"{erase}?confirm=p2&token={TOKENS['supervisor']}"
    assert (await get(address, query, None))[0] == 401  # a link could carry it: refused
    status, body = await get(address, f"{erase}?confirm=p2", TOKENS["supervisor"])
    assert status == 200 and body["events"] > 0
    assert (await get(address, "/v1/calls/p2", TOKENS["supervisor"]))[0] == 404
    assert (await get(address, f"{erase}?confirm=p2", TOKENS["supervisor"]))[0] == 404


async def test_a_live_call_is_not_erased(service):
    address = service.address
    headers = {"Authorization": f"Bearer {TOKENS['ingest']}"}
    async with connect(f"ws://{address}/v1/ingest", additional_headers=headers) as ws:
        await ws.send(start_message("p3"))
        await asyncio.sleep(0.2)
        status, _ = await get(address, "/v1/calls/p3/erase?confirm=p3", TOKENS["supervisor"])
        assert status == 409
        await ws.send('{"type": "stop"}')


async def test_a_call_the_platform_asked_not_to_record_is_erased_when_it_ends(service):
    address = service.address
    agent = asyncio.create_task(read_finals(address, "p4", TOKENS["agent"]))
    await asyncio.sleep(0.3)
    await stream(address, "p4", metadata={"record": "false"})
    assert await agent, "live assist still runs"
    for _ in range(100):
        if (await get(address, "/v1/calls/p4", TOKENS["supervisor"]))[0] == 404:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the unrecorded call's record is still there")


def test_a_policy_that_cannot_load_stops_the_service(tmp_path: Path):
    policy = tmp_path / "privacy.toml"
    policy.write_text('[redact]\ncard_number = ["desktop"]\n')
    config = load_config(
        environ={},
        server={"port": 0, "data_dir": str(tmp_path)},
        privacy={"policy_file": str(policy)},
    )
    with pytest.raises(ConfigError, match=r"policy_file.*card_number.*stored"):
        Service(config, engine=ScriptedDecoder())
