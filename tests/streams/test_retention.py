"""Erasure leaves nothing of a call on disk, and the scheduled purge takes only what is due.

Each call here says a distinctive marker in its partials, finals and alerts; after an
erasure the marker must be in no file of the data directory (the database, its WAL and
its shared-memory file, read as bytes), while another call's events stay as they were."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from pathlib import Path

import pytest

from contract.events import (
    Alert,
    CallEnded,
    CallStarted,
    EndReason,
    IntentDetected,
    Protocol,
    Severity,
    Speaker,
    Summary,
    TranscriptFinal,
    TranscriptLine,
    TranscriptPartial,
)
from streams import store as store_module
from streams.config import RetentionOptions
from streams.errors import StreamsError
from streams.hub import Hub
from streams.records import read_record
from streams.retention import DAY_S, Retention, age_s, cutoff_before
from streams.storage import CallIsLive, CallNotFound
from streams.store import Store
from voice.clock import ManualClock

MARKER = "QX7-ERASE-ME-4111"  # what the erased call said; never anywhere else
KEEP = "KEEP-THIS-CALL-9"  # what the call that stays said
START = "2026-01-01T00:00:00"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(wall=START)


@pytest.fixture
def hub(tmp_path: Path, clock: ManualClock):
    store = Store(tmp_path / "calls.sqlite3")
    yield Hub(store, clock)
    store.close()


def talk(hub: Hub, call_id: str, said: str, turns: int, *, end: bool = True) -> None:
    """A call whose every partial, final and alert says `said` (half a KiB a final, so
    that the call spans many pages, the WAL and the database file)."""
    hub.start_call(call_id, CallStarted(Protocol.NATIVE, ("en",), (Speaker.CUSTOMER,)))
    for turn in range(turns):
        text = f"my card is {said} turn {turn} " + "and so on " * 40
        hub.publish(call_id, TranscriptPartial(Speaker.CUSTOMER, said, turn, turn + 0.5, "en"))
        hub.publish(
            call_id,
            TranscriptFinal(f"s{turn}", Speaker.CUSTOMER, text, turn, turn + 1, "en", ()),
        )
        if turn % 50 == 0:
            hub.publish(call_id, alert(said, turn))
            hub.publish(call_id, IntentDetected(f"s{turn}", "billing", "", 0.9, (said,)))
    if end:
        hub.end_call(call_id, CallEnded(float(turns), EndReason.STOP))


def alert(said: str, turn: int) -> Alert:
    tail = (TranscriptLine(Speaker.CUSTOMER, f"it is {said}", turn),)
    return Alert("manager", Severity.HIGH, "asked", (said,), (), Summary(None), tail, f"s{turn}")


def files_saying(directory: Path, text: str) -> list[str]:
    needle = text.encode()
    return sorted(p.name for p in directory.iterdir() if needle in p.read_bytes())


def row_counts(db: sqlite3.Connection, call_id: str) -> tuple[int, ...]:
    return tuple(
        db.execute(f"SELECT COUNT(*) FROM {table} WHERE call_id=?", (call_id,)).fetchone()[0]
        for table in ("events", "feed", "calls")
    )


# --- erasure --------------------------------------------------------------------------------
def test_erase_removes_events_feed_rows_and_record_and_nothing_else(hub, tmp_path):
    talk(hub, "gone", MARKER, 300)
    talk(hub, "kept", KEEP, 100)
    db = sqlite3.connect(tmp_path / "calls.sqlite3")
    events, feed, _ = row_counts(db, "gone")
    kept_before = hub.store.events_after("kept", 0)
    assert files_saying(tmp_path, MARKER)  # the test can see it before

    erased = hub.store.erase_call("gone")

    assert (erased.call_ids, erased.events, erased.feed_rows) == (("gone",), events, feed)
    assert erased.wal_truncated
    assert row_counts(db, "gone") == (0, 0, 0)
    assert hub.store.call_row("gone") is None
    assert hub.store.events_after("kept", 0) == kept_before
    assert row_counts(db, "kept")[2] == 1
    assert files_saying(tmp_path, MARKER) == []
    assert files_saying(tmp_path, KEEP) != []
    db.close()


def test_erase_refuses_an_unknown_and_a_live_call_and_deletes_nothing(hub):
    talk(hub, "live", MARKER, 5, end=False)
    with pytest.raises(CallNotFound, match="no call 'nobody' is stored"):
        hub.store.erase_call("nobody")
    with pytest.raises(CallIsLive, match="'live' is live"):
        hub.store.erase_call("live")
    assert len(hub.store.events_after("live", 0)) == 1 + 5 * 2 + 2
    assert isinstance(CallNotFound("x"), StreamsError)


def test_erase_takes_events_stored_without_a_record_too(hub, tmp_path):
    """Events that came after a call's record went (a straggler) carry its id; they go."""
    hub.publish("straggler", TranscriptPartial(Speaker.CUSTOMER, MARKER, 0, 1, "en"))
    assert hub.store.call_row("straggler") is None
    assert hub.store.erase_call("straggler").events == 1
    assert files_saying(tmp_path, MARKER) == []
    with pytest.raises(CallNotFound):
        hub.store.erase_call("straggler")


