"""Numbers, stores and fans out every event: store first, then each subscriber.

`publish` is synchronous on the event loop, so sequence numbers, storage order
and delivery order are one and the same, and a subscriber that registers while
reading its backlog (also synchronous) can neither miss nor repeat an event.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from streams.events import CallEnded, CallStarted
from streams.store import Store
from streams.wire import ALERT_FEED_TYPES, encode_event, encode_json, event_type, now_iso

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_MAX = 10_000  # a desktop this far behind is cut off and resumes with since


@dataclass(eq=False)
class Subscription:
    """Events for one websocket: its backlog first, then live ones as they happen."""

    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def offer(self, text: str) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= SUBSCRIBER_QUEUE_MAX:
            self.overflowed = True
            log.warning("subscriber fell %d events behind; disconnecting it", SUBSCRIBER_QUEUE_MAX)
            return
        self.queue.put_nowait(text)


class Hub:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._next_seq: dict[str, int] = {}
        self._call_subscribers: defaultdict[str, set[Subscription]] = defaultdict(set)
        self._alert_subscribers: set[Subscription] = set()

    # --- calls ------------------------------------------------------------------------
    def start_call(self, call_id: str, started: CallStarted) -> bool:
        """Opens (or reopens) a call record and publishes call.started. True if resumed."""
        resumed = self.store.begin_call(
            call_id, started.protocol, now_iso(), encode_json(started.metadata)
        )
        if resumed:
            started = dataclasses.replace(started, resumed=True)
        self.publish(call_id, started)
        return resumed

    def end_call(self, call_id: str, ended: CallEnded) -> None:
        self.publish(call_id, ended)
        self.store.end_call(call_id, now_iso(), ended.reason, ended.duration_s)
        self._next_seq.pop(call_id, None)

    def recover_interrupted_calls(self) -> list[str]:
        """Closes the records of calls that were live when the process died."""
        call_ids = self.store.live_call_ids()
        for call_id in call_ids:
            self.end_call(call_id, CallEnded(self.store.audio_end_s(call_id), "interrupted"))
        if call_ids:
            log.warning("closed %d call(s) interrupted by a restart", len(call_ids))
        return call_ids

    # --- events -----------------------------------------------------------------------
    def publish(self, call_id: str, payload: object) -> int:
        seq = self._next_seq.get(call_id) or self.store.last_seq(call_id) + 1
        self._next_seq[call_id] = seq + 1
        kind = event_type(payload)
        text = encode_event(call_id, seq, now_iso(), payload)
        self.store.append(call_id, seq, kind, text)  # durable before anyone sees it
        for subscription in self._call_subscribers.get(call_id, ()):
            subscription.offer(text)
        if kind in ALERT_FEED_TYPES:
            for subscription in self._alert_subscribers:
                subscription.offer(text)
        return seq

    def subscribe_call(self, call_id: str, since: int, partials: bool = True) -> Subscription:
        """`partials=False` leaves stored partials out of the backlog (live ones still come):
        a page that opens late on a long call need not redraw every word twice."""
        subscription = Subscription()
        for _, text in self.store.events_after(call_id, since, partials=partials):
            subscription.queue.put_nowait(text)
        self._call_subscribers[call_id].add(subscription)
        return subscription

    def subscribe_alerts(self) -> Subscription:
        subscription = Subscription()
        self._alert_subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._alert_subscribers.discard(subscription)
        for call_id, subscribers in list(self._call_subscribers.items()):
            subscribers.discard(subscription)
            if not subscribers:
                del self._call_subscribers[call_id]
