"""Scale-out benchmark: what the bus adds to an event's way to a desktop, what one
PostgreSQL and one Redis hold on this machine, and what a node and a call cost.

    .venv/bin/python -m bench.cluster                # everything (about 3 minutes)
    .venv/bin/python -m bench.cluster --skip-call    # without the streamed call (1 minute)

It starts its own redis-server and PostgreSQL (testkit/backends.py) in a temporary
directory, as the tests do (PostgreSQL there runs with fsync off: its figures are an
upper bound for a server that syncs each commit).

1. Publish to desktop: hubs in this process publish `--rate` events a second spread over
   `--calls` calls for `--seconds`; a subscriber per call measures the time from
   `publish()` to its event arriving. In-process = SQLite and the local bus, one hub;
   Redis = PostgreSQL store, two hubs on the Redis bus, the subscriber on the other one.
2. Throughput: appends a second into PostgreSQL (`--writers` threads, one connection
   each, a call per writer) and stream entries a second into Redis (XADD, pipelined as
   the bus sends them), each for `--seconds`.
3. A node: RSS of an idle `callassist serve` on each backend, and one call (the billing
   call of fixtures/calls, 53 s, two tracks) streamed in real time through /v1/twilio
   into a node on PostgreSQL and Redis: its events a second and bytes a second as
   stored, which is what PostgreSQL and Redis see per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from contract import codec
from contract.events import CallStarted, Protocol, Speaker, TranscriptPartial
from streams.bus import Subscription
from streams.config import BusOptions
from streams.hub import Hub
from streams.postgres import PostgresStore
from streams.redisbus import RedisBus
from streams.storage import EventStore
from streams.store import Store
from testkit import FIXTURES
from testkit.backends import PostgresServer, RedisServer
from testkit.server import LocalServer

CALL = FIXTURES / "calls" / "billing_double_charge"


@dataclass
class Latency:
    label: str
    ms: list[float]

    def row(self) -> str:
        ms = sorted(self.ms)
        p50, p95 = ms[len(ms) // 2], ms[int(len(ms) * 0.95)]
        return f"| {self.label} | {len(ms)} | {p50:.2f} | {p95:.2f} | {ms[-1]:.2f} |"


# --- 1. publish to desktop ------------------------------------------------------------------
async def publish_to_desktop(
    publisher: Hub, reader: Hub, calls: int, rate: float, seconds: float
) -> list[float]:
    sent: dict[tuple[str, str], float] = {}
    arrived: list[float] = []
    call_ids = [f"bench-{k}" for k in range(calls)]
    subscriptions = [reader.subscribe_call(call_id, since=0) for call_id in call_ids]

    async def receive(subscription: Subscription) -> None:
        while True:
            for text in await subscription.next_live():
                now = time.perf_counter()
                event = json.loads(text)
                if event["type"] == "transcript.partial":
                    key = (event["call_id"], event["text"])
                    arrived.append((now - sent.pop(key)) * 1000)

    receivers = [asyncio.create_task(receive(s)) for s in subscriptions]
    for call_id in call_ids:
        publisher.start_call(call_id, CallStarted(Protocol.NATIVE, ("en",), (Speaker.CUSTOMER,)))
    interval = 1 / rate
    began = time.perf_counter()
    k = 0
    while time.perf_counter() - began < seconds:
        call_id = call_ids[k % calls]
        text = f"words {k}"
        sent[(call_id, text)] = time.perf_counter()
        publisher.publish(call_id, TranscriptPartial(Speaker.CUSTOMER, text, k, k + 1.0, "en"))
        k += 1
        await asyncio.sleep(max(0.0, began + k * interval - time.perf_counter()))
    await asyncio.sleep(1.0)
    for receiver in receivers:
        receiver.cancel()
    return arrived


async def in_process(directory: Path, calls: int, rate: float, seconds: float) -> Latency:
    store = Store(directory / "calls.sqlite3")
    hub = Hub(store)
    try:
        return Latency(
            "in-process (SQLite, local bus)",
            await publish_to_desktop(hub, hub, calls, rate, seconds),
        )
    finally:
        store.close()


async def over_redis(
    postgres_url: str, redis_url: str, calls: int, rate: float, seconds: float
) -> Latency:
    hubs = []
    for node in ("a", "b"):
        store = PostgresStore(postgres_url)
        bus = RedisBus(store, BusOptions(url=redis_url), node)
        await bus.start()
        hubs.append(Hub(store, bus=bus, node=node))
    try:
        arrived = await publish_to_desktop(hubs[0], hubs[1], calls, rate, seconds)
        return Latency("Redis (PostgreSQL, desktop on another node)", arrived)
    finally:
        for hub in hubs:
            await hub.bus.stop()
            hub.close()
            hub.store.close()


# --- 2. throughput --------------------------------------------------------------------------
def postgres_appends_per_s(url: str, writers: int, seconds: float) -> float:
    stores: list[EventStore] = [PostgresStore(url) for _ in range(writers)]
    counts = [0] * writers
    stop = time.perf_counter() + seconds
    body = json.dumps({"type": "transcript.final", "text": "x" * 300})

    def write(index: int) -> None:
        call_id = f"throughput-{index}"
        while time.perf_counter() < stop:
            stores[index].append(call_id, "transcript.final", lambda seq, feed: body)
            counts[index] += 1

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    return sum(counts) / seconds


def redis_entries_per_s(url: str, seconds: float, batch: int = 200) -> float:
    client = redis.Redis.from_url(url)
    fields: dict[Any, Any] = {"s": json.dumps({"type": "transcript.final", "text": "x" * 300})}
    sent = 0
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        pipe = client.pipeline(transaction=False)
        for k in range(batch):
            key = f"callassist:call:throughput-{k % 50}"
            pipe.xadd(key, fields, maxlen=2000, approximate=True)
            pipe.expire(key, 3600)
        pipe.execute()
        sent += batch
    client.close()
    return sent / seconds


# --- 3. a node ------------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def idle_node_rss(directory: Path, env: dict[str, str]) -> float:
    server = LocalServer(directory, env=env).start()
    try:
        time.sleep(2.0)
        return rss_mb(server.pid)
    finally:
        server.stop()


def one_call(directory: Path, env: dict[str, str]) -> tuple[dict[str, float], float]:
    """Streams the billing call in real time into a node on the cluster backends; returns
    its stored events and bytes a second, and the node's peak RSS meanwhile."""
    from testkit.calls import LabelledCall, stream_call

    server = LocalServer(directory, env=env).start()
    peak = 0.0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb(server.pid))
            time.sleep(0.5)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        call = LabelledCall.load(CALL)
        observed = asyncio.run(stream_call(server.ws, call, "bench-cluster-call", 1.0))
    finally:
        done.set()
        watcher.join()
        server.stop()
    events = observed.events
    duration = call.recording.duration_s
    kinds = Counter(type(e.payload).__name__ for e in events)
    figures = {
        "events/s": len(events) / duration,
        "partials/s": kinds["TranscriptPartial"] / duration,
        "finals/s": kinds["TranscriptFinal"] / duration,
        "bytes/s (JSON as stored)": sum(len(codec.encode(e)) for e in events) / duration,
        "feed events/s (alert feed)": len(observed.alerts) / duration,
    }
    return figures, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200.0, help="events a second in all")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--skip-call", action="store_true")
    args = parser.parse_args()

    # mkdtemp, not TemporaryDirectory's 0700 folder: as root PostgreSQL runs as `postgres`
    directory = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    directory.chmod(0o755)
    try:
        with (
            RedisServer(directory / "redis") as redis_server,
            PostgresServer(directory / "postgres") as postgres,
        ):
            print(f"# {args.calls} calls, {args.rate:.0f} events/s for {args.seconds:.0f} s")
            print("| path | events | p50 ms | p95 ms | max ms |\n| --- | --- | --- | --- | --- |")
            local = asyncio.run(in_process(directory, args.calls, args.rate, args.seconds))
            print(local.row(), flush=True)
            url = postgres.new_database("latency")
            shared = asyncio.run(
                over_redis(url, redis_server.url, args.calls, args.rate, args.seconds)
            )
            print(shared.row(), flush=True)

            print("\n| backend | what | per second |\n| --- | --- | --- |")
            url = postgres.new_database("throughput")
            appends = postgres_appends_per_s(url, args.writers, args.seconds)
            print(f"| PostgreSQL | appends ({args.writers} writers) | {appends:,.0f} |", flush=True)
            entries = redis_entries_per_s(redis_server.url, args.seconds)
            print(f"| Redis | stream entries (XADD, pipelined) | {entries:,.0f} |", flush=True)

            env = {
                "CALLASSIST_STORE_URL": postgres.new_database("node"),
                "CALLASSIST_BUS_URL": redis_server.url,
            }
            print("\n| node | RSS MB |\n| --- | --- |")
            print(f"| idle, SQLite | {idle_node_rss(directory / 'n1', {}):.0f} |", flush=True)
            print(f"| idle, PostgreSQL + Redis | {idle_node_rss(directory / 'n2', env):.0f} |")
            if not args.skip_call:
                figures, peak = one_call(directory / "n3", env)
                print(f"\n# one call streamed in real time: peak RSS {peak:.0f} MB")
                for name, value in figures.items():
                    print(f"- {name}: {value:,.1f}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
