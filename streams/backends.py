"""Which store and bus a node runs on, from `[store] url` and `[bus] url`.

Empty URLs (the default) keep everything in one process: SQLite in the data directory
and in-process fan-out, nothing else to install or run. Nothing in voice/ or assist/
knows which runs.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit, urlunsplit

from streams.bus import LocalBus
from streams.config import Config
from streams.storage import EventStore


def open_store(config: Config) -> EventStore:
    """Raises StoreUnavailable, naming the URL without its password, when the database
    cannot be reached or its tables made."""
    if not config.store.url:
        from streams.store import Store

        return Store(config.database_path)
    from streams.postgres import PostgresStore

    store: EventStore = PostgresStore(config.store.url)
    return store


def open_bus(config: Config, store: EventStore, node: str) -> LocalBus:
    """The bus, not yet connected: `await bus.start()` connects (and may raise)."""
    if not config.bus.url:
        return LocalBus(store)
    from streams.redisbus import RedisBus

    bus: LocalBus = RedisBus(store, config.bus, node)
    return bus


def node_name(config: Config) -> str:
    """This node's name in call records and leases: configured, else host and process."""
    return config.cluster.node or f"{socket.gethostname()}-{os.getpid()}"


def safe_url(url: str) -> str:
    """`url` fit for a log line or an error: the password replaced by ***, whatever else
    is wrong with the URL."""
    netloc = urlsplit(url).netloc
    if "@" not in netloc:
        return url
    userinfo, host = netloc.rsplit("@", 1)
    if ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return urlunsplit(urlsplit(url)._replace(netloc=f"{user}:***@{host}"))
