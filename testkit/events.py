"""A call's events as the contract's typed values, and their payloads picked by class.

Events arrive through `streams.client.follow_events`, which decodes them with
`contract.codec`; nothing here picks a field by its name on the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

from websockets.asyncio.client import connect

from contract import codec
from contract.events import Event, Payload
from streams.client import follow_events

P = TypeVar("P", bound=Payload)
SUBSCRIBE_S = 0.2  # time for a watcher to subscribe before the call starts (it would replay)


def payloads(events: Iterable[Event], kind: type[P]) -> list[P]:
    """The payloads of one class, in order: `payloads(events, TranscriptFinal)`."""
    return [event.payload for event in events if isinstance(event.payload, kind)]


def numbered(events: Iterable[Event], kind: type[P]) -> list[tuple[int, P]]:
    """The same, each with its event's `seq`."""
    return [(event.seq, event.payload) for event in events if isinstance(event.payload, kind)]


async def collect(ws_url: str, call_id: str, since: int = 0) -> list[Event]:
    """Every event of the call from `since` to call.ended."""
    return [event async for event in follow_events(ws_url, call_id, since)]


async def watch(ws_url: str, call_id: str) -> asyncio.Task[list[Event]]:
    """Starts collecting a call's events and gives the watcher time to subscribe."""
    task = asyncio.create_task(collect(ws_url, call_id))
    await asyncio.sleep(SUBSCRIBE_S)
    return task


async def follow_alerts(ws_url: str) -> AsyncIterator[Event]:
    """The supervisors' feed (/v1/alerts), every call's, until the caller stops reading."""
    async with connect(f"{ws_url}/v1/alerts", max_size=None) as ws:
        async for text in ws:
            yield codec.decode(text)
