"""Durable call storage in SQLite (WAL): every event is written before it is sent.

Events are written on the event loop through one connection (`Store`), each a short
transaction, so sequence order is storage order. Reads that can be long (a
backlog replay, a two-hour call's record) go through `StoreReader`: its own
connection per read, on its own small thread pool, in pages, so that no reader
ever stalls a live call.

WAL with synchronous=NORMAL survives a killed process (the OS keeps what was
written); set `synchronous_full` to survive power loss too, at some cost.

Erasure (`erase_call`, `purge_ended_before`) leaves nothing of a call on disk: every
connection that writes has `secure_delete` on (freed cells and pages are zeroed), a new
database is created with `auto_vacuum = INCREMENTAL` (freed pages go back to the file
system), and the WAL is checkpointed and truncated afterwards, so its old frames go too.
It runs on a connection of its own, from a worker thread (`streams.retention`) or a tool,
never on the event loop; see `_Eraser`. A database made before all this is rewritten
once at open (`_convert_for_erasure`). Out of reach here: copies below SQLite (file-system
journals and freed blocks, SSD wear levelling, backups, VACUUM's temporary file): keep
the data directory on encrypted storage.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from streams.errors import StreamsError
from streams.storage import (
    FACT_COLUMNS,
    CallClosed,
    CallFacts,
    CallIsLive,
    CallNotFound,
    CallOpened,
    CallReviewed,
    CallStatus,
    Encode,
    Erasure,
    LiveCall,
    Stored,
    StoreUnavailable,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_id     TEXT PRIMARY KEY,
    protocol    TEXT NOT NULL,
    status      TEXT NOT NULL,          -- 'live' or 'ended'
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    end_reason  TEXT,
    duration_s  REAL NOT NULL DEFAULT 0,
    last_seq    INTEGER NOT NULL DEFAULT 0,
    metadata    TEXT NOT NULL DEFAULT '{}',
    node        TEXT NOT NULL DEFAULT ''  -- the service node that holds a live call
    -- and FACTS (below), added to databases made before them
);
CREATE TABLE IF NOT EXISTS events (
    call_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    type    TEXT NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (call_id, seq)
) WITHOUT ROWID;
-- The supervisors' alert feed: one sequence over every call, so that a dashboard
-- that reconnects asks for what it missed (`/v1/alerts?since=`). The body carries
-- its feed_seq.
CREATE TABLE IF NOT EXISTS feed (
    feed_seq INTEGER PRIMARY KEY,
    call_id  TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    body     TEXT NOT NULL
);
-- Erasure deletes a call's feed rows by call id.
CREATE INDEX IF NOT EXISTS feed_by_call ON feed (call_id);
-- Numbers that must never go back when rows are erased: 'feed_seq', the highest feed_seq
-- ever given, so that an erased call's alerts never lend their feed_seq to a later alert
-- (a dashboard resuming with ?since= would skip that one).
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
# What a call came to, for caller history and KPIs (streams.storage.CallFacts), and the
# agent's review of it (CallReviewed): one column each, NULL where nobody knows.
FACTS = (
    ("caller", "TEXT NOT NULL DEFAULT ''"),
    ("intent", "TEXT"),
    ("disposition", "TEXT"),
    ("resolved", "INTEGER"),
    ("cues", "INTEGER NOT NULL DEFAULT 0"),
    ("handovers", "INTEGER NOT NULL DEFAULT 0"),
    ("sentiment_start", "REAL"),
    ("sentiment_end", "REAL"),
    ("summary_line", "TEXT NOT NULL DEFAULT ''"),
    ("repeat_contact", "INTEGER NOT NULL DEFAULT 0"),
    ("acw_s", "REAL"),
    ("wrapup_edited", "INTEGER"),
)
PAGE_EVENTS = 500  # rows per read: bounds a replay's memory and each thread hop
READ_THREADS = 1  # long reads queue here, never on the threads live calls use
# The erasing connection waits this long for the write lock; the loop holds it for one
# event's transaction at a time (well under a millisecond), a tool's purge one call's.
ERASE_BUSY_TIMEOUT_S = 10.0
CHECKPOINT_TRIES = 6  # wal_checkpoint(TRUNCATE) attempts while readers keep the WAL busy
CHECKPOINT_FIRST_PAUSE_S = 0.05  # doubles after each busy attempt: 1.55 s of pauses in all
VACUUM_STEP_PAGES = 256  # pages one incremental_vacuum transaction frees (1 MiB at 4 KiB)
AUTO_VACUUM_INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL

T = TypeVar("T")
log = logging.getLogger(__name__)


class Store:
    """The embedded engine (streams.storage.EventStore): one file, one process."""

    inline = True  # a local write: appends run on the event loop

    def __init__(self, path: Path, *, synchronous_full: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        _prepare_erasure(self._db)  # before anything creates a table: auto_vacuum needs that
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if synchronous_full else 'NORMAL'}")
        self._db.executescript(_SCHEMA)
        _add_missing_columns(self._db)
        _convert_for_erasure(self._db, path)
        self.reader = StoreReader(path)
        self._eraser = _Eraser(path)

    def close(self) -> None:
        self.reader.close()
        self._eraser.close()
        self._db.close()

    # --- erasure: blocking (waits for the write lock and for readers), so call these
    # from a worker thread (streams.retention does) or a tool, never on the event loop ---
    def erase_call(self, call_id: str) -> Erasure:
        """Deletes the call's events, alert-feed rows and record in one transaction, then
        reclaims the space and truncates the WAL. Raises CallNotFound or CallIsLive."""
        events, feed_rows = self._eraser.erase(call_id)
        truncated = self._eraser.reclaim()
        return Erasure((call_id,), events, feed_rows, truncated)

    def purge_ended_before(
        self, cutoff_iso: str, keep_going: Callable[[], bool] = lambda: True
    ) -> Erasure:
        """Erases every call that ended before `cutoff_iso` (the events' own ISO 8601 UTC
        form, e.g. 2026-01-01T00:00:00.000Z), one call per transaction so that live
        events are written in between; live calls are never touched. Stops early, between
        calls, once `keep_going()` is False; reclaims the space once, at the end."""
        purged: list[str] = []
        events = feed_rows = 0
        for call_id in self._eraser.ended_before(cutoff_iso):
            if not keep_going():
                break
            try:
                removed = self._eraser.erase(call_id, ended_before=cutoff_iso)
            except (CallNotFound, CallIsLive):
                continue  # resumed or erased since the list was read
            purged.append(call_id)
            events, feed_rows = events + removed[0], feed_rows + removed[1]
        truncated = self._eraser.reclaim()  # also when none: a WAL left behind goes now
        return Erasure(tuple(purged), events, feed_rows, truncated)

    def reclaim(self) -> bool:
        """Checkpoints the whole WAL into the database and truncates it to nothing; False
        when readers kept it busy through every retry."""
        return self._eraser.truncate_wal()

    # --- writes -----------------------------------------------------------------------
    def append(
        self,
        call_id: str,
        event_type: str,
        encode: Encode,
        in_feed: bool = False,
        status: CallStatus | None = None,
    ) -> Stored:
        try:
            return self._append(call_id, event_type, encode, in_feed, status)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc

    def _append(
        self,
        call_id: str,
        event_type: str,
        encode: Encode,
        in_feed: bool,
        status: CallStatus | None,
    ) -> Stored:
        with self._db:
            # IMMEDIATE: the write lock first, waiting for it as long as the busy timeout
            # allows; a deferred one would read the call's last seq, then fail at once when
            # an eraser's write meanwhile made its snapshot stale (SQLITE_BUSY_SNAPSHOT)
            self._db.execute("BEGIN IMMEDIATE")
            if isinstance(status, CallOpened):
                self._db.execute(
                    "INSERT INTO calls (call_id, protocol, status, started_at, metadata, node, "
                    "caller) VALUES (?, ?, 'live', ?, ?, ?, ?) ON CONFLICT(call_id) DO UPDATE "
                    "SET status='live', ended_at=NULL, end_reason=NULL, node=excluded.node",
                    (
                        call_id,
                        status.protocol,
                        status.started_at,
                        status.metadata,
                        status.node,
                        status.caller,
                    ),
                )
            seq = self.last_seq(call_id) + 1
            feed_seq = self.last_feed_seq() + 1 if in_feed else None
            text = encode(seq, None)
            self._db.execute(
                "INSERT INTO events (call_id, seq, type, body) VALUES (?, ?, ?, ?)",
                (call_id, seq, event_type, text),
            )
            self._db.execute("UPDATE calls SET last_seq=? WHERE call_id=?", (seq, call_id))
            if isinstance(status, CallClosed):
                self._db.execute(
                    "UPDATE calls SET status='ended', ended_at=?, end_reason=?, duration_s=? "
                    "WHERE call_id=?",
                    (status.ended_at, status.reason, status.duration_s, call_id),
                )
                if status.facts is not None:
                    self._db.execute(FACTS_UPDATE, (*facts_row(status.facts), call_id))
            if isinstance(status, CallReviewed):
                self._db.execute(REVIEW_UPDATE, (*review_row(status), call_id))
            if feed_seq is not None:
                self._db.execute(
                    "INSERT INTO feed (feed_seq, call_id, seq, body) VALUES (?, ?, ?, ?)",
                    (feed_seq, call_id, seq, encode(seq, feed_seq)),
                )
            return Stored(seq, feed_seq)

    def claim_call(self, call_id: str, from_node: str, to_node: str) -> bool:
        cursor = self._db.execute(
            "UPDATE calls SET node=? WHERE call_id=? AND node=? AND status='live'",
            (to_node, call_id, from_node),
        )
        return cursor.rowcount == 1

    # --- short reads (indexed, one row): fine on the event loop ---------------------------
    def last_seq(self, call_id: str) -> int:
        row = self._db.execute("SELECT MAX(seq) FROM events WHERE call_id=?", (call_id,)).fetchone()
        return int(row[0] or 0)

    def last_feed_seq(self) -> int:
        """The highest feed_seq ever given, erased rows included (see `counters`)."""
        row = self._db.execute(
            "SELECT MAX(COALESCE((SELECT MAX(feed_seq) FROM feed), 0), "
            "COALESCE((SELECT value FROM counters WHERE name='feed_seq'), 0))"
        ).fetchone()
        return int(row[0] or 0)

    def audio_end_s(self, call_id: str) -> float:
        """Call-audio seconds a stored call already covers (0 for a new call)."""
        row = self._db.execute(
            "SELECT MAX(COALESCE((SELECT duration_s FROM calls WHERE call_id=?), 0), "
            "COALESCE(MAX(json_extract(body, '$.t_end')), 0)) "
            "FROM events WHERE call_id=? AND type='transcript.final'",
            (call_id, call_id),
        ).fetchone()
        return float(row[0] or 0.0)

    def call_row(self, call_id: str) -> dict[str, Any] | None:
        return _call_row(self._db, call_id)

    def call_exists(self, call_id: str) -> bool:
        return (
            self._db.execute("SELECT 1 FROM calls WHERE call_id=?", (call_id,)).fetchone()
            is not None
        )

    def live_calls(self) -> list[LiveCall]:
        rows = self._db.execute("SELECT call_id, node FROM calls WHERE status='live'")
        return [LiveCall(str(call_id), str(node)) for call_id, node in rows]

    # --- long reads, in the reader's thread ------------------------------------------------
    def iter_event_pages(
        self, call_id: str, since: int, upto: int, partials: bool = True
    ) -> AsyncIterator[list[tuple[int, str]]]:
        return self.reader.iter_event_pages(call_id, since, upto, partials)

    def iter_feed_pages(self, since: int, upto: int) -> AsyncIterator[list[tuple[int, str]]]:
        return self.reader.iter_feed_pages(since, upto)

    async def list_calls(self, limit: int = 200) -> list[dict[str, Any]]:
        return await self.reader.read(partial(read_calls, limit=limit))

    async def read_call(self, call_id: str) -> tuple[dict[str, Any], list[str]] | None:
        return await self.reader.read(partial(read_call, call_id=call_id))

    async def ended_calls(
        self, since_iso: str, caller: str | None = None, limit: int = 50_000
    ) -> list[dict[str, Any]]:
        return await self.reader.read(
            partial(read_ended, since_iso=since_iso, caller=caller, limit=limit)
        )

    # --- whole reads, synchronous: for tests, tools and the reader's threads -------------
    def events_after(
        self, call_id: str, since: int, *, partials: bool = True
    ) -> list[tuple[int, str]]:
        return [
            row for page in _event_pages(self._db, call_id, since, None, partials) for row in page
        ]


class StoreReader:
    """Long reads on their own connections and threads, in pages."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="store-read")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def iter_event_pages(
        self, call_id: str, since: int, upto: int, partials: bool = True
    ) -> AsyncIterator[list[tuple[int, str]]]:
        """Pages of (seq, body) after `since` up to `upto`, each read in a worker thread."""
        after = since
        while after < upto:
            page = await self._run(
                partial(_event_page, call_id=call_id, after=after, upto=upto, partials=partials)
            )
            if not page:
                return
            yield page
            after = page[-1][0]

    async def iter_feed_pages(self, since: int, upto: int) -> AsyncIterator[list[tuple[int, str]]]:
        """Pages of (feed_seq, body) of the alert feed after `since` up to `upto`."""
        after = since
        while after < upto:
            page = await self._run(partial(_feed_page, after=after, upto=upto))
            if not page:
                return
            yield page
            after = page[-1][0]

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Runs `work` on a connection of its own in a reader thread."""
        return await self._run(work)

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._with_connection, work)

    def _with_connection(self, work: Callable[[sqlite3.Connection], T]) -> T:
        uri = f"{self._path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as db:
            return work(db)


class _Eraser:
    """Erasure's own connection, used by one thread at a time (the lock).

    Why not the loop's connection: SQLite has one writer at a time whichever connection
    writes, so a delete blocks the loop's next event for as long as its transaction holds
    the write lock either way; but on a connection of its own, in a thread, the loop waits
    only if it writes meanwhile, and never for the rest: reading which calls are due, the
    vacuum's steps, the checkpoint's fsync and its pauses while readers finish. The loop's
    connection waits for the lock (sqlite3's default busy timeout, 5 s), and so does this
    one, so a tool in another process works the same way while the service runs. Each
    transaction is one call, and each vacuum step VACUUM_STEP_PAGES pages, so the write
    lock is never held for long (see the erase timing in tests/streams/test_retention.py).
    """

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=ERASE_BUSY_TIMEOUT_S
        )
        _prepare_erasure(self._db)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def ended_before(self, cutoff_iso: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT call_id FROM calls WHERE status='ended' AND ended_at < ? ORDER BY ended_at",
                (cutoff_iso,),
            )
            return [str(call_id) for (call_id,) in rows]

    def erase(self, call_id: str, ended_before: str | None = None) -> tuple[int, int]:
        """(events, feed rows) deleted with the call's record, in one transaction; the
        status is read inside it, so a call cannot turn live half-way."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")  # the write lock now: no upgrade deadlock
            row = self._db.execute(
                "SELECT status, ended_at FROM calls WHERE call_id=?", (call_id,)
            ).fetchone()
            if row is None and not self._has_rows(call_id):
                raise CallNotFound(call_id)
            status, ended_at = row or ("ended", None)  # rows without a record: erase them too
            due = ended_before is None or (ended_at is not None and ended_at < ended_before)
            if status != "ended" or not due:
                raise CallIsLive(call_id)
            self._db.execute(
                "INSERT INTO counters (name, value) SELECT 'feed_seq', COALESCE(MAX(feed_seq), 0) "
                "FROM feed WHERE true ON CONFLICT(name) DO UPDATE SET "
                "value=MAX(value, excluded.value)"
            )
            events = self._db.execute("DELETE FROM events WHERE call_id=?", (call_id,)).rowcount
            feed = self._db.execute("DELETE FROM feed WHERE call_id=?", (call_id,)).rowcount
            self._db.execute("DELETE FROM calls WHERE call_id=?", (call_id,))
            return events, feed

    def _has_rows(self, call_id: str) -> bool:
        return any(
            self._db.execute(
                f"SELECT 1 FROM {table} WHERE call_id=? LIMIT 1", (call_id,)
            ).fetchone()
            for table in ("events", "feed")
        )

    def reclaim(self) -> bool:
        """Gives freed pages back to the file system, then truncates the WAL."""
        with self._lock:
            self._vacuum()
        return self.truncate_wal()

    def _vacuum(self) -> None:
        """In steps, each its own short write transaction; nothing on a database that could
        not be converted (its freed pages are zeroed and reused instead)."""
        if _auto_vacuum(self._db) != AUTO_VACUUM_INCREMENTAL:
            return
        free = _freelist_count(self._db)
        while free:
            # executescript steps it to the end; execute() would free one page only
            self._db.executescript(f"PRAGMA incremental_vacuum({VACUUM_STEP_PAGES});")
            free, before = _freelist_count(self._db), free
            if free >= before:
                return  # nothing moved: never spin

    def truncate_wal(self) -> bool:
        """wal_checkpoint(TRUNCATE) without a busy handler: waiting for readers inside it
        would hold the write lock all the while, so each attempt gives up at once and the
        pause happens with no lock held."""
        pause_s = CHECKPOINT_FIRST_PAUSE_S
        with self._lock:
            self._db.execute("PRAGMA busy_timeout=0")
            try:
                for attempt in range(1, CHECKPOINT_TRIES + 1):
                    if self._checkpoint():
                        return True
                    if attempt < CHECKPOINT_TRIES:
                        log.debug("WAL checkpoint busy (attempt %d): retrying", attempt)
                        time.sleep(pause_s)
                        pause_s *= 2
            finally:
                self._db.execute(f"PRAGMA busy_timeout={int(ERASE_BUSY_TIMEOUT_S * 1000)}")
        log.warning(
            "erasure: readers kept the WAL busy through %d checkpoint attempts; "
            "it still holds erased pages until a later checkpoint truncates it",
            CHECKPOINT_TRIES,
        )
        return False

    def _checkpoint(self) -> bool:
        try:
            busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError:  # SQLITE_BUSY/LOCKED: another checkpoint or writer
            return False
        return int(busy) == 0


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Databases made before nodes were named, or before the facts, get the columns (a
    one-off, instant), and the index caller history reads by."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(calls)")}
    for name, kind in (("node", "TEXT NOT NULL DEFAULT ''"), *FACTS):
        if name not in columns:
            db.execute(f"ALTER TABLE calls ADD COLUMN {name} {kind}")
    db.execute("CREATE INDEX IF NOT EXISTS calls_by_caller ON calls (caller, ended_at)")
    db.execute("CREATE INDEX IF NOT EXISTS calls_by_end ON calls (ended_at)")


