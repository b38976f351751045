"""Call storage in PostgreSQL, shared by several nodes (streams.storage.EventStore).

The same tables and the same answers as the SQLite store (streams/store.py); what differs
is that other nodes write too. Numbers are given under row locks held until commit: a
call's seq under its `calls` row, the alert feed's feed_seq under its `counters` row,
always in that order, so appends cannot deadlock one another. So two nodes writing one
call never give a number twice, and feed_seq commit order is number order: a node that
sees feed_seq n+1 on the bus can read n from the store.

Connections: one for appends and claims (the hub's writer thread, but claims come from
other threads, hence a lock), and a small pool for the short reads, erasure and the long
reads, which page through results on reader threads of their own. A connection the server
dropped is replaced by the next call: meanwhile an append raises StoreUnavailable and the
hub keeps the event to try again; a pooled connection is checked before each use.

Migrations: MIGRATIONS is an ordered list of steps and `schema_version` has a row per step
applied. At open, a node applies the steps the database lacks, each in a transaction of
its own under an advisory lock, reading the version again under the lock, so nodes that
start together apply each step once. A later version appends a step and never edits one
that has shipped. Nodes of two versions run side by side during a rolling upgrade, so a
step only adds (a table, an index, a column with a default); one that drops what older
code still uses waits for a later release. A node that knows fewer steps than the database
has runs on.

Erasure (`erase_call`, `purge_ended_before`) deletes a call's rows in one transaction
and then VACUUMs (`reclaim`). What remains on disk: deleted rows stay in their pages (and
their index and TOAST entries) as dead tuples until that VACUUM, which makes the space
reusable without zeroing it, so the bytes last until new rows overwrite them or the pages
are cut off the end of the file; the WAL holds every event written until its segments are
recycled, and archived WAL, replicas and backups keep their own copies. VACUUM FULL would
rewrite the tables but locks out appends while it runs, so it is left to maintenance
windows. Keep the server's data directory, WAL and backups on encrypted storage.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from streams.backends import safe_url
from streams.storage import (
    FACT_COLUMNS,
    CallClosed,
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
from streams.store import FACTS_UPDATE, PAGE_EVENTS, REVIEW_UPDATE, facts_row, review_row

Connection = psycopg.Connection[TupleRow]
T = TypeVar("T")
log = logging.getLogger(__name__)

# Timestamps are the ISO 8601 text the hub writes, compared and sorted as strings; the "C"
# collation compares bytes, as SQLite does, whatever locale the database was made with.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE calls (
        call_id     TEXT PRIMARY KEY,
        protocol    TEXT NOT NULL,
        status      TEXT NOT NULL,          -- 'live' or 'ended'
        started_at  TEXT COLLATE "C" NOT NULL,
        ended_at    TEXT COLLATE "C",
        end_reason  TEXT,
        duration_s  DOUBLE PRECISION NOT NULL DEFAULT 0,
        last_seq    BIGINT NOT NULL DEFAULT 0,
        metadata    TEXT NOT NULL DEFAULT '{}',  -- JSON, kept as the hub wrote it
        node        TEXT NOT NULL DEFAULT ''     -- the service node that holds a live call
    );
    CREATE INDEX calls_by_start ON calls (started_at);
    CREATE INDEX calls_ended ON calls (ended_at) WHERE status = 'ended';
    CREATE INDEX calls_live ON calls (call_id) WHERE status = 'live';
    CREATE TABLE events (
        call_id TEXT NOT NULL,
        seq     BIGINT NOT NULL,
        type    TEXT NOT NULL,
        body    TEXT NOT NULL,
        PRIMARY KEY (call_id, seq)
    );
    CREATE TABLE feed (
        feed_seq BIGINT PRIMARY KEY,
        call_id  TEXT NOT NULL,
        seq      BIGINT NOT NULL,
        body     TEXT NOT NULL
    );
    CREATE INDEX feed_by_call ON feed (call_id);
    -- 'feed_seq': the highest feed_seq ever given; erasure never lowers it
    CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value BIGINT NOT NULL
    );
    INSERT INTO counters (name, value) VALUES ('feed_seq', 0);
    """,
    # What a call came to, for caller history and KPIs (streams.storage.CallFacts)
    """
    ALTER TABLE calls
        ADD COLUMN caller          TEXT NOT NULL DEFAULT '',
        ADD COLUMN intent          TEXT,
        ADD COLUMN disposition     TEXT,
        ADD COLUMN resolved        BOOLEAN,
        ADD COLUMN cues            INTEGER NOT NULL DEFAULT 0,
        ADD COLUMN handovers       INTEGER NOT NULL DEFAULT 0,
        ADD COLUMN sentiment_start DOUBLE PRECISION,
        ADD COLUMN sentiment_end   DOUBLE PRECISION,
        ADD COLUMN summary_line    TEXT NOT NULL DEFAULT '',
        ADD COLUMN repeat_contact  BOOLEAN NOT NULL DEFAULT FALSE,
        ADD COLUMN acw_s           DOUBLE PRECISION,
        ADD COLUMN wrapup_edited   BOOLEAN;
    CREATE INDEX calls_by_caller ON calls (caller, ended_at);
    """,
)
MIGRATION_LOCK = 0x43_41_4C_4C_53_43_48_4D  # bigint advisory-lock key held while migrating
# Two-key advisory locks (a key space apart from the bigint one): (this, hash of call_id)
# numbers the events of a call that has no record to lock.
CALL_LOCK_CLASS = 0x43_41_4C_4C
# Every connection's libpq parameters: a server that went silent (a network gone, not a
# restart) is noticed in about 20 s of keepalives, not the OS's two hours.
CONNECTION_PARAMS: dict[str, Any] = {
    "autocommit": True,
    "connect_timeout": 5,  # whole seconds
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 2,
}
# A node whose network died mid-append holds its call's row lock until the server notices;
# meanwhile an append of another node to that call fails after LOCK_WAIT_S (the hub tries
# it again) instead of waiting, and the server ends a transaction left idle for
# IDLE_IN_TRANSACTION_S, freeing its locks. Ours last milliseconds.
LOCK_WAIT_S = 5.0
IDLE_IN_TRANSACTION_S = 10.0
POOL_MIN, POOL_MAX = 1, 4  # the loop's short reads, READ_THREADS readers, one more
# A read waits this long for a pooled connection, then fails: the loop makes the short
# reads, so a server that is away stalls it this long per read at most.
POOL_WAIT_S = 0.5
# The pool gives up re-making a lost connection after this long and starts again at the
# next read, so its backoff never grows past a few seconds once the server is back.
POOL_RECONNECT_S = 5.0
READ_THREADS = 2  # long reads queue here, never on the hub's writer thread


