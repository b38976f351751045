"""Reading a long call must not slow a live one: 50 desktops open a two-hour call's
record and replay its events while another call streams, and that call's finals keep
their latency because every long read runs off the event loop, in pages."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect

from contract.events import (
    CallEnded,
    CallStarted,
    EndReason,
    Protocol,
    Sentiment,
    Speaker,
    TranscriptFinal,
    TranscriptPartial,
    Word,
)
from streams.client import Recording, native_messages, send_paced
from streams.config import load_config
from streams.hub import Hub
from streams.server import Service
from streams.store import Store
from tests.fakes import ScriptedDecoder

JFK = Path(__file__).parents[2] / "fixtures" / "audio" / "en_whisper_jfk.wav"
TURNS = 2400  # a two-hour call: a final every 3 s, with its partials and sentiment
READERS = 50
_READER = """
import asyncio, json, sys, urllib.request
from websockets.asyncio.client import connect
base, call_id, readers = sys.argv[1], sys.argv[2], int(sys.argv[3])

def record():
    with urllib.request.urlopen(f"http://{base}/v1/calls/{call_id}", timeout=120) as r:
        return len(json.loads(r.read())["events"])

async def replay():
    url = f"ws://{base}/v1/calls/{call_id}/events?since=0&partials=0"
    n = 0
    async with connect(url, max_size=None) as ws:
        async for text in ws:
            n += 1
            if json.loads(text)["type"] == "call.ended":
                return n

async def main():
    records = [asyncio.to_thread(record) for _ in range(readers // 2)]
    replays = [replay() for _ in range(readers - readers // 2)]
    print(json.dumps(await asyncio.gather(*records, *replays)))

asyncio.run(main())
"""


def seed_long_call(path: Path, call_id: str) -> int:
    """Stores a two-hour call; returns how many events a record (no partials) holds."""
    store = Store(path)
    hub = Hub(store)
    hub.start_call(call_id, CallStarted(Protocol.TWILIO, ("en",), (Speaker.CUSTOMER,)))
    text = "I have been trying to get this sorted out for weeks now and nothing works"
    words = tuple(Word(w, i * 0.2, i * 0.2 + 0.2, 0.9) for i, w in enumerate(text.split()))
    for k in range(TURNS):
        t = 3.0 * k
        speaker = (Speaker.CUSTOMER, Speaker.AGENT)[k % 2]
        hub.publish(call_id, TranscriptPartial(speaker, text[:30], t, t + 1.0, "en"))
        final = TranscriptFinal(f"{speaker}-{t:.2f}", speaker, text, t, t + 2.5, "en", words)
        hub.publish(call_id, final)
        hub.publish(call_id, Sentiment(final.segment_id, speaker, -0.2, 0.3, False, "", t + 2.5))
    hub.end_call(call_id, CallEnded(3.0 * TURNS, EndReason.STOP))
    store.close()
    return 2 + 2 * TURNS


async def watch_loop_lag(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - before - 0.01)


async def stream_live_call(base: str, call_id: str) -> int:
    """Streams the JFK recording at twice real time; returns how many finals came back."""
    finals = 0
    async with connect(f"ws://{base}/v1/calls/{call_id}/events") as events:
        async with connect(f"ws://{base}/v1/ingest") as ingest:
            await send_paced(ingest, native_messages(Recording.from_wav(JFK), call_id), 2.0)
        async for text in events:
            kind = json.loads(text)["type"]
            finals += kind == "transcript.final"
            if kind == "call.ended":
                return finals
    raise AssertionError("the call never ended")


def mean_final_latency(service: Service) -> tuple[float, int]:
    """Mean final latency so far and how many finals it covers (from the service's metric)."""
    [metric] = service.metrics.final_latency.collect()
    values = {s.name.rsplit("_", 1)[1]: s.value for s in metric.samples}
    return values["sum"], int(values["count"])


async def test_fifty_readers_of_a_long_call_do_not_stall_a_live_call(tmp_path):
    expected = seed_long_call(tmp_path / "calls.sqlite3", "long")
    config = load_config(
        environ={
            "CALLASSIST_SERVER_DATA_DIR": str(tmp_path),
            "CALLASSIST_SERVER_PORT": "0",
            "CALLASSIST_ASSIST_ENABLED": "false",
            "CALLASSIST_CALL_LANGUAGE": "en",
        }
    )
    service = Service(config, engine=ScriptedDecoder())
    base = f"127.0.0.1:{await service.start()}"
    # The loop measured is this test process's: keep the test runner's own heap (earlier
    # tests) out of the garbage collector's way, as a server process would not have it.
    gc.collect()
    gc.freeze()
    stop, lags = asyncio.Event(), list[float]()
    try:
        assert await stream_live_call(base, "quiet") > 0
        quiet_sum, quiet_count = mean_final_latency(service)
        watcher = asyncio.create_task(watch_loop_lag(stop, lags))
        readers = await asyncio.create_subprocess_exec(
            *(sys.executable, "-c", _READER, base, "long", str(READERS)),
            stdout=asyncio.subprocess.PIPE,
        )
        await asyncio.sleep(0.3)  # the readers are connecting and reading
        assert await stream_live_call(base, "busy") > 0
        out, _ = await asyncio.wait_for(readers.communicate(), 120)
        stop.set()
        await watcher
    finally:
        gc.unfreeze()
        await service.stop()
    assert json.loads(out) == [expected] * READERS  # every reader got the whole call
    total_sum, total_count = mean_final_latency(service)
    quiet = quiet_sum / quiet_count
    busy = (total_sum - quiet_sum) / (total_count - quiet_count)
    assert busy < quiet + 0.3, f"final latency {quiet:.2f} s alone, {busy:.2f} s while read"
    assert max(lags) < 0.25, f"the event loop stalled {max(lags):.2f} s"
