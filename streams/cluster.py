"""Several nodes: who is alive, and who ends the calls of a node that died.

Each node holds a lease, a Redis key with a TTL (`lease_s`) that it renews three times
per TTL. Every `sweep_every_s` each node looks at the live calls in the shared store:
a call held by a node whose lease is gone is claimed by exactly one survivor (a
conditional update in the store) and ended with reason `interrupted`, so desktops and
supervisors see it end within `lease_s + sweep_every_s` (15 s by default) of a SIGKILL.
If its platform reconnects, to any node, the call resumes: `seq` goes on from the
store, and call.started says `resumed: true`.

Redis keeps no data across a restart (it runs without persistence), so leases vanish
with it. A node therefore sweeps only after it has seen Redis answer for a whole
`lease_s`: long enough for every live node to have renewed its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.exceptions import RedisError

from streams.config import ClusterOptions
from streams.hub import Hub
from streams.redisbus import PREFIX, RedisBus
from streams.storage import LiveCall, StoreUnavailable

log = logging.getLogger(__name__)


def lease_key(node: str) -> str:
    return f"{PREFIX}:node:{node}"


class Cluster:
    def __init__(self, bus: RedisBus, hub: Hub, options: ClusterOptions) -> None:
        self._bus = bus
        self._hub = hub
        self._options = options
        self.node = bus.node
        self._task: asyncio.Task[None] | None = None
        self._answering_since: float | None = None  # loop time Redis last started answering

    async def start(self) -> None:
        """Takes the lease, ends the calls a previous life of this node left live, and
        starts renewing and sweeping."""
        await self._renew()
        mine = [c for c in await self._live_calls() if c.node == self.node]
        self._hub.end_interrupted(mine)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="cluster")

    async def stop(self) -> None:
        """Gives the lease back: a node that stopped cleanly has no calls left to end."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(RedisError, OSError):  # else it expires by itself
            await self._bus.redis.delete(lease_key(self.node))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        renew_every_s = self._options.lease_s / 3
        next_sweep = loop.time() + self._options.sweep_every_s
        while True:
            await asyncio.sleep(min(renew_every_s, max(0.0, next_sweep - loop.time())))
            try:
                await self._renew()
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + self._options.sweep_every_s
                    await self._sweep()
            except (RedisError, OSError, StoreUnavailable) as exc:
                self._answering_since = None
                log.debug("cluster: renew or sweep failed (%s); trying again", exc)

    async def _renew(self) -> None:
        lease_ms = int(self._options.lease_s * 1000)
        await self._bus.redis.set(lease_key(self.node), "alive", px=lease_ms)
        if self._answering_since is None:
            self._answering_since = asyncio.get_running_loop().time()

    async def _sweep(self) -> None:
        """Ends the live calls of nodes whose lease has gone."""
        assert self._answering_since is not None
        if asyncio.get_running_loop().time() - self._answering_since < self._options.lease_s:
            return  # Redis may have just come back empty: leases are not all renewed yet
        others = [c for c in await self._live_calls() if c.node != self.node]
        for node in {c.node for c in others}:
            if await self._bus.redis.exists(lease_key(node)):
                continue
            dead = [c for c in others if c.node == node]
            claimed = [c for c in dead if await self._claim(c)]
            if claimed:
                log.warning(
                    "node %s is gone: ending its %d live call(s)", node or "(unnamed)", len(claimed)
                )
                self._hub.end_interrupted([LiveCall(c.call_id, self.node) for c in claimed])

    async def _live_calls(self) -> list[LiveCall]:
        return await asyncio.to_thread(self._hub.store.live_calls)

    async def _claim(self, call: LiveCall) -> bool:
        store = self._hub.store
        return await asyncio.to_thread(store.claim_call, call.call_id, call.node, self.node)
