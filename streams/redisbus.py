"""The bus between nodes: Redis Streams, one per call and one for the alert feed.

A node appends every event it stores to the call's stream (`callassist:call:{id}`, the
entry id `{seq}-0`, so a reader resumes at an exact seq) and every alert-feed event to
`callassist:feed` (ids by Redis, the feed_seq in the entry). It reads the streams of the
calls its own sockets follow, and the feed, and offers what it reads to its channels
(streams/bus.py), which also get its own events directly: a local desktop never waits
for Redis, and nothing is offered twice.

Each entry carries every audience's view of the event (the store's, and the desktop's
and supervisors' where they differ), so Redis holds, for as long as a stream keeps an
entry, what a live desktop may see: run it without persistence (`save ""`,
`appendonly no`), on a private network, with a password (and TLS across machines:
rediss://). Streams are trimmed to about `call_stream_events` and `feed_stream_events`
entries, and a call's stream expires `STREAM_TTL_S` after its last event; the store
keeps the record.

When Redis is away, this node's calls go on: events are stored, and local subscribers
get them; those for other nodes wait in a bounded buffer (partials go first) and are
sent when Redis is back. A reader that finds a gap (an entry dropped from the buffer,
a stream trimmed, a restarted Redis that lost what it held) reads the missing events
from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from assist.redaction import Views
from streams.backends import safe_url
from streams.bus import Channel, Delivery, LocalBus, shed
from streams.config import BusOptions
from streams.errors import StreamsError
from streams.storage import EventStore

log = logging.getLogger(__name__)

PREFIX = "callassist"
FEED_KEY = f"{PREFIX}:feed"
STREAM_TTL_S = 3600  # a call's stream outlives its last event by this much
BLOCK_MS = 5000  # a reader's XREAD waits this long for new entries, then asks again
BATCH = 200  # entries sent in one round trip
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)  # between tries while Redis is away
CONNECT_TIMEOUT_S = 3.0
COMMAND_TIMEOUT_S = 5.0


class BusUnavailable(StreamsError):
    """Redis could not be reached at start."""


def call_key(call_id: str) -> str:
    return f"{PREFIX}:call:{call_id}"


class RedisBus(LocalBus):
    shared = True

    def __init__(self, store: EventStore, options: BusOptions, node: str) -> None:
        super().__init__(store)
        self.options = options
        self.node = node
        self.url = safe_url(options.url)
        common: dict[str, Any] = {
            "decode_responses": True,
            "socket_connect_timeout": CONNECT_TIMEOUT_S,
        }
        # commands answer at once; readers wait in XREAD up to BLOCK_MS for an answer
        self.redis = aioredis.Redis.from_url(
            options.url, socket_timeout=COMMAND_TIMEOUT_S, **common
        )
        self._readers_redis = aioredis.Redis.from_url(
            options.url, socket_timeout=BLOCK_MS / 1000 + COMMAND_TIMEOUT_S, **common
        )
        self._unsent: deque[Delivery] = deque()
        self._wake = asyncio.Event()
        self._all_sent = asyncio.Event()  # set whenever the buffer empties
        self._tasks: dict[str, asyncio.Task[None]] = {}  # stream key -> its reader
        self.dropped = 0  # events other nodes never got by the stream (they read the store)

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        try:
            await self.redis.ping()
            feed_from = await self._last_id(FEED_KEY)
        except (RedisError, OSError) as exc:
            raise BusUnavailable(f"cannot reach the bus at {self.url}: {exc}") from None
        # after the stream's position: a feed event stored since is read from the stream
        self.feed.last = await asyncio.to_thread(self._store.last_feed_seq)
        self._spawn("sender", self._send_forever())
        self._spawn(FEED_KEY, self._follow(FEED_KEY, self.feed, feed_from, _feed_entry))
        log.info("bus: %s (node %s)", self.url, self.node)

    async def stop(self) -> None:
        await super().stop()
        await self._flush(timeout_s=5.0)
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        await self.redis.aclose()
        await self._readers_redis.aclose()

    # --- sending --------------------------------------------------------------------------
    def publish(self, delivery: Delivery) -> None:
        self.deliver(delivery)
        self._unsent.append(delivery)
        self._all_sent.clear()
        if len(self._unsent) > self.options.max_unsent:
            self.dropped += shed(self._unsent, self.options.max_unsent, "bus")
        self._wake.set()

    async def _send_forever(self) -> None:
        failures = 0
        while True:
            if not self._unsent:
                self._wake.clear()
                await self._wake.wait()
            batch = [self._unsent[i] for i in range(min(BATCH, len(self._unsent)))]
            try:
                await self._send(batch)
            except (RedisError, OSError) as exc:
                self._went_away(exc)
                await asyncio.sleep(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
                failures += 1
                continue
            failures = 0
            for delivery in batch:  # shedding may have dropped some meanwhile
                if self._unsent and self._unsent[0] is delivery:
                    self._unsent.popleft()
            if not self._unsent:
                self._all_sent.set()
            self._came_back()

    async def _send(self, batch: list[Delivery]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for delivery in batch:
            key = call_key(delivery.call_id)
            pipe.xadd(
                key,
                _call_fields(delivery.texts),
                id=f"{delivery.seq}-0",
                maxlen=self.options.call_stream_events,
                approximate=True,
            )
            pipe.expire(key, STREAM_TTL_S)
            if delivery.feed_seq is not None and delivery.feed_text is not None:
                fields: dict[Any, Any] = {"n": delivery.feed_seq, "t": delivery.feed_text}
                pipe.xadd(
                    FEED_KEY, fields, maxlen=self.options.feed_stream_events, approximate=True
                )
        for result in await pipe.execute(raise_on_error=False):
            if isinstance(result, ResponseError) and "equal or smaller" in str(result):
                continue  # sent before (a retry after a lost answer): readers have it
            if isinstance(result, Exception):
                raise result

    async def _flush(self, timeout_s: float) -> None:
        """Waits (shutdown) until the buffer is sent, or gives up after `timeout_s`."""
        if self._unsent and self.healthy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_sent.wait(), timeout_s)
        if self._unsent:
            log.warning("bus: %d event(s) not sent to other nodes at shutdown", len(self._unsent))

    # --- reading ----------------------------------------------------------------------------
    def _open_call(self, call_id: str, last_stored: int) -> Channel:
        channel = super()._open_call(call_id, last_stored)
        key = call_key(call_id)
        self._spawn(key, self._follow(key, channel, f"{last_stored}-0", _call_entry))
        return channel

    def _close_call(self, call_id: str, channel: Channel) -> None:
        super()._close_call(call_id, channel)
        task = self._tasks.pop(call_key(call_id), None)
        if task is not None:
            task.cancel()

    async def _follow(self, key: str, channel: Channel, after: str, entry: Any) -> None:
        """Offers each entry of the stream after `after` to the channel, for ever."""
        failures = 0
        while True:
            try:
                answer: Any = await self._readers_redis.xread(
                    {key: after}, count=500, block=BLOCK_MS
                )
            except (RedisError, OSError) as exc:
                self._went_away(exc)
                await asyncio.sleep(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
                failures += 1
                continue
            failures = 0
            self._came_back()
            for _, entries in answer or ():
                for entry_id, fields in entries:
                    number, texts = entry(entry_id, fields)
                    channel.offer(number, texts)
                    after = entry_id

    async def _last_id(self, key: str) -> str:
        newest = await self.redis.xrevrange(key, count=1)
        return str(newest[0][0]) if newest else "0-0"

    # --- health ---------------------------------------------------------------------------
    def _went_away(self, exc: BaseException) -> None:
        if not self.problem:
            log.error("bus: %s is away (%s); events for other nodes wait", self.url, exc)
        self.problem = f"{self.url}: {exc}"

    def _came_back(self) -> None:
        """Healthy again once Redis answers and nothing waits to be sent."""
        if self.problem and not self._unsent:
            log.warning("bus: %s is back (%d event(s) went by the store)", self.url, self.dropped)
            self.problem = ""

    def _spawn(self, name: str, work: Any) -> None:
        self._tasks[name] = asyncio.get_running_loop().create_task(work, name=name)


def _call_fields(texts: Views[str]) -> dict[Any, Any]:
    """The store's view, and the others only where they differ from it."""
    fields: dict[Any, Any] = {"s": texts.store}
    if texts.desktop is not texts.store:
        fields["d"] = texts.desktop
    if texts.supervisor is not texts.store:
        fields["v"] = texts.supervisor
    return fields


def _call_entry(entry_id: str, fields: dict[str, str]) -> tuple[int, Views[str]]:
    store = fields["s"]
    views = Views(store, fields.get("d", store), fields.get("v", store))
    return int(entry_id.split("-", 1)[0]), views


def _feed_entry(entry_id: str, fields: dict[str, str]) -> tuple[int, Views[str]]:
    return int(fields["n"]), Views.same(fields["t"])
