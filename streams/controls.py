"""The agent's pause and resume for payment, and the wrap-up they accept, read from a
call's event stream.

`ws /v1/calls/{id}/events` is for reading; whoever may read the call (the agent or
supervisor token, a link token for that call) may also pause and resume it there
(streams/protocols/desktop.py for the messages). The pause applies to the call's
live session on this process; `call_not_live` answers it for any other call. Each
bad message gets an `error` (the contract's ErrorMessage) and the stream goes on,
until `max_errors` of them close it (1008). A person clicks a few times a call, so
more than CONTROLS_PER_MINUTE messages a minute are refused too: the store keeps
every pause, and a script must not fill it.

A wrap-up is accepted once the call has ended (on any node: it is read from the
store). It becomes `wrapup.accepted`, redacted like the call's own words (an
agent may type a card number into the notes too), with `edited` against the draft
and the after-call work: seconds from call.ended to the acceptance.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from assist.redaction import CallRedactor, Policy
from assist.session import HandoverRequest
from contract import codec
from contract.codec import encode_error
from contract.events import HandedOverBy, PausedBy, Wrapup, WrapupAccepted, WrapupNotes
from streams.calls import CallRegistry
from streams.errors import ProtocolError
from streams.hub import Hub
from streams.metrics import Metrics
from streams.protocols.base import CallPause, CallTransfer
from streams.protocols.desktop import WrapupAcceptance, parse_control
from streams.storage import CallReviewed

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008
CONTROLS_PER_MINUTE = 30


class CallControls:
    def __init__(
        self,
        calls: CallRegistry,
        metrics: Metrics,
        max_errors: int,
        hub: Hub,
        policy: Policy,
        dispositions: Mapping[str, bool] | None = None,  # name -> resolved; None: any name
    ) -> None:
        self._calls = calls
        self._metrics = metrics
        self._max_errors = max_errors
        self._hub = hub
        self._policy = policy
        self._dispositions = dispositions or {}

    async def read(self, ws: ServerConnection, call_id: str) -> None:
        """Serves what one reader sends, until its socket closes."""
        errors = 0
        recent: deque[float] = deque(maxlen=CONTROLS_PER_MINUTE)
        try:
            async for message in ws:
                try:
                    self._pace(recent)
                    request = parse_control(message)
                    if isinstance(request, WrapupAcceptance):
                        await self._accept(call_id, request)
                    else:
                        self._apply(call_id, request)
                except ProtocolError as exc:
                    errors += 1
                    self._metrics.errors.labels(exc.code).inc()
                    await ws.send(encode_error(call_id, exc.code, exc.message))
                    if errors >= self._max_errors:
                        await ws.close(CLOSE_POLICY, f"too many errors ({errors})")
                        return
        except ConnectionClosed:
            pass

    @staticmethod
    def _pace(recent: deque[float]) -> None:
        now = time.monotonic()
        if len(recent) == recent.maxlen and now - recent[0] < 60.0:
            raise ProtocolError(
                "too_many_requests", f"at most {CONTROLS_PER_MINUTE} messages a minute"
            )
        recent.append(now)

    def _apply(self, call_id: str, request: CallPause | CallTransfer) -> None:
        session = self._calls.live(call_id)
        if session is None:
            raise ProtocolError(
                "call_not_live", f"call {call_id} is not live here: nothing to pause or hand over"
            )
        if isinstance(request, CallTransfer):
            handover = HandoverRequest(HandedOverBy.AGENT, request.to, request.reason, request.note)
            if not session.hand_over(handover):
                raise ProtocolError("no_assist", "no co-pilot on this call: no handover package")
            log.info("call %s handed over by the agent", call_id, extra={"call_id": call_id})
            return
        if request.paused:
            changed = session.pause(PausedBy.AGENT, request.reason)
        else:
            changed = session.resume(PausedBy.AGENT, request.reason)
        if changed:
            verb = "paused" if request.paused else "resumed"
            log.info("call %s %s by the agent", call_id, verb, extra={"call_id": call_id})

    async def _accept(self, call_id: str, request: WrapupAcceptance) -> None:
        if self._dispositions and request.disposition not in self._dispositions:
            raise ProtocolError(
                "bad_wrapup", f"{request.disposition!r} is not in the disposition catalog"
            )
        stored = await self._hub.store.read_call(call_id)
        if self._calls.live(call_id) is not None or stored is None or not stored[0]["ended_at"]:
            raise ProtocolError("call_not_ended", f"call {call_id} has not ended: no wrap-up yet")
        row, bodies = stored
        drafts = [e.payload for e in map(codec.decode, bodies) if isinstance(e.payload, Wrapup)]
        acw_s = (datetime.now(UTC) - _parse_iso(row["ended_at"])).total_seconds()
        redactor = CallRedactor(self._policy)
        notes = _redacted(request.notes, redactor.desktop_text)
        edited = not drafts or (drafts[-1].disposition, drafts[-1].notes) != (
            request.disposition,
            notes,
        )
        resolved = self._dispositions.get(request.disposition)
        acw_s = round(max(acw_s, 0.0), 3)
        accepted = WrapupAccepted(request.disposition, notes, edited, acw_s, resolved)
        review = CallReviewed(request.disposition, resolved, acw_s, edited)
        self._hub.publish(call_id, redactor.derived(accepted), review)
        self._metrics.on_wrapup_accepted(edited, acw_s)
        log.info(
            "call %s: wrap-up accepted (%s) after %.0f s",
            call_id,
            "edited" if edited else "as drafted",
            acw_s,
            extra={"call_id": call_id},
        )


def _redacted(notes: WrapupNotes, redact: Callable[[str], str]) -> WrapupNotes:
    follow_ups = tuple(
        msgspec.structs.replace(f, what=redact(f.what), when=redact(f.when))
        for f in notes.follow_ups
    )
    return WrapupNotes(
        redact(notes.reason),
        tuple(map(redact, notes.actions)),
        redact(notes.outcome),
        follow_ups,
    )


def _parse_iso(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
