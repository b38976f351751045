"""The wrap-up over a real service (a scripted decoder): drafted before call.ended,
accepted on the event stream once the call ended, redacted, stored, in the record."""

import json

import pytest
from websockets.asyncio.client import ClientConnection, connect

from streams.config import load_config
from streams.server import Service
from tests.fakes import ScriptedDecoder, hypothesis
from tests.streams.test_pause_control import SPEECH, next_of, start
from tests.streams.test_server import http_get

AGENT_LINE = "I have updated your address, that's all sorted now. I'll email you a confirmation."


async def start_scripted(tmp_path) -> tuple[Service, str]:
    """A service whose every final reads AGENT_LINE."""
    config = load_config(
        environ={},
        server={"port": 0, "data_dir": str(tmp_path), "max_errors_per_connection": 10},
        assist={"embeddings_model": "none"},
    )
    service = Service(config, engine=ScriptedDecoder(lambda seconds: hypothesis(AGENT_LINE)))
    return service, f"127.0.0.1:{await service.start()}"


async def ended_call(address: str, call_id: str) -> tuple[dict, ClientConnection]:
    """A call whose words are AGENT_LINE: its draft, and the desktop socket still open."""
    desktop = await connect(f"ws://{address}/v1/calls/{call_id}/events")
    async with connect(f"ws://{address}/v1/ingest") as platform:
        await platform.send(start(call_id))
        await next_of(desktop, "call.started")
        await platform.send(SPEECH)
        await platform.send('{"type": "stop"}')
        draft = await next_of(desktop, "wrapup", "call.ended", limit_s=20)
        assert draft["type"] == "wrapup", "the draft comes before call.ended"
        await next_of(desktop, "call.ended")
    return draft, desktop


async def test_the_draft_is_accepted_edited_redacted_and_in_the_record(tmp_path):
    service, address = await start_scripted(tmp_path)
    try:
        draft, desktop = await ended_call(address, "wrap-1")
        assert draft["disposition"] in draft["choices"]
        assert draft["notes"]["reason"]
        notes = dict(draft["notes"], outcome="Card 4111 1111 1111 1111 was used, address updated")
        await desktop.send(
            json.dumps({"type": "wrapup.accept", "disposition": "resolved", "notes": notes})
        )
        accepted = await next_of(desktop, "wrapup.accepted", "error")
        await desktop.close()
        assert accepted["type"] == "wrapup.accepted", accepted
        assert accepted["edited"] is True and accepted["acw_s"] >= 0
        assert "4111" not in json.dumps(accepted), "a card number typed into the notes"
        status, record = await http_get(address, "/v1/calls/wrap-1")
        assert status == 200
        assert record["wrapup"]["disposition"] == draft["disposition"]
        assert record["wrapup_accepted"]["disposition"] == "resolved"
        assert "4111" not in json.dumps(record)
    finally:
        await service.stop()


async def test_the_draft_accepted_as_it_is_is_not_edited(tmp_path):
    service, address = await start_scripted(tmp_path)
    try:
        draft, desktop = await ended_call(address, "wrap-2")
        message = {"type": "wrapup.accept", "disposition": draft["disposition"]}
        await desktop.send(json.dumps(message | {"notes": draft["notes"]}))
        accepted = await next_of(desktop, "wrapup.accepted", "error")
        await desktop.close()
        assert accepted["edited"] is False, accepted
    finally:
        await service.stop()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"disposition": "closed_happily"}, "bad_wrapup"),  # not in the catalog
        ({"disposition": "Resolved!"}, "bad_wrapup"),
        ({"disposition": "resolved", "notes": {"reason": 5}}, "bad_wrapup"),
        ({"disposition": "resolved", "notes": {"reason": "x" * 3000}}, "bad_wrapup"),
    ],
)
async def test_a_bad_wrapup_gets_an_error(tmp_path, message, code):
    service, address = await start_scripted(tmp_path)
    try:
        draft, desktop = await ended_call(address, "wrap-3")
        body = {"type": "wrapup.accept", "notes": draft["notes"]} | message
        await desktop.send(json.dumps(body))
        error = await next_of(desktop, "error", "wrapup.accepted")
        await desktop.close()
        assert (error["type"], error["code"]) == ("error", code)
    finally:
        await service.stop()


async def test_a_live_call_has_no_wrapup_to_accept(tmp_path):
    service, address = await start_scripted(tmp_path)
    try:
        async with (
            connect(f"ws://{address}/v1/ingest") as platform,
            connect(f"ws://{address}/v1/calls/live-1/events") as desktop,
        ):
            await platform.send(start("live-1"))
            await next_of(desktop, "call.started")
            notes = {"reason": "r", "actions": [], "outcome": "o"}
            await desktop.send(
                json.dumps({"type": "wrapup.accept", "disposition": "resolved", "notes": notes})
            )
            error = await next_of(desktop, "error")
            assert error["code"] == "call_not_ended"
    finally:
        await service.stop()
