"""The `callassist` command: serve, play a recording into a running service, mint a desktop
link for one call, purge or erase stored calls, install models, write the event schema."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assist.errors import AssistError
from contract.events import CallEnded, CallStarted, Event, TranscriptFinal, TranscriptPartial
from contract.settings import SettingsError
from streams.errors import ConfigError, StreamsError
from voice.errors import VoiceError

if TYPE_CHECKING:
    from streams.config import Config
    from streams.storage import EventStore

LOG_LEVEL_VARIABLE = "CALLASSIST_LOG_LEVEL"
LOG_FORMAT_VARIABLE = "CALLASSIST_LOG_FORMAT"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(os.environ)
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args, os.environ)
        if args.command == "play":
            return asyncio.run(_play(args))
        if args.command == "translate":
            return _translate(args)
        if args.command == "schema":
            return _schema(args.root, check=args.check)
        if args.command == "link":
            return _link(args, os.environ)
        if args.command == "purge":
            return _purge(args, os.environ)
        if args.command == "erase":
            return _erase(args, os.environ)
        return _models(args.action)
    except (StreamsError, VoiceError, AssistError, SettingsError) as exc:
        print(f"callassist: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """The command line; `environ` gives the log options' defaults."""
    parser = argparse.ArgumentParser(prog="callassist", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--config", type=Path, help="TOML file (default: ./callassist.toml)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir")
    serve.add_argument("--model", help="tiny.en, base, or a CTranslate2 model directory")
    serve.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=environ.get(LOG_LEVEL_VARIABLE, "INFO"),
        help=f"default: ${LOG_LEVEL_VARIABLE}, else INFO",
    )
    serve.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=environ.get(LOG_FORMAT_VARIABLE, "text"),
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

    link = commands.add_parser(
        "link",
        help="print a desktop link for one call, with a short-lived token bound to it",
        description="Prints /desktop?call=CALL_ID&token=... (append it to the service's "
        "address). The token opens only that call's events and record, until it expires; "
        "it is signed with [tokens] link_secret, read from the same configuration as serve.",
    )
    link.add_argument("call_id", metavar="CALL_ID")
    link.add_argument("--ttl", type=int, default=3600, help="seconds it stays valid (3600)")
    link.add_argument("--config", type=Path, help="TOML file (default: ./callassist.toml)")

    _add_erasure_commands(commands)

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

    schema = commands.add_parser(
        "schema", help="write the event contract's JSON Schema and the pages' typedefs"
    )
    schema.add_argument(
        "--root", type=Path, default=Path("."), help="the repository (default: this directory)"
    )
    schema.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is stale or missing"
    )
    return parser


def _add_erasure_commands(commands: Any) -> None:
    """purge and erase: on the data directory's database, also while the service runs."""
    purge = commands.add_parser(
        "purge",
        help="erase every call that ended longer ago than --older-than",
        description="Erases the events, alerts and record of every call that ended longer "
        "ago than AGE; live calls are never touched. Prints the counts, never call contents.",
    )
    purge.add_argument(
        "--older-than", metavar="AGE", help="30d, 12h or 90m; default: [retention] days"
    )
    erase = commands.add_parser(
        "erase",
        help="erase ended calls now: their events, alerts and record",
        description="Erases each call's events, alerts and record, and reclaims the space, "
        "so that nothing of it stays on disk. A live call is refused: erase it once it ends.",
    )
    erase.add_argument("call_ids", nargs="+", metavar="CALL_ID")
    for command in (purge, erase):
        command.add_argument("--config", type=Path, help="TOML file (default: ./callassist.toml)")
        command.add_argument("--data-dir", help="default: [server] data_dir")


