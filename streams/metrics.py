"""Prometheus metrics for operators, served at GET /metrics.

Each `Service` has its own registry, so several services (tests) can live in
one process. Nothing here ever carries transcript text.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from streams.storage import CallFacts
from voice.scheduler import DecodeRecord, DecodeScheduler

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS_S = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, scheduler: DecodeScheduler, live_calls: Callable[[], int]) -> None:
        self.registry = registry = CollectorRegistry()
        Gauge("callassist_live_calls", "Calls streaming now", registry=registry).set_function(
            live_calls
        )
        Gauge(
            "callassist_decode_queue_depth", "Decodes waiting for the model", registry=registry
        ).set_function(lambda: scheduler.queue_depth)
        Gauge(
            "callassist_real_time_factor",
            "Decode seconds per second of decoded audio, since start",
            registry=registry,
        ).set_function(lambda: scheduler.stats.real_time_factor)
        Gauge(
            "callassist_partial_backoff",
            "How far apart partials are spaced (1 = normal)",
            registry=registry,
        ).set_function(lambda: scheduler.partial_backoff)
        self.connections = Counter(
            "callassist_connections",
            "Websocket connections by protocol",
            ["protocol"],
            registry=registry,
        )
        self.connections_refused = Counter(
            "callassist_connections_refused",
            "Connections and requests refused or closed by the service's guards, by reason",
            ["reason"],
            registry=registry,
        )
        self.audio_seconds = Counter(
            "callassist_audio_seconds",
            "Seconds of call audio received, per speaker track",
            ["protocol"],
            registry=registry,
        )
        self.errors = Counter(
            "callassist_errors", "Errors sent to clients, by code", ["code"], registry=registry
        )
        self.audio_gap_seconds = Counter(
            "callassist_audio_gap_seconds",
            "Call time the platform sent no audio for (gaps moved over, not filled)",
            ["protocol"],
            registry=registry,
        )
        self.webrtc_dropped_seconds = Counter(
            "callassist_webrtc_dropped_seconds",
            "WebRTC audio dropped because the call could not take it in time",
            registry=registry,
        )
        self.assist_dropped = Counter(
            "callassist_assist_dropped",
            "Assist inputs dropped from a full queue, by kind",
            ["kind"],
            registry=registry,
        )
        self.calls_refused = Counter(
            "callassist_calls_refused",
            "Calls refused at start, by reason",
            ["reason"],
            registry=registry,
        )
        self.decode_wait = Histogram(
            "callassist_decode_wait_seconds",
            "Time a decode waited in the queue",
            ["kind"],
            registry=registry,
        )
        self.decode_time = Histogram(
            "callassist_decode_seconds",
            "Time a decode took on the model",
            ["kind"],
            registry=registry,
        )
        self.partials_dropped = Counter(
            "callassist_partials_dropped",
            "Partial decodes shed because they went stale",
            registry=registry,
        )
        self.final_latency = Histogram(
            "callassist_final_latency_seconds",
            "From the end of a final segment's speech arriving to its event being sent",
            buckets=_LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.assist_latency = Histogram(
            "callassist_assist_seconds",
            "From a final segment to the assist events it causes being sent",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0),
            registry=registry,
        )
        self.calls_ended = Counter(
            "callassist_calls_ended",
            "Calls ended with what they came to, by intent ('none': no clear intent)",
            ["intent"],
            registry=registry,
        )
        self.call_handovers = Counter(
            "callassist_call_handovers", "Handover packages sent", registry=registry
        )
        self.call_cues = Counter("callassist_call_cues", "Handover cues raised", registry=registry)
        self.repeat_contacts = Counter(
            "callassist_repeat_contacts",
            "Calls that repeated an unresolved call of the caller about the same intent",
            registry=registry,
        )
        self.wrapups_accepted = Counter(
            "callassist_wrapups_accepted",
            "Wrap-ups the agent accepted, as drafted or edited",
            ["edited"],
            registry=registry,
        )
        self.after_call_work = Histogram(
            "callassist_after_call_work_seconds",
            "From the call's end to the agent accepting its wrap-up",
            buckets=(5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600),
            registry=registry,
        )
        scheduler.set_observer(self.on_decode)

    def on_call_facts(self, facts: CallFacts) -> None:
        self.calls_ended.labels(facts.intent or "none").inc()
        self.call_handovers.inc(facts.handovers)
        self.call_cues.inc(facts.cues)
        if facts.repeat_contact:
            self.repeat_contacts.inc()

    def on_wrapup_accepted(self, edited: bool, acw_s: float) -> None:
        self.wrapups_accepted.labels("yes" if edited else "no").inc()
        self.after_call_work.observe(acw_s)

    def on_decode(self, record: DecodeRecord) -> None:
        kind = "final" if record.final else "partial"
        self.decode_wait.labels(kind).observe(record.wait_s)
        if record.dropped:
            self.partials_dropped.inc()
        else:
            self.decode_time.labels(kind).observe(record.busy_s)

    def watch_store(self, healthy: Callable[[], bool], lost: Callable[[], int]) -> None:
        """Gauges of the store's health, read when /metrics is scraped."""
        Gauge(
            "callassist_store_healthy",
            "1 while the store takes writes; 0 while events wait in memory",
            registry=self.registry,
        ).set_function(lambda: float(healthy()))
        Gauge(
            "callassist_events_lost",
            "Events dropped while the store was away too long (partials first)",
            registry=self.registry,
        ).set_function(lost)

    def watch_bus(self, healthy: Callable[[], bool], ready: Callable[[], bool]) -> None:
        """Gauges of the bus to other nodes and of readiness, read when scraped."""
        Gauge(
            "callassist_bus_healthy",
            "1 while the bus to other nodes takes events (always 1 on one node)",
            registry=self.registry,
        ).set_function(lambda: float(healthy()))
        Gauge(
            "callassist_ready",
            "1 while this node takes new calls (GET /readyz is 200)",
            registry=self.registry,
        ).set_function(lambda: float(ready()))

    def render(self) -> bytes:
        return generate_latest(self.registry)