class PostgresStore:
    """The shared engine (streams.storage.EventStore): one database, several nodes."""

    inline = False  # a network round trip per statement: appends run on a writer thread

    def __init__(self, url: str) -> None:
        """Raises StoreUnavailable when the server cannot be reached or the tables made."""
        self._url = url
        self._where = safe_url(url)
        self._writer_lock = threading.Lock()
        self._writer: Connection | None = None
        try:
            with psycopg.connect(url, **CONNECTION_PARAMS) as db:
                _migrate(db)  # on a connection of its own: waits for other nodes' steps
            self._writer = self._connect()
            self._pool = self._open_pool()
        except psycopg.Error as exc:
            if self._writer is not None:
                self._writer.close()
            reason = _reason(exc, url)
            raise StoreUnavailable(f"cannot reach the store at {self._where}: {reason}") from None
        self._readers = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="store-read")

    def close(self) -> None:
        self._readers.shutdown(wait=False, cancel_futures=True)
        self._pool.close()
        with self._writer_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    # --- writes -----------------------------------------------------------------------
    def append(
        self,
        call_id: str,
        event_type: str,
        encode: Encode,
        in_feed: bool = False,
        status: CallStatus | None = None,
    ) -> Stored:
        with self._writing() as db, db.transaction():
            if isinstance(status, CallOpened):
                db.execute(
                    "INSERT INTO calls (call_id, protocol, status, started_at, metadata, node, "
                    "caller) VALUES (%s, %s, 'live', %s, %s, %s, %s) ON CONFLICT (call_id) DO "
                    "UPDATE SET status = 'live', ended_at = NULL, end_reason = NULL, "
                    "node = EXCLUDED.node",
                    (
                        call_id,
                        status.protocol,
                        status.started_at,
                        status.metadata,
                        status.node,
                        status.caller,
                    ),
                )
            seq = _next_seq(db, call_id)
            feed_seq = _next_feed_seq(db) if in_feed else None
            db.execute(
                "INSERT INTO events (call_id, seq, type, body) VALUES (%s, %s, %s, %s)",
                (call_id, seq, event_type, encode(seq, None)),
            )
            if isinstance(status, CallClosed):
                db.execute(
                    "UPDATE calls SET status = 'ended', ended_at = %s, end_reason = %s, "
                    "duration_s = %s WHERE call_id = %s",
                    (status.ended_at, status.reason, status.duration_s, call_id),
                )
                if status.facts is not None:
                    db.execute(_placeholders(FACTS_UPDATE), (*facts_row(status.facts), call_id))
            if isinstance(status, CallReviewed):
                db.execute(_placeholders(REVIEW_UPDATE), (*review_row(status), call_id))
            if feed_seq is not None:
                db.execute(
                    "INSERT INTO feed (feed_seq, call_id, seq, body) VALUES (%s, %s, %s, %s)",
                    (feed_seq, call_id, seq, encode(seq, feed_seq)),
                )
            return Stored(seq, feed_seq)

    def claim_call(self, call_id: str, from_node: str, to_node: str) -> bool:
        with self._writing() as db:
            cursor = db.execute(
                "UPDATE calls SET node = %s WHERE call_id = %s AND node = %s AND status = 'live'",
                (to_node, call_id, from_node),
            )
            return cursor.rowcount == 1

    # --- short reads: one indexed query each ----------------------------------------------
    def last_seq(self, call_id: str) -> int:
        return int(
            self._read_one("SELECT COALESCE(MAX(seq), 0) FROM events WHERE call_id = %s", call_id)
        )

    def last_feed_seq(self) -> int:
        """The highest feed_seq ever given, erased rows included (see `counters`)."""
        return int(self._read_one("SELECT value FROM counters WHERE name = 'feed_seq'"))

    def audio_end_s(self, call_id: str) -> float:
        """Call-audio seconds a stored call already covers (0 for a new call)."""
        return float(
            self._read_one(
                "SELECT GREATEST("
                "COALESCE((SELECT duration_s FROM calls WHERE call_id = %s), 0), "
                "COALESCE((SELECT MAX((body::json ->> 't_end')::float8) FROM events "
                "WHERE call_id = %s AND type = 'transcript.final'), 0))",
                call_id,
                call_id,
            )
        )

    def call_exists(self, call_id: str) -> bool:
        return bool(
            self._read_one("SELECT EXISTS (SELECT 1 FROM calls WHERE call_id = %s)", call_id)
        )

    def live_calls(self) -> list[LiveCall]:
        rows = self._read(
            lambda db: db.execute(
                "SELECT call_id, node FROM calls WHERE status = 'live'"
            ).fetchall()
        )
        return [LiveCall(str(call_id), str(node)) for call_id, node in rows]

    # --- long reads, on the reader threads ------------------------------------------------
    async def iter_event_pages(
        self, call_id: str, since: int, upto: int, partials: bool = True
    ) -> AsyncIterator[list[tuple[int, str]]]:
        after = since
        while after < upto:
            page = await self._read_off_loop(
                partial(_event_page, call_id=call_id, after=after, upto=upto, partials=partials)
            )
            if not page:
                return
            yield page
            after = page[-1][0]

    async def iter_feed_pages(self, since: int, upto: int) -> AsyncIterator[list[tuple[int, str]]]:
        after = since
        while after < upto:
            page = await self._read_off_loop(partial(_feed_page, after=after, upto=upto))
            if not page:
                return
            yield page
            after = page[-1][0]

    async def list_calls(self, limit: int = 200) -> list[dict[str, Any]]:
        return await self._read_off_loop(partial(_calls, limit=limit))

    async def read_call(self, call_id: str) -> tuple[dict[str, Any], list[str]] | None:
        return await self._read_off_loop(partial(_call_with_events, call_id=call_id))

    async def ended_calls(
        self, since_iso: str, caller: str | None = None, limit: int = 50_000
    ) -> list[dict[str, Any]]:
        return await self._read_off_loop(
            partial(_ended, since_iso=since_iso, caller=caller, limit=limit)
        )

    # --- erasure: blocking, from a worker thread or a tool -----------------------------
    def erase_call(self, call_id: str) -> Erasure:
        """Deletes the call's events, alert-feed rows and record in one transaction, then
        VACUUMs. Raises CallNotFound or CallIsLive."""
        events, feed_rows = self._read(partial(_erase, call_id=call_id, ended_before=None))
        return Erasure((call_id,), events, feed_rows, self.reclaim())

    def purge_ended_before(
        self, cutoff_iso: str, keep_going: Callable[[], bool] = lambda: True
    ) -> Erasure:
        """Erases every call that ended before `cutoff_iso`, one call per transaction;
        live calls are never touched. Stops early, between calls, once `keep_going()` is
        False; VACUUMs once, at the end."""
        purged: list[str] = []
        events = feed_rows = 0
        for call_id in self._read(partial(_ended_before, cutoff_iso=cutoff_iso)):
            if not keep_going():
                break
            try:
                removed = self._read(partial(_erase, call_id=call_id, ended_before=cutoff_iso))
            except (CallNotFound, CallIsLive):
                continue  # resumed or erased since the list was read
            purged.append(call_id)
            events, feed_rows = events + removed[0], feed_rows + removed[1]
        return Erasure(tuple(purged), events, feed_rows, self.reclaim())

    def reclaim(self) -> bool:
        """VACUUMs the erased rows' space for reuse (see the module docstring for what stays
        on disk); False when the server could not be asked, to be tried again later."""
        try:
            self._read(lambda db: db.execute("VACUUM events, feed, calls"))
        except StoreUnavailable as exc:
            log.warning("erasure: VACUUM failed (%s): erased rows stay until it runs", exc)
            return False
        return True

    # --- connections ----------------------------------------------------------------------
    def _connect(self) -> Connection:
        db = psycopg.connect(self._url, **CONNECTION_PARAMS)
        _limit_waits(db)
        return db

    def _open_pool(self) -> ConnectionPool[Connection]:
        pool: ConnectionPool[Connection] = ConnectionPool(
            self._url,
            min_size=POOL_MIN,
            max_size=POOL_MAX,
            kwargs=CONNECTION_PARAMS,
            configure=_limit_waits,
            timeout=POOL_WAIT_S,
            reconnect_timeout=POOL_RECONNECT_S,
            check=ConnectionPool.check_connection,  # drops what a server restart broke
            name="store",
            open=False,
        )
        try:
            pool.open(wait=True, timeout=CONNECTION_PARAMS["connect_timeout"])
        except psycopg.Error:
            pool.close()
            raise
        return pool

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """The writer's connection, made again if the last one was lost; any failure is a
        StoreUnavailable (the transaction, if any, rolled back)."""
        with self._writer_lock:
            try:
                if self._writer is None or self._writer.closed:
                    self._writer = self._connect()
                yield self._writer
            except psycopg.Error as exc:
                raise self._unavailable(exc) from None

    def _read(self, work: Callable[[Connection], T]) -> T:
        """`work` on a pooled connection (autocommit: one round trip per statement)."""
        try:
            with self._pool.connection() as db:
                return work(db)
        except psycopg.Error as exc:
            raise self._unavailable(exc) from None

    def _read_one(self, query: str, *params: str) -> Any:
        return self._read(lambda db: _only_row(db.execute(query, params).fetchone())[0])

    async def _read_off_loop(self, work: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read, work)

    def _unavailable(self, exc: psycopg.Error) -> StoreUnavailable:
        return StoreUnavailable(f"the store at {self._where}: {_reason(exc, self._url)}")


