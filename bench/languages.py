"""Language identification and translation benchmark.

    .venv/bin/python -m bench.languages [--speed 1] [--limit N]

Streams the English and German recordings of ../shared/eval/speech (refs.tsv
says each one's language) through /v1/ingest of a real server, one at a time,
with the call language left to "auto", and prints:
- language-identification accuracy per language (the language of the first
  final against refs.tsv);
- time to decision: audio seconds from the start of the recording to the end
  of the speech that the first final with a language covers;
- translation latency p50/p95: from a German final reaching the desktop to its
  translation event (Whisper's speech translation unless an Argos de->en package
  is installed), and the engine that made them.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect

from streams.client import LocalServer, Recording, follow_events, native_messages, send_paced

SPEECH = Path(__file__).resolve().parents[2] / "shared" / "eval" / "speech"


def recordings(limit: int) -> list[tuple[Path, str]]:
    with open(SPEECH / "refs.tsv", newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["language"] in ("en", "de")]
    german = [r for r in rows if r["language"] == "de"]
    english = [r for r in rows if r["language"] == "en"][: max(limit - len(german), 1)]
    return [(SPEECH / "audio" / r["file"], r["language"]) for r in german + english]


async def one(server: LocalServer, path: Path, call_id: str, speed: float) -> dict:
    arrivals: dict[int, float] = {}

    async def watch() -> list[dict]:
        events = []
        async for event in follow_events(server.ws, call_id):
            arrivals[event["seq"]] = time.monotonic()
            events.append(event)
        return events

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    async with connect(f"{server.ws}/v1/ingest") as ws:
        await send_paced(ws, native_messages(Recording.from_wav(path), call_id), speed)
    events = await asyncio.wait_for(watcher, 300)
    finals = [e for e in events if e["type"] == "transcript.final"]
    final_at = {f["segment_id"]: arrivals[f["seq"]] for f in finals}
    translations = [e for e in events if e["type"] == "translation"]
    return {
        "language": finals[0]["language"] if finals else None,
        "probability": finals[0]["language_probability"] if finals else 0.0,
        "decided_at_s": finals[0]["t_end"] if finals else None,
        "translation_s": [
            arrivals[t["seq"]] - final_at[t["segment_id"]]
            for t in translations
            if t["segment_id"] in final_at and t["engine"] != "none"
        ],
        "engines": {t["engine"] for t in translations},
    }


async def main(speed: float, limit: int) -> None:
    server = LocalServer(Path(tempfile.mkdtemp(prefix="bench-lid-"))).start()
    right: dict[str, list[bool]] = defaultdict(list)
    decided: list[float] = []
    latencies: list[float] = []
    engines: set[str] = set()
    try:
        for k, (path, language) in enumerate(recordings(limit)):
            result = await one(server, path, f"lid-{k}", speed)
            right[language].append(result["language"] == language)
            if result["decided_at_s"] is not None:
                decided.append(result["decided_at_s"])
            latencies += result["translation_s"]
            engines |= result["engines"]
            print(
                f"{path.name:48} {language} -> {result['language']} "
                f"(p {result['probability']:.2f}, decided by {result['decided_at_s']} s)"
            )
    finally:
        server.stop()
    print()
    for language, hits in sorted(right.items()):
        print(f"identified {language}: {sum(hits)}/{len(hits)}")
    if decided:
        p50, p95 = np.percentile(decided, [50, 95])
        print(f"time to decision (audio s): p50 {p50:.1f}, p95 {p95:.1f}")
    if latencies:
        p50, p95 = np.percentile(latencies, [50, 95])
        print(
            f"translation latency: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms "
            f"({len(latencies)} finals; engine {', '.join(sorted(engines))})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speed", type=float, default=1.0, help="1 = real time")
    parser.add_argument("--limit", type=int, default=24, help="recordings (all German first)")
    args = parser.parse_args()
    asyncio.run(main(args.speed, args.limit))
