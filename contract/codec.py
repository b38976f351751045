"""The one codec: events become JSON here and nowhere else, and JSON becomes events. No I/O.

An `Event` goes on the wire flat: the payload's `type` first, then the envelope
(`call_id`, `seq`, `ts`, and `feed_seq` on the alert feed), then the payload's
fields. `schema()` describes exactly that, generated from `contract.events`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec

from contract.events import (
    ALERT_FEED_TYPES,
    CONTRACT_VERSION,
    ErrorMessage,
    Event,
    Payload,
    type_name,
)

_encoder = msgspec.json.Encoder()
_payload_decoder = msgspec.json.Decoder(Payload)
_error_decoder = msgspec.json.Decoder(ErrorMessage)
ALERT_FEED_TYPE_NAMES = frozenset(type_name(t) for t in ALERT_FEED_TYPES)


class _Envelope(msgspec.Struct, frozen=True):
    call_id: str
    seq: int
    ts: str
    feed_seq: int | None = None


_envelope_decoder = msgspec.json.Decoder(_Envelope)


class DecodeError(ValueError):
    """Text that is not an event of this contract."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(event: Event) -> str:
    fields = msgspec.to_builtins(event.payload)
    body = {"type": fields.pop("type"), "call_id": event.call_id, "seq": event.seq, "ts": event.ts}
    if event.feed_seq is not None:
        body["feed_seq"] = event.feed_seq
    body.update(fields)
    return _encoder.encode(body).decode()


def decode(text: str | bytes) -> Event:
    try:
        envelope = _envelope_decoder.decode(text)
        payload = _payload_decoder.decode(text)
    except msgspec.ValidationError as exc:
        raise DecodeError(f"not an event: {exc}") from None
    except msgspec.DecodeError as exc:
        raise DecodeError(f"not JSON: {exc}") from None
    return Event(envelope.call_id, envelope.seq, envelope.ts, payload, envelope.feed_seq)


def encode_error(call_id: str | None, code: str, message: str) -> str:
    return _encoder.encode(ErrorMessage(call_id, now_iso(), code, message)).decode()


def decode_error(text: str | bytes) -> ErrorMessage:
    return _error_decoder.decode(text)


def encode_json(value: object) -> str:
    """Plain JSON for the HTTP endpoints (records, lists): structs, enums, dicts, lists."""
    return _encoder.encode(value).decode()


# --- the published schema -------------------------------------------------------------------
SCHEMA_ID = "https://github.com/callassist/callassist/docs/events.schema.json"
_ENVELOPE_SCHEMA: dict[str, Any] = {
    "call_id": {"type": "string", "description": "the call this event belongs to"},
    "seq": {"type": "integer", "minimum": 1, "description": "1, 2, 3 ... per call, no gaps"},
    "ts": {"type": "string", "description": "server time, ISO 8601 UTC"},
    "feed_seq": {
        "type": "integer",
        "minimum": 1,
        "description": "position in the alert feed; only on /v1/alerts",
    },
}


def schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of every message the event endpoints send: each event is
    the envelope together with one payload (payloads also appear nested, e.g. `summary`)."""
    (event_ref, error_ref), components = msgspec.json.schema_components(
        [Payload, ErrorMessage], ref_template="#/$defs/{name}"
    )
    for definition in components.values():
        if "properties" in definition:  # the encoder writes every field, defaults included
            definition["required"] = list(definition["properties"])
    components["Envelope"] = {
        "title": "Envelope",
        "type": "object",
        "properties": _ENVELOPE_SCHEMA,
        "required": ["call_id", "seq", "ts"],
    }
    events = [{"allOf": [{"$ref": "#/$defs/Envelope"}, ref]} for ref in event_ref["anyOf"]]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "callassist events",
        "description": (
            "Every message sent on ws /v1/calls/{id}/events and ws /v1/alerts. "
            f"Contract version {CONTRACT_VERSION} (call.started carries it as `contract`)."
        ),
        "x-contract-version": CONTRACT_VERSION,
        "oneOf": [*events, error_ref],
        "$defs": components,
    }


def schema_text() -> str:
    """The schema as committed in docs/events.schema.json: stable, sorted, one trailing newline."""
    return json.dumps(schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
