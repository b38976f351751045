"""Memory soak: one long two-track call at high speed through /v1/twilio; RSS over time.

    .venv/bin/python -m bench.soak [--hours 2] [--speed 30]

The synthesised billing call (53 s) is looped into one continuous call of the
given length. Backpressure may hold the sender below `--speed` when the machine
cannot decode that fast; the achieved speed is printed. RSS is sampled every 5 s
of wall time, and the growth is reported after the first tenth of the call.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soxr
from websockets.asyncio.client import connect

from bench.load import CALL, rss_mb, start_server
from streams.client import FRAME_MS, Recording, send_paced
from voice.audio import to_ulaw


def looped_call(recording: Recording, hours: float, call_id: str) -> Iterator[tuple[float, str]]:
    audio = soxr.resample(
        recording.samples.astype(np.float32) / 32768, recording.sample_rate_hz, 8000
    )
    step = 8000 * FRAME_MS // 1000
    frames = [
        [base64.b64encode(to_ulaw(audio[i : i + step, ch])).decode() for ch in range(2)]
        for i in range(0, len(audio) - step + 1, step)
    ]
    yield (
        0.0,
        json.dumps(
            {
                "event": "start",
                "start": {
                    "callSid": call_id,
                    "tracks": ["inbound", "outbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            }
        ),
    )
    total = int(hours * 3600 * 1000 / FRAME_MS)
    for n in range(total):
        ms = n * FRAME_MS
        for track, payload in zip(("inbound", "outbound"), frames[n % len(frames)], strict=True):
            yield (
                (ms + FRAME_MS) / 1000,
                json.dumps(
                    {
                        "event": "media",
                        "media": {"track": track, "timestamp": str(ms), "payload": payload},
                    }
                ),
            )
    yield total * FRAME_MS / 1000, json.dumps({"event": "stop"})


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--speed", type=float, default=30.0)
    args = parser.parse_args()
    recording = Recording.from_tracks(Path(f"{CALL}.customer.wav"), Path(f"{CALL}.agent.wav"))
    with tempfile.TemporaryDirectory() as data_dir:
        process, address = start_server(data_dir, "tiny.en")
        samples: list[tuple[float, float]] = []
        sent: dict[float, float] = {}

        async def sample() -> None:
            while True:
                audio_min = max(sent, default=0.0) / 60
                samples.append((audio_min, rss_mb(process.pid)))
                print(
                    f"  {audio_min:6.1f} min of call audio sent   RSS {samples[-1][1]:6.0f} MB",
                    flush=True,
                )
                await asyncio.sleep(5)

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        try:
            async with connect(f"ws://{address}/v1/twilio") as ws:
                await send_paced(ws, looped_call(recording, args.hours, "soak"), args.speed, sent)
            wall = time.monotonic() - started
        finally:
            sampler.cancel()
            process.terminate()
            process.wait(120)
    settled = [rss for minute, rss in samples if minute >= args.hours * 6]  # after the first tenth
    print(
        f"{args.hours:.1f} h call sent in {wall / 60:.1f} min "
        f"({args.hours * 3600 / wall:.1f}x real time)"
    )
    if settled:
        growth = 100 * (max(settled) - settled[0]) / settled[0]
        print(
            f"RSS after the first tenth: {settled[0]:.0f} MB -> max {max(settled):.0f} MB "
            f"(+{growth:.1f}%)"
        )


if __name__ == "__main__":
    asyncio.run(main())
