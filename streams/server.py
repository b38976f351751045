"""The service: one websocket + HTTP server on one port, wiring protocols, voice and the hub.

Routes (see README): ws /v1/ingest, /v1/twilio, /v1/audiohook, /v1/fork, /v1/webrtc;
ws /v1/calls/{id}/events, ws /v1/alerts; GET /desktop, /supervisor, /softphone, /static/*;
GET /healthz, /readyz, /metrics, /v1/calls, /v1/calls/{id}, /v1/calls/{id}/link.

Who may open what is `streams.access`'s to say; this module asks it about every request
(and refuses to start a configuration it calls unsafe), then enforces the connection
guards: caps on open websockets in total and per client address, and deadlines for
ingest sockets (a first message within `first_message_timeout_s`, then no silence longer
than `idle_timeout_s`). Every refusal is counted in `callassist_connections_refused_total`
by reason and logged with the client's address, never with a token or a URL query.

A call's event stream also takes the agent's pause and resume for payment from
anyone allowed to read that call (streams/controls.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import os
import re
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from assist.assistant import Assistant
from assist.redaction import Audience, Policy, PolicyError
from contract.codec import encode_json
from contract.events import EndReason
from streams.access import (
    CALL_ID,
    AccessPolicy,
    Ask,
    ConnectionCounts,
    Grant,
    Refusal,
    Resource,
    Role,
    deployment_problem,
    desktop_path,
    is_loopback,
    presented_credential,
    security_headers,
)
from streams.assisting import AssistRuntime
from streams.backends import node_name, open_bus, open_store
from streams.bus import Subscription
from streams.callers import CallerKey, since_iso
from streams.calls import CallRegistry, Voice
from streams.cluster import Cluster
from streams.config import Config
from streams.controls import CallControls
from streams.errors import ConfigError
from streams.hub import Hub
from streams.ingest import (
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    INGEST_PATHS,
    PlatformConnection,
    Platforms,
    client_address,
    make_parser,
)
from streams.kpis import DEFAULT_HOURS, MAX_HOURS, kpis
from streams.metrics import CONTENT_TYPE, Metrics
from streams.protocols.base import CallStop
from streams.protocols.fork import SUBPROTOCOLS
from streams.protocols.signature import verify_request
from streams.records import read_record
from streams.redisbus import RedisBus
from streams.retention import Retention
from streams.storage import CallIsLive, CallNotFound
from streams.web import WebFiles
from streams.webrtc import serve_peer
from voice.decoding import Decoder
from voice.scheduler import DecodeScheduler
from voice.whisper import LanguageRouter, SileroVad

log = logging.getLogger(__name__)

_EVENTS_PATH = re.compile(rf"^/v1/calls/(?P<call_id>{CALL_ID.pattern})/events$")
_CALL_PATH = re.compile(rf"^/v1/calls/(?P<call_id>{CALL_ID.pattern})$")
_LINK_PATH = re.compile(rf"^/v1/calls/(?P<call_id>{CALL_ID.pattern})/link$")
_ERASE_PATH = re.compile(rf"^/v1/calls/(?P<call_id>{CALL_ID.pattern})/erase$")
_DEFAULT_LINK_TTL_S = 3600
_WEBSOCKET_KINDS = frozenset({"ingest", "webrtc", "events", "alerts"})
_INGEST_RESOURCES = {"/v1/twilio": Resource.TWILIO, "/v1/audiohook": Resource.AUDIOHOOK}
# Replaying a long backlog is many small sends that never wait while the socket keeps
# up: a few replays at a time, yielding every few sends, so live calls keep the loop.
_REPLAYS_AT_ONCE = 4
_SENDS_PER_TURN = 50
_SIGNATURE_REFUSAL_DELAY_S = 0.5  # as Genesys' reference: no timing hints to guess with


@dataclass(frozen=True, slots=True)
class Route:
    kind: str  # "ingest", "webrtc", "events", "alerts", "http", "page", "link", "erase"
    path: str
    resource: Resource = Resource.PUBLIC  # what access is asked about
    call_id: str | None = None
    since: int | None = None  # replay stored events after this (events: 0 when absent)
    partials: bool = True  # in the replayed backlog
    hours: float = DEFAULT_HOURS  # the KPIs' window


class Service:
    def __init__(
        self,
        config: Config,
        engine: Decoder | None = None,
        assistant: Assistant | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        problem = deployment_problem(config.server, config.tokens)
        if problem is not None:
            raise ConfigError(problem)
        self.config = config
        self.access = AccessPolicy(config.tokens, config.server.allowed_origins)
        self.limits = ConnectionCounts(
            config.server.max_connections, config.server.max_connections_per_client
        )
        self._clock = clock  # wall time, for link tokens
        self.privacy = load_privacy_policy(config)  # before anything opens: no silent default
        self.node = node_name(config)
        self.store = open_store(config)
        self.retention = Retention(self.store, config.retention)
        self.bus = open_bus(config, self.store, self.node)
        self.hub = Hub(self.store, bus=self.bus, node=self.node)
        self.draining = False  # SIGTERM: new calls go elsewhere while live ones finish
        self.cluster: Cluster | None = None  # on a shared bus: leases and dead nodes' calls
        self.engine = engine or LanguageRouter(config.asr, config.call.languages)
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
        runtime = _assist_runtime(config, assistant, self.metrics)
        self.calls = CallRegistry(
            self.hub,
            voice,
            config.call.language,
            config.server.max_calls,
            runtime,
            config.call.agent_language,
            config.privacy.max_pause_s,
            self.privacy,
            erase=self.retention.erase,
            caller_key=CallerKey.load(
                config.privacy.caller_key or "", Path(config.server.data_dir)
            ),
        )
        self.metrics.watch_store(lambda: self.hub.healthy, lambda: self.hub.lost_events)
        self.hub.on_call_facts = self.metrics.on_call_facts
        self.metrics.watch_bus(lambda: self.bus.healthy, lambda: not self.not_ready())
        self.controls = CallControls(
            self.calls,
            self.metrics,
            config.server.max_errors_per_connection,
            self.hub,
            self.privacy,
            runtime.assistant.dispositions.resolved if runtime is not None else None,
        )
        self.platforms = Platforms(
            self.calls, self.hub, self.metrics, config.server, self.access, self.count_refusal
        )
        self._server: Server | None = None
        self.web = WebFiles()
        self._replays = asyncio.Semaphore(_REPLAYS_AT_ONCE)

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> int:
        """Starts listening; returns the bound port (useful with port 0)."""
        await self.bus.start()  # raises, naming the URL, when the bus is out of reach
        if isinstance(self.bus, RedisBus):
            self.cluster = Cluster(self.bus, self.hub, self.config.cluster)
            await self.cluster.start()  # ends the calls a previous life left, finds dead nodes
        else:
            self.hub.recover_interrupted_calls()
        options = self.config.server
        self._server = await serve(
            self._handle,
            options.host,
            options.port,
            process_request=self._process_request,
            max_size=options.max_message_bytes,
            process_response=self._process_response,
            compression=None,  # audio does not compress; save the CPU
            select_subprotocol=_select_subprotocol,
        )
        self.retention.start()
        port = int(next(iter(self._server.sockets)).getsockname()[1])
        log.info("listening on http://%s:%d", options.host, port)
        if self.access.is_open and not is_loopback(options.host):
            log.warning(
                "no [tokens] are set and %s is reachable from other machines "
                "(allow_open): anyone there can read every call and inject audio",
                options.host,
            )
        return port

    async def stop(self, drain_s: float = 0.0) -> None:
        """Refuses new calls first (/readyz turns 503: a balancer sends them elsewhere),
        gives live calls up to `drain_s` to end by themselves, then ends the rest
        (decoding their last finals; their platforms may reconnect to another node and
        resume), and closes the other sockets."""
        self.draining = True
        if drain_s > 0 and len(self.calls):
            log.info("draining: %d live call(s), up to %.0f s", len(self.calls), drain_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.calls.none_live(), drain_s)
        if self._server is not None:
            self._server.close(close_connections=False)  # stops listening, once and for all
        await self.calls.close_all(CallStop(EndReason.SERVER_SHUTDOWN))
        await self.hub.flush()
        if self._server is not None:
            # close() is idempotent: the sockets still open (desktops, supervisors) are
            # ours to close, or wait_closed() waits until their clients leave
            await asyncio.gather(
                *(
                    ws.close(CloseCode.GOING_AWAY, "shutting down")
                    for ws in self._server.connections
                ),
                return_exceptions=True,
            )
            await self._server.wait_closed()
        await self.retention.stop()
        if self.cluster is not None:
            await self.cluster.stop()
        await self.bus.stop()
        self.scheduler.close()
        self.hub.close()
        self.store.close()

    def not_ready(self) -> list[str]:
        """Why this node should get no new calls now; empty when it should."""
        reasons = []
        if self.draining:
            reasons.append("draining")
        if not self.hub.healthy:
            reasons.append(self.hub.store_problem)
        if not self.bus.healthy:
            reasons.append(f"bus: {self.bus.problem}")
        if self.calls.full:
            reasons.append("at max_calls")
        return reasons

    # --- HTTP and handshake -------------------------------------------------------------
    def _route(self, request: Request) -> Route | Response:
        url = urlsplit(request.path)
        path = url.path.rstrip("/") or "/"
        query = parse_qs(url.query)
        if path in INGEST_PATHS:
            return Route("ingest", path, _INGEST_RESOURCES.get(path, Resource.INGEST))
        since = _since(query)
        if isinstance(since, Response):
            return since
        if path == "/v1/alerts":
            return Route("alerts", path, Resource.ALERTS, since=since)
        if path == "/v1/webrtc":
            return Route("webrtc", path, Resource.WEBRTC)
        if match := _EVENTS_PATH.match(path):
            partials = query.get("partials", ["1"])[0] not in ("0", "false", "no")
            return Route("events", path, Resource.CALL, match["call_id"], since or 0, partials)
        if match := _CALL_PATH.match(path):
            return Route("http", path, Resource.CALL, match["call_id"])
        if match := _ERASE_PATH.match(path):
            return Route("erase", path, Resource.ERASE, match["call_id"])
        if match := _LINK_PATH.match(path):
            return Route("link", path, Resource.LINK, match["call_id"])
        if path == "/v1/calls":
            return Route("http", path, Resource.CALLS)
        if path == "/v1/kpis":
            hours = _hours(query)
            if isinstance(hours, Response):
                return hours
            return Route("http", path, Resource.KPIS, hours=hours)
        if path in ("/healthz", "/readyz", "/metrics"):
            return Route("http", path)
        if WebFiles.is_web_path(path):
            return Route("page", path)
        return _json_response(http.HTTPStatus.NOT_FOUND, {"error": "no such route"})

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        route = self._route(request)
        if isinstance(route, Response):
            return route
        refusal = self._admit(connection, request, route)
        refusal = refusal or await self._signature(connection, request, route)
        if refusal is not None:
            return refusal
        if route.kind == "http":
            return await self._http(route.path, route.hours)
        if route.kind == "link":
            return self._link(route, request)
        if route.kind == "erase":
            return await self._erase(route, request)
        if route.kind == "page":
            page = self.web.response(route.path)
            return page or _json_response(http.HTTPStatus.NOT_FOUND, {"error": "no such page"})
        return None  # go on with the websocket handshake

    async def _signature(
        self, connection: ServerConnection, request: Request, route: Route
    ) -> Response | None:
        """Genesys signs its AudioHook handshakes (RFC 9421) with the client secret."""
        secret = self.config.audiohook.client_secret
        if route.path != "/v1/audiohook" or not secret:
            return None
        headers = {name: ", ".join(request.headers.get_all(name)) for name in request.headers}
        verdict = verify_request("GET", request.path, headers, secret, self._clock())
        if verdict.ok:
            return None
        await asyncio.sleep(_SIGNATURE_REFUSAL_DELAY_S)
        self.count_refusal("bad_signature", client_address(connection), route.path)
        log.info("audiohook signature refused: %s", verdict.reason)
        return _json_response(http.HTTPStatus.UNAUTHORIZED, {"error": "signature not accepted"})

    def _process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> None:
        """Every answer but a websocket upgrade gets the security headers (ours and
        websockets' own refusals alike)."""
        if response.status_code == http.HTTPStatus.SWITCHING_PROTOCOLS:
            return
        try:
            host = _header(request, "Host")
        except ValueError:
            host = None  # sent twice: the policy names no host to connect to
        for name, value in security_headers(host, self.config.server.frame_ancestors):
            if name not in response.headers:
                response.headers[name] = value

    def _admit(
        self, connection: ServerConnection, request: Request, route: Route
    ) -> Response | None:
        """Access (origin, token) and, for websockets, the connection caps."""
        try:
            ask = _ask(request, route)
        except ValueError as exc:
            return self.refused(connection, route.path, Refusal(400, "bad_header", str(exc)))
        decision = self.access.decide(ask, self._clock())
        if isinstance(decision, Refusal):
            return self.refused(connection, route.path, decision)
        if self.draining and route.kind in ("ingest", "webrtc"):
            refusal = Refusal(503, "draining", "this node is shutting down: connect to another")
            return self.refused(connection, route.path, refusal)
        if route.kind in _WEBSOCKET_KINDS:
            reason = self.limits.refusal(client_address(connection))
            if reason is not None:
                status = 503 if reason == "max_connections" else 429
                refusal = Refusal(status, reason, "too many connections: try again later")
                return self.refused(connection, route.path, refusal)
        return None

    def refused(self, connection: ServerConnection, path: str, refusal: Refusal) -> Response:
        """Counts and logs a refusal (no token, no query), and answers it."""
        self.count_refusal(refusal.reason, client_address(connection), path)
        return _json_response(http.HTTPStatus(refusal.status), {"error": refusal.message})

    def count_refusal(self, reason: str, client: str, path: str) -> None:
        self.metrics.connections_refused.labels(reason).inc()
        log.info(
            "refused %s from %s: %s",
            path,
            client,
            reason,
            extra={"reason": reason, "client": client},
        )

    def _link(self, route: Route, request: Request) -> Response:
        """A link token for one call's desktop (the supervisor token minted it)."""
        if not self.access.links_enabled or route.call_id is None:
            return _json_response(
                http.HTTPStatus.NOT_FOUND, {"error": "links are off: set [tokens] link_secret"}
            )
        ttl_s = _ttl(parse_qs(urlsplit(request.path).query))
        if ttl_s is None:
            return _json_response(
                http.HTTPStatus.BAD_REQUEST, {"error": "ttl must be an integer of seconds"}
            )
        try:
            link = self.access.mint_link(route.call_id, self._clock(), ttl_s)
        except ValueError as exc:
            return _json_response(http.HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        expires_at = datetime.fromtimestamp(link.expires_at_s, UTC).isoformat()
        body = {
            "token": link.token,
            "expires_at": expires_at,
            "path": desktop_path(route.call_id, link.token),
        }
        return _json_response(http.HTTPStatus.OK, body)

    async def _erase(self, route: Route, request: Request) -> Response:
        """Erases an ended call for a supervisor (a GET: websockets serves nothing else;
        the token must come as a bearer header, and ?confirm= must repeat the id)."""
        assert route.call_id is not None
        confirm = parse_qs(urlsplit(request.path).query).get("confirm", [""])[0]
        if confirm != route.call_id:
            problem = {"error": "add ?confirm=CALL_ID (the same id) to erase a call"}
            return _json_response(http.HTTPStatus.BAD_REQUEST, problem)
        try:
            erased = await self.retention.erase(route.call_id)
        except CallNotFound:
            return _json_response(http.HTTPStatus.NOT_FOUND, {"error": "no such call"})
        except CallIsLive:
            problem = {"error": "the call is live: erase it once it has ended"}
            return _json_response(http.HTTPStatus.CONFLICT, problem)
        log.info("call %s erased over HTTP", route.call_id, extra={"call_id": route.call_id})
        body = {
            "call_id": route.call_id,
            "events": erased.events,
            "feed_rows": erased.feed_rows,
            "wal_truncated": erased.wal_truncated,
        }
        return _json_response(http.HTTPStatus.OK, body)

    async def _http(self, path: str, hours: float = DEFAULT_HOURS) -> Response:
        if path == "/healthz":
            if not self.hub.healthy:
                status = {"status": "degraded", "reason": self.hub.store_problem}
                return _json_response(http.HTTPStatus.SERVICE_UNAVAILABLE, status)
            return _json_response(
                http.HTTPStatus.OK, {"status": "ok", "live_calls": len(self.calls)}
            )
        if path == "/readyz":
            reasons = self.not_ready()
            if reasons:
                answer = {"status": "not_ready", "reasons": reasons}
                return _json_response(http.HTTPStatus.SERVICE_UNAVAILABLE, answer)
            return _json_response(http.HTTPStatus.OK, {"status": "ready", "node": self.node})
        if path == "/metrics":
            body = self.metrics.render()
            headers = Headers([("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
            return Response(200, "OK", headers, body)
        if path == "/v1/calls":
            calls = await self.store.list_calls()
            return _json_response(http.HTTPStatus.OK, {"calls": calls})
        if path == "/v1/kpis":
            since, until = since_iso(hours / 24), since_iso(0)
            rows = await self.store.ended_calls(since)
            return _json_response(http.HTTPStatus.OK, kpis(rows, since, until))
        match = _CALL_PATH.match(path)
        assert match is not None
        call_id = match["call_id"]
        record = read_record(await self.store.read_call(call_id))
        if record is None:
            return _json_response(http.HTTPStatus.NOT_FOUND, {"error": "no such call"})
        return _bytes_response(http.HTTPStatus.OK, record)

    # --- websockets -----------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        """Counts the connection against the caps for as long as it is open. The check
        before the handshake is a cheap early answer; this one is exact."""
        assert ws.request is not None
        route = self._route(ws.request)
        assert isinstance(route, Route)
        client = client_address(ws)
        reason = self.limits.refusal(client)
        if reason is not None:
            self.count_refusal(reason, client, route.path)
            await ws.close(CLOSE_TRY_AGAIN, "too many connections")
            return
        self.limits.add(client)
        try:
            await self._serve(ws, route)
        finally:
            self.limits.remove(client)

    async def _serve(self, ws: ServerConnection, route: Route) -> None:
        if route.kind == "ingest":
            await self._ingest(ws, route)
        elif route.kind == "events":
            assert route.call_id is not None
            subscription = self.hub.subscribe_call(
                route.call_id, route.since or 0, route.partials, self._audience(ws)
            )
            await self._pump(ws, subscription, self.controls.read(ws, route.call_id))
        elif route.kind == "alerts":
            await self._pump(ws, self.hub.subscribe_alerts(route.since))
        elif route.kind == "webrtc":
            self.metrics.connections.labels("webrtc").inc()
            await self._webrtc(ws, route)

    def _audience(self, ws: ServerConnection) -> Audience:
        """Whose view of a call's events this reader gets: a supervisor's token opens any
        call, under the supervisors' privacy policy; everyone else reads as its desktop."""
        assert ws.request is not None
        grant = self.access.decide(_ask(ws.request, self._route_of(ws)), self._clock())
        supervisor = isinstance(grant, Grant) and grant.role is Role.SUPERVISOR
        return Audience.SUPERVISOR if supervisor else Audience.DESKTOP

    def _route_of(self, ws: ServerConnection) -> Route:
        assert ws.request is not None
        route = self._route(ws.request)
        assert isinstance(route, Route)
        return route

    async def _ingest(self, ws: ServerConnection, route: Route) -> None:
        protocol = INGEST_PATHS[route.path]
        self.metrics.connections.labels(protocol).inc()
        assert ws.request is not None
        grant = self.access.decide(_ask(ws.request, route), self._clock())
        needs_token_in_start = isinstance(grant, Grant) and grant.token_pending
        query = {k: v[0] for k, v in parse_qs(urlsplit(ws.request.path).query).items()}
        parser = make_parser(protocol, query, self.config.audiohook)
        connection = PlatformConnection(
            self.platforms, ws, route.path, protocol, parser, needs_token_in_start
        )
        await connection.run()

    async def _webrtc(self, ws: ServerConnection, route: Route) -> None:
        """The offer must come within the first-message deadline, like any platform's."""
        try:
            async with asyncio.timeout(self.config.server.first_message_timeout_s or None):
                offer = await ws.recv()
        except TimeoutError:
            self.count_refusal("no_first_message", client_address(ws), route.path)
            await ws.close(CLOSE_POLICY, "no first message")
            return
        except ConnectionClosed:
            return
        dropped = self.metrics.webrtc_dropped_seconds.inc
        await serve_peer(ws, self.calls, self.config.webrtc, str(offer), dropped)

    async def _pump(
        self,
        ws: ServerConnection,
        subscription: Subscription,
        reader: Coroutine[object, object, None] | None = None,
    ) -> None:
        """Sends a subscription's events until the client leaves or falls too far behind;
        `reader` (else nothing) reads what the client sends meanwhile."""

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
                    await ws.close(CLOSE_TRY_AGAIN, "too far behind: reconnect with since")
                    return

        sender = asyncio.create_task(send_all())
        closed = asyncio.create_task(reader or ws.wait_closed())
        try:
            await asyncio.wait({sender, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sender.cancel()
            closed.cancel()
            self.hub.unsubscribe(subscription)


def _assist_runtime(
    config: Config, assistant: Assistant | None, metrics: Metrics
) -> AssistRuntime | None:
    """Loads the assistant unless one was given (tests share one) or assist is off."""
    if not config.assist.enabled:
        return None
    return AssistRuntime(
        assistant or Assistant.load(config.assist),
        metrics.assist_latency.observe,
        config.call.agent_language,
        on_dropped=lambda kind: metrics.assist_dropped.labels(kind).inc(),
    )


def load_privacy_policy(config: Config) -> Policy:
    """The redaction policy; one that cannot be loaded stops the service (ConfigError)."""
    options = config.privacy
    path = Path(options.policy_file).expanduser() if options.policy_file else None
    try:
        return Policy.load(path, keep_last_four=options.keep_last_four)
    except PolicyError as exc:
        raise ConfigError(f"[privacy] policy_file: {exc}") from None


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


def _ask(request: Request, route: Route) -> Ask:
    """What access is asked about this request; ValueError for a header sent twice."""
    query_tokens = parse_qs(urlsplit(request.path).query).get("token")
    credential = presented_credential(
        _header(request, "Authorization"),
        _header(request, "X-API-KEY"),  # Genesys AudioHook's header
        query_tokens[0] if query_tokens else None,
    )
    return Ask(
        route.resource,
        route.call_id,
        None if credential is None else credential.token,
        _header(request, "Origin"),
        _header(request, "Host"),
        None if credential is None else credential.source,
    )


def _header(request: Request, name: str) -> str | None:
    values = request.headers.get_all(name)
    if len(values) > 1:
        raise ValueError(f"the {name} header was sent {len(values)} times")
    return values[0] if values else None


def _ttl(query: Mapping[str, list[str]]) -> int | None:
    values = query.get("ttl")
    if not values:
        return _DEFAULT_LINK_TTL_S
    text = values[0]
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def _hours(query: Mapping[str, list[str]]) -> float | Response:
    """?hours= of the KPIs' window: a number above 0, at most MAX_HOURS (a quarter)."""
    raw = query.get("hours", [str(DEFAULT_HOURS)])[0]
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if not 0 < hours <= MAX_HOURS:
        problem = {"error": f"hours must be a number above 0 and at most {MAX_HOURS:.0f}"}
        return _json_response(http.HTTPStatus.BAD_REQUEST, problem)
    return hours


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