def _prepare_erasure(db: sqlite3.Connection) -> None:
    """secure_delete on this connection, and auto_vacuum for a database not created yet
    (on an existing one it only takes effect after a VACUUM)."""
    db.execute("PRAGMA auto_vacuum=INCREMENTAL")
    (secure,) = db.execute("PRAGMA secure_delete=ON").fetchone()
    if int(secure) != 1:
        raise StreamsError("this SQLite cannot zero deleted content (PRAGMA secure_delete)")


def _convert_for_erasure(db: sqlite3.Connection, path: Path) -> None:
    """A database made before erasure gets a one-off VACUUM at open: space it freed without
    secure_delete (the default of most SQLite builds) keeps stale copies of text, which
    only a rewrite of every page removes, and only a VACUUM turns auto_vacuum on. It runs
    before the service listens, holds the write lock while it runs (2.5 s for 120 MB on
    a 2-core machine) and needs the file's size again in free space (a temporary file and
    the WAL). A failure is logged and the service runs on, its erasures then incomplete
    for text written before."""
    if _auto_vacuum(db) == AUTO_VACUUM_INCREMENTAL:
        return
    size_mb = path.stat().st_size / 1e6
    log.warning("%s predates erasure: rewriting it once (VACUUM, %.0f MB)", path, size_mb)
    started_s = time.monotonic()
    try:
        db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        log.error(
            "%s could not be rewritten (%s): erasure may leave fragments of text written "
            "before; free some space and restart",
            path,
            exc,
        )
        return
    log.warning("%s rewritten in %.1f s", path, time.monotonic() - started_s)


