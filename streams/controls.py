"""The agent's pause and resume for payment, read from a call's event stream.

`ws /v1/calls/{id}/events` is for reading; whoever may read the call (the agent or
supervisor token, a link token for that call) may also pause and resume it there
(streams/protocols/desktop.py for the messages). The pause applies to the call's
live session on this process; `call_not_live` answers it for any other call. Each
bad message gets an `error` (the contract's ErrorMessage) and the stream goes on,
until `max_errors` of them close it (1008). A person clicks a few times a call, so
more than CONTROLS_PER_MINUTE messages a minute are refused too: the store keeps
every pause, and a script must not fill it.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from contract.codec import encode_error
from contract.events import PausedBy
from streams.calls import CallRegistry
from streams.errors import ProtocolError
from streams.metrics import Metrics
from streams.protocols.base import CallPause
from streams.protocols.desktop import parse_control

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008
CONTROLS_PER_MINUTE = 30


class CallControls:
    def __init__(self, calls: CallRegistry, metrics: Metrics, max_errors: int) -> None:
        self._calls = calls
        self._metrics = metrics
        self._max_errors = max_errors

    async def read(self, ws: ServerConnection, call_id: str) -> None:
        """Serves what one reader sends, until its socket closes."""
        errors = 0
        recent: deque[float] = deque(maxlen=CONTROLS_PER_MINUTE)
        try:
            async for message in ws:
                try:
                    self._pace(recent)
                    self._apply(call_id, parse_control(message))
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

    def _apply(self, call_id: str, request: CallPause) -> None:
        session = self._calls.live(call_id)
        if session is None:
            raise ProtocolError(
                "call_not_live", f"call {call_id} is not live here: nothing to pause or resume"
            )
        if request.paused:
            changed = session.pause(PausedBy.AGENT, request.reason)
        else:
            changed = session.resume(PausedBy.AGENT, request.reason)
        if changed:
            verb = "paused" if request.paused else "resumed"
            log.info("call %s %s by the agent", call_id, verb, extra={"call_id": call_id})
