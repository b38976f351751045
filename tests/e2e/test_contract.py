"""Everything a real call sends validates against the published schema, as raw JSON:
the desktop's stream, the supervisors' feed and the stored record."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections import Counter

import jsonschema
from websockets.asyncio.client import connect

from contract.publish import SCHEMA_PATH
from streams.client import send_paced, twilio_messages
from testkit import FIXTURES, ROOT
from testkit.calls import LabelledCall

SPEED = 3.0


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


async def read_until_ended(url: str, texts: list[str], call_id: str | None = None) -> None:
    async with connect(url, max_size=None) as ws:
        async for text in ws:
            texts.append(str(text))
            event = json.loads(text)
            if event["type"] == "call.ended" and event["call_id"] == (call_id or event["call_id"]):
                return


async def test_every_event_of_a_real_call_matches_the_published_schema(server):
    validator = jsonschema.Draft202012Validator(json.loads((ROOT / SCHEMA_PATH).read_text()))
    call = LabelledCall.load(FIXTURES / "calls" / "billing_double_charge")
    call_id = "contract-billing"
    desktop: list[str] = []
    feed: list[str] = []
    readers = [
        asyncio.create_task(read_until_ended(f"{server.ws}/v1/calls/{call_id}/events", desktop)),
        asyncio.create_task(read_until_ended(f"{server.ws}/v1/alerts", feed, call_id)),
    ]
    await asyncio.sleep(0.2)
    async with connect(f"{server.ws}/v1/twilio") as ws:
        await send_paced(ws, twilio_messages(call.recording, call_id), SPEED)
    await asyncio.wait_for(asyncio.gather(*readers), 120)
    record = await asyncio.to_thread(get_json, f"{server.http}/v1/calls/{call_id}")

    events = [json.loads(text) for text in desktop]
    for event in events + [json.loads(text) for text in feed] + record["events"]:
        validator.validate(event)
    kinds = Counter(e["type"] for e in events)
    # a call with an escalation shows most of the vocabulary
    assert {"call.started", "transcript.partial", "transcript.final", "sentiment", "intent"} <= set(
        kinds
    ), kinds
    assert {"summary", "handover.cue", "alert", "call.ended"} <= set(kinds), kinds
    assert all("feed_seq" in json.loads(text) for text in feed)
    assert [e["seq"] for e in record["events"]] == [
        e["seq"] for e in events if e["type"] != "transcript.partial"
    ]
