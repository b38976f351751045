"""The handover package over a real service (a scripted decoder): the platform's
transfer message and the agent's Transfer on the desktop each publish one, to the
call's readers and on the supervisors' feed."""

import json

from websockets.asyncio.client import connect

from tests.streams.test_pause_control import SPEECH, next_of, service, start  # noqa: F401


async def test_the_platforms_transfer_hands_the_call_over(service):  # noqa: F811
    async with (
        connect(f"ws://{service}/v1/ingest") as platform,
        connect(f"ws://{service}/v1/calls/move-1/events") as desktop,
        connect(f"ws://{service}/v1/alerts") as supervisor,
    ):
        await platform.send(start("move-1"))
        await next_of(desktop, "call.started")
        await platform.send(SPEECH)
        message = {"type": "transfer", "to": "billing", "reason": "caller wants a refund"}
        await platform.send(json.dumps(message))
        package = await next_of(desktop, "handover.package")
        assert (package["by"], package["to"], package["reason"]) == (
            "platform",
            "billing",
            "caller wants a refund",
        )
        assert package["summary"]["type"] == "summary" and package["note"] == ""
        fed = await next_of(supervisor, "handover.package")
        assert (fed["call_id"], fed["seq"]) == ("move-1", package["seq"])


async def test_the_agent_hands_over_with_a_note(service):  # noqa: F811
    async with (
        connect(f"ws://{service}/v1/ingest") as platform,
        connect(f"ws://{service}/v1/calls/move-2/events") as desktop,
    ):
        await platform.send(start("move-2"))
        await next_of(desktop, "call.started")
        note = "Refund of the second charge not issued yet.\nCaller prefers email."
        await desktop.send(json.dumps({"type": "transfer", "to": "team lead", "note": note}))
        package = await next_of(desktop, "handover.package", "error")
        assert (package["type"], package["by"], package["note"]) == (
            "handover.package",
            "agent",
            note,
        )
        await desktop.send(json.dumps({"type": "transfer", "note": 5}))
        error = await next_of(desktop, "error")
        assert error["code"] == "bad_note"


async def test_a_call_that_is_not_live_cannot_be_handed_over(service):  # noqa: F811
    async with connect(f"ws://{service}/v1/calls/ghost/events") as desktop:
        await desktop.send('{"type": "transfer"}')
        error = await next_of(desktop, "error")
        assert error["code"] == "call_not_live"
