"""The `callassist` command: serve, play a recording into a running service, install models."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

from assist.errors import AssistError
from streams.errors import StreamsError
from voice.errors import VoiceError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callassist", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--config", type=Path, help="TOML file (default: ./callassist.toml)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir")
    serve.add_argument("--model", help="tiny.en, base, or a CTranslate2 model directory")
    serve.add_argument("--log-level", default=os.environ.get("CALLASSIST_LOG_LEVEL", "INFO"))
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=os.environ.get("CALLASSIST_LOG_FORMAT", "text"),
        help="json: one JSON object a line, with call ids (never transcript text)",
    )

    play = commands.add_parser("play", help="stream a WAV file into a running service")
    play.add_argument("wav", type=Path, help="16-bit WAV; stereo = customer left, agent right")
    play.add_argument("--url", default="ws://127.0.0.1:8765")
    play.add_argument("--twilio", action="store_true", help="speak Twilio Media Streams")
    play.add_argument("--speed", type=float, default=1.0, help="2 = twice real time, 0 = at once")
    play.add_argument("--call-id", default=None)
    play.add_argument("--speaker", default="customer", help="speaker of a mono file")
    play.add_argument("--token", help="bearer token (ingest; also used to read events)")

    models = commands.add_parser("models", help="offline model files")
    models.add_argument("action", choices=["install", "list"])

    translate = commands.add_parser("translate", help="Argos translation packages")
    translate.add_argument("action", choices=["install", "list"])
    translate.add_argument("source", nargs="?", help="a .argosmodel file, or a language code")
    translate.add_argument("target", nargs="?", help="with --from-index: the target language")
    translate.add_argument(
        "--from-index", action="store_true", help="download from the Argos index (needs a network)"
    )
    translate.add_argument("--packages-dir", default="", help="default: Argos's own")

    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "play":
            return asyncio.run(_play(args))
        if args.command == "translate":
            return _translate(args)
        return _models(args.action)
    except (StreamsError, VoiceError, AssistError) as exc:
        print(f"callassist: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _serve(args: argparse.Namespace) -> int:
    from streams.config import load_config
    from streams.logs import configure_logging
    from streams.server import Service

    configure_logging(args.log_level, json_lines=args.log_format == "json")
    overrides: dict[str, dict[str, Any]] = {
        "server": {"host": args.host, "port": args.port, "data_dir": args.data_dir},
        "asr": {"model": args.model},
    }
    config = load_config(args.config, **overrides)

    async def run() -> None:
        service = Service(config)
        port = await service.start()
        print(f"callassist listening on http://{config.server.host}:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        logging.getLogger(__name__).info("shutting down: finishing live calls")
        await service.stop()

    asyncio.run(run())
    return 0


async def _play(args: argparse.Namespace) -> int:
    from websockets.asyncio.client import connect

    from streams.client import (
        Recording,
        follow_events,
        native_messages,
        send_paced,
        twilio_messages,
    )

    recording = Recording.from_wav(args.wav)
    call_id = args.call_id or f"play-{uuid.uuid4().hex[:8]}"
    base = args.url.rstrip("/")
    if args.twilio:
        messages = twilio_messages(
            recording, call_id, custom={"token": args.token} if args.token else None
        )
        path = "/v1/twilio"
    else:
        messages = native_messages(recording, call_id, args.speaker)
        path = "/v1/ingest"
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else None
    printer = _TranscriptPrinter(sys.stdout.isatty())
    print(
        f"call {call_id}: {recording.duration_s:.1f} s of audio at {args.speed}x", file=sys.stderr
    )

    async def show() -> None:
        async for event in follow_events(base, call_id, token=args.token):
            printer.show(event)

    viewer = asyncio.create_task(show())
    await asyncio.sleep(0.2)  # let the viewer subscribe first; it would replay anyway
    async with connect(base + path, additional_headers=headers) as ws:
        await send_paced(ws, messages, args.speed)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(viewer), 120)
    printer.done()
    return 0


class _TranscriptPrinter:
    """Finals stay; a partial is overwritten in place on a terminal."""

    def __init__(self, tty: bool) -> None:
        self._tty = tty
        self._partial_shown = False

    def show(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "transcript.partial" and self._tty:
            line = f"  {event['speaker']:>8} … {event['text']}"
            sys.stdout.write("\r\x1b[K" + line[:200])
            self._partial_shown = True
        elif kind == "transcript.final":
            self._clear()
            print(f"[{event['t_start']:7.2f}s {event['speaker']:>8}] {event['text']}")
        elif kind in ("call.started", "call.ended", "error"):
            self._clear()
            print(f"-- {kind} {event.get('reason', '')}".rstrip())
        sys.stdout.flush()

    def done(self) -> None:
        self._clear()

    def _clear(self) -> None:
        if self._partial_shown:
            sys.stdout.write("\r\x1b[K")
            self._partial_shown = False


def _models(action: str) -> int:
    from voice.models import install_base_model, resolve_model_dir

    if action == "install":
        print(f"base model ready at {install_base_model()}")
        return 0
    for name in ("tiny.en", "base"):
        try:
            print(f"{name:8} {resolve_model_dir(name)}")
        except VoiceError as exc:
            print(f"{name:8} missing: {exc}")
    return 0


def _translate(args: argparse.Namespace) -> int:
    from assist.translate import ArgosTranslator, install_from_index, install_package

    if args.action == "install":
        if args.from_index:
            if not (args.source and args.target):
                raise AssistError("--from-index needs a source and a target language")
            print(f"installed {install_from_index(args.source, args.target, args.packages_dir)}")
        elif args.source:
            install_package(Path(args.source), args.packages_dir)
            print(f"installed {args.source}")
        else:
            raise AssistError("install needs a .argosmodel file (or --from-index SRC TGT)")
    pairs = sorted(ArgosTranslator(args.packages_dir).pairs)
    print("\n".join(f"{s} -> {t}" for s, t in pairs) or "no translation packages installed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