async def test_readers_see_an_erased_call_gone(hub):
    talk(hub, "kept", KEEP, 1)
    talk(hub, "gone", MARKER, 20)
    store = hub.store
    assert read_record(await store.read_call("gone")) is not None
    store.erase_call("gone")
    assert read_record(await store.read_call("gone")) is None
    assert [page async for page in store.iter_event_pages("gone", 0, 10_000)] == []
    feed = [page async for page in store.iter_feed_pages(0, 10_000)]
    assert feed and MARKER not in json.dumps(feed)  # the other rows are there; not its own


async def test_the_alert_feed_never_gives_an_erased_feed_seq_again(hub):
    talk(hub, "kept", KEEP, 1)
    talk(hub, "gone", MARKER, 1)  # holds the highest feed_seqs
    highest = hub.store.last_feed_seq()
    hub.store.erase_call("gone")
    assert hub.store.last_feed_seq() == highest
    talk(hub, "next", KEEP, 1)
    (first_new,) = hub.store._db.execute(
        "SELECT MIN(feed_seq) FROM feed WHERE call_id='next'"
    ).fetchone()
    assert first_new == highest + 1
    pages = [page async for page in hub.store.reader.iter_feed_pages(0, first_new + 10)]
    assert MARKER not in json.dumps(pages)


def interleave(hub: Hub, call_ids: tuple[str, ...], turns: int) -> None:
    """Calls at once, so that b-tree pages split under all of them."""
    for call_id in call_ids:
        hub.start_call(call_id, CallStarted(Protocol.NATIVE, ("en",), (Speaker.CUSTOMER,)))
    for turn in range(turns):
        for call_id in call_ids:
            said = KEEP if call_id == "kept" else MARKER
            text = f"card {said} number {turn} " + "x" * 150
            final = TranscriptFinal(f"s{turn}", Speaker.CUSTOMER, text, turn, turn + 1, "en", ())
            hub.publish(call_id, final)
    for call_id in call_ids:
        hub.end_call(call_id, CallEnded(float(turns), EndReason.STOP))


@pytest.mark.parametrize("converted", [True, False])
def test_a_database_made_before_erasure_is_rewritten_once_then_erases_completely(
    tmp_path, clock, monkeypatch, caplog, converted
):
    """Space freed without secure_delete keeps its text: here a call an administrator
    deleted by hand before erasure existed (b-tree splits leave stale copies too). The
    one-off VACUUM at open rewrites every page; without it (the control) the marker
    outlives the erasure, which shows that the test can tell."""
    path = tmp_path / "calls.sqlite3"
    with monkeypatch.context() as before:  # the database as the service wrote it until now
        before.setattr(store_module, "_convert_for_erasure", lambda db, path: None)
        before.setattr(store_module, "_prepare_erasure", lambda db: None)
        old = Store(path)
        old._db.execute("PRAGMA secure_delete=OFF")  # the default of most SQLite builds
        interleave(Hub(old, clock), ("by-hand", "gone", "kept"), 300)
        for table in ("events", "feed", "calls"):
            old._db.execute(f"DELETE FROM {table} WHERE call_id='by-hand'")
        old.close()
    if not converted:
        monkeypatch.setattr(store_module, "_convert_for_erasure", lambda db, path: None)

    with caplog.at_level(logging.WARNING, "streams.store"):
        store = Store(path)
    assert ("predates erasure: rewriting it once" in caplog.text) is converted
    kept = store.events_after("kept", 0)
    store.erase_call("gone")
    assert (files_saying(tmp_path, MARKER) == []) is converted
    assert store.events_after("kept", 0) == kept
    store.close()
    if converted:
        caplog.clear()
        with caplog.at_level(logging.WARNING, "streams.store"):
            Store(path).close()
        assert caplog.text == ""  # converted once: opening again rewrites nothing


