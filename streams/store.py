"""Durable call storage in SQLite (WAL): every event is written before it is sent.

WAL with synchronous=NORMAL survives a killed process (the OS keeps what was
written); set `synchronous_full` to survive power loss too, at some cost.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

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
"""


class Store:
    def __init__(self, path: Path, *, synchronous_full: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if synchronous_full else 'NORMAL'}")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # --- writes -----------------------------------------------------------------------
    def begin_call(self, call_id: str, protocol: str, started_at: str, metadata: str) -> bool:
        """Marks a call live. Returns True when the call id was stored before (a resume)."""
        existed = self.call_row(call_id) is not None
        self._db.execute(
            "INSERT INTO calls (call_id, protocol, status, started_at, metadata) "
            "VALUES (?, ?, 'live', ?, ?) ON CONFLICT(call_id) DO UPDATE SET "
            "status='live', ended_at=NULL, end_reason=NULL",
            (call_id, protocol, started_at, metadata),
        )
        return existed

    def append(self, call_id: str, seq: int, event_type: str, body: str) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO events (call_id, seq, type, body) VALUES (?, ?, ?, ?)",
                (call_id, seq, event_type, body),
            )
            self._db.execute("UPDATE calls SET last_seq=? WHERE call_id=?", (seq, call_id))

    def end_call(self, call_id: str, ended_at: str, reason: str, duration_s: float) -> None:
        self._db.execute(
            "UPDATE calls SET status='ended', ended_at=?, end_reason=?, duration_s=? "
            "WHERE call_id=?",
            (ended_at, reason, duration_s, call_id),
        )

    # --- reads ------------------------------------------------------------------------
    def last_seq(self, call_id: str) -> int:
        row = self._db.execute("SELECT MAX(seq) FROM events WHERE call_id=?", (call_id,)).fetchone()
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

    def events_after(
        self, call_id: str, since: int, *, partials: bool = True
    ) -> list[tuple[int, str]]:
        """Stored events after `since`; without the (long superseded) partials if asked."""
        skip = "" if partials else " AND type!='transcript.partial'"
        rows = self._db.execute(
            f"SELECT seq, body FROM events WHERE call_id=? AND seq>?{skip} ORDER BY seq",
            (call_id, since),
        )
        return [(int(seq), str(body)) for seq, body in rows]

    def call_row(self, call_id: str) -> dict[str, Any] | None:
        cursor = self._db.execute("SELECT * FROM calls WHERE call_id=?", (call_id,))
        row = cursor.fetchone()
        if row is None:
            return None
        names = [d[0] for d in cursor.description]
        record = dict(zip(names, row, strict=True))
        record["metadata"] = json.loads(record["metadata"])
        return record

    def calls(self, limit: int = 200) -> list[dict[str, Any]]:
        cursor = self._db.execute(
            "SELECT call_id, protocol, status, started_at, ended_at, end_reason, duration_s, "
            "last_seq FROM calls ORDER BY started_at DESC LIMIT ?",
            (limit,),
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def live_call_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT call_id FROM calls WHERE status='live'")]

    def call_record(self, call_id: str) -> dict[str, Any] | None:
        """A stored call: its row, its final transcript and every event except partials."""
        record = self.call_row(call_id)
        if record is None:
            return None
        events = [
            json.loads(body)
            for (body,) in self._db.execute(
                "SELECT body FROM events WHERE call_id=? AND type!='transcript.partial' "
                "ORDER BY seq",
                (call_id,),
            )
        ]
        record["transcript"] = [e for e in events if e["type"] == "transcript.final"]
        record["events"] = events
        return record
