"""Who is calling, as a keyed hash: caller history without the number in clear.

Platforms name the caller in their own place: Twilio's custom parameter `from`,
AudioHook's `participant.ani`, the fork's and our protocol's metadata `caller`.
`take_caller` takes it out of the metadata before call.started is built, so the
store, the pages and the logs never see it; what remains is its HMAC-SHA256 under
the service's caller key (`[privacy] caller_key`; without one, a random key kept in
`data_dir/caller.key`). The same number always gives the same hash under one key,
so every node of a deployment must share the key; without the key the hash leads
back to nobody (a phone number alone is too small a space for a plain hash).

`history` turns the caller's earlier calls (the store's rows) into caller.history;
the co-pilot says whether this call repeats one of them once it knows the intent.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from contract.events import CallerHistory, PreviousCall

log = logging.getLogger(__name__)

HISTORY_DAYS = 30  # earlier calls listed at the start
MAX_HISTORY_CALLS = 20
KEY_FILE = "caller.key"
_NOT_DIALLABLE = re.compile(r"[^\d+]")
# Where each platform puts the caller: (metadata key, key inside it or None).
_PLACES = (("custom_parameters", "from"), ("participant", "ani"), ("caller", None))


def take_caller(metadata: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The caller's number as the platform gave it ("" if none), and the metadata
    without it."""
    clean = dict(metadata)
    for key, inner in _PLACES:
        value = clean.get(key)
        if inner is None and isinstance(value, str | int):
            del clean[key]
            return str(value), clean
        if inner is not None and isinstance(value, Mapping) and inner in value:
            rest = dict(value)
            found = rest.pop(inner)
            clean[key] = rest
            if isinstance(found, str | int):
                return str(found), clean
    return "", clean


class CallerKey:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def load(cls, configured: str, data_dir: Path) -> CallerKey:
        """The configured key, else the one kept in the data directory (made once)."""
        if configured:
            return cls(configured.encode())
        path = data_dir / KEY_FILE
        try:
            return cls(path.read_bytes().strip())
        except FileNotFoundError:
            pass
        key = secrets.token_hex(32).encode()
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as f:
            f.write(key)
        log.info("made a caller key in %s: share [privacy] caller_key across nodes", path)
        return cls(key)

    def hash(self, caller: str) -> str:
        """A number's keyed hash; "" when nothing diallable was given."""
        number = _NOT_DIALLABLE.sub("", caller)
        if len(number.lstrip("+")) < 3:
            return ""
        return hmac.new(self._key, number.encode(), hashlib.sha256).hexdigest()[:32]


def history(caller: str, rows: list[dict[str, Any]]) -> CallerHistory:
    """caller.history from the caller's ended calls (the store's rows, newest first)."""
    calls = tuple(
        PreviousCall(
            row["call_id"],
            row["started_at"],
            row["intent"],
            row["disposition"],
            row["resolved"],
            row["summary_line"],
        )
        for row in rows[:MAX_HISTORY_CALLS]
    )
    return CallerHistory(caller, calls, repeat_contact=False)


def since_iso(days: float, now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)) - timedelta(days=days)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
