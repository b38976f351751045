import asyncio
import json

import msgspec
import pytest

from assist.redaction import Audience, Views
from contract.events import (
    Alert,
    CallEnded,
    CallStarted,
    EndReason,
    Protocol,
    Severity,
    Speaker,
    Summary,
    TranscriptFinal,
    TranscriptPartial,
)
from streams.bus import SUBSCRIBER_QUEUE_MAX, Subscription
from streams.hub import RETRY_S, Hub
from streams.records import read_record
from streams.store import Store, read_call


@pytest.fixture
def hub(tmp_path):
    store = Store(tmp_path / "calls.sqlite3")
    yield Hub(store)
    store.close()


def final(text: str, t: float) -> TranscriptFinal:
    return TranscriptFinal(f"customer-{int(t * 1000)}", Speaker.CUSTOMER, text, t, t + 1, "en", ())


def started() -> CallStarted:
    return CallStarted(Protocol.NATIVE, ("en",), (Speaker.CUSTOMER,))


async def drain(hub: Hub, subscription: Subscription) -> list[dict]:
    """What the socket would send: the stored backlog, then the live events so far."""
    out = [text async for page in hub.backlog_pages(subscription) for text in page]
    return [json.loads(text) for text in out + subscription.take_live()]


def test_events_are_numbered_per_call_without_gaps(hub):
    hub.start_call("a", started())
    hub.start_call("b", started())
    hub.publish("a", final("one", 1))
    hub.publish("a", final("two", 2))
    assert [seq for seq, _ in hub.store.events_after("a", 0)] == [1, 2, 3]
    assert [seq for seq, _ in hub.store.events_after("b", 0)] == [1]


async def test_subscriber_gets_backlog_after_since_then_live_events(hub):
    hub.start_call("a", started())
    hub.publish("a", final("one", 1))
    subscription = hub.subscribe_call("a", since=1)
    hub.publish("a", TranscriptPartial(Speaker.CUSTOMER, "tw", 2, 2.5, "en"))
    events = await drain(hub, subscription)
    assert [e["seq"] for e in events] == [2, 3]
    assert [e["type"] for e in events] == ["transcript.final", "transcript.partial"]
    assert events[0]["text"] == "one" and events[0]["call_id"] == "a"


async def test_subscribing_before_the_call_exists_waits_for_it(hub):
    subscription = hub.subscribe_call("later", since=0)
    assert await drain(hub, subscription) == []
    hub.start_call("later", started())
    assert [e["type"] for e in await drain(hub, subscription)] == ["call.started"]


async def test_alert_feed_gets_call_framing_of_every_call_only(hub):
    alerts = hub.subscribe_alerts()
    hub.start_call("a", started())
    hub.publish("a", final("hello", 1))
    hub.end_call("a", CallEnded(3.0, EndReason.STOP))
    assert [e["type"] for e in await drain(hub, alerts)] == ["call.started", "call.ended"]


async def test_unsubscribed_socket_gets_nothing_more(hub):
    subscription = hub.subscribe_call("a", since=0)
    hub.unsubscribe(subscription)
    hub.start_call("a", started())
    assert await drain(hub, subscription) == []


def test_a_slow_subscriber_is_cut_off_not_the_call(hub):
    subscription = hub.subscribe_call("a", since=0)
    hub.start_call("a", started())
    for i in range(SUBSCRIBER_QUEUE_MAX + 5):
        hub.publish("a", final(str(i), i))
    assert subscription.overflowed
    assert hub.store.last_seq("a") == SUBSCRIBER_QUEUE_MAX + 6  # everything is stored


def test_restart_closes_calls_that_were_live_and_keeps_their_finals(tmp_path):
    path = tmp_path / "calls.sqlite3"
    first = Hub(Store(path))
    first.start_call("a", started())
    first.publish("a", final("kept", 4.0))
    # the process dies here: no end_call
    store = Store(path)
    second = Hub(store)
    assert second.recover_interrupted_calls() == ["a"]
    record = json.loads(read_record(read_call(store._db, "a")) or b"null")
    assert record is not None
    assert record["status"] == "ended" and record["end_reason"] == "interrupted"
    assert [t["text"] for t in record["transcript"]] == ["kept"]
    assert record["duration_s"] == 5.0  # up to the end of the last final


def test_a_call_id_that_comes_back_resumes_its_record(hub):
    hub.start_call("a", started())
    hub.publish("a", final("first", 0))
    hub.end_call("a", CallEnded(1.0, EndReason.CLIENT_DISCONNECTED))
    assert hub.start_call("a", started()) is True
    events = [json.loads(body) for _, body in hub.store.events_after("a", 0)]
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert events[-1]["type"] == "call.started" and events[-1]["resumed"] is True
    assert hub.store.audio_end_s("a") == 1.0


def cue_alert(k: int) -> Alert:
    return Alert(
        "manager", Severity.HIGH, "asked for a manager", (), (), Summary(None), (), f"s{k}"
    )


async def test_live_events_after_since_are_not_repeated(hub):
    hub.start_call("a", started())
    hub.publish("a", final("one", 1))
    subscription = hub.subscribe_call("a", since=1)
    hub.publish("a", final("two", 2))  # stored while the backlog has not been read yet
    assert [e["seq"] for e in await drain(hub, subscription)] == [2, 3]


