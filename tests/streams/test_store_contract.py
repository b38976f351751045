"""The store contract (streams/storage.py) against each engine: SQLite and PostgreSQL give
the same answers to the same calls. PostgreSQL alone: several nodes writing at once, a
lost connection, an unreachable server."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from streams import postgres
from streams.postgres import MIGRATIONS, PostgresStore
from streams.storage import (
    CallClosed,
    CallFacts,
    CallIsLive,
    CallNotFound,
    CallOpened,
    CallReviewed,
    Encode,
    EventStore,
    LiveCall,
    Stored,
    StoreUnavailable,
)
from streams.store import PAGE_EVENTS, Store

STARTED_AT = "2026-01-10T09:00:00.000Z"
ENDED_AT = "2026-01-10T09:05:00.000Z"
METADATA = {"agent": "a-7", "queue": "billing"}
CALL_KEYS = {
    "call_id",
    "protocol",
    "status",
    "started_at",
    "ended_at",
    "end_reason",
    "duration_s",
    "last_seq",
    "node",
}


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    opened: EventStore
    if request.param == "sqlite":
        opened = Store(tmp_path / "calls.sqlite3")
    else:  # the server starts only for the tests that ask for it
        opened = PostgresStore(request.getfixturevalue("postgres_url"))
    yield opened
    opened.close()


# --- events -------------------------------------------------------------------------------
def encoder(call_id: str, event_type: str, **fields: object) -> Encode:
    def encode(seq: int, feed_seq: int | None) -> str:
        body = {"type": event_type, "call_id": call_id, "seq": seq, "feed_seq": feed_seq}
        return json.dumps(body | fields)

    return encode


def start(
    store: EventStore, call_id: str, node: str = "node-a", started_at: str = STARTED_AT
) -> Stored:
    opened = CallOpened("native", started_at, json.dumps(METADATA), node)
    return store.append(call_id, "call.started", encoder(call_id, "call.started"), status=opened)


def add(
    store: EventStore,
    call_id: str,
    event_type: str = "transcript.final",
    in_feed: bool = False,
    **fields: object,
) -> Stored:
    return store.append(call_id, event_type, encoder(call_id, event_type, **fields), in_feed)


def end(
    store: EventStore, call_id: str, ended_at: str = ENDED_AT, duration_s: float = 300.0
) -> Stored:
    closed = CallClosed(ended_at, "hangup", duration_s)
    return store.append(call_id, "call.ended", encoder(call_id, "call.ended"), status=closed)


async def rows(pages: AsyncIterator[list[tuple[int, str]]]) -> list[tuple[int, str]]:
    return [row async for page in pages for row in page]


# --- facts: caller history and KPIs --------------------------------------------------------
async def test_a_calls_facts_are_kept_reviewed_and_read_by_caller(store: EventStore) -> None:
    facts = CallFacts("billing_dispute", "follow_up_scheduled", False, 2, 1, 0.2, -0.6, "billing")
    for call_id, caller, ended_at in (
        ("old", "hash-a", "2026-01-01T09:00:00.000Z"),
        ("mine", "hash-a", ENDED_AT),
        ("other", "hash-b", "2026-01-10T09:04:00.000Z"),
    ):
        opened = CallOpened("twilio", STARTED_AT, "{}", "node-a", caller)
        store.append(call_id, "call.started", encoder(call_id, "call.started"), status=opened)
        closed = CallClosed(ended_at, "stop", 60.0, facts)
        store.append(call_id, "call.ended", encoder(call_id, "call.ended"), status=closed)
    review = CallReviewed("resolved", True, 42.5, True)
    store.append("mine", "wrapup.accepted", encoder("mine", "wrapup.accepted"), True, review)

    (mine,) = await store.ended_calls("2026-01-05T00:00:00.000Z", "hash-a")
    assert mine == {
        "call_id": "mine",
        "started_at": STARTED_AT,
        "ended_at": ENDED_AT,
        "duration_s": 60.0,
        "intent": "billing_dispute",
        "disposition": "resolved",  # the agent's review replaced the draft
        "resolved": True,
        "cues": 2,
        "handovers": 1,
        "sentiment_start": 0.2,
        "sentiment_end": -0.6,
        "summary_line": "billing",
        "repeat_contact": False,
        "acw_s": 42.5,
        "wrapup_edited": True,
    }
    everyone = await store.ended_calls("2025-12-01T00:00:00.000Z")
    assert [r["call_id"] for r in everyone] == ["mine", "other", "old"]  # newest first
    assert everyone[1]["resolved"] is False and everyone[1]["acw_s"] is None
    assert await store.ended_calls("2026-01-05T00:00:00.000Z", "hash-c") == []


# --- numbering ----------------------------------------------------------------------------
def test_each_call_is_numbered_from_one_without_gaps(store: EventStore) -> None:
    seqs: dict[str, list[int]] = {"a": [], "b": []}
    for call_id in ("a", "b"):
        seqs[call_id].append(start(store, call_id).seq)
    for call_id in ("a", "a", "b", "a"):
        seqs[call_id].append(add(store, call_id).seq)

    assert seqs == {"a": [1, 2, 3, 4], "b": [1, 2]}
    assert (store.last_seq("a"), store.last_seq("b"), store.last_seq("nobody")) == (4, 2, 0)
    assert store.call_exists("a") and not store.call_exists("nobody")


def test_events_of_a_call_without_a_record_are_numbered_too(store: EventStore) -> None:
    assert [add(store, "orphan").seq for _ in range(3)] == [1, 2, 3]
    assert store.last_seq("orphan") == 3
    assert not store.call_exists("orphan")


async def test_feed_seq_only_for_feed_events_and_never_reused_after_erasure(
    store: EventStore,
) -> None:
    start(store, "a")
    start(store, "b")
    assert add(store, "a").feed_seq is None
    assert add(store, "a", "alert", in_feed=True) == Stored(3, 1)
    assert add(store, "b", "alert", in_feed=True) == Stored(2, 2)
    end(store, "b")
    store.erase_call("b")

    assert store.last_feed_seq() == 2
    assert add(store, "a", "alert", in_feed=True) == Stored(4, 3)
    feed = await rows(store.iter_feed_pages(0, 10))
    assert [(feed_seq, json.loads(text)["feed_seq"]) for feed_seq, text in feed] == [
        (1, 1),
        (3, 3),
    ]
    assert await rows(store.iter_feed_pages(1, 2)) == []


async def test_call_started_reopens_an_ended_call_on_its_new_node(store: EventStore) -> None:
    start(store, "a", node="node-a")
    add(store, "a")
    end(store, "a")
    assert store.live_calls() == []

    assert start(store, "a", node="node-b").seq == 4
    [row] = await store.list_calls()
    assert (row["status"], row["ended_at"], row["end_reason"]) == ("live", None, None)
    assert (row["node"], row["last_seq"]) == ("node-b", 4)
    assert store.live_calls() == [LiveCall("a", "node-b")]


def test_live_calls_name_the_node_that_holds_each(store: EventStore) -> None:
    start(store, "a", node="node-a")
    start(store, "b", node="node-b")
    start(store, "c", node="node-a")
    end(store, "c")

    assert sorted(store.live_calls(), key=lambda call: call.call_id) == [
        LiveCall("a", "node-a"),
        LiveCall("b", "node-b"),
    ]


def test_a_call_is_claimed_from_a_dead_node_once(store: EventStore) -> None:
    start(store, "a", node="node-dead")
    start(store, "ended", node="node-dead")
    end(store, "ended")

    assert store.claim_call("a", "node-dead", "node-b")
    assert not store.claim_call("a", "node-dead", "node-c")
    assert not store.claim_call("ended", "node-dead", "node-b")
    assert not store.claim_call("nobody", "node-dead", "node-b")
    assert store.live_calls() == [LiveCall("a", "node-b")]


def test_audio_end_s_covers_finals_then_the_recorded_duration(store: EventStore) -> None:
    assert store.audio_end_s("a") == 0.0
    start(store, "a")
    add(store, "a", "transcript.final", t_end=3.5)
    add(store, "a", "transcript.final", t_end=9.25)
    add(store, "a", "transcript.partial", t_end=20.0)  # partials are no proof of audio
    assert store.audio_end_s("a") == 9.25

    end(store, "a", duration_s=12.0)
    assert store.audio_end_s("a") == 12.0


# --- long reads ---------------------------------------------------------------------------
async def test_event_pages_after_since_up_to_upto(store: EventStore) -> None:
    start(store, "a")
    for n in range(PAGE_EVENTS + 100):
        add(store, "a", "transcript.partial" if n % 2 else "transcript.final")
    last = store.last_seq("a")

    pages = [page async for page in store.iter_event_pages("a", 0, last)]
    assert [len(page) for page in pages] == [PAGE_EVENTS, last - PAGE_EVENTS]
    assert [seq for page in pages for seq, _ in page] == list(range(1, last + 1))
    assert [seq for seq, _ in await rows(store.iter_event_pages("a", 10, 20))] == list(
        range(11, 21)
    )
    finals = await rows(store.iter_event_pages("a", 0, last, partials=False))
    assert len(finals) == 1 + (PAGE_EVENTS + 100) // 2
    assert all(json.loads(text)["type"] != "transcript.partial" for _, text in finals)
    assert await rows(store.iter_event_pages("a", last, last + 10)) == []


async def test_list_calls_and_read_call_agree_across_engines(
    tmp_path: Path, postgres_url: str
) -> None:
    sqlite, postgres = Store(tmp_path / "calls.sqlite3"), PostgresStore(postgres_url)
    try:
        answers = [await _list_and_read(engine) for engine in (sqlite, postgres)]
    finally:
        sqlite.close()
        postgres.close()

    assert answers[0] == answers[1]
    listed, record, missing = answers[1]
    assert record is not None
    row, bodies = record
    assert [set(call) for call in listed] == [CALL_KEYS, CALL_KEYS]
    assert [call["call_id"] for call in listed] == ["late", "early"]  # newest first
    assert set(row) == CALL_KEYS | {"metadata"}
    assert row["metadata"] == METADATA
    assert [json.loads(body)["type"] for body in bodies] == [
        "call.started",
        "transcript.final",
        "call.ended",
    ]
    assert missing is None


ListAndRead = tuple[list[dict[str, Any]], tuple[dict[str, Any], list[str]] | None, object]


async def _list_and_read(store: EventStore) -> ListAndRead:
    start(store, "early", started_at="2026-01-10T08:00:00.000Z")
    add(store, "early", "transcript.partial")
    add(store, "early")
    end(store, "early", duration_s=42.5)
    start(store, "late", node="node-b")
    return await store.list_calls(), await store.read_call("early"), await store.read_call("x")


# --- erasure ------------------------------------------------------------------------------
async def test_erase_call_refuses_unknown_and_live_calls_then_removes_all(
    store: EventStore,
) -> None:
    with pytest.raises(CallNotFound):
        store.erase_call("nobody")
    start(store, "a")
    add(store, "a", "alert", in_feed=True)
    start(store, "other")
    with pytest.raises(CallIsLive):
        store.erase_call("a")
    end(store, "a")

    erased = store.erase_call("a")

    assert (erased.call_ids, erased.events, erased.feed_rows) == (("a",), 3, 1)
    assert not store.call_exists("a") and store.last_seq("a") == 0
    assert await store.read_call("a") is None
    assert await rows(store.iter_feed_pages(0, 10)) == []
    assert store.call_exists("other")
    with pytest.raises(CallNotFound):
        store.erase_call("a")


def test_purge_erases_only_calls_that_ended_before_the_cutoff(store: EventStore) -> None:
    for call_id, ended_at in (("old", "2026-01-01T00:00:00.000Z"), ("new", ENDED_AT)):
        start(store, call_id, started_at=ended_at)
        end(store, call_id, ended_at=ended_at)
    start(store, "live", started_at="2025-12-01T00:00:00.000Z")

    assert store.purge_ended_before("2026-01-05T00:00:00.000Z", lambda: False).call_ids == ()
    purged = store.purge_ended_before("2026-01-05T00:00:00.000Z")

    assert (purged.call_ids, purged.events, purged.feed_rows) == (("old",), 2, 0)
    assert [store.call_exists(c) for c in ("old", "new", "live")] == [False, True, True]


# --- PostgreSQL: several nodes, failures --------------------------------------------------
APPENDS_PER_NODE = 150


def test_two_nodes_appending_to_one_call_never_repeat_or_skip_a_number(
    postgres_url: str,
) -> None:
    nodes = [PostgresStore(postgres_url), PostgresStore(postgres_url)]
    start(nodes[0], "shared")
    stored: list[list[Stored]] = [[], []]
    ready = threading.Barrier(len(nodes))

    def write(index: int) -> None:
        ready.wait()
        for n in range(APPENDS_PER_NODE):
            stored[index].append(add(nodes[index], "shared", "alert", in_feed=n % 3 == 0))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(nodes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        every = stored[0] + stored[1]
        assert sorted(s.seq for s in every) == list(range(2, 2 + 2 * APPENDS_PER_NODE))
        feed_seqs = sorted(s.feed_seq for s in every if s.feed_seq is not None)
        assert feed_seqs == list(range(1, len(feed_seqs) + 1))
        for mine in stored:  # each node's own appends are numbered in its order
            assert [s.seq for s in mine] == sorted(s.seq for s in mine)
        assert nodes[1].last_seq("shared") == 1 + 2 * APPENDS_PER_NODE
    finally:
        for node in nodes:
            node.close()


def test_nodes_starting_together_apply_each_migration_once(postgres_url: str) -> None:
    ready = threading.Barrier(3)
    opened: list[PostgresStore] = []

    def open_store() -> None:
        ready.wait()
        opened.append(PostgresStore(postgres_url))

    threads = [threading.Thread(target=open_store) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for node in opened:
        node.close()

    assert len(opened) == 3
    with psycopg.connect(postgres_url) as db:
        versions = [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))


def test_the_store_reconnects_after_losing_its_connections(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    try:
        start(store, "a")
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(  # with a timeout, it returns once each backend has gone
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(StoreUnavailable) as raised:
            add(store, "a")  # on the connection the server dropped: nothing stored
        assert str(urlsplit(postgres_url).password) not in str(raised.value)

        assert add(store, "a").seq == 2
        assert store.last_seq("a") == 2  # the pool replaced its connection on checkout
    finally:
        store.close()


def test_an_append_behind_a_stuck_transaction_fails_instead_of_waiting(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "LOCK_WAIT_S", 0.2)
    store = PostgresStore(postgres_url)
    try:
        start(store, "a")
        with psycopg.connect(postgres_url) as stuck:  # a node gone quiet mid-append
            stuck.execute("SELECT 1 FROM calls WHERE call_id = 'a' FOR UPDATE")
            with pytest.raises(StoreUnavailable, match="lock timeout"):
                add(store, "a")
        assert add(store, "a").seq == 2  # the lock gone, the same event goes in
    finally:
        store.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://callassist:s3cret-pw@127.0.0.1:1/calls",  # nothing listens
        "postgresql://callassist:s3cret%zzpw@127.0.0.1:1/calls",  # libpq quotes bad parts
    ],
)
def test_an_unreachable_store_is_named_without_its_password(url: str) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        PostgresStore(url)

    message = str(raised.value)
    assert message.startswith("cannot reach the store at postgresql://callassist:***@127.0.0.1:1")
    assert "s3cret" not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_wrong_password_is_not_repeated(postgres_url: str) -> None:
    password = str(urlsplit(postgres_url).password)
    with pytest.raises(StoreUnavailable, match="password authentication failed") as raised:
        PostgresStore(postgres_url.replace(f":{password}@", ":not-the-password@"))

    assert "not-the-password" not in str(raised.value)
