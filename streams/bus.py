"""Fan-out: every stored event to the sockets that follow its call or the alert feed.

Two buses behind one interface. `LocalBus` (the default) hands each event to this
process's subscribers. `RedisBus` (`[bus] url = "redis://..."`) does that too, and also
appends it to a Redis stream (one per call, one for the alert feed), which every other
node reads for the calls its own sockets follow: so a desktop on any node sees every
node's calls.

Each call (and the feed) has one `Channel` per node: its subscribers and the last number
they were all offered. An event reaches a channel by whichever way is quicker (this
node's own publish, or the stream), is offered once, in number order, whatever came
twice or out of order. A number that skips ahead means something was missed (a stream
trimmed, an event whose stream write is still waiting for Redis, two nodes' feed events
crossing): the channel reads the missing ones from the store, which has them, because
the store numbers and stores an event before anything sends it (streams.storage).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

from assist.redaction import Audience, Views
from streams.storage import EventStore

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_MAX = 10_000  # a desktop this far behind is cut off and resumes with since
FILL_RETRY_S = 1.0  # a store read for missing events that failed is tried again after this
FILL_TRIES = 3

# (after, upto) -> the stored (number, text) pairs in between, in order
ReadStored = Callable[[int, int], AsyncIterator[list[tuple[int, str]]]]


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
class Delivery:
    """A stored event, ready to send: its call stream text per audience and, for an
    alert-feed event, the supervisors' text carrying its feed_seq."""

    call_id: str
    seq: int
    texts: Views[str]
    feed_seq: int | None = None
    feed_text: str | None = None
    partial: bool = False  # a transcript.partial: the first to go when a buffer overflows


class Channel:
    """One call's (or the feed's) subscribers on this node; see the module docstring."""

    def __init__(self, last: int, read_stored: ReadStored, name: str) -> None:
        self.last = last  # every subscriber was offered everything up to this number
        self.subscribers: set[Subscription] = set()
        self._read_stored = read_stored
        self._name = name
        self._held: list[tuple[int, Views[str]]] = []  # arrived while a gap is being filled
        self._filling: asyncio.Task[None] | None = None

    def offer(self, number: int, texts: Views[str]) -> None:
        if self._filling is not None:
            self._held.append((number, texts))
        elif number == self.last + 1:
            self._send(number, texts)
        elif number > self.last + 1:
            self._held.append((number, texts))
            self._filling = asyncio.get_running_loop().create_task(self._fill(number))
        # number <= last: already offered (came both ways, or was in a backlog)

    def close(self) -> None:
        if self._filling is not None:
            self._filling.cancel()

    def _send(self, number: int, texts: Views[str]) -> None:
        self.last = number
        for subscription in self.subscribers:
            subscription.offer(texts[subscription.audience])

    async def _fill(self, upto: int) -> None:
        """Reads the events before `upto` that never came, then sends what was held."""
        try:
            for attempt in range(1, FILL_TRIES + 1):
                try:
                    async for page in self._read_stored(self.last, upto - 1):
                        for number, text in page:
                            if number > self.last:
                                self._send(number, Views.same(text))
                    break
                except Exception as exc:  # the store is away: try again, then go on
                    log.warning("%s: reading missed events failed (%s)", self._name, exc)
                    if attempt < FILL_TRIES:
                        await asyncio.sleep(FILL_RETRY_S)
            if self.last < upto - 1:
                log.error("%s: events %d..%d never came", self._name, self.last + 1, upto - 1)
                self.last = upto - 1
        finally:
            self._filling = None
            held, self._held = sorted(self._held, key=lambda item: item[0]), []
            for number, texts in held:
                self.offer(number, texts)


class LocalBus:
    """This process's channels. `RedisBus` adds the streams to other nodes."""

    problem = ""  # why the bus cannot send to other nodes; "" while it can
    shared = False  # True: other nodes publish on it too (their calls are theirs to close)

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.calls: dict[str, Channel] = {}
        self.feed = Channel(store.last_feed_seq(), store.iter_feed_pages, "alert feed")

    @property
    def healthy(self) -> bool:
        return not self.problem

    async def start(self) -> None:
        """Connects to other nodes (nothing to do here)."""

    async def stop(self) -> None:
        for channel in [*self.calls.values(), self.feed]:
            channel.close()

    def publish(self, delivery: Delivery) -> None:
        self.deliver(delivery)

    def deliver(self, delivery: Delivery) -> None:
        """Offers a stored event to this node's subscribers."""
        channel = self.calls.get(delivery.call_id)
        if channel is not None:
            channel.offer(delivery.seq, delivery.texts)
        if delivery.feed_seq is not None and delivery.feed_text is not None:
            self.feed.offer(delivery.feed_seq, Views.same(delivery.feed_text))

    def subscribe_call(
        self, call_id: str, since: int, partials: bool, audience: Audience, last_stored: int
    ) -> Subscription:
        """`last_stored`: the call's last stored seq, for a channel opened now."""
        channel = self.calls.get(call_id)
        if channel is None:
            channel = self.calls[call_id] = self._open_call(call_id, last_stored)
        backlog = Backlog(since, max(since, channel.last), call_id, partials)
        subscription = Subscription(backlog, audience)
        channel.subscribers.add(subscription)
        return subscription

    def subscribe_alerts(self, since: int | None) -> Subscription:
        last = self.feed.last
        start = last if since is None else min(since, last)
        subscription = Subscription(Backlog(start, last), Audience.SUPERVISOR)
        self.feed.subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        call_id = subscription.backlog.call_id
        if call_id is None:
            self.feed.subscribers.discard(subscription)
            return
        channel = self.calls.get(call_id)
        if channel is None:
            return
        channel.subscribers.discard(subscription)
        if not channel.subscribers:
            del self.calls[call_id]
            self._close_call(call_id, channel)

    def _open_call(self, call_id: str, last_stored: int) -> Channel:
        def read_stored(after: int, upto: int) -> AsyncIterator[list[tuple[int, str]]]:
            return self._store.iter_event_pages(call_id, after, upto)

        return Channel(last_stored, read_stored, f"call {call_id}")

    def _close_call(self, call_id: str, channel: Channel) -> None:
        channel.close()


def shed(waiting: deque[Delivery], limit: int, what: str) -> int:
    """Over `limit`: drops the oldest partial, else the oldest event; returns how many."""
    dropped = 0
    while len(waiting) > limit:
        index = next((i for i, d in enumerate(waiting) if d.partial), 0)
        lost = waiting[index]
        del waiting[index]
        dropped += 1
        if not lost.partial:
            log.warning(
                "%s: call %s event %d dropped from the buffer", what, lost.call_id, lost.seq
            )
    return dropped


def unique_views(texts: Views[str]) -> Iterable[tuple[Audience, str]]:
    """Each audience's text once, in Audience order (views that are one object, once)."""
    seen: set[int] = set()
    for audience in Audience:
        text = texts[audience]
        if id(text) not in seen:
            seen.add(id(text))
            yield audience, text
