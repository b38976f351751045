"""The Redis bus between nodes, on a real redis-server: nodes here are hubs in one process
sharing one SQLite file (the store's own engines have tests/streams/test_store_contract.py;
whole service processes on PostgreSQL, tests/e2e/test_cluster.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from contract.events import (
    Alert,
    CallEnded,
    CallStarted,
    EndReason,
    Protocol,
    Severity,
    Speaker,
    Summary,
    TranscriptFinal,
)
from streams.bus import Subscription
from streams.cluster import Cluster, lease_key
from streams.config import BusOptions, ClusterOptions
from streams.hub import Hub
from streams.redisbus import BusUnavailable, RedisBus
from streams.store import Store
from tests.fakes import until


@dataclass
class Nodes:
    """Hubs on one store file and one Redis, each its own node."""

    path: Path
    url: str
    hubs: dict[str, Hub] = field(default_factory=dict)

    async def add(self, name: str, **options: int) -> Hub:
        store = Store(self.path)
        bus = RedisBus(store, BusOptions(url=self.url, **options), name)
        await bus.start()
        self.hubs[name] = Hub(store, bus=bus, node=name)
        return self.hubs[name]

    async def close(self) -> None:
        for hub in self.hubs.values():
            await hub.bus.stop()
            hub.store.close()


@pytest.fixture
async def nodes(tmp_path, redis_url) -> AsyncIterator[Nodes]:
    cluster = Nodes(tmp_path / "calls.sqlite3", redis_url)
    yield cluster
    await cluster.close()


def started() -> CallStarted:
    return CallStarted(Protocol.NATIVE, ("en",), (Speaker.CUSTOMER,))


def final(k: int) -> TranscriptFinal:
    return TranscriptFinal(f"c-{k}", Speaker.CUSTOMER, f"words {k}", k, k + 1.0, "en", ())


def alert(k: int) -> Alert:
    return Alert("angry", Severity.HIGH, f"reason {k}", (), (), Summary(None), (), f"c-{k}")


class Received:
    """What a socket would have sent, in order: the backlog, then the live events."""

    def __init__(self, hub: Hub, subscription: Subscription) -> None:
        self.hub, self.subscription = hub, subscription
        self.events: list[dict] = []

    async def backlog(self) -> Received:
        async for page in self.hub.backlog_pages(self.subscription):
            self.events += [json.loads(text) for text in page]
        return self

    def live(self) -> list[dict]:
        self.events += [json.loads(text) for text in self.subscription.take_live()]
        return self.events

    def numbers(self, key: str = "seq") -> list[int]:
        return [event[key] for event in self.live()]


async def test_a_desktop_on_another_node_sees_every_event_once_in_order(nodes):
    a, b = await nodes.add("a"), await nodes.add("b")
    on_b = Received(b, b.subscribe_call("x", since=0))
    on_a = Received(a, a.subscribe_call("x", since=0))  # gets them directly and by Redis
    a.start_call("x", started())
    for k in range(20):
        a.publish("x", final(k))
    a.end_call("x", CallEnded(21.0, EndReason.STOP))
    await until(lambda: len(on_b.live()) >= 22, limit_s=10)
    await asyncio.sleep(0.3)  # anything repeated would have come by now
    assert on_b.numbers() == list(range(1, 23))
    assert on_a.numbers() == list(range(1, 23))
    assert on_b.live() == on_a.live()  # the same texts, byte for byte


async def test_a_late_desktop_replays_then_follows_without_gap_or_repeat(nodes):
    a, b = await nodes.add("a"), await nodes.add("b")
    a.start_call("x", started())
    for k in range(5):
        a.publish("x", final(k))
    await asyncio.sleep(0.2)
    late = await Received(b, b.subscribe_call("x", since=2)).backlog()
    for k in range(5, 10):
        a.publish("x", final(k))
    await until(lambda: len(late.live()) >= 9, limit_s=10)
    assert late.numbers() == list(range(3, 12))


async def test_the_alert_feed_covers_every_nodes_calls_in_feed_order(nodes):
    a, b, c = await nodes.add("a"), await nodes.add("b"), await nodes.add("c")
    feed = Received(c, c.subscribe_alerts())
    for hub, call_id in ((a, "from-a"), (b, "from-b")):
        hub.start_call(call_id, started())
    for k in range(10):
        (a if k % 2 else b).publish("from-a" if k % 2 else "from-b", alert(k))
    await until(lambda: len(feed.live()) >= 12, limit_s=10)
    await asyncio.sleep(0.3)
    assert feed.numbers("feed_seq") == list(range(1, 13))
    assert {event["call_id"] for event in feed.live()} == {"from-a", "from-b"}


async def test_events_redis_lost_are_read_from_the_store(nodes, redis_server):
    a, b = await nodes.add("a"), await nodes.add("b")
    on_b = Received(b, b.subscribe_call("x", since=0))
    a.start_call("x", started())
    a.publish("x", final(0))
    await until(lambda: len(on_b.live()) == 2, limit_s=10)
    redis_server.stop()  # an empty Redis comes back: what it held is gone
    for k in range(1, 6):
        a.publish("x", final(k))
    await until(lambda: not a.bus.healthy, limit_s=10)
    redis_server.start()
    a.publish("x", final(6))
    await until(lambda: len(on_b.live()) >= 8, limit_s=20)
    await asyncio.sleep(0.3)
    assert on_b.numbers() == list(range(1, 9))
    await until(lambda: a.bus.healthy and b.bus.healthy, limit_s=20)


async def test_a_buffer_overflow_while_redis_is_away_loses_nothing_but_the_stream(
    nodes, redis_server
):
    a = await nodes.add("a", max_unsent=3)
    b = await nodes.add("b")
    on_b = Received(b, b.subscribe_call("x", since=0))
    a.start_call("x", started())
    await until(lambda: len(on_b.live()) == 1, limit_s=10)
    redis_server.stop()
    for k in range(10):
        a.publish("x", final(k))
    assert a.bus.dropped >= 7
    redis_server.start()
    await until(lambda: len(on_b.live()) >= 11, limit_s=20)
    assert on_b.numbers() == list(range(1, 12))  # the dropped ones came from the store


async def test_an_unreachable_bus_at_start_is_named_without_its_password(tmp_path):
    store = Store(tmp_path / "calls.sqlite3")
    bus = RedisBus(store, BusOptions(url="redis://:hunter2secret@127.0.0.1:1/0"), "a")
    with pytest.raises(BusUnavailable) as refused:
        await bus.start()
    assert "127.0.0.1:1" in str(refused.value) and "hunter2secret" not in str(refused.value)
    store.close()


async def test_a_dead_nodes_live_calls_are_ended_by_a_survivor(nodes):
    a, b = await nodes.add("a"), await nodes.add("b")
    a.start_call("held-by-a", started())
    a.publish("held-by-a", final(0))
    options = ClusterOptions(lease_s=3.0, sweep_every_s=0.5)
    survivor = Cluster(b.bus, b, options)
    await survivor.start()  # as a node starts: before it takes calls
    b.start_call("held-by-b", started())
    on_b = Received(b, b.subscribe_call("held-by-a", since=0))
    assert await b.bus.redis.exists(lease_key("b"))
    # node a never took a lease (as if it died): b ends its call, not its own
    try:
        await until(lambda: any(e["type"] == "call.ended" for e in on_b.live()), limit_s=15)
    finally:
        await survivor.stop()
    ended = on_b.live()[-1]
    assert ended["reason"] == "interrupted" and ended["seq"] == 3
    assert {c.call_id for c in b.store.live_calls()} == {"held-by-b"}
