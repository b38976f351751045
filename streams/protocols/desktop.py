"""What a reader may send on a call's event stream (`ws /v1/calls/{id}/events`).

The stream is for reading; its only messages in are the agent's pause for payment:

    {"type": "pause", "reason": "payment"}   stop transcribing this call (reason optional)
    {"type": "resume"}                       transcribe again

Anything else (binary, not JSON, another type, a reason that is not a string, more
than MAX_CONTROL_CHARS) is a `ProtocolError`, which the server answers with an
`error` message; the stream goes on. Unknown fields are ignored.
"""

from __future__ import annotations

from streams.errors import ProtocolError
from streams.protocols.base import CallPause, parse_json_object, shown

MAX_CONTROL_CHARS = 1024  # a pause is a few dozen characters; more is not a control message


def parse_control(message: str | bytes) -> CallPause:
    if isinstance(message, bytes):
        raise ProtocolError("unknown_message", "this stream takes only JSON text messages")
    if len(message) > MAX_CONTROL_CHARS:
        raise ProtocolError(
            "too_large", f"a control message is at most {MAX_CONTROL_CHARS} characters"
        )
    request = parse_json_object(message)
    kind = request.get("type")
    if kind not in ("pause", "resume"):
        raise ProtocolError(
            "unknown_message", f"only 'pause' and 'resume' may be sent here, not {shown(kind)}"
        )
    return CallPause.said(kind == "pause", request.get("reason"))