def config_from_argv(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> Config:
    """The configuration `callassist serve ...` would run with, from its arguments
    (`argv` starts at "serve") and `environ` (default: os.environ); nothing is started."""
    environ = os.environ if environ is None else environ
    args = build_parser(environ).parse_args(list(argv))
    if args.command != "serve":
        raise ValueError(f"not a serve command line: {' '.join(argv)}")
    return serve_config(args, environ)


def serve_config(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    """Defaults < file < environment < the serve flags."""
    from streams.config import load_config

    overrides: dict[str, dict[str, Any]] = {
        "server": {"host": args.host, "port": args.port, "data_dir": args.data_dir},
        "asr": {"model": args.model},
    }
    return load_config(args.config, environ, **overrides)


def _serve(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from streams.access import deployment_problem
    from streams.logs import configure_logging
    from streams.server import Service

    _check_log_options(args)
    config = serve_config(args, environ)
    problem = deployment_problem(config.server, config.tokens)
    if problem is not None:  # Service refuses it too; this says so before any logging set-up
        raise ConfigError(problem)
    tokens = config.tokens
    secrets = [tokens.ingest, tokens.agent, tokens.supervisor, tokens.link_secret]
    configure_logging(
        args.log_level, json_lines=args.log_format == "json", secrets=filter(None, secrets)
    )

    async def run() -> None:
        service = Service(config)
        port = await service.start()
        print(f"callassist listening on http://{config.server.host}:{port}", flush=True)
        stopped_by: asyncio.Future[signal.Signals] = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _settle, stopped_by, sig)
        # SIGTERM (a deploy, systemd, Kubernetes) drains; Ctrl-C stops now
        drain_s = config.server.drain_s if await stopped_by == signal.SIGTERM else 0.0
        logging.getLogger(__name__).info("shutting down: finishing live calls")
        await service.stop(drain_s)

    asyncio.run(run())
    return 0


def _settle(future: asyncio.Future[signal.Signals], sig: signal.Signals) -> None:
    if not future.done():
        future.set_result(sig)


def _link(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Prints the desktop path for one call with a fresh link token; its expiry to stderr."""
    from streams.access import desktop_path, mint_link
    from streams.config import load_config

    secret = load_config(args.config, environ).tokens.link_secret
    if secret is None:
        raise ConfigError("links are off: set [tokens] link_secret (at least 32 characters)")
    try:
        link = mint_link(secret, args.call_id, time.time(), args.ttl)
    except ValueError as exc:
        raise StreamsError(str(exc)) from None
    print(desktop_path(args.call_id, link.token))
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(link.expires_at_s))
    print(f"valid until {expires}", file=sys.stderr)
    return 0


def _purge(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from streams.retention import DAY_S, age_s, cutoff_before
    from voice.clock import SystemClock

    config = _erasure_config(args, environ)
    if args.older_than is not None:
        older_than_s = age_s(args.older_than)
    elif config.retention.days > 0:
        older_than_s = config.retention.days * DAY_S
    else:
        raise ConfigError("purge needs --older-than (such as 30d), or [retention] days")
    cutoff = cutoff_before(SystemClock().iso(), older_than_s)
    store = _open_store(config)
    try:
        purged = store.purge_ended_before(cutoff)
    finally:
        store.close()
    print(
        f"purged {len(purged.call_ids)} call(s) that ended before {cutoff} "
        f"({purged.events} events, {purged.feed_rows} alert-feed rows)"
    )
    _warn_if_wal_kept(purged.wal_truncated)
    return 0


def _erase(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Erases each call in turn; one that is unknown or live is named, and the exit is 1."""
    from streams.storage import CallIsLive, CallNotFound

    store = _open_store(_erasure_config(args, environ))
    refused = 0
    try:
        for call_id in dict.fromkeys(args.call_ids):
            try:
                erased = store.erase_call(call_id)
            except (CallNotFound, CallIsLive) as exc:
                print(f"callassist: {exc}", file=sys.stderr)
                refused += 1
                continue
            print(
                f"erased call {call_id}: {erased.events} events, {erased.feed_rows} alert-feed rows"
            )
            _warn_if_wal_kept(erased.wal_truncated)
    finally:
        store.close()
    return 1 if refused else 0


def _erasure_config(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    from streams.config import load_config

    return load_config(args.config, environ, server={"data_dir": args.data_dir})


def _open_store(config: Config) -> EventStore:
    """[store] url's database, else the data directory's, refused rather than created when
    it is not there."""
    from streams.backends import open_store

    path = config.database_path
    if not config.store.url and not path.is_file():
        raise StreamsError(f"no database at {path}: check --data-dir or [server] data_dir")
    return open_store(config)


def _warn_if_wal_kept(truncated: bool) -> None:
    if not truncated:
        print(
            "callassist: readers kept the write-ahead log busy: erased pages may stay in "
            "calls.sqlite3-wal until a later erasure or purge truncates it",
            file=sys.stderr,
        )


def _check_log_options(args: argparse.Namespace) -> None:
    """argparse checks flags against their choices but not defaults taken from the
    environment: a value outside them can only have come from its variable."""
    if args.log_level.upper() not in LOG_LEVELS:
        choices = ", ".join(LOG_LEVELS)
        raise ConfigError(f"{LOG_LEVEL_VARIABLE}: {args.log_level!r} is not one of {choices}")
    if args.log_format not in LOG_FORMATS:
        choices = ", ".join(LOG_FORMATS)
        raise ConfigError(f"{LOG_FORMAT_VARIABLE}: {args.log_format!r} is not one of {choices}")


def _schema(root: Path, *, check: bool) -> int:
    """Writes the published contract files under `root`; with `check`, only compares."""
    from contract.publish import published

    stale = []
    for path, text in published():
        target = root / path
        try:
            current: str | None = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        except OSError as exc:
            raise StreamsError(f"cannot read {target}: {exc.strerror or exc}") from None
        if current == text:
            continue
        stale.append(f"{target} is {'missing' if current is None else 'out of date'}")
        if not check:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise StreamsError(f"cannot write {target}: {exc.strerror or exc}") from None
            print(f"wrote {target}")
    if check and stale:
        again = "" if root == Path(".") else f" --root {root}"
        print(f"callassist: {'; '.join(stale)}; run `callassist schema{again}`", file=sys.stderr)
        return 1
    if not stale:
        print("the published contract files are up to date")
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

    def show(self, event: Event) -> None:
        payload = event.payload
        if isinstance(payload, TranscriptPartial) and self._tty:
            line = f"  {payload.speaker:>8} … {payload.text}"
            sys.stdout.write("\r\x1b[K" + line[:200])
            self._partial_shown = True
        elif isinstance(payload, TranscriptFinal):
            self._clear()
            print(f"[{payload.t_start:7.2f}s {payload.speaker:>8}] {payload.text}")
        elif isinstance(payload, CallStarted):
            self._clear()
            print("-- call.started")
        elif isinstance(payload, CallEnded):
            self._clear()
            print(f"-- call.ended {payload.reason}")
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
