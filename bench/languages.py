"""Language identification and translation benchmark.

    .venv/bin/python -m bench.languages [--speed 1] [--limit N]

Streams the English and German recordings of ../shared/eval/speech (refs.tsv
says each one's language) through /v1/twilio of a real server (8 kHz mu-law, as
a platform sends it), one at a time, with the defaults: no language from the
platform, so the service identifies it among `[call] languages`. It prints:
- language-identification accuracy per language (the language of the first
  final against refs.tsv);
- misfires: finals in another language than the recording's (the issue's
  "English never transcribed in another language"), with the text of each;
- time to decision: audio seconds from the start of the recording to the end
  of the speech that the first final with a language covers;
- translation latency p50/p95: from a German final reaching the desktop to its
  translation event (Whisper's speech translation unless an Argos de->en package
  is installed), and the engine that made them.

Without ../shared/eval/speech (a clone on its own) it names the missing path and
exits with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect

from bench.corpus import SPEECH, SPEECH_REFS, require
from contract.events import Event, TranscriptFinal, Translation, TranslationEngine
from streams.client import Recording, follow_events, send_paced, twilio_messages
from testkit.events import numbered
from testkit.server import LocalServer

SUBSCRIBE_S = 0.2
END_TIMEOUT_S = 300.0


@dataclass
class Result:
    language: str | None  # of the first final
    probability: float
    decided_at_s: float | None  # the end of the speech the first final covers
    translation_s: list[float] = field(default_factory=list)
    engines: set[TranslationEngine] = field(default_factory=set)
    finals: list[tuple[str, str]] = field(default_factory=list)  # (language, text) of each


def recordings(limit: int) -> list[tuple[Path, str]]:
    with require(SPEECH_REFS, "bench.languages").open(newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["language"] in ("en", "de")]
    german = [r for r in rows if r["language"] == "de"]
    english = [r for r in rows if r["language"] == "en"][: max(limit - len(german), 0)]
    return [(SPEECH / "audio" / r["file"], r["language"]) for r in german + english]


async def one(server: LocalServer, path: Path, call_id: str, speed: float) -> Result:
    arrivals: dict[int, float] = {}

    async def watch() -> list[Event]:
        events = []
        async for event in follow_events(server.ws, call_id):
            arrivals[event.seq] = time.monotonic()
            events.append(event)
        return events

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(SUBSCRIBE_S)
    async with connect(f"{server.ws}/v1/twilio") as ws:
        await send_paced(ws, twilio_messages(Recording.from_wav(path), call_id), speed)
    events = await asyncio.wait_for(watcher, END_TIMEOUT_S)
    finals = numbered(events, TranscriptFinal)
    final_at = {final.segment_id: arrivals[seq] for seq, final in finals}
    translations = numbered(events, Translation)
    first = finals[0][1] if finals else None
    return Result(
        first.language if first else None,
        first.language_probability if first else 0.0,
        first.t_end if first else None,
        [
            arrivals[seq] - final_at[t.segment_id]
            for seq, t in translations
            if t.segment_id in final_at and t.engine is not TranslationEngine.NONE
        ],
        {t.engine for _, t in translations},
        [(final.language, final.text) for _, final in finals],
    )


async def main(calls: list[tuple[Path, str]], speed: float) -> None:
    server = LocalServer(Path(tempfile.mkdtemp(prefix="bench-lid-"))).start()
    right: dict[str, list[bool]] = defaultdict(list)
    decided: list[float] = []
    latencies: list[float] = []
    engines: set[TranslationEngine] = set()
    misfires: list[tuple[str, str, str]] = []  # recording, language, text
    total_finals = 0
    try:
        for k, (path, language) in enumerate(calls):
            result = await one(server, path, f"lid-{k}", speed)
            right[language].append(result.language == language)
            if result.decided_at_s is not None:
                decided.append(result.decided_at_s)
            latencies += result.translation_s
            engines |= result.engines
            total_finals += len(result.finals)
            misfires += [
                (path.name, lang, text) for lang, text in result.finals if lang != language
            ]
            print(
                f"{path.name:48} {language} -> {result.language} "
                f"(p {result.probability:.2f}, decided by {result.decided_at_s} s)"
            )
    finally:
        server.stop()
    print()
    for language, hits in sorted(right.items()):
        print(f"identified {language}: {sum(hits)}/{len(hits)}")
    print(f"finals in another language than the recording's: {len(misfires)}/{total_finals}")
    for name, language, text in misfires:
        print(f"  {name}: {language}: {text}")
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
    parser.add_argument("--limit", type=int, default=60, help="recordings (all German first)")
    args = parser.parse_args()
    asyncio.run(main(recordings(args.limit), args.speed))
