"""Memory soak: one long two-track call at high speed through /v1/ingest; RSS over time.

    .venv/bin/python -m bench.soak [--hours 2] [--speed 30]

The synthesised billing call (53 s) is looped into one continuous call of the
given length. Backpressure may hold the sender below `--speed` when the machine
cannot decode that fast; the achieved speed is printed. RSS is sampled every 5 s
of wall time; the medians and peaks of the second and last quarters are compared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from websockets.asyncio.client import connect

from bench.load import CALL, rss_mb
from streams.client import Recording, send_paced
from testkit.server import LocalServer

FRAME_MS_SOAK = 100


def looped_call(
    recording: Recording, hours: float, call_id: str
) -> Iterator[tuple[float, bytes | str]]:
    """One continuous two-channel call in our own protocol, 100 ms binary frames.

    Not Twilio: at 30x its 20 ms JSON frames are ~3000 messages/s on one socket,
    more than one event loop parses on 2 cores (see README), and this measures memory.
    """
    rate = recording.sample_rate_hz
    step = rate * FRAME_MS_SOAK // 1000
    frames = [
        recording.samples[i : i + step].tobytes()
        for i in range(0, len(recording.samples) - step + 1, step)
    ]
    yield (
        0.0,
        json.dumps(
            {
                "type": "start",
                "call_id": call_id,
                "sample_rate": rate,
                "encoding": "pcm16",
                "channels": 2,
            }
        ),
    )
    total = int(hours * 3600 * 1000 / FRAME_MS_SOAK)
    for n in range(total):
        yield (n + 1) * FRAME_MS_SOAK / 1000, frames[n % len(frames)]
    yield total * FRAME_MS_SOAK / 1000, json.dumps({"type": "stop"})


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--speed", type=float, default=30.0)
    args = parser.parse_args()
    recording = Recording.from_tracks(Path(f"{CALL}.customer.wav"), Path(f"{CALL}.agent.wav"))
    with tempfile.TemporaryDirectory() as data_dir:
        # English fixed, as the capacity figures in README were measured (no identification)
        os.environ.setdefault("CALLASSIST_CALL_LANGUAGE", "en")
        server = LocalServer(Path(data_dir)).start()
        address = server.address
        samples: list[tuple[float, float]] = []
        sent: dict[float, float] = {}

        async def sample() -> None:
            while True:
                audio_min = max(sent, default=0.0) / 60
                samples.append((audio_min, rss_mb(server.pid)))
                print(
                    f"  {audio_min:6.1f} min of call audio sent   RSS {samples[-1][1]:6.0f} MB",
                    flush=True,
                )
                await asyncio.sleep(5)

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        try:
            async with connect(f"ws://{address}/v1/ingest") as ws:
                await send_paced(ws, looped_call(recording, args.hours, "soak"), args.speed, sent)
            wall = time.monotonic() - started
        finally:
            sampler.cancel()
            server.stop()
    print(
        f"{args.hours:.1f} h call sent in {wall / 60:.1f} min "
        f"({args.hours * 3600 / wall:.1f}x real time)"
    )
    # RSS swings with each utterance; compare medians and peaks of whole quarters.
    quarter = len(samples) // 4
    if quarter:
        early = [rss for _, rss in samples[quarter : 2 * quarter]]
        late = [rss for _, rss in samples[3 * quarter :]]
        growth = (
            100 * (statistics.median(late) - statistics.median(early)) / statistics.median(early)
        )
        print(
            f"RSS median {statistics.median(early):.0f} MB (2nd quarter) -> "
            f"{statistics.median(late):.0f} MB (last quarter), {growth:+.1f}%; "
            f"peaks {max(early):.0f} -> {max(late):.0f} MB"
        )


if __name__ == "__main__":
    asyncio.run(main())
