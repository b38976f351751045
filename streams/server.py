"""The service: one websocket + HTTP server on one port, wiring protocols, voice and the hub.

Routes (see README): ws /v1/ingest, /v1/twilio, /v1/audiohook, /v1/fork, /v1/webrtc;
ws /v1/calls/{id}/events, ws /v1/alerts; GET /desktop, /supervisor, /softphone, /static/*;
GET /healthz, /metrics, /v1/calls, /v1/calls/{id}.
"""

from __future__ import annotations

import asyncio
import hmac
import http
import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from assist.assistant import Assistant
from contract.codec import encode_json
from contract.events import EndReason
from contract.events import Protocol as IngestProtocol
from streams.assisting import AssistRuntime
from streams.calls import CallRegistry, CallRejected, CallSession, Voice
from streams.config import Config
from streams.errors import ProtocolError
from streams.hub import Hub, Subscription
from streams.metrics import CONTENT_TYPE, Metrics
from streams.protocols.audiohook import AudioHookParser
from streams.protocols.base import AudioFrames, CallStart, CallStop, ProtocolEvent, Reply
from streams.protocols.fork import SUBPROTOCOLS, ForkParser
from streams.protocols.native import NativeParser
from streams.protocols.twilio import TwilioParser
from streams.records import read_record
from streams.store import Store, read_calls
from streams.web import WebFiles
from streams.webrtc import serve_peer
from voice.decoding import Decoder
from voice.scheduler import DecodeScheduler
from voice.whisper import LanguageRouter, SileroVad

log = logging.getLogger(__name__)

_EVENTS_PATH = re.compile(r"^/v1/calls/(?P<call_id>[A-Za-z0-9._:@-]{1,128})/events$")
_CALL_PATH = re.compile(r"^/v1/calls/(?P<call_id>[A-Za-z0-9._:@-]{1,128})$")
_CLOSE_POLICY = 1008  # websocket close codes (RFC 6455)
_CLOSE_TRY_AGAIN = 1013
# Replaying a long backlog is many small sends that never wait while the socket keeps
# up: a few replays at a time, yielding every few sends, so live calls keep the loop.
_REPLAYS_AT_ONCE = 4
_SENDS_PER_TURN = 50
_HELD_BACK_WARN_S = 2.0


class Parser(Protocol):
    close_reason: EndReason  # the call's end reason when the socket closes without a stop

    def feed_text(self, text: str) -> list[ProtocolEvent]: ...
    def feed_bytes(self, data: bytes) -> list[ProtocolEvent]: ...
    def error_message(self, call_id: str | None, code: str, message: str) -> str: ...


# path -> (protocol, parser factory taking the URL query)
INGEST_PROTOCOLS: dict[str, tuple[IngestProtocol, Callable[[Mapping[str, str]], Parser]]] = {
    "/v1/ingest": (IngestProtocol.NATIVE, lambda query: NativeParser()),
    "/v1/twilio": (IngestProtocol.TWILIO, lambda query: TwilioParser()),
    "/v1/audiohook": (IngestProtocol.AUDIOHOOK, lambda query: AudioHookParser()),
    "/v1/fork": (IngestProtocol.FORK, ForkParser),
}


@dataclass(frozen=True, slots=True)
class Route:
    kind: str  # "ingest", "webrtc", "events", "alerts", "http", "page"
    path: str
    call_id: str | None = None
    since: int | None = None  # replay stored events after this (events: 0 when absent)
    partials: bool = True  # in the replayed backlog


