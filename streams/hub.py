"""Stores every event, then hands it to the bus (streams/bus.py) for its subscribers.

The store numbers each event as it stores it, and events are stored one at a time in
publish order, so sequence numbers, storage order and delivery order are one and the
same. A subscriber registers for live events and learns, in the same step, the last
number its channel was offered: its backlog is everything after its `since` up to that
number, read later off the event loop, and its live queue holds everything after it.
So it can neither miss nor repeat an event, however long the backlog takes.

A payload may come as `Views` (assist/redaction.py): the store's view is what is
stored and replayed; live subscribers get their audience's view, under the same
number. Each subscription says whose eyes it is for.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

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
from streams.bus import Delivery, LocalBus, Subscription
from streams.facts import FactsTracker
from streams.storage import (
    CallClosed,
    CallFacts,
    CallOpened,
    CallStatus,
    EventStore,
    LiveCall,
    Stored,
    StoreUnavailable,
)
from voice.clock import Clock, SystemClock

log = logging.getLogger(__name__)

MAX_UNSTORED = 20_000  # events kept in memory while the store refuses writes
RETRY_S = 1.0  # how often a refusing store is tried again when nothing new comes


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
    """Store first, then send. When the store fails (a full disk, an I/O error, a database
    server away), events wait here in publish order, unnumbered, and nobody sees them:
    `healthy` turns False with the reason, and the hub retries every `RETRY_S`. Partials
    are the first to go if the wait outgrows `MAX_UNSTORED` (the next one supersedes
    them), and every loss is counted and logged. When the store comes back, the waiting
    events are stored and sent in order, so no seq is skipped and no final is lost
    silently.

    An inline store (SQLite) is written on the event loop, so `publish` has stored the
    event when it returns; any other is written by one thread of the hub's own, in
    publish order, and the event is sent when its write returns."""

    def __init__(
        self,
        store: EventStore,
        clock: Clock | None = None,
        bus: LocalBus | None = None,
        node: str = "",
    ) -> None:
        self.store = store
        self.node = node  # written into the records of the calls this process holds
        self.bus = bus or LocalBus(store)
        self._clock = clock or SystemClock()
        self._unstored: deque[_Unstored] = deque()
        self._retry: asyncio.TimerHandle | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._writing: asyncio.Task[None] | None = None
        self.store_problem = ""  # why the store refuses writes; "" while it takes them
        self.lost_events = 0  # dropped while the store was away (partials first)
        self._facts: dict[str, FactsTracker] = {}  # of the calls live on this node
        self.on_call_facts: Callable[[CallFacts], None] = lambda facts: None  # metrics

    @property
    def healthy(self) -> bool:
        return not self.store_problem

    async def flush(self, timeout_s: float = 10.0) -> bool:
        """Waits until every published event is stored and sent (shutdown); False if the
        store did not take them in time."""
        try:
            async with asyncio.timeout(timeout_s):
                while self._unstored:
                    if self._writing is not None:
                        await asyncio.shield(self._writing)
                    else:
                        await asyncio.sleep(RETRY_S / 10)
        except TimeoutError:
            log.error(
                "%d event(s) were never stored: the store refuses writes", len(self._unstored)
            )
            return False
        return True

    def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)

    # --- calls ------------------------------------------------------------------------
    def start_call(
        self, call_id: str, started: CallStarted | Views[CallStarted], caller: str = ""
    ) -> bool:
        """Opens (or reopens) a call record and publishes call.started. True if resumed.
        `caller`: the caller's keyed hash, kept with the record for caller history."""
        views = started if isinstance(started, Views) else Views.same(started)
        self._facts.setdefault(call_id, FactsTracker())
        resumed = self.store.call_exists(call_id)
        if resumed:
            views = views.map(lambda s: msgspec.structs.replace(s, resumed=True))
        stored = views.store
        metadata = codec.encode_json(stored.metadata)
        opened = CallOpened(stored.protocol.value, self._clock.iso(), metadata, self.node, caller)
        self.publish(call_id, views, opened)
        return resumed

    def end_call(self, call_id: str, ended: CallEnded | Views[CallEnded]) -> None:
        """Publishes call.ended; the record is closed in the same transaction."""
        views = ended if isinstance(ended, Views) else Views.same(ended)
        stored = views.store
        tracker = self._facts.pop(call_id, None)
        facts = tracker.facts(stored.summary) if tracker is not None else None
        closed = CallClosed(self._clock.iso(), stored.reason.value, stored.duration_s, facts)
        self.publish(call_id, views, closed)
        if facts is not None:
            self.on_call_facts(facts)

    def recover_interrupted_calls(self) -> list[str]:
        """Closes the records of calls that were live when the process died (one node:
        every live call; on several, streams.cluster closes those of dead nodes)."""
        return self.end_interrupted(self.store.live_calls())

    def end_interrupted(self, calls: list[LiveCall]) -> list[str]:
        for call in calls:
            ended = CallEnded(self.store.audio_end_s(call.call_id), EndReason.INTERRUPTED)
            self.end_call(call.call_id, ended)
        if calls:
            log.warning("closed %d interrupted call(s)", len(calls))
        return [call.call_id for call in calls]

    # --- events -----------------------------------------------------------------------
    def publish(
        self, call_id: str, payload: Payload | Views[Payload], status: CallStatus | None = None
    ) -> None:
        """Numbers, stores and sends `payload`, or keeps it until the store takes it."""
        views = payload if isinstance(payload, Views) else Views.same(payload)
        if (tracker := self._facts.get(call_id)) is not None:
            tracker.add(views.store)
        self._unstored.append(_Unstored(call_id, views, self._clock.iso(), status))
        if self.store.inline:
            self._store_waiting()
        elif self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._write_waiting())

    def _store_waiting(self) -> None:
        while self._unstored:
            waiting = self._unstored[0]
            try:
                stored = self._append(waiting)
            except StoreUnavailable as exc:
                self._store_failed(exc)
                self._retry_later()
                return
            self._unstored.popleft()
            self._send(waiting, stored)
        self._store_back()

    async def _write_waiting(self) -> None:
        """The writer of a store that is not inline: one event at a time, in order."""
        loop = asyncio.get_running_loop()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="store-write")
        try:
            while self._unstored:
                waiting = self._unstored[0]
                try:
                    stored = await loop.run_in_executor(self._writer, self._append, waiting)
                except StoreUnavailable as exc:
                    self._store_failed(exc)
                    await asyncio.sleep(RETRY_S)
                    continue
                if self._unstored and self._unstored[0] is waiting:
                    self._unstored.popleft()
                self._send(waiting, stored)
            self._store_back()
        finally:
            self._writing = None

    def _append(self, waiting: _Unstored) -> Stored:
        call_id, views = waiting.call_id, waiting.views
        in_feed = isinstance(views.store, ALERT_FEED_TYPES)

        def encode(seq: int, feed_seq: int | None) -> str:
            return codec.encode(Event(call_id, seq, waiting.ts, views.store, feed_seq))

        kind = type_name(type(views.store))
        return self.store.append(call_id, kind, encode, in_feed, waiting.status)

    def _send(self, waiting: _Unstored, stored: Stored) -> None:
        """Encodes each audience's view once (views are often one object) and hands the
        event to the bus."""
        call_id, views, seq = waiting.call_id, waiting.views, stored.seq
        texts = views.map(lambda p: codec.encode(Event(call_id, seq, waiting.ts, p)))
        feed_text = None
        if stored.feed_seq is not None:
            feed_text = codec.encode(
                Event(call_id, seq, waiting.ts, views.supervisor, stored.feed_seq)
            )
        partial = isinstance(views.store, TranscriptPartial)
        self.bus.publish(Delivery(call_id, seq, texts, stored.feed_seq, feed_text, partial))

    def _store_failed(self, exc: StoreUnavailable) -> None:
        if not self.store_problem:
            log.error("the store refuses writes (%s): events wait in memory", exc)
        self.store_problem = f"store: {exc}"
        while len(self._unstored) > MAX_UNSTORED:
            self._shed_unstored()

    def _store_back(self) -> None:
        if self.store_problem:
            lost = self.lost_events
            log.warning("the store takes writes again (%d event(s) lost while away)", lost)
            self.store_problem = ""

    def _retry_later(self) -> None:
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
        """Over the bound: drop the oldest partial, else the oldest event; count it. The
        oldest is never the one a writer thread may be storing right now."""
        first = 0 if self.store.inline else 1
        index = next(
            (
                i
                for i, w in enumerate(self._unstored)
                if i >= first and isinstance(w.payload, TranscriptPartial)
            ),
            first,
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

    # --- subscribers --------------------------------------------------------------------
    def subscribe_call(
        self,
        call_id: str,
        since: int,
        partials: bool = True,
        audience: Audience = Audience.DESKTOP,
    ) -> Subscription:
        """`partials=False` leaves stored partials out of the backlog (live ones still come):
        a page that opens late on a long call need not redraw every word twice."""
        last_stored = 0 if call_id in self.bus.calls else self.store.last_seq(call_id)
        return self.bus.subscribe_call(call_id, since, partials, audience, last_stored)

    def subscribe_alerts(self, since: int | None = None) -> Subscription:
        """Live alert-feed events; with `since`, the stored feed after it first."""
        return self.bus.subscribe_alerts(since)

    def unsubscribe(self, subscription: Subscription) -> None:
        self.bus.unsubscribe(subscription)

    async def backlog_pages(self, subscription: Subscription) -> AsyncIterator[list[str]]:
        """The subscription's stored backlog, page by page, read off the event loop."""
        backlog = subscription.backlog
        if backlog.call_id is None:
            pages = self.store.iter_feed_pages(backlog.since, backlog.upto)
        else:
            pages = self.store.iter_event_pages(
                backlog.call_id, backlog.since, backlog.upto, backlog.partials
            )
        async for page in pages:
            yield [text for _, text in page]