def _reason(exc: psycopg.Error, url: str) -> str:
    """The error's text on one line, without the URL's password: libpq quotes the part of a
    URL it cannot parse, and that can be the password ('invalid percent-encoded token')."""
    text = " ".join(str(exc).split())
    password = urlsplit(url).password
    for secret in {password, unquote(password)} if password else ():
        text = text.replace(secret, "***")
    return text


def _limit_waits(db: Connection) -> None:
    db.execute(
        f"SET lock_timeout = {int(LOCK_WAIT_S * 1000)}; "
        f"SET idle_in_transaction_session_timeout = {int(IDLE_IN_TRANSACTION_S * 1000)}"
    )


def _migrate(db: Connection) -> None:
    """Applies the steps of MIGRATIONS the database lacks, one transaction each."""
    while True:
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            version = int(
                _only_row(
                    db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
                )[0]
            )
            if version >= len(MIGRATIONS):
                return
            db.execute(MIGRATIONS[version])
            db.execute("INSERT INTO schema_version (version) VALUES (%s)", (version + 1,))
            log.info("store: schema migrated to version %d", version + 1)


def _only_row(row: TupleRow | None) -> TupleRow:
    if row is None:  # aggregates and EXISTS always give a row: a broken table otherwise
        raise psycopg.DataError("the store gave no row where one was due")
    return row


