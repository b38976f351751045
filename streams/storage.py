"""What the hub, the pages and retention ask of a store, whichever engine keeps it.

Two engines: SQLite in the data directory (`streams.store`, the default: nothing to
install) and PostgreSQL (`streams.postgres`, `[store] url = "postgresql://..."`, for
several nodes). Both give the same answers to the same calls; the contract tests in
tests/streams/test_store_contract.py run against each.

Numbers are the store's: `append` gives the event the call's next `seq` (and, for an
alert-feed event, the feed's next `feed_seq`) in the same transaction that stores it.
So two nodes that ever write the same call (a platform that reconnects to another
node while the first still holds its socket) can never give one number twice, and an
event's number is never seen before the event is durable.

Blocking methods run on the engine's own connections. The hub calls `append` on the
event loop when `inline` (SQLite: a local write, well under a millisecond), else on a
writer thread of its own; the short reads are for call start and tests; the long ones
are async and page through results off the loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from streams.errors import StreamsError


class StoreUnavailable(StreamsError):
    """The store refused or failed a write or read (disk full, server down): the hub keeps
    events in memory meanwhile and tries again. The message names no password."""


class CallNotFound(StreamsError):
    """Erasure: no call with this id is stored."""

    def __init__(self, call_id: str) -> None:
        super().__init__(f"no call {call_id!r} is stored")
        self.call_id = call_id


class CallIsLive(StreamsError):
    """Erasure: the call is still live; it can be erased once it has ended."""

    def __init__(self, call_id: str) -> None:
        super().__init__(f"call {call_id!r} is live: erase it once it has ended")
        self.call_id = call_id


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure or a purge removed: ids and counts, never what was said."""

    call_ids: tuple[str, ...]
    events: int  # event rows deleted
    feed_rows: int  # alert-feed rows deleted
    # False: the engine could not yet give the erased space back (SQLite: readers kept
    # the WAL busy); `reclaim` is tried again later, and the log says so.
    wal_truncated: bool


@dataclass(frozen=True, slots=True)
class CallOpened:
    """A call.started opens (or reopens) the call's record, held by `node`."""

    protocol: str
    started_at: str
    metadata: str  # JSON
    node: str = ""
    caller: str = ""  # the caller's keyed hash (streams/callers.py); "" when not given


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What a call came to, in the columns that caller history and KPIs read."""

    intent: str | None = None
    disposition: str | None = None  # the draft's; the agent's replaces it (CallReviewed)
    resolved: bool | None = None
    cues: int = 0
    handovers: int = 0
    sentiment_start: float | None = None  # the customer's first segments
    sentiment_end: float | None = None  # and last
    summary_line: str = ""
    repeat_contact: bool = False  # an unresolved call of the same caller and intent came first


@dataclass(frozen=True, slots=True)
class CallClosed:
    """A call.ended closes it."""

    ended_at: str
    reason: str
    duration_s: float
    facts: CallFacts | None = None  # None: nobody knows (a call closed after a crash)


@dataclass(frozen=True, slots=True)
class CallReviewed:
    """A wrapup.accepted: the agent's disposition, and the after-call work it took."""

    disposition: str
    resolved: bool | None
    acw_s: float
    edited: bool


CallStatus = CallOpened | CallClosed | CallReviewed
FACT_COLUMNS = (
    "call_id",
    "started_at",
    "ended_at",
    "duration_s",
    "intent",
    "disposition",
    "resolved",
    "cues",
    "handovers",
    "sentiment_start",
    "sentiment_end",
    "summary_line",
    "repeat_contact",
    "acw_s",
    "wrapup_edited",
)
# The event's text once its numbers are known: (seq, feed_seq or None) -> JSON.
Encode = Callable[[int, int | None], str]


@dataclass(frozen=True, slots=True)
class Stored:
    """Where `append` put an event."""

    seq: int
    feed_seq: int | None  # None: not an alert-feed event


@dataclass(frozen=True, slots=True)
class LiveCall:
    call_id: str
    node: str  # the node that holds it ("" for records made before nodes were named)


class EventStore(Protocol):
    inline: bool  # True: append is quick enough for the event loop

    def close(self) -> None: ...

    # --- writes ---------------------------------------------------------------------------
    def append(
        self,
        call_id: str,
        event_type: str,
        encode: Encode,
        in_feed: bool = False,
        status: CallStatus | None = None,
    ) -> Stored:
        """Numbers and stores one event in one transaction, with the call's status change
        and, `in_feed`, its alert-feed row. Raises StoreUnavailable; stores nothing then."""
        ...

    def claim_call(self, call_id: str, from_node: str, to_node: str) -> bool:
        """Moves a live call from a dead node to this one; False if another got it first."""
        ...

    # --- short reads ------------------------------------------------------------------------
    def last_seq(self, call_id: str) -> int: ...

    def last_feed_seq(self) -> int:
        """The highest feed_seq ever given, erased rows included."""
        ...

    def audio_end_s(self, call_id: str) -> float:
        """Call-audio seconds a stored call already covers (0 for a new call)."""
        ...

    def call_exists(self, call_id: str) -> bool: ...

    def live_calls(self) -> list[LiveCall]: ...

    # --- long reads, off the event loop ------------------------------------------------------
    def iter_event_pages(
        self, call_id: str, since: int, upto: int, partials: bool = True
    ) -> AsyncIterator[list[tuple[int, str]]]:
        """Pages of (seq, text) after `since` up to `upto`."""
        ...

    def iter_feed_pages(self, since: int, upto: int) -> AsyncIterator[list[tuple[int, str]]]:
        """Pages of (feed_seq, text) of the alert feed after `since` up to `upto`."""
        ...

    async def list_calls(self, limit: int = 200) -> list[dict[str, Any]]:
        """Stored calls, newest first: call_id, protocol, status, started_at, ended_at,
        end_reason, duration_s, last_seq."""
        ...

    async def read_call(self, call_id: str) -> tuple[dict[str, Any], list[str]] | None:
        """A call's row (metadata decoded) and its events but partials, in seq order."""
        ...

    async def ended_calls(
        self, since_iso: str, caller: str | None = None, limit: int = 50_000
    ) -> list[dict[str, Any]]:
        """The FACT_COLUMNS of calls that ended at or after `since_iso` (of one caller's
        hash, when given), newest first."""
        ...

    # --- erasure: blocking, from a worker thread or a tool -------------------------------------
    def erase_call(self, call_id: str) -> Erasure:
        """Raises CallNotFound or CallIsLive."""
        ...

    def purge_ended_before(
        self, cutoff_iso: str, keep_going: Callable[[], bool] = lambda: True
    ) -> Erasure: ...

    def reclaim(self) -> bool:
        """Gives erased space back; False when it has to be tried again later."""
        ...
