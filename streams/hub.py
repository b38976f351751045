"""Numbers, stores and fans out every event: store first, then each subscriber.

`publish` is synchronous on the event loop, so sequence numbers, storage order
and delivery order are one and the same. A subscriber registers for live events
and learns, in the same step, the last sequence number already stored: its
backlog is everything after its `since` up to that number, read later off the
event loop (`streams/store.py`), and its live queue holds everything after it.
So it can neither miss nor repeat an event, however long the backlog takes.

A payload may come as `Views` (assist/redaction.py): the store's view is what is
stored and replayed; live subscribers get their audience's view, under the same
number. Each subscription says whose eyes it is for.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial

import msgspec

from assist.redaction import Audience, Views
from contract import codec
from contract.events import (
    ALERT_FEED_TYPES,
    CallEnded,
    CallStarted,
    EndReason,
    Event,
    Payload,
    TranscriptPartial,
    type_name,
)
from streams.store import CallClosed, CallOpened, CallStatus, Store
from voice.clock import Clock, SystemClock

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_MAX = 10_000  # a desktop this far behind is cut off and resumes with since
MAX_UNSTORED = 20_000  # events kept in memory while the store refuses writes
RETRY_S = 1.0  # how often a refusing store is tried again when nothing new comes


@dataclass(frozen=True, slots=True)
class Backlog:
    """Stored events a subscriber has not seen: after `since`, up to `upto`."""

    since: int
    upto: int
    call_id: str | None = None  # None: the alert feed
    partials: bool = True


class Subscription:
    """Events for one websocket: its backlog first (read by the sender), then live ones."""

    def __init__(self, backlog: Backlog, audience: Audience = Audience.DESKTOP) -> None:
        self.backlog = backlog
        self.audience = audience
        self.overflowed = False
        self._live: list[str] = []
        self._ready = asyncio.Event()

    def offer(self, text: str) -> None:
        if self.overflowed:
            return
        if len(self._live) >= SUBSCRIBER_QUEUE_MAX:
            self.overflowed = True
            log.warning("subscriber fell %d events behind; disconnecting it", SUBSCRIBER_QUEUE_MAX)
        else:
            self._live.append(text)
        self._ready.set()

    def take_live(self) -> list[str]:
        """Live events offered since the last take, oldest first."""
        taken, self._live = self._live, []
        self._ready.clear()
        return taken

    async def next_live(self) -> list[str]:
        """Waits for live events (or an overflow), then takes them."""
        await self._ready.wait()
        return self.take_live()


@dataclass(frozen=True, slots=True)
class _Unstored:
    """A published event the store has not taken yet: numbered when it is stored."""

    call_id: str
    views: Views[Payload]
    ts: str
    status: CallStatus | None

    @property
    def payload(self) -> Payload:
        return self.views.store


class Hub:
    """Store first, then send. When the store fails (a full disk, an I/O error), events
    wait here in publish order, unnumbered, and nobody sees them: `healthy` turns False
    with the reason, and the hub retries every `RETRY_S`. Partials are the first to go
    if the wait outgrows `MAX_UNSTORED` (the next one supersedes them), and every loss
    is counted and logged. When the store comes back, the waiting events are stored and
    sent in order, so no seq is skipped and no final is lost silently."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        self._clock = clock or SystemClock()
        self._next_seq: dict[str, int] = {}
        self._feed_seq = store.last_feed_seq()
        self._call_subscribers: defaultdict[str, set[Subscription]] = defaultdict(set)
        self._alert_subscribers: set[Subscription] = set()
        self._unstored: deque[_Unstored] = deque()
        self._retry: asyncio.TimerHandle | None = None
        self.store_problem = ""  # why the store refuses writes; "" while it takes them
        self.lost_events = 0  # dropped while the store was away (partials first)

    @property
    def healthy(self) -> bool:
        return not self.store_problem

    # --- calls ------------------------------------------------------------------------
    def start_call(self, call_id: str, started: CallStarted | Views[CallStarted]) -> bool:
        """Opens (or reopens) a call record and publishes call.started. True if resumed."""
        views = started if isinstance(started, Views) else Views.same(started)
        resumed = self.store.call_exists(call_id)
        if resumed:
            views = views.map(lambda s: msgspec.structs.replace(s, resumed=True))
        stored = views.store
        metadata = codec.encode_json(stored.metadata)
        opened = CallOpened(stored.protocol.value, self._clock.iso(), metadata)
        self.publish(call_id, views, opened)
        return resumed

    def end_call(self, call_id: str, ended: CallEnded | Views[CallEnded]) -> None:
        """Publishes call.ended; the record is closed in the same transaction."""
        views = ended if isinstance(ended, Views) else Views.same(ended)
        stored = views.store
        closed = CallClosed(self._clock.iso(), stored.reason.value, stored.duration_s)
        self.publish(call_id, views, closed)

    def recover_interrupted_calls(self) -> list[str]:
        """Closes the records of calls that were live when the process died."""
        call_ids = self.store.live_call_ids()
        for call_id in call_ids:
            self.end_call(
                call_id, CallEnded(self.store.audio_end_s(call_id), EndReason.INTERRUPTED)
            )
        if call_ids:
            log.warning("closed %d call(s) interrupted by a restart", len(call_ids))
        return call_ids

    # --- events -----------------------------------------------------------------------
    def publish(
        self, call_id: str, payload: Payload | Views[Payload], status: CallStatus | None = None
    ) -> None:
        """Numbers, stores and sends `payload`, or keeps it until the store takes it."""
        views = payload if isinstance(payload, Views) else Views.same(payload)
        self._unstored.append(_Unstored(call_id, views, self._clock.iso(), status))
        self._store_waiting()

    def _store_waiting(self) -> None:
        while self._unstored:
            try:
                self._store(self._unstored[0])
            except sqlite3.Error as exc:
                self._store_failed(exc)
                return
            self._unstored.popleft()
        if self.store_problem:
            lost = self.lost_events
            log.warning("the store takes writes again (%d event(s) lost while away)", lost)
            self.store_problem = ""

    def _store(self, waiting: _Unstored) -> None:
        call_id, views = waiting.call_id, waiting.views
        seq = self._next_seq.get(call_id) or self.store.last_seq(call_id) + 1
        texts: dict[tuple[Audience, int | None], str] = {}

        def text_for(audience: Audience, feed_seq: int | None = None) -> str:
            """The event as `audience` sees it, encoded once (views often are one object)."""
            payload = views[audience]
            same = next((a for a in Audience if views[a] is payload), audience)
            if (same, feed_seq) not in texts:
                event = Event(call_id, seq, waiting.ts, payload, feed_seq)
                texts[(same, feed_seq)] = codec.encode(event)
            return texts[(same, feed_seq)]

        in_feed = isinstance(views.store, ALERT_FEED_TYPES)
        kind = type_name(type(views.store))
        # durable before anyone sees it
        feed_seq = self.store.append(
            call_id,
            seq,
            kind,
            text_for(Audience.STORE),
            partial(text_for, Audience.STORE) if in_feed else None,
            waiting.status,
        )
        self._next_seq[call_id] = seq + 1
        if isinstance(waiting.status, CallClosed):
            self._next_seq.pop(call_id, None)
        for subscription in self._call_subscribers.get(call_id, ()):
            subscription.offer(text_for(subscription.audience))
        if feed_seq is not None:
            self._feed_seq = feed_seq
            for subscription in self._alert_subscribers:
                subscription.offer(text_for(Audience.SUPERVISOR, feed_seq))

    def _store_failed(self, exc: sqlite3.Error) -> None:
        if not self.store_problem:
            log.error("the store refuses writes (%s): events wait in memory", exc)
        self.store_problem = f"store: {exc}"
        while len(self._unstored) > MAX_UNSTORED:
            self._shed_unstored()
        if self._retry is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop (a tool): the next publish retries
            self._retry = loop.call_later(RETRY_S, self._retry_now)

    def _retry_now(self) -> None:
        self._retry = None
        self._store_waiting()

    def _shed_unstored(self) -> None:
        """Over the bound: drop the oldest partial, else the oldest event; count it."""
        index = next(
            (i for i, w in enumerate(self._unstored) if isinstance(w.payload, TranscriptPartial)),
            0,
        )
        dropped = self._unstored[index]
        del self._unstored[index]
        self.lost_events += 1
        if not isinstance(dropped.payload, TranscriptPartial):
            log.error(
                "call %s: a %s event was lost: the store has been away too long",
                dropped.call_id,
                type_name(type(dropped.payload)),
                extra={"call_id": dropped.call_id},
            )

    def subscribe_call(
        self,
        call_id: str,
        since: int,
        partials: bool = True,
        audience: Audience = Audience.DESKTOP,
    ) -> Subscription:
        """`partials=False` leaves stored partials out of the backlog (live ones still come):
        a page that opens late on a long call need not redraw every word twice."""
        last = (self._next_seq.get(call_id) or self.store.last_seq(call_id) + 1) - 1
        backlog = Backlog(since, max(since, last), call_id, partials)
        subscription = Subscription(backlog, audience)
        self._call_subscribers[call_id].add(subscription)
        return subscription

    def subscribe_alerts(self, since: int | None = None) -> Subscription:
        """Live alert-feed events; with `since`, the stored feed after it first."""
        start = self._feed_seq if since is None else min(since, self._feed_seq)
        subscription = Subscription(Backlog(start, self._feed_seq), Audience.SUPERVISOR)
        self._alert_subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._alert_subscribers.discard(subscription)
        call_id = subscription.backlog.call_id
        if call_id is not None and call_id in self._call_subscribers:
            self._call_subscribers[call_id].discard(subscription)
            if not self._call_subscribers[call_id]:
                del self._call_subscribers[call_id]

    async def backlog_pages(self, subscription: Subscription) -> AsyncIterator[list[str]]:
        """The subscription's stored backlog, page by page, read off the event loop."""
        backlog = subscription.backlog
        reader = self.store.reader
        if backlog.call_id is None:
            pages = reader.iter_feed_pages(backlog.since, backlog.upto)
        else:
            pages = reader.iter_event_pages(
                backlog.call_id, backlog.since, backlog.upto, backlog.partials
            )
        async for page in pages:
            yield [text for _, text in page]