# --- numbering, inside the append's transaction -------------------------------------------
def _next_seq(db: Connection, call_id: str) -> int:
    """The call's next seq, its record's row locked until commit. The events' own MAX
    covers events stored before the record existed; it may miss a concurrent append's
    event (this statement's snapshot predates the lock), but `last_seq`, read from the row
    once locked, counts that one."""
    row = db.execute(
        "UPDATE calls SET last_seq = GREATEST(last_seq, "
        "(SELECT COALESCE(MAX(seq), 0) FROM events WHERE call_id = %(id)s)) + 1 "
        "WHERE call_id = %(id)s RETURNING last_seq",
        {"id": call_id},
    ).fetchone()
    if row is not None:
        return int(row[0])
    # No record to lock (events of a call whose record is gone): lock the id instead, then
    # read in a statement of its own, whose snapshot follows the lock.
    db.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (CALL_LOCK_CLASS, call_id))
    (last,) = _only_row(
        db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE call_id = %s", (call_id,)
        ).fetchone()
    )
    return int(last) + 1


def _next_feed_seq(db: Connection) -> int:
    (value,) = _only_row(
        db.execute(
            "UPDATE counters SET value = value + 1 WHERE name = 'feed_seq' RETURNING value"
        ).fetchone()
    )
    return int(value)


