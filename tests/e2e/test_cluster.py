"""Several real service processes on one PostgreSQL and one Redis, started by the tests:
any node serves any call's events, a killed node's calls are ended by a survivor and
resume where the platform reconnects, and each backend can go away under a live call."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from contract import codec
from contract.events import CallEnded, CallStarted, EndReason, Event, TranscriptFinal
from streams.client import Recording, follow_events, native_messages, send_paced
from testkit import FIXTURES
from testkit.server import LocalServer
from tests.fakes import until

JFK = FIXTURES / "audio" / "en_whisper_jfk.wav"  # 11 s
FAILOVER_LIMIT_S = 30.0  # issue 14: a dead node's calls end within this


class Nodes:
    """Service processes sharing one store and one bus."""

    def __init__(self, tmp_path: Path, store_url: str, bus_url: str) -> None:
        self.tmp_path, self.store_url, self.bus_url = tmp_path, store_url, bus_url
        self.running: dict[str, LocalServer] = {}

    def start(self, *names: str) -> list[LocalServer]:
        with ThreadPoolExecutor(len(names)) as pool:  # each loads the model: at once
            return list(pool.map(self._start, names))

    def __getitem__(self, name: str) -> LocalServer:
        return self.running[name]

    def _start(self, name: str) -> LocalServer:
        env = {
            "CALLASSIST_STORE_URL": self.store_url,
            "CALLASSIST_BUS_URL": self.bus_url,
            "CALLASSIST_CLUSTER_NODE": name,
        }
        server = LocalServer(
            self.tmp_path / name, log_path=self.tmp_path / f"{name}.log", env=env
        ).start()
        self.running[name] = server
        return server

    def stop(self) -> None:
        for server in self.running.values():
            server.stop()


@pytest.fixture(scope="module")
def nodes(tmp_path_factory, postgres_server, redis_server) -> Iterator[Nodes]:
    """Three nodes for the module (each loads the model once); the tests use their own
    call ids, and the last one kills a node."""
    store_url = postgres_server.new_database("cluster")
    cluster = Nodes(tmp_path_factory.mktemp("cluster"), store_url, redis_server.url)
    cluster.start("a", "b", "c")
    yield cluster
    cluster.stop()


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


async def collect(base_url: str, call_id: str, into: list[Event], since: int = 0) -> None:
    async for event in follow_events(base_url, call_id, since):
        into.append(event)


async def collect_alerts(base_url: str, into: list[dict], until_ended: str) -> None:
    async with connect(f"{base_url}/v1/alerts?since=0") as ws:
        async for text in ws:
            into.append(json.loads(text))
            if into[-1]["type"] == "call.ended" and into[-1]["call_id"] == until_ended:
                return


async def stream(server: LocalServer, call_id: str, speed: float) -> None:
    async with connect(server.ws + "/v1/ingest") as ws:
        await send_paced(ws, native_messages(Recording.from_wav(JFK), call_id), speed)


def seqs(events: list[Event]) -> list[int]:
    return [event.seq for event in events]


async def test_any_node_serves_any_call_live_and_replayed(nodes):
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    on_b: list[Event] = []
    alerts_on_c: list[dict] = []
    desktop = asyncio.create_task(collect(b.ws, "anywhere", on_b))
    supervisor = asyncio.create_task(collect_alerts(c.ws, alerts_on_c, "anywhere"))
    await asyncio.sleep(0.5)
    await stream(a, "anywhere", speed=4.0)
    await asyncio.wait_for(asyncio.gather(desktop, supervisor), 60)

    assert seqs(on_b) == list(range(1, len(on_b) + 1))  # live on another node: no gap, no repeat
    assert any(isinstance(e.payload, TranscriptFinal) for e in on_b)
    replayed: list[Event] = []
    await asyncio.wait_for(collect(c.ws, "anywhere", replayed), 30)
    assert [codec.encode(e) for e in replayed] == [codec.encode(e) for e in on_b]
    _, record = await asyncio.to_thread(get, f"{c.http}/v1/calls/anywhere")
    stored = [e["seq"] for e in record["events"]]
    assert stored == [e.seq for e in on_b if e.payload.__class__.__name__ != "TranscriptPartial"]
    assert record["status"] == "ended" and record["node"] == "a"
    feed = [(e["type"], e["feed_seq"]) for e in alerts_on_c if e["call_id"] == "anywhere"]
    assert feed[0][0] == "call.started" and feed[-1][0] == "call.ended"
    assert [n for _, n in feed] == sorted(n for _, n in feed)


async def test_redis_going_away_under_a_live_call_loses_nothing(nodes, redis_server):
    a, b = nodes["a"], nodes["b"]
    on_b: list[Event] = []
    desktop = asyncio.create_task(collect(b.ws, "redis-away", on_b))
    await asyncio.sleep(0.5)
    platform = asyncio.create_task(stream(a, "redis-away", speed=1.0))
    await until(lambda: any(isinstance(e.payload, TranscriptFinal) for e in on_b), limit_s=60)
    redis_server.stop()
    try:
        await asyncio.sleep(1.5)
        status, ready = await asyncio.to_thread(get, f"{a.http}/readyz")
        assert status == 503 and any("bus" in reason for reason in ready["reasons"])
        assert "password" not in json.dumps(ready)
        await asyncio.sleep(2.0)
    finally:
        redis_server.start()
    await asyncio.wait_for(platform, 60)
    await asyncio.wait_for(desktop, 60)

    assert seqs(on_b) == list(range(1, len(on_b) + 1))
    replayed: list[Event] = []
    await asyncio.wait_for(collect(a.ws, "redis-away", replayed), 30)
    assert seqs(replayed) == seqs(on_b)
    assert isinstance(on_b[-1].payload, CallEnded) and on_b[-1].payload.reason is EndReason.STOP
    await until(lambda: get(f"{a.http}/readyz")[0] == 200, limit_s=30)


async def test_postgres_going_away_under_a_live_call_keeps_transcribing(nodes, postgres_server):
    a = nodes["a"]
    on_a: list[Event] = []
    desktop = asyncio.create_task(collect(a.ws, "store-away", on_a))
    await asyncio.sleep(0.5)
    platform = asyncio.create_task(stream(a, "store-away", speed=1.0))
    await until(lambda: any(isinstance(e.payload, TranscriptFinal) for e in on_a), limit_s=60)
    postgres_server.stop()
    try:
        await asyncio.sleep(2.0)
        status, ready = await asyncio.to_thread(get, f"{a.http}/readyz")
        assert status == 503 and any("store" in reason for reason in ready["reasons"])
        assert "password" not in json.dumps(ready)
        await asyncio.sleep(2.0)
    finally:
        postgres_server.start()
    await asyncio.wait_for(platform, 60)
    await asyncio.wait_for(desktop, 60)

    assert seqs(on_a) == list(range(1, len(on_a) + 1))
    _, record = await asyncio.to_thread(get, f"{a.http}/v1/calls/store-away")
    shown = [e.payload.text for e in on_a if isinstance(e.payload, TranscriptFinal)]
    assert len(shown) >= 2 and [t["text"] for t in record["transcript"]] == shown


def test_an_unreachable_store_stops_the_service_naming_it_without_the_password(tmp_path):
    env = {"CALLASSIST_STORE_URL": "postgresql://callassist:hunter2secret@127.0.0.1:1/none"}
    command = [sys.executable, "-m", "streams.cli", "serve", "--port", "0"]
    finished = subprocess.run(
        [*command, "--data-dir", str(tmp_path)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode != 0
    assert "127.0.0.1:1" in finished.stderr
    assert "hunter2secret" not in finished.stderr + finished.stdout


# last: it kills node a
async def test_a_killed_nodes_call_ends_on_a_survivor_and_resumes_where_it_reconnects(nodes):
    a, b = nodes["a"], nodes["b"]
    on_b: list[Event] = []
    desktop = asyncio.create_task(collect(b.ws, "failover", on_b))
    await asyncio.sleep(0.5)
    platform = asyncio.create_task(stream(a, "failover", speed=1.0))
    await until(lambda: any(isinstance(e.payload, TranscriptFinal) for e in on_b), limit_s=60)
    a.kill()
    killed_at = time.monotonic()
    await asyncio.wait_for(desktop, FAILOVER_LIMIT_S + 5)
    ended_after_s = time.monotonic() - killed_at
    await asyncio.gather(platform, return_exceptions=True)

    ended = on_b[-1].payload
    assert isinstance(ended, CallEnded) and ended.reason is EndReason.INTERRUPTED
    assert ended_after_s < FAILOVER_LIMIT_S
    _, record = await asyncio.to_thread(get, f"{b.http}/v1/calls/failover")
    shown = [e.payload.text for e in on_b if isinstance(e.payload, TranscriptFinal)]
    assert shown and [t["text"] for t in record["transcript"]] == shown

    # the platform reconnects, to the survivor: the record goes on
    last = on_b[-1].seq
    resumed: list[Event] = []
    desktop = asyncio.create_task(collect(b.ws, "failover", resumed, since=last))
    await asyncio.sleep(0.5)
    await stream(b, "failover", speed=8.0)
    await asyncio.wait_for(desktop, 60)
    started = resumed[0]
    assert isinstance(started.payload, CallStarted) and started.payload.resumed
    assert seqs(resumed) == list(range(last + 1, last + 1 + len(resumed)))