class Service:
    def __init__(
        self,
        config: Config,
        engine: Decoder | None = None,
        assistant: Assistant | None = None,
    ) -> None:
        self.config = config
        self.store = Store(config.database_path)
        self.hub = Hub(self.store)
        self.engine = engine or LanguageRouter(config.asr)
        self.scheduler = DecodeScheduler(self.engine, config.scheduler)
        _warn_if_oversubscribed(config)
        self.calls: CallRegistry
        self.metrics = Metrics(self.scheduler, lambda: len(self.calls))
        voice = Voice(
            self.scheduler,
            SileroVad,
            config.streaming,
            config.server.final_timeout_s,
            on_final_latency=self.metrics.final_latency.observe,
        )
        self.calls = CallRegistry(
            self.hub,
            voice,
            config.call.language,
            config.server.max_calls,
            _assist_runtime(config, assistant, self.metrics.assist_latency.observe),
            config.call.agent_language,
        )
        self._server: Server | None = None
        self.web = WebFiles()
        self._replays = asyncio.Semaphore(_REPLAYS_AT_ONCE)

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> int:
        """Starts listening; returns the bound port (useful with port 0)."""
        self.hub.recover_interrupted_calls()
        options = self.config.server
        self._server = await serve(
            self._handle,
            options.host,
            options.port,
            process_request=self._process_request,
            max_size=options.max_message_bytes,
            compression=None,  # audio does not compress; save the CPU
            select_subprotocol=_select_subprotocol,
        )
        port = int(next(iter(self._server.sockets)).getsockname()[1])
        log.info("listening on http://%s:%d", options.host, port)
        return port

    async def stop(self) -> None:
        """Finishes every live call (decoding its last finals), then closes."""
        await self.calls.close_all(CallStop(EndReason.SERVER_SHUTDOWN))
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.scheduler.close()
        self.store.close()

    # --- HTTP and handshake -------------------------------------------------------------
    def _route(self, request: Request) -> Route | Response:
        url = urlsplit(request.path)
        path = url.path.rstrip("/") or "/"
        query = parse_qs(url.query)
        if path in INGEST_PROTOCOLS:
            return Route("ingest", path)
        since = _since(query)
        if isinstance(since, Response):
            return since
        if path == "/v1/alerts":
            return Route("alerts", path, since=since)
        if path == "/v1/webrtc":
            return Route("webrtc", path)
        if match := _EVENTS_PATH.match(path):
            partials = query.get("partials", ["1"])[0] not in ("0", "false", "no")
            return Route("events", path, match["call_id"], since or 0, partials)
        if path in ("/healthz", "/metrics", "/v1/calls") or _CALL_PATH.match(path):
            return Route("http", path)
        if WebFiles.is_web_path(path):
            return Route("page", path)
        return _json_response(http.HTTPStatus.NOT_FOUND, {"error": f"no route {path}"})

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        route = self._route(request)
        if isinstance(route, Response):
            return route
        refusal = self._check_token(request, route)
        if refusal is not None:
            return refusal
        if route.kind == "http":
            return await self._http(route.path)
        if route.kind == "page":
            page = self.web.response(route.path)
            return page or _json_response(http.HTTPStatus.NOT_FOUND, {"error": "no such page"})
        return None  # go on with the websocket handshake

    def _check_token(self, request: Request, route: Route) -> Response | None:
        tokens = self.config.tokens
        accepted = {
            "ingest": [tokens.ingest],
            "webrtc": [tokens.ingest],
            "events": [tokens.agent, tokens.supervisor],
            "alerts": [tokens.supervisor],
            "http": [tokens.agent, tokens.supervisor],
            "page": [],  # static files without call data; the data needs the token
        }[route.kind]
        if route.path == "/healthz" or not any(accepted):
            return None
        presented = _presented_token(request)
        if presented is None:
            if route.path == "/v1/twilio":
                return None  # Twilio cannot set headers: the token comes in customParameters
            return _json_response(
                http.HTTPStatus.UNAUTHORIZED, {"error": "a bearer token is required"}
            )
        if not _token_matches(presented, accepted):
            return _json_response(http.HTTPStatus.FORBIDDEN, {"error": "token not accepted here"})
        return None

    async def _http(self, path: str) -> Response:
        if path == "/healthz":
            return _json_response(
                http.HTTPStatus.OK, {"status": "ok", "live_calls": len(self.calls)}
            )
        if path == "/metrics":
            body = self.metrics.render()
            headers = Headers([("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
            return Response(200, "OK", headers, body)
        if path == "/v1/calls":
            calls = await self.store.reader.read(read_calls)
            return _json_response(http.HTTPStatus.OK, {"calls": calls})
        match = _CALL_PATH.match(path)
        assert match is not None
        call_id = match["call_id"]
        record = await self.store.reader.read(lambda db: read_record(db, call_id))
        if record is None:
            return _json_response(http.HTTPStatus.NOT_FOUND, {"error": "no such call"})
        return _bytes_response(http.HTTPStatus.OK, record)

    # --- websockets -----------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        route = self._route(ws.request)
        assert isinstance(route, Route)
        if route.kind == "ingest":
            await self._ingest(ws, route.path)
        elif route.kind == "events":
            assert route.call_id is not None
            await self._pump(
                ws, self.hub.subscribe_call(route.call_id, route.since or 0, route.partials)
            )
        elif route.kind == "alerts":
            await self._pump(ws, self.hub.subscribe_alerts(route.since))
        elif route.kind == "webrtc":
            self.metrics.connections.labels("webrtc").inc()
            await serve_peer(ws, self.calls, self.config.webrtc)

    async def _ingest(self, ws: ServerConnection, path: str) -> None:
        protocol, make_parser = INGEST_PROTOCOLS[path]
        self.metrics.connections.labels(protocol).inc()
        assert ws.request is not None
        needs_token_in_start = bool(self.config.tokens.ingest) and (
            _presented_token(ws.request) is None
        )
        query = {k: v[0] for k, v in parse_qs(urlsplit(ws.request.path).query).items()}
        ingest = _Ingest(self, ws, protocol, make_parser(query), needs_token_in_start)
        await ingest.run()

    async def _pump(self, ws: ServerConnection, subscription: Subscription) -> None:
        """Sends a subscription's events until the client leaves or falls too far behind."""

        async def send_all() -> None:
            async with self._replays:
                async for page in self.hub.backlog_pages(subscription):
                    for start in range(0, len(page), _SENDS_PER_TURN):
                        for text in page[start : start + _SENDS_PER_TURN]:
                            await ws.send(text)
                        await asyncio.sleep(0)  # let the live calls have the loop
            while True:
                for text in await subscription.next_live():
                    await ws.send(text)
                if subscription.overflowed:
                    await ws.close(_CLOSE_TRY_AGAIN, "too far behind: reconnect with since")
                    return

        sender = asyncio.create_task(send_all())
        closed = asyncio.create_task(ws.wait_closed())
        try:
            await asyncio.wait({sender, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sender.cancel()
            closed.cancel()
            self.hub.unsubscribe(subscription)


class _Ingest:
    """One platform connection: parser events drive the call's session."""

    def __init__(
        self,
        service: Service,
        ws: ServerConnection,
        protocol: IngestProtocol,
        parser: Parser,
        needs_token_in_start: bool,
    ) -> None:
        self._service = service
        self._ws = ws
        self._protocol = protocol
        self._parser = parser
        self._needs_token_in_start = needs_token_in_start
        self._session: CallSession | None = None
        self._errors = 0
        self._end_reason = CallStop(parser.close_reason)

    async def run(self) -> None:
        try:
            async for message in self._ws:
                if not await self._on_message(message):
                    break
        except ConnectionClosed:
            pass
        finally:
            if self._session is not None:
                await self._service.calls.close(self._session, self._end_reason)

    async def _on_message(self, message: str | bytes) -> bool:
        """Handles one websocket message; False ends the connection."""
        try:
            if isinstance(message, str):
                events = self._parser.feed_text(message)
            else:
                events = self._parser.feed_bytes(message)
            for event in events:
                await self._on_event(event)
        except ProtocolError as exc:
            return await self._refuse(exc.code, exc.message, fatal=exc.fatal)
        except CallRejected as exc:
            self._service.metrics.calls_refused.labels(exc.code).inc()
            code = _CLOSE_TRY_AGAIN if exc.code == "busy" else _CLOSE_POLICY
            return await self._refuse(exc.code, str(exc), fatal=True, close_code=code)
        return True

    async def _on_event(self, event: ProtocolEvent) -> None:
        if isinstance(event, CallStart):
            self._authorize_start()
            self._session = self._service.calls.open(event, self._protocol)
            log.info(
                "call %s started (%s)",
                event.call_id,
                self._protocol,
                extra={"call_id": event.call_id, "protocol": self._protocol},
            )
        elif isinstance(event, AudioFrames):
            if self._session is not None:
                seconds = event.samples.size / self._session.sample_rate_hz
                self._service.metrics.audio_seconds.labels(self._protocol).inc(seconds)
                self._session.feed(event)
                await self._hold_back(self._session)
        elif isinstance(event, Reply):
            await self._ws.send(event.text)
        elif isinstance(event, CallStop) and self._session is not None:
            session, self._session = self._session, None
            await self._service.calls.close(session, event)

    async def _hold_back(self, session: CallSession) -> None:
        """Backpressure: no more reading while this call's audio waits to be decoded."""
        started = time.monotonic()
        await session.room()
        held_s = time.monotonic() - started
        if held_s > _HELD_BACK_WARN_S:
            log.warning(
                "call %s held back %.1f s: recognition is behind",
                session.call_id,
                held_s,
                extra={"call_id": session.call_id},
            )

    def _authorize_start(self) -> None:
        if not self._needs_token_in_start:
            return
        presented = getattr(self._parser, "custom_parameters", {}).get("token")
        if not isinstance(presented, str) or not _token_matches(
            presented, [self._service.config.tokens.ingest]
        ):
            raise ProtocolError("unauthorized", "a valid ingest token is required", fatal=True)

    async def _refuse(
        self, code: str, message: str, *, fatal: bool, close_code: int = _CLOSE_POLICY
    ) -> bool:
        self._errors += 1
        self._service.metrics.errors.labels(code).inc()
        call_id = self._session.call_id if self._session else None
        log.info(
            "ingest error %s on call %s",
            code,
            call_id,
            extra={"call_id": call_id, "code": code, "protocol": self._protocol},
        )
        await self._ws.send(self._parser.error_message(call_id, code, message))
        limit = self._service.config.server.max_errors_per_connection
        if fatal or self._errors >= limit:
            reason = message if fatal else f"too many errors ({self._errors})"
            await self._ws.close(close_code, reason[:120])
            self._end_reason = CallStop(EndReason.ERROR, code)
            return False
        return True


def _assist_runtime(
    config: Config, assistant: Assistant | None, on_latency: Callable[[float], None]
) -> AssistRuntime | None:
    """Loads the assistant unless one was given (tests share one) or assist is off."""
    if not config.assist.enabled:
        return None
    return AssistRuntime(
        assistant or Assistant.load(config.assist), on_latency, config.call.agent_language
    )


def _warn_if_oversubscribed(config: Config) -> None:
    cores = os.cpu_count() or 1
    threads = config.scheduler.workers * (config.asr.cpu_threads or cores)
    if config.asr.device == "cpu" and threads > cores:
        log.warning(
            "%d decode workers x %d threads = %d threads on %d cores: decodes will fight "
            "each other; lower scheduler.workers or asr.cpu_threads",
            config.scheduler.workers,
            config.asr.cpu_threads or cores,
            threads,
            cores,
        )


def _select_subprotocol(
    connection: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    """Audio-fork platforms ask for theirs; everyone else asks for none and gets none."""
    return next((s for s in offered if s in SUBPROTOCOLS), None)


def _presented_token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if api_key := request.headers.get("X-API-KEY"):  # Genesys AudioHook's header
        return api_key.strip()
    values = parse_qs(urlsplit(request.path).query).get("token")
    return values[0] if values else None


def _token_matches(presented: str, accepted: list[str | None]) -> bool:
    return any(t and hmac.compare_digest(presented.encode(), t.encode()) for t in accepted)


def _since(query: Mapping[str, list[str]]) -> int | Response | None:
    """The `since` cursor of an event or alert stream: absent, or a non-negative integer."""
    values = query.get("since")
    if not values:
        return None
    if not (values[0].isascii() and values[0].isdigit()) or len(values[0]) > 18:
        return _json_response(
            http.HTTPStatus.BAD_REQUEST, {"error": "since must be an integer >= 0"}
        )
    return int(values[0])


def _json_response(status: http.HTTPStatus, body: object) -> Response:
    return _bytes_response(status, encode_json(body).encode())


def _bytes_response(status: http.HTTPStatus, data: bytes) -> Response:
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
        ]
    )
    return Response(status.value, status.phrase, headers, data)