# --- reads and erasure, on pooled connections ---------------------------------------------
def _event_page(
    db: Connection, call_id: str, after: int, upto: int, partials: bool
) -> list[tuple[int, str]]:
    skip = "" if partials else " AND type != 'transcript.partial'"
    rows = db.execute(
        f"SELECT seq, body FROM events WHERE call_id = %s AND seq > %s AND seq <= %s{skip} "
        "ORDER BY seq LIMIT %s",
        (call_id, after, upto, PAGE_EVENTS),
    )
    return [(int(seq), str(body)) for seq, body in rows]


def _feed_page(db: Connection, after: int, upto: int) -> list[tuple[int, str]]:
    rows = db.execute(
        "SELECT feed_seq, body FROM feed WHERE feed_seq > %s AND feed_seq <= %s "
        "ORDER BY feed_seq LIMIT %s",
        (after, upto, PAGE_EVENTS),
    )
    return [(int(seq), str(body)) for seq, body in rows]


def _calls(db: Connection, limit: int) -> list[dict[str, Any]]:
    cursor = db.execute(
        "SELECT call_id, protocol, status, started_at, ended_at, end_reason, duration_s, "
        "last_seq, node FROM calls ORDER BY started_at DESC LIMIT %s",
        (limit,),
    )
    names = [column.name for column in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _ended(db: Connection, since_iso: str, caller: str | None, limit: int) -> list[dict[str, Any]]:
    where = "status = 'ended' AND ended_at >= %s"
    args: tuple[Any, ...] = (since_iso,)
    if caller is not None:
        where, args = where + " AND caller = %s", (since_iso, caller)
    cursor = db.execute(
        f"SELECT {', '.join(FACT_COLUMNS)} FROM calls WHERE {where} "
        "ORDER BY ended_at DESC LIMIT %s",
        (*args, limit),
    )
    return [dict(zip(FACT_COLUMNS, row, strict=True)) for row in cursor]


def _placeholders(statement: str) -> str:
    """The SQLite statement (?) as psycopg writes it (%s)."""
    return statement.replace("?", "%s")


def _call_with_events(db: Connection, call_id: str) -> tuple[dict[str, Any], list[str]] | None:
    """A stored call's row and the bodies of its events, partials left out, in seq order."""
    cursor = db.execute(
        "SELECT call_id, protocol, status, started_at, ended_at, end_reason, duration_s, "
        "last_seq, metadata, node FROM calls WHERE call_id = %s",
        (call_id,),
    )
    row = cursor.fetchone()
    if row is None:
        return None
    names = [column.name for column in cursor.description or ()]
    record = dict(zip(names, row, strict=True))
    record["metadata"] = json.loads(record["metadata"])
    bodies: list[str] = []
    after = 0
    while page := _event_page(db, call_id, after, 2**62, partials=False):
        bodies.extend(body for _, body in page)
        after = page[-1][0]
    return record, bodies


def _ended_before(db: Connection, cutoff_iso: str) -> list[str]:
    rows = db.execute(
        "SELECT call_id FROM calls WHERE status = 'ended' AND ended_at < %s ORDER BY ended_at",
        (cutoff_iso,),
    )
    return [str(call_id) for (call_id,) in rows]


def _erase(db: Connection, call_id: str, ended_before: str | None) -> tuple[int, int]:
    """(events, feed rows) deleted with the call's record, in one transaction; the record
    is locked first, so the call cannot turn live half-way."""
    with db.transaction():
        row = db.execute(
            "SELECT status, ended_at FROM calls WHERE call_id = %s FOR UPDATE", (call_id,)
        ).fetchone()
        if row is None and not _has_rows(db, call_id):
            raise CallNotFound(call_id)
        status, ended_at = row or ("ended", None)  # rows without a record: erase them too
        due = ended_before is None or (ended_at is not None and ended_at < ended_before)
        if status != "ended" or not due:
            raise CallIsLive(call_id)
        events = db.execute("DELETE FROM events WHERE call_id = %s", (call_id,)).rowcount
        feed = db.execute("DELETE FROM feed WHERE call_id = %s", (call_id,)).rowcount
        db.execute("DELETE FROM calls WHERE call_id = %s", (call_id,))
        return events, feed


def _has_rows(db: Connection, call_id: str) -> bool:
    return any(
        db.execute(f"SELECT 1 FROM {table} WHERE call_id = %s LIMIT 1", (call_id,)).fetchone()
        for table in ("events", "feed")
    )
