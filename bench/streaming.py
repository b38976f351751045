"""Streaming transcription benchmark: WER and latency against offline faster-whisper.

    .venv/bin/python -m bench.streaming [--speed 1] [--limit N] [--twilio]

Streams every English recording of ../shared/eval/speech that has a reference,
one call at a time, through a real server on loopback (paced in real time by
default), and prints: WER of the finals vs refs.tsv, final-segment latency
(arrival at the desktop minus the end of the segment's audio) p50/p95, partial
lag (arrival minus the end of the audio the partial covers) p50/p95, and the WER
and real-time factor of offline faster-whisper with the same model and beam.

Without ../shared/eval/speech (a clone on its own) it names the missing path and
exits with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import jiwer
import numpy as np
import soxr
from websockets.asyncio.client import connect
from whisper_normalizer.english import EnglishTextNormalizer

from bench.corpus import SPEECH, SPEECH_REFS, require
from contract.events import TranscriptFinal, TranscriptPartial
from streams.client import (
    Recording,
    follow_events,
    native_messages,
    send_paced,
    twilio_messages,
)
from streams.config import load_config
from streams.server import Service
from voice.audio import AudioFormat, Encoding, decode_pcm16, to_ulaw
from voice.whisper import WhisperEngine, WhisperOptions

normalize = EnglishTextNormalizer()
SHOW_LATENCY = False


def eval_rows(language: str = "en") -> list[dict[str, str]]:
    with require(SPEECH_REFS, "bench.streaming").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r for r in rows if r["language"] == language and r["reference"].strip()]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def stream_one(
    base: str, path: Path, call_id: str, speed: float, twilio: bool
) -> tuple[str, list[float], list[float]]:
    recording = Recording.from_wav(path)
    finals: list[str] = []
    final_lat: list[float] = []
    partial_lag: list[float] = []
    t0 = 0.0

    async def follow() -> None:
        async for event in follow_events(base, call_id):
            now, payload = time.monotonic(), event.payload
            if isinstance(payload, TranscriptFinal):
                finals.append(payload.text)
                final_lat.append(now - (t0 + payload.t_end / speed))
                if SHOW_LATENCY:
                    print(
                        f"  {final_lat[-1]:5.2f} s late  [{payload.t_start:.1f}-"
                        f"{payload.t_end:.1f}] {payload.text[:60]}"
                    )
            elif isinstance(payload, TranscriptPartial):
                partial_lag.append(now - (t0 + payload.t_end / speed))

    viewer = asyncio.create_task(follow())
    await asyncio.sleep(0.1)
    if twilio:
        messages, route = twilio_messages(recording, call_id), "/v1/twilio"
    else:
        messages, route = native_messages(recording, call_id), "/v1/ingest"
    async with connect(base + route) as ws:
        t0 = time.monotonic()
        await send_paced(ws, messages, speed)
        await asyncio.wait_for(viewer, 60)
    return " ".join(finals), final_lat, partial_lag


def telephone(samples: np.ndarray, rate_hz: int) -> np.ndarray:
    """What Twilio delivers: 8 kHz mu-law, back at 16 kHz for Whisper."""
    narrow = soxr.resample(samples, rate_hz, 8000)
    decoded = decode_pcm16(to_ulaw(narrow), AudioFormat(Encoding.MULAW, 8000, 1))[:, 0]
    return soxr.resample(decoded.astype(np.float32) / 32768, 8000, 16000)


def offline(
    rows: list[dict[str, str]], options: WhisperOptions, phone: bool
) -> tuple[list[str], float]:
    """Offline faster-whisper on the same audio the stream carried."""
    engine = WhisperEngine(replace(options, fit_window_finals=False))
    hyps, busy, audio = [], 0.0, 0.0
    for row in rows:
        recording = Recording.from_wav(SPEECH / "audio" / row["file"])
        samples = recording.samples[:, 0].astype(np.float32) / 32768
        if phone:
            samples = telephone(samples, recording.sample_rate_hz)
        started = time.monotonic()
        hyps.append(engine.transcribe_offline(samples))
        busy += time.monotonic() - started
        audio += recording.duration_s
    return hyps, busy / audio


def wer(refs: list[str], hyps: list[str]) -> float:
    return 100 * jiwer.wer([normalize(r) for r in refs], [normalize(h) or "-" for h in hyps])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--twilio", action="store_true")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--beam-size", type=int, default=None)
    parser.add_argument("--no-offline", action="store_true")
    parser.add_argument("--fit-window-finals", action="store_true")
    parser.add_argument("--show", action="store_true", help="print each file's transcript")
    parser.add_argument("--match", default="", help="only files whose name contains this")
    args = parser.parse_args()
    global SHOW_LATENCY
    SHOW_LATENCY = args.show
    rows = [r for r in eval_rows() if args.match in r["file"]][: args.limit or None]
    with tempfile.TemporaryDirectory() as data_dir:
        asr = {
            "model": args.model,
            "beam_size": args.beam_size,
            "fit_window_finals": args.fit_window_finals,
        }
        # English fixed: this measures tiny.en streaming against tiny.en offline
        config = load_config(
            environ={}, server={"port": 0, "data_dir": data_dir}, asr=asr, call={"language": "en"}
        )
        service = Service(config)
        port = await service.start()
        base = f"ws://127.0.0.1:{port}"
        hyps, final_lat, partial_lag = [], [], []
        for i, row in enumerate(rows):
            text, fl, pl = await stream_one(
                base, SPEECH / "audio" / row["file"], f"bench-{i}", args.speed, args.twilio
            )
            hyps.append(text)
            final_lat += fl
            partial_lag += pl
            if args.show:
                print(f"{row['file']}\n  ref: {row['reference']}\n  hyp: {text}")
        stats = service.scheduler.stats
        await service.stop()
    refs = [r["reference"] for r in rows]
    audio_s = sum(Recording.from_wav(SPEECH / "audio" / r["file"]).duration_s for r in rows)
    print(
        f"files: {len(rows)}  audio: {audio_s:.0f} s  speed: {args.speed}x  "
        f"protocol: {'twilio (8 kHz mu-law)' if args.twilio else 'native (16 kHz pcm16)'}"
    )
    print(f"streaming WER: {wer(refs, hyps):.1f}%  ({len(final_lat)} finals)")
    print(f"final latency  {_p50_p95(final_lat)}")
    print(
        f"partial lag    {_p50_p95(partial_lag)}  ({len(partial_lag)} partials, "
        f"{stats.dropped_partials} dropped)"
    )
    print(
        f"decode busy: {stats.busy_s:.0f} s for {audio_s:.0f} s of audio "
        f"(RTF {stats.busy_s / audio_s:.2f} incl. partials)"
    )
    if not args.no_offline:
        offline_hyps, rtf = offline(rows, config.asr, args.twilio)
        print(f"offline WER:   {wer(refs, offline_hyps):.1f}%  (RTF {rtf:.2f}, same model, beam)")


def _p50_p95(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):.2f} s  p95 {percentile(values, 95):.2f} s"


if __name__ == "__main__":
    asyncio.run(main())
