"""Load benchmark: N concurrent two-track calls streamed in real time through /v1/twilio.

    .venv/bin/python -m bench.load [--calls 1,2,4,8,12,16] [--model tiny.en]

Starts `callassist serve` as its own process. For each N, it streams N copies of
the synthesised billing call (fixtures/calls, 53 s, customer and agent tracks),
with starts staggered over 2 s, each watched by a desktop. It prints final-segment
latency p50/p95, partial lag p50, WER against the script, the server's CPU use
and peak RSS, partials shed and calls refused.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import jiwer
import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from whisper_normalizer.english import EnglishTextNormalizer

from contract.events import Speaker, TranscriptFinal, TranscriptPartial
from streams.client import Recording, follow_events, send_paced, twilio_messages
from testkit import FIXTURES
from testkit.calls import load_timeline
from testkit.server import LocalServer

CALL = FIXTURES / "calls" / "billing_double_charge"
normalize = EnglishTextNormalizer()
SETTLE_S = 20.0


@dataclass
class CallResult:
    final_latency: list[float] = field(default_factory=list)
    partial_lag: list[float] = field(default_factory=list)
    said: dict[Speaker, list[str]] = field(default_factory=lambda: {s: [] for s in Speaker})
    refused: str = ""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def metric(address: str, name: str) -> float:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def one_call(address: str, recording: Recording, call_id: str, delay_s: float) -> CallResult:
    result = CallResult()
    # Encoded before the clock starts: the client shares this machine's two cores.
    messages = list(twilio_messages(recording, call_id))
    await asyncio.sleep(delay_s)
    t0 = 0.0

    async def watch() -> None:
        async for event in follow_events(f"ws://{address}", call_id):
            now, payload = time.monotonic(), event.payload
            if isinstance(payload, TranscriptFinal):
                result.final_latency.append(now - (t0 + payload.t_end))
                result.said[payload.speaker].append(payload.text)
            elif isinstance(payload, TranscriptPartial):
                result.partial_lag.append(now - (t0 + payload.t_end))

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.1)
    async with connect(f"ws://{address}/v1/twilio") as ws:
        t0 = time.monotonic()
        sender = asyncio.create_task(send_paced(ws, iter(messages), 1.0))
        try:
            await sender
        except ConnectionClosed as closed:
            result.refused = closed.reason or str(closed)
    if result.refused:
        watcher.cancel()
        return result
    await asyncio.wait_for(watcher, 300)
    return result


def wer(results: list[CallResult]) -> float:
    script = load_timeline(CALL).turns
    refs, hyps = [], []
    for result in results:
        for speaker in Speaker:
            refs.append(normalize(" ".join(t.text for t in script if t.speaker is speaker)))
            hyps.append(normalize(" ".join(result.said[speaker])) or "-")
    return 100 * jiwer.wer(refs, hyps) if refs else float("nan")


async def run_level(address: str, pid: int, recording: Recording, n: int) -> str:
    shed_before = metric(address, "callassist_partials_dropped_total")
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    peak = [rss_mb(pid)]

    async def sample_rss() -> None:
        while True:
            peak.append(rss_mb(pid))
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample_rss())
    rng = random.Random(n)
    results = await asyncio.gather(
        *(one_call(address, recording, f"load-{n}-{i}", rng.uniform(0, 2.0)) for i in range(n))
    )
    sampler.cancel()
    cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before)
    served = [r for r in results if not r.refused]
    latency = [x for r in served for x in r.final_latency]
    lag = [x for r in served for x in r.partial_lag]
    shed = metric(address, "callassist_partials_dropped_total") - shed_before
    refused = [r.refused for r in results if r.refused]

    def p(values: list[float], q: float) -> str:
        return f"{np.percentile(values, q):5.2f}" if values else "  n/a"

    return (
        f"| {n:2d} | {p(latency, 50)} | {p(latency, 95)} | {p(lag, 50)} | {wer(served):5.1f} "
        f"| {100 * cpu:4.0f}% | {max(peak):5.0f} | {shed:5.0f} | {len(refused)}"
        f"{' (' + refused[0] + ')' if refused else ''} |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", default="1,2,4,8,12,16")
    parser.add_argument("--model", default="tiny.en")
    args = parser.parse_args()
    recording = Recording.from_tracks(Path(f"{CALL}.customer.wav"), Path(f"{CALL}.agent.wav"))
    with tempfile.TemporaryDirectory() as data_dir:
        # English fixed, as the capacity figures in README were measured (no identification)
        os.environ.setdefault("CALLASSIST_CALL_LANGUAGE", "en")
        server = LocalServer(Path(data_dir), "--model", args.model).start()
        address = server.address
        try:
            print(
                f"{recording.duration_s:.0f} s two-track calls, real time, /v1/twilio, "
                f"{args.model}, {os.cpu_count()} cores"
            )
            print(
                "| calls | final p50 s | final p95 s | partial lag p50 s | WER % | CPU "
                "| peak RSS MB | partials shed | refused |"
            )
            print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
            for n in (int(x) for x in args.calls.split(",")):
                print(await run_level(address, server.pid, recording, n), flush=True)
                await asyncio.sleep(SETTLE_S)  # let the last level's load fade from admission
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
