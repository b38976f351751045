"""Platform connections: a parser per protocol, and the loop that drives a call from it.

A `PlatformConnection` reads one websocket with deadlines (a first message, then
idle), feeds each message to its protocol's sans-I/O parser, and turns the parser's
events into the call's life: start (authorised, admitted), audio (with backpressure),
pause and resume (by the platform), stop. Bad input gets the protocol's own error;
none of it reaches another call. While its call is paused a platform may send
nothing at all (mod_audio_fork's pause stops the audio), so no idle deadline applies
then: the pause's own cue (`max_pause_s`) tells the agent instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from assist.session import HandoverRequest
from contract.events import EndReason, HandedOverBy, PausedBy
from contract.events import Protocol as IngestProtocol
from streams.access import AccessPolicy, Role
from streams.calls import CallRegistry, CallRejected, CallSession
from streams.config import ServerOptions
from streams.errors import ProtocolError
from streams.hub import Hub
from streams.metrics import Metrics
from streams.protocols.audiohook import AudioHookOptions, AudioHookParser
from streams.protocols.base import (
    AudioFrames,
    CallPause,
    CallStart,
    CallStop,
    CallTransfer,
    ProtocolEvent,
    Reply,
)
from streams.protocols.fork import ForkParser
from streams.protocols.native import NativeParser
from streams.protocols.twilio import TwilioParser

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008  # websocket close codes (RFC 6455)
CLOSE_TRY_AGAIN = 1013
_TRY_AGAIN_CODES = frozenset({"busy", "store_unavailable"})
_HELD_BACK_WARN_S = 2.0
_STORE_AWAY = "the call store refuses writes: events wait in memory; try again later"
INGEST_PATHS = {
    "/v1/ingest": IngestProtocol.NATIVE,
    "/v1/twilio": IngestProtocol.TWILIO,
    "/v1/audiohook": IngestProtocol.AUDIOHOOK,
    "/v1/fork": IngestProtocol.FORK,
}


class Parser(Protocol):
    close_reason: EndReason  # the call's end reason when the socket closes without a stop

    def feed_text(self, text: str) -> list[ProtocolEvent]: ...
    def feed_bytes(self, data: bytes) -> list[ProtocolEvent]: ...
    def error_message(self, call_id: str | None, code: str, message: str) -> str: ...


def make_parser(
    protocol: IngestProtocol, query: Mapping[str, str], audiohook: AudioHookOptions
) -> Parser:
    """A fresh parser for one connection of `protocol` (the URL query configures forks)."""
    if protocol is IngestProtocol.TWILIO:
        return TwilioParser()
    if protocol is IngestProtocol.AUDIOHOOK:
        return AudioHookParser(audiohook.supported_languages)
    if protocol is IngestProtocol.FORK:
        return ForkParser(query)
    return NativeParser()


@dataclass(frozen=True, slots=True)
class Platforms:
    """What every platform connection shares with the service."""

    calls: CallRegistry
    hub: Hub
    metrics: Metrics
    options: ServerOptions
    access: AccessPolicy
    count_refusal: Callable[[str, str, str], None]  # (reason, client address, path)


def client_address(ws: ServerConnection) -> str:
    """The peer's address, for the caps and the log (a proxy's, behind a proxy)."""
    address = ws.remote_address
    return str(address[0]) if address else "unknown"


class PlatformConnection:
    """One platform connection: parser events drive the call's session."""

    def __init__(
        self,
        service: Platforms,
        ws: ServerConnection,
        path: str,
        protocol: IngestProtocol,
        parser: Parser,
        needs_token_in_start: bool,
    ) -> None:
        self._service = service
        self._ws = ws
        self._path = path
        self._protocol = protocol
        self._parser = parser
        self._needs_token_in_start = needs_token_in_start
        self._session: CallSession | None = None
        self._errors = 0
        self._heard = False  # any message yet
        self._told_store_away = False
        self._end_reason = CallStop(parser.close_reason)

    async def run(self) -> None:
        try:
            while (message := await self._next_message()) is not None:
                if not await self._on_message(message):
                    break
        except ConnectionClosed:
            pass
        finally:
            if self._session is not None:
                await self._service.calls.close(self._session, self._end_reason)

    async def _next_message(self) -> str | bytes | None:
        """The next message; None once a socket that stayed quiet too long is closed.
        Until the first message (and, for Twilio, until its token came) the deadline is
        `first_message_timeout_s`, then `idle_timeout_s`; 0 is no deadline."""
        options = self._service.options
        settled = self._heard and not self._needs_token_in_start
        limit_s = options.idle_timeout_s if settled else options.first_message_timeout_s
        if self._session is not None and self._session.paused:
            limit_s = 0  # a paused platform may stay silent
        try:
            async with asyncio.timeout(limit_s or None):
                message = await self._ws.recv()
        except TimeoutError:
            reason = "idle" if self._heard else "no_first_message"
            self._service.count_refusal(reason, client_address(self._ws), self._path)
            await self._ws.close(CLOSE_POLICY, reason.replace("_", " "))
            self._end_reason = CallStop(EndReason.CLIENT_DISCONNECTED, reason)
            return None
        self._heard = True
        return message

    async def _on_message(self, message: str | bytes) -> bool:
        """Handles one websocket message; False ends the connection."""
        try:
            if isinstance(message, str):
                events = self._parser.feed_text(message)
            else:
                events = self._parser.feed_bytes(message)
            for event in events:
                await self._on_event(event)
            await self._tell_if_the_store_is_away()
        except ProtocolError as exc:
            return await self._refuse(exc.code, exc.message, fatal=exc.fatal)
        except CallRejected as exc:
            self._service.metrics.calls_refused.labels(exc.code).inc()
            code = CLOSE_TRY_AGAIN if exc.code in _TRY_AGAIN_CODES else CLOSE_POLICY
            return await self._refuse(exc.code, str(exc), fatal=True, close_code=code)
        return True

    async def _on_event(self, event: ProtocolEvent) -> None:
        if isinstance(event, CallStart):
            self._authorize_start()
            if not self._service.hub.healthy:
                raise CallRejected("store_unavailable", _STORE_AWAY)
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
                if event.gap_s:
                    self._service.metrics.audio_gap_seconds.labels(self._protocol).inc(event.gap_s)
                self._session.feed(event)
                await self._hold_back(self._session)
        elif isinstance(event, CallPause):
            self._on_pause(event)
        elif isinstance(event, CallTransfer):
            self._on_transfer(event)
        elif isinstance(event, Reply):
            await self._ws.send(event.text)
        elif isinstance(event, CallStop) and self._session is not None:
            session, self._session = self._session, None
            await self._service.calls.close(session, event)

    def _on_transfer(self, event: CallTransfer) -> None:
        session = self._session
        request = HandoverRequest(HandedOverBy.PLATFORM, event.to, event.reason, event.note)
        if session is not None and session.hand_over(request):
            log.info(
                "call %s handed over by the platform",
                session.call_id,
                extra={"call_id": session.call_id, "protocol": self._protocol},
            )

    def _on_pause(self, event: CallPause) -> None:
        session = self._session
        if session is None:
            return  # no live call (a probe, or after stop): nothing to pause
        if event.paused:
            changed = session.pause(PausedBy.PLATFORM, event.reason)
        else:
            changed = session.resume(PausedBy.PLATFORM, event.reason)
        if changed:
            log.info(
                "call %s %s by the platform",
                session.call_id,
                "paused" if event.paused else "resumed",
                extra={"call_id": session.call_id, "protocol": self._protocol},
            )

    async def _tell_if_the_store_is_away(self) -> None:
        """Once per outage, a live call's platform hears that its events wait in memory."""
        healthy = self._service.hub.healthy
        if self._session is not None and not healthy and not self._told_store_away:
            message = self._parser.error_message(
                self._session.call_id, "store_unavailable", _STORE_AWAY
            )
            await self._ws.send(message)
        self._told_store_away = not healthy

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
        if isinstance(presented, str) and self._service.access.role_of(presented) is Role.INGEST:
            self._needs_token_in_start = False
            return
        reason = "wrong_token" if isinstance(presented, str) else "no_token"
        self._service.count_refusal(reason, client_address(self._ws), self._path)
        raise ProtocolError("unauthorized", "a valid ingest token is required", fatal=True)

    async def _refuse(
        self, code: str, message: str, *, fatal: bool, close_code: int = CLOSE_POLICY
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
        limit = self._service.options.max_errors_per_connection
        if fatal or self._errors >= limit:
            reason = message if fatal else f"too many errors ({self._errors})"
            await self._ws.close(close_code, reason[:120])
            self._end_reason = CallStop(EndReason.ERROR, code)
            return False
        return True