async def test_alert_feed_replays_what_a_dashboard_missed(hub):
    first = hub.subscribe_alerts()
    hub.start_call("a", started())
    hub.publish("a", cue_alert(1))
    seen = await drain(hub, first)
    assert [e["feed_seq"] for e in seen] == [1, 2]
    hub.unsubscribe(first)
    hub.start_call("b", started())  # while the dashboard is away
    hub.publish("a", final("not on the feed", 3))
    hub.publish("b", cue_alert(2))
    again = hub.subscribe_alerts(since=seen[-1]["feed_seq"])
    hub.end_call("a", CallEnded(4.0, EndReason.STOP))
    events = await drain(hub, again)
    assert [(e["call_id"], e["type"], e["feed_seq"]) for e in events] == [
        ("b", "call.started", 3),
        ("b", "alert", 4),
        ("a", "call.ended", 5),
    ]


async def test_alert_feed_sequence_survives_a_restart(tmp_path):
    path = tmp_path / "calls.sqlite3"
    first = Hub(Store(path))
    first.start_call("a", started())
    second = Hub(Store(path))
    subscription = second.subscribe_alerts(since=0)
    second.publish("a", cue_alert(1))
    assert [e["feed_seq"] for e in await drain(second, subscription)] == [1, 2]


async def test_call_stream_events_carry_no_feed_position(hub):
    subscription = hub.subscribe_call("a", since=0)
    hub.start_call("a", started())
    [event] = await drain(hub, subscription)
    assert "feed_seq" not in event


# --- a store that refuses writes ----------------------------------------------------------
def fill_up(store: Store) -> None:
    """Caps the database at its current size: every new write fails as on a full disk."""
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count={pages}")


def make_room(store: Store) -> None:
    store._db.execute("PRAGMA max_page_count=1073741823")


async def test_a_full_store_holds_events_back_then_stores_them_in_order(hub):
    subscription = hub.subscribe_call("a", since=0)
    hub.start_call("a", started())
    fill_up(hub.store)
    for k in range(30):  # enough rows to need a new page
        hub.publish("a", final(f"kept while full {k}" + "x" * 200, k))
    assert not hub.healthy and "full" in hub.store_problem
    stored = hub.store.last_seq("a")
    assert stored < 31
    seen = await drain(hub, subscription)
    assert [e["seq"] for e in seen] == list(range(1, stored + 1))  # nothing unstored was sent
    make_room(hub.store)
    hub.end_call("a", CallEnded(31.0, EndReason.STOP))
    assert hub.healthy
    events = [json.loads(body) for _, body in hub.store.events_after("a", 0)]
    assert [e["seq"] for e in events] == list(range(1, 33))  # no gap, nothing lost
    assert [e["seq"] for e in await drain(hub, subscription)] == list(range(stored + 1, 33))
    assert hub.store.call_row("a")["status"] == "ended"


async def test_the_store_is_retried_without_new_events(hub):
    hub.start_call("a", started())
    fill_up(hub.store)
    for k in range(30):
        hub.publish("a", final("x" * 300, k))
    assert not hub.healthy
    make_room(hub.store)
    await asyncio.sleep(RETRY_S + 0.5)
    assert hub.healthy and hub.store.last_seq("a") == 31


def test_call_ended_and_the_closed_record_are_one_write(hub):
    hub.start_call("a", started())
    fill_up(hub.store)
    for k in range(30):
        hub.publish("a", final("x" * 300, k))
    hub.end_call("a", CallEnded(1.0, EndReason.STOP))
    assert hub.store.call_row("a")["status"] == "live"  # neither is stored yet
    make_room(hub.store)
    hub.publish("b", final("any write retries", 1))
    assert hub.store.call_row("a")["status"] == "ended"


def test_a_store_away_too_long_sheds_partials_first(hub, monkeypatch):
    monkeypatch.setattr("streams.hub.MAX_UNSTORED", 5)
    hub.start_call("a", started())
    fill_up(hub.store)
    hub.publish("a", TranscriptPartial(Speaker.CUSTOMER, "x" * 4000, 0, 1, "en"))
    for k in range(5):
        hub.publish("a", final("y" * 4000, k))
    assert hub.lost_events == 1  # the partial, not a final
    make_room(hub.store)
    hub.publish("a", final("z", 9))
    kinds = [json.loads(body)["type"] for _, body in hub.store.events_after("a", 0)]
    assert kinds == ["call.started"] + ["transcript.final"] * 6


async def test_each_subscriber_gets_its_audiences_view_under_one_number(hub):
    hub.start_call("a", started())
    desktop = hub.subscribe_call("a", since=1)
    watching = hub.subscribe_call("a", since=1, audience=Audience.SUPERVISOR)
    feed = hub.subscribe_alerts()
    live = final("born 3 March 1985", 1)
    hidden = final("born [date of birth]", 1)
    hub.publish("a", Views(store=hidden, desktop=live, supervisor=hidden))
    alert = Alert("r", Severity.HIGH, "why", ("3 March 1985",), (), Summary(None), (), "s")
    clean = msgspec.structs.replace(alert, evidence=("[date of birth]",))
    hub.publish("a", Views(store=clean, desktop=alert, supervisor=clean))
    seen = {name: await drain(hub, s) for name, s in (("desktop", desktop), ("watching", watching))}
    assert [e["seq"] for e in seen["desktop"]] == [e["seq"] for e in seen["watching"]] == [2, 3]
    assert seen["desktop"][0]["text"] == live.text
    assert seen["watching"][0]["text"] == hidden.text
    assert [json.loads(t)["evidence"] for t in feed.take_live()] == [["[date of birth]"]]
    stored = [json.loads(text) for _, text in hub.store.events_after("a", 1)]
    assert stored[0]["text"] == hidden.text and stored[1]["evidence"] == ["[date of birth]"]
