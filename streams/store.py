"""Durable call storage in SQLite (WAL): every event is written before it is sent.

Writes happen on the event loop through one connection (`Store`), each a short
transaction, so sequence order is storage order. Reads that can be long (a
backlog replay, a two-hour call's record) go through `StoreReader`: its own
connection per read, on its own small thread pool, in pages, so that no reader
ever stalls a live call.

WAL with synchronous=NORMAL survives a killed process (the OS keeps what was
written); set `synchronous_full` to survive power loss too, at some cost.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

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
    metadata    TEXT NOT NULL DEFAULT '{}'
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
"""
PAGE_EVENTS = 500  # rows per read: bounds a replay's memory and each thread hop
READ_THREADS = 1  # long reads queue here, never on the threads live calls use

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CallOpened:
    """A call.started opens (or reopens) the call's record."""

    protocol: str
    started_at: str
    metadata: str  # JSON


@dataclass(frozen=True, slots=True)
class CallClosed:
    """A call.ended closes it."""

    ended_at: str
    reason: str
    duration_s: float


CallStatus = CallOpened | CallClosed


class Store:
    def __init__(self, path: Path, *, synchronous_full: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if synchronous_full else 'NORMAL'}")
        self._db.executescript(_SCHEMA)
        self.reader = StoreReader(path)

    def close(self) -> None:
        self.reader.close()
        self._db.close()

    # --- writes -----------------------------------------------------------------------
    def append(
        self,
        call_id: str,
        seq: int,
        event_type: str,
        body: str,
        feed: Callable[[int], str] | None = None,
        status: CallStatus | None = None,
    ) -> int | None:
        """Stores one event in one transaction, with what goes with it: the call's status
        change (`status`: a call.started opens the record, a call.ended closes it) and,
        with `feed` (the event's text given its feed_seq), its place in the alert feed,
        whose feed_seq it returns. Raises sqlite3.Error and stores nothing on failure."""
        with self._db:
            self._db.execute("BEGIN")
            if isinstance(status, CallOpened):
                self._db.execute(
                    "INSERT INTO calls (call_id, protocol, status, started_at, metadata) "
                    "VALUES (?, ?, 'live', ?, ?) ON CONFLICT(call_id) DO UPDATE SET "
                    "status='live', ended_at=NULL, end_reason=NULL",
                    (call_id, status.protocol, status.started_at, status.metadata),
                )
            self._db.execute(
                "INSERT INTO events (call_id, seq, type, body) VALUES (?, ?, ?, ?)",
                (call_id, seq, event_type, body),
            )
            self._db.execute("UPDATE calls SET last_seq=? WHERE call_id=?", (seq, call_id))
            if isinstance(status, CallClosed):
                self._db.execute(
                    "UPDATE calls SET status='ended', ended_at=?, end_reason=?, duration_s=? "
                    "WHERE call_id=?",
                    (status.ended_at, status.reason, status.duration_s, call_id),
                )
            if feed is None:
                return None
            feed_seq = self.last_feed_seq() + 1
            self._db.execute(
                "INSERT INTO feed (feed_seq, call_id, seq, body) VALUES (?, ?, ?, ?)",
                (feed_seq, call_id, seq, feed(feed_seq)),
            )
            return feed_seq

    # --- short reads (indexed, one row): fine on the event loop ---------------------------
    def last_seq(self, call_id: str) -> int:
        row = self._db.execute("SELECT MAX(seq) FROM events WHERE call_id=?", (call_id,)).fetchone()
        return int(row[0] or 0)

    def last_feed_seq(self) -> int:
        row = self._db.execute("SELECT MAX(feed_seq) FROM feed").fetchone()
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

    def live_call_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT call_id FROM calls WHERE status='live'")]

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


# --- queries shared by the writer and the readers ---------------------------------------
def _call_row(db: sqlite3.Connection, call_id: str) -> dict[str, Any] | None:
    cursor = db.execute("SELECT * FROM calls WHERE call_id=?", (call_id,))
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


def read_calls(db: sqlite3.Connection, limit: int = 200) -> list[dict[str, Any]]:
    cursor = db.execute(
        "SELECT call_id, protocol, status, started_at, ended_at, end_reason, duration_s, "
        "last_seq FROM calls ORDER BY started_at DESC LIMIT ?",
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