def _auto_vacuum(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA auto_vacuum").fetchone()[0])


def _freelist_count(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA freelist_count").fetchone()[0])


# --- queries shared by the writer and the readers ---------------------------------------
def _call_row(db: sqlite3.Connection, call_id: str) -> dict[str, Any] | None:
    cursor = db.execute(
        "SELECT call_id, protocol, status, started_at, ended_at, end_reason, duration_s, "
        "last_seq, metadata, node FROM calls WHERE call_id=?",
        (call_id,),
    )
    row = cursor.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cursor.description]
    record = dict(zip(names, row, strict=True))
    record["metadata"] = json.loads(record["metadata"])
    return record


def _event_page(
    db: sqlite3.Connection, call_id: str, after: int, upto: int | None, partials: bool
) -> list[tuple[int, str]]:
    skip = "" if partials else " AND type!='transcript.partial'"
    rows = db.execute(
        f"SELECT seq, body FROM events WHERE call_id=? AND seq>? AND seq<=?{skip} "
        "ORDER BY seq LIMIT ?",
        (call_id, after, upto if upto is not None else 2**62, PAGE_EVENTS),
    )
    return [(int(seq), str(body)) for seq, body in rows]


def _event_pages(
    db: sqlite3.Connection, call_id: str, after: int, upto: int | None, partials: bool
) -> Iterator[list[tuple[int, str]]]:
    while page := _event_page(db, call_id, after, upto, partials):
        yield page
        after = page[-1][0]


def _feed_page(db: sqlite3.Connection, after: int, upto: int) -> list[tuple[int, str]]:
    rows = db.execute(
        "SELECT feed_seq, body FROM feed WHERE feed_seq>? AND feed_seq<=? ORDER BY feed_seq "
        "LIMIT ?",
        (after, upto, PAGE_EVENTS),
    )
    return [(int(seq), str(body)) for seq, body in rows]


FACTS_UPDATE = (
    "UPDATE calls SET intent=?, disposition=?, resolved=?, cues=?, handovers=?, "
    "sentiment_start=?, sentiment_end=?, summary_line=?, repeat_contact=? WHERE call_id=?"
)
REVIEW_UPDATE = (
    "UPDATE calls SET disposition=?, resolved=?, acw_s=?, wrapup_edited=? WHERE call_id=?"
)


def facts_row(facts: CallFacts) -> tuple[Any, ...]:
    """CallFacts in FACTS_UPDATE's order (both engines)."""
    return (
        facts.intent,
        facts.disposition,
        facts.resolved,
        facts.cues,
        facts.handovers,
        facts.sentiment_start,
        facts.sentiment_end,
        facts.summary_line,
        facts.repeat_contact,
    )


def review_row(review: CallReviewed) -> tuple[Any, ...]:
    return (review.disposition, review.resolved, review.acw_s, review.edited)


def read_ended(
    db: sqlite3.Connection, since_iso: str, caller: str | None, limit: int
) -> list[dict[str, Any]]:
    where = "status='ended' AND ended_at>=?" + (" AND caller=?" if caller is not None else "")
    args: tuple[Any, ...] = (since_iso, caller) if caller is not None else (since_iso,)
    cursor = db.execute(
        f"SELECT {', '.join(FACT_COLUMNS)} FROM calls WHERE {where} ORDER BY ended_at DESC LIMIT ?",
        (*args, limit),
    )
    return [_typed_facts(dict(zip(FACT_COLUMNS, row, strict=True))) for row in cursor]


def _typed_facts(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite keeps booleans as 0/1 (PostgreSQL as booleans): one shape for both."""
    for name in ("resolved", "repeat_contact", "wrapup_edited"):
        if row[name] is not None:
            row[name] = bool(row[name])
    return row


def read_calls(db: sqlite3.Connection, limit: int = 200) -> list[dict[str, Any]]:
    cursor = db.execute(
        "SELECT call_id, protocol, status, started_at, ended_at, end_reason, duration_s, "
        "last_seq, node FROM calls ORDER BY started_at DESC LIMIT ?",
        (limit,),
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def read_call(db: sqlite3.Connection, call_id: str) -> tuple[dict[str, Any], list[str]] | None:
    """A stored call's row and the bodies of its events, partials left out, in seq order."""
    row = _call_row(db, call_id)
    if row is None:
        return None
    bodies = [
        body for page in _event_pages(db, call_id, 0, None, partials=False) for _, body in page
    ]
    return row, bodies
