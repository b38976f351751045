"""What a reader may send on a call's event stream (`ws /v1/calls/{id}/events`).

The stream is for reading; its only messages in are the agent's pause for payment
and, once the call has ended, the agent's wrap-up:

    {"type": "pause", "reason": "payment"}   stop transcribing this call (reason optional)
    {"type": "resume"}                       transcribe again
    {"type": "transfer", "to": "billing", "note": "..."}
                                             hand the call over: a handover package
    {"type": "wrapup.accept", "disposition": "resolved",
     "notes": {"reason": ..., "actions": [...], "outcome": ...,
               "follow_ups": [{"what": ..., "owner": "agent", "when": ...}]}}
                                             the wrap-up as accepted (edited or not)

Anything else (binary, not JSON, another type, a reason that is not a string, more
than MAX_CONTROL_CHARS) is a `ProtocolError`, which the server answers with an
`error` message; the stream goes on. Unknown fields are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec

from contract.events import WrapupNotes
from streams.errors import ProtocolError
from streams.protocols.base import CallPause, CallTransfer, parse_json_object, shown

MAX_CONTROL_CHARS = 16_384  # a pause is a few dozen characters, a wrap-up a few hundred
MAX_NOTE_CHARS = 2_000  # per field of the notes
MAX_NOTE_ITEMS = 20  # actions, follow-ups


@dataclass(frozen=True, slots=True)
class WrapupAcceptance:
    disposition: str
    notes: WrapupNotes


def parse_control(message: str | bytes) -> CallPause | CallTransfer | WrapupAcceptance:
    if isinstance(message, bytes):
        raise ProtocolError("unknown_message", "this stream takes only JSON text messages")
    if len(message) > MAX_CONTROL_CHARS:
        raise ProtocolError(
            "too_large", f"a control message is at most {MAX_CONTROL_CHARS} characters"
        )
    request = parse_json_object(message)
    kind = request.get("type")
    if kind == "wrapup.accept":
        return _acceptance(request)
    if kind == "transfer":
        return CallTransfer.said(request)
    if kind not in ("pause", "resume"):
        raise ProtocolError(
            "unknown_message",
            "only 'pause', 'resume', 'transfer' and 'wrapup.accept' may be sent here, "
            f"not {shown(kind)}",
        )
    return CallPause.said(kind == "pause", request.get("reason"))


def _acceptance(request: dict[str, Any]) -> WrapupAcceptance:
    disposition = request.get("disposition")
    if not isinstance(disposition, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", disposition):
        raise ProtocolError(
            "bad_wrapup", f"disposition must be a catalog name, not {shown(disposition)}"
        )
    try:
        notes = msgspec.convert(request.get("notes"), WrapupNotes)
    except msgspec.ValidationError as exc:
        raise ProtocolError("bad_wrapup", f"notes: {exc}") from None
    texts = [notes.reason, notes.outcome, *notes.actions]
    texts += [t for f in notes.follow_ups for t in (f.what, f.when)]
    if len(notes.actions) > MAX_NOTE_ITEMS or len(notes.follow_ups) > MAX_NOTE_ITEMS:
        raise ProtocolError("bad_wrapup", f"at most {MAX_NOTE_ITEMS} actions and follow-ups")
    if any(len(t) > MAX_NOTE_CHARS for t in texts):
        raise ProtocolError("bad_wrapup", f"a note is at most {MAX_NOTE_CHARS} characters")
    return WrapupAcceptance(disposition, notes)
