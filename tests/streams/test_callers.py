"""Callers as keyed hashes: taken out of each platform's metadata, hashed the same way
every time under one key, never in clear; and caller history over a real service."""

import asyncio
import json
import stat
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from streams.callers import KEY_FILE, CallerKey, take_caller
from streams.config import load_config
from streams.server import Service
from tests.fakes import ScriptedDecoder, hypothesis
from tests.streams.test_pause_control import next_of
from tests.streams.test_server import next_json, speech_bytes, start_message

NUMBER = "+44 7700 900123"


@pytest.mark.parametrize(
    ("metadata", "left"),
    [
        (
            {"custom_parameters": {"from": NUMBER, "queue": "q1"}},
            {"custom_parameters": {"queue": "q1"}},
        ),
        ({"participant": {"ani": NUMBER, "dnis": "+1800"}}, {"participant": {"dnis": "+1800"}}),
        ({"caller": NUMBER, "direction": "inbound"}, {"direction": "inbound"}),
    ],
)
def test_each_platforms_caller_is_taken_out_of_the_metadata(metadata, left):
    assert take_caller(metadata) == (NUMBER, left)


def test_no_caller_leaves_the_metadata_alone():
    assert take_caller({"queue": "q1"}) == ("", {"queue": "q1"})


def test_one_number_one_hash_under_one_key(tmp_path: Path):
    key = CallerKey.load("", tmp_path)
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    again = CallerKey.load("", tmp_path)  # the key kept in the data directory
    assert key.hash(NUMBER) == again.hash("+447700900123") == key.hash("(+44) 7700-900-123")
    assert key.hash(NUMBER) != key.hash("+44 7700 900124")
    other = CallerKey.load("a-shared-key-of-at-least-thirty-two-chars", tmp_path)
    assert other.hash(NUMBER) != key.hash(NUMBER)
    assert "7700" not in key.hash(NUMBER) and key.hash("") == ""


SAID = "I was charged twice for my plan this month"  # billing_dispute, by its keyword


async def start_service(tmp_path: Path) -> tuple[Service, str]:
    config = load_config(
        environ={},
        server={"port": 0, "data_dir": str(tmp_path), "max_errors_per_connection": 10},
        assist={"embeddings_model": "none"},
    )
    service = Service(config, engine=ScriptedDecoder(lambda seconds: hypothesis(SAID)))
    return service, f"127.0.0.1:{await service.start()}"


async def call(address: str, call_id: str, accept: str | None = None) -> list[dict]:
    """One call from NUMBER saying SAID: its events as the desktop got them (until
    call.ended, then the agent accepts the wrap-up as `accept`)."""
    seen: list[dict] = []
    async with connect(f"ws://{address}/v1/calls/{call_id}/events") as desktop:
        await asyncio.sleep(0.2)
        async with connect(f"ws://{address}/v1/ingest") as platform:
            await platform.send(start_message(call_id, metadata={"caller": NUMBER}))
            while not seen or seen[-1]["type"] != "caller.history":  # read before any words
                seen.append(await next_json(desktop, 20))
            data = speech_bytes()
            for i in range(0, len(data), 3200):
                await platform.send(data[i : i + 3200])
            await platform.send('{"type": "stop"}')
        while not seen or seen[-1]["type"] != "call.ended":
            seen.append(await next_json(desktop, 20))
        if accept is not None:
            draft = next(e for e in seen if e["type"] == "wrapup")
            message = {"type": "wrapup.accept", "disposition": accept, "notes": draft["notes"]}
            await desktop.send(json.dumps(message))
            await next_of(desktop, "wrapup.accepted")
    return seen


async def test_a_caller_who_comes_back_unresolved_is_a_repeat_contact(tmp_path: Path):
    service, address = await start_service(tmp_path)
    try:
        first = await call(address, "first", accept="unresolved")
        (started,) = [e for e in first if e["type"] == "call.started"]
        assert started["caller"] and started["metadata"] == {}
        assert not [e for e in first if e["type"] == "caller.history" and e["calls"]]

        second = await call(address, "second")
        histories = [e for e in second if e["type"] == "caller.history"]
        assert histories[0]["caller"] == started["caller"]
        (earlier,) = histories[0]["calls"]
        assert (earlier["call_id"], earlier["intent"], earlier["disposition"]) == (
            "first",
            "billing_dispute",
            "unresolved",
        )
        assert earlier["resolved"] is False and "billing dispute" in earlier["summary"]
        assert histories[-1]["repeat_contact"] is True and histories[-1]["repeat_of"] == "first"
        cues = [e for e in second if e["type"] == "handover.cue"]
        assert any("repeat_contact" in c["rule"] and "caller history" in c["reason"] for c in cues)

        files = [f for f in tmp_path.rglob("*") if f.is_file()]  # noqa: ASYNC240
        stored = b"".join(f.read_bytes() for f in files)
        assert b"447700900123" not in stored and b"7700 900123" not in stored, "in clear"
    finally:
        await service.stop()


async def test_a_resolved_earlier_call_is_history_not_a_repeat(tmp_path: Path):
    service, address = await start_service(tmp_path)
    try:
        await call(address, "one", accept="resolved")
        second = await call(address, "two")
        histories = [e for e in second if e["type"] == "caller.history"]
        assert [c["call_id"] for c in histories[-1]["calls"]] == ["one"]
        assert not any(h["repeat_contact"] for h in histories)
    finally:
        await service.stop()