def test_a_reader_holding_the_wal_delays_its_truncation_and_a_retry_finishes_it(
    hub, tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(store_module, "CHECKPOINT_TRIES", 2)
    monkeypatch.setattr(store_module, "CHECKPOINT_FIRST_PAUSE_S", 0.01)
    talk(hub, "gone", MARKER, 100)
    reader = sqlite3.connect(tmp_path / "calls.sqlite3", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM events").fetchone()  # a snapshot in the WAL
    with caplog.at_level(logging.WARNING, "streams.store"):
        erased = hub.store.erase_call("gone")
    assert not erased.wal_truncated
    assert "readers kept the WAL busy through 2 checkpoint attempts" in caplog.text
    reader.execute("COMMIT")
    reader.close()
    assert hub.store.reclaim()
    assert files_saying(tmp_path, MARKER) == []


def test_erasing_a_call_of_5000_events_takes_milliseconds(hub, tmp_path):
    """The figure for the README: how long one call's erasure takes, reclaim included,
    and how long its one transaction holds the write lock."""
    talk(hub, "gone", MARKER, 2450)
    eraser = hub.store._eraser
    started = time.perf_counter()
    events, _ = eraser.erase("gone")
    transaction_s = time.perf_counter() - started
    assert eraser.reclaim()
    total_s = time.perf_counter() - started
    print(
        f"\nerased {events} events: transaction {transaction_s * 1000:.0f} ms, "
        f"with vacuum and checkpoint {total_s * 1000:.0f} ms"
    )
    assert events >= 5000
    assert files_saying(tmp_path, MARKER) == []
    assert transaction_s < 2.0 and total_s < 5.0  # loose: a shared CI machine


# --- purge ----------------------------------------------------------------------------------
def test_purge_takes_only_calls_that_ended_before_the_cutoff(hub, clock, tmp_path):
    talk(hub, "old", MARKER, 50)  # ended at START
    clock.advance(2 * DAY_S)
    talk(hub, "recent", KEEP, 5)  # ended two days later
    talk(hub, "live", KEEP, 5, end=False)  # started before the cutoff, still live
    hub.store._db.execute("UPDATE calls SET started_at=? WHERE call_id='live'", (START,))
    cutoff = cutoff_before(clock.iso(), DAY_S)

    purged = hub.store.purge_ended_before(cutoff)

    assert purged.call_ids == ("old",) and purged.events > 100 and purged.wal_truncated
    assert hub.store.call_row("old") is None
    assert hub.store.call_row("recent") is not None
    assert hub.store.call_row("live") is not None
    assert files_saying(tmp_path, MARKER) == []
    assert hub.store.purge_ended_before(cutoff).call_ids == ()


def test_purge_stops_between_calls_when_told(hub, clock):
    for k in range(3):
        talk(hub, f"old{k}", MARKER, 2)
    cutoff = cutoff_before(clock.iso(), -60)
    asked: list[int] = []

    def keep_going() -> bool:
        asked.append(1)
        return len(asked) <= 1

    assert hub.store.purge_ended_before(cutoff, keep_going).call_ids == ("old0",)


async def test_live_events_are_stored_while_a_purge_runs(hub, clock):
    """One call per transaction: the loop's writes go in between, and the loop is never
    stalled for long."""
    for k in range(10):
        talk(hub, f"old{k}", MARKER, 300)
    clock.advance(DAY_S)
    talk(hub, "live", KEEP, 0, end=False)
    retention = Retention(hub.store, RetentionOptions(days=1), clock)
    worst_gap_s, written = 0.0, 0

    async def write_live() -> None:
        nonlocal worst_gap_s, written
        last = time.perf_counter()
        while not purge.done():
            hub.publish("live", TranscriptPartial(Speaker.CUSTOMER, KEEP, 0, 1, "en"))
            written += 1
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            worst_gap_s, last = max(worst_gap_s, now - last), now

    clock.advance(1)
    purge = asyncio.ensure_future(retention.purge_once())
    await asyncio.gather(purge, write_live())
    print(f"\nworst loop gap during a 10-call purge: {worst_gap_s * 1000:.0f} ms")
    assert len(purge.result().call_ids) == 10
    assert len(hub.store.events_after("live", 0)) == 1 + written
    assert hub.healthy and worst_gap_s < 1.0  # loose: a shared CI machine


# --- the schedule ---------------------------------------------------------------------------
class Schedule:
    """A sleep that moves the manual clock instead of waiting, and stops after `runs`."""

    def __init__(self, clock: ManualClock, runs: int) -> None:
        self.clock = clock
        self.runs = runs
        self.slept: list[float] = []
        self.done = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if len(self.slept) > self.runs:
            self.done.set()
            await asyncio.Event().wait()  # until stop() cancels it
        self.clock.advance(seconds)


async def test_the_purge_runs_on_schedule_with_one_log_line_a_run(hub, clock, caplog):
    talk(hub, "old", MARKER, 10)  # ended at START: due once a day has gone by
    schedule = Schedule(clock, runs=5)
    options = RetentionOptions(days=1, purge_every_s=6 * 3600)
    retention = Retention(hub.store, options, clock, sleep=schedule.sleep, first_run_after_s=10)
    with caplog.at_level(logging.INFO, "streams.retention"):
        retention.start()
        await asyncio.wait_for(schedule.done.wait(), 30)
        await retention.stop()

    assert schedule.slept == [10, 21600, 21600, 21600, 21600, 21600]
    lines = [r.getMessage() for r in caplog.records if r.name == "streams.retention"]
    assert len(lines) == 5, lines
    assert all(
        line.startswith("retention: purged 0 call(s) that ended before") for line in lines[:4]
    )
    assert lines[4].startswith(
        "retention: purged 1 call(s) that ended before 2026-01-01T00:00:10.000Z ("
    )
    assert lines[4].endswith(" s") and " events) in " in lines[4]
    assert MARKER not in caplog.text
    assert hub.store.call_row("old") is None


async def test_with_days_zero_nothing_is_ever_purged(hub, clock, caplog):
    talk(hub, "old", MARKER, 2)
    clock.advance(3650 * DAY_S)
    schedule = Schedule(clock, runs=0)
    retention = Retention(hub.store, RetentionOptions(days=0), clock, sleep=schedule.sleep)
    with caplog.at_level(logging.INFO, "streams.retention"):
        await retention.run()
    assert schedule.slept == []
    assert "kept until erased" in caplog.text
    assert hub.store.call_row("old") is not None


async def test_retention_erase_logs_counts_only_and_refuses_an_unknown_call(hub, caplog):
    talk(hub, "gone", MARKER, 3)
    retention = Retention(hub.store, RetentionOptions())
    with caplog.at_level(logging.INFO, "streams.retention"):
        erased = await retention.erase("gone")
    assert erased.events == 1 + 3 * 2 + 2 + 1
    assert "erased call gone: 10 event(s), 4 alert-feed row(s)" in caplog.text
    assert MARKER not in caplog.text
    with pytest.raises(CallNotFound):
        await retention.erase("gone")
    await retention.stop()


async def test_a_busy_wal_is_truncated_again_later(hub, clock, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(store_module, "CHECKPOINT_TRIES", 1)
    talk(hub, "gone", MARKER, 50)
    reader = sqlite3.connect(tmp_path / "calls.sqlite3", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM events").fetchone()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        reader.execute("COMMIT")  # the reader is done by the time the retry comes

    retention = Retention(hub.store, RetentionOptions(), clock, sleep=sleep)
    with caplog.at_level(logging.INFO, "streams.retention"):
        assert not (await retention.erase("gone")).wal_truncated
        await asyncio.wait_for(asyncio.gather(*retention._tasks), 10)
    reader.close()
    assert slept == [60.0]
    assert "the WAL is truncated" in caplog.text
    assert files_saying(tmp_path, MARKER) == []


# --- ages and cutoffs -----------------------------------------------------------------------
def test_ages_in_days_hours_and_minutes():
    assert age_s("30d") == 30 * DAY_S
    assert age_s("12h") == 12 * 3600
    assert age_s(" 90M ") == 90 * 60
    assert age_s("0d") == 0
    for bad in ("30", "d", "30x", "-1d", "1.5d", "30 d", "thirty days", "", "1234567d"):
        with pytest.raises(StreamsError, match="such as 30d, 12h or 90m"):
            age_s(bad)


def test_the_cutoff_has_the_stored_form_so_strings_compare():
    assert cutoff_before("2026-03-01T12:00:00.250Z", DAY_S) == "2026-02-28T12:00:00.250Z"
    assert cutoff_before("2026-01-01T00:00:00.000Z", 90 * 60) == "2025-12-31T22:30:00.000Z"
