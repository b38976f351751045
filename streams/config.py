"""Configuration: embedded defaults < a TOML file < environment variables < flags.

    [server]     host, port, data_dir, max_message_bytes, max_errors_per_connection,
                 max_calls, final_timeout_s, allow_open, allowed_origins, frame_ancestors,
                 first_message_timeout_s, idle_timeout_s, max_connections,
                 max_connections_per_client
    [asr]        model, device, compute_type, cpu_threads, beam_size,
                 fit_window_partials, fit_window_finals
    [streaming]  partial_interval_s, commit_after_s, max_utterance_s, ...
    [streaming.vad]  threshold, min_silence_s, ...
    [scheduler]  workers, max_partial_wait_s
    [tokens]     ingest, agent, supervisor, link_secret   (all unset = open; see
                 streams/access.py for who may open what, and why a partial set refuses to start)
    [call]       language, agent_language, languages
    [assist]     enabled, intents_file, rules_file, dispositions_file, knowledge_dir,
                 embeddings_model, knowledge_min_score, transcript_tail_lines
    [assist.intent], [assist.sentiment], [assist.dynamics]  detector thresholds (see assist/)
    [webrtc]     ice_servers, ice_username, ice_credential
    [audiohook]  client_secret (verify Genesys request signatures), supported_languages
    [privacy]    policy_file, keep_last_four, max_pause_s, caller_key (redaction, pause for
                 payment, the key of callers' hashes)
    [retention]  days, purge_every_s (purge of ended calls; erasure is `callassist erase`)
    [store]      url ("" = SQLite in data_dir; postgresql://... for several nodes)
    [bus]        url ("" = in-process; redis://... for several nodes), call_stream_events,
                 feed_stream_events, max_unsent
    [cluster]    node, lease_s, sweep_every_s (several nodes: see streams/cluster.py)

Every key can also be set as CALLASSIST_<SECTION>_<KEY>, nested sections joined the
same way: CALLASSIST_ASR_MODEL=base, CALLASSIST_SERVER_PORT=9000,
CALLASSIST_STREAMING_VAD_THRESHOLD=0.6. The `serve` flags (--host, --port,
--data-dir, --model) win over both. The file is `--config PATH`, else
$CALLASSIST_CONFIG, else ./callassist.toml when present.

Everything is read strictly (contract.settings): an unknown key or variable, or a
value of the wrong type (8765.9 for a port, "maybe" for a boolean), is a ConfigError
naming the file or variable and the key. Other CALLASSIST_ variables are refused by
name, except the CLI's own (`NOT_SETTINGS`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assist.assistant import AssistOptions
from contract import settings
from streams.errors import ConfigError
from streams.protocols.audiohook import AudioHookOptions
from streams.webrtc import WebRtcOptions
from voice.online import StreamingOptions
from voice.options import WhisperOptions
from voice.scheduler import SchedulerOptions

ENV_PREFIX = "CALLASSIST"
# Common contact-centre languages that the multilingual model (base) transcribes well
DEFAULT_CANDIDATE_LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "nl")
MIN_LINK_SECRET_CHARS = 32
_ORIGIN = re.compile(r"https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_SOURCE_LIST = re.compile(r"[A-Za-z0-9'*.:/\[\] -]{1,500}")  # no ; or , (no new directives)
DEFAULT_CONFIG_FILE = Path("callassist.toml")
CONFIG_VARIABLE = f"{ENV_PREFIX}_CONFIG"
# CALLASSIST_ variables that are not settings: the CLI's own, and voice/models.py's.
NOT_SETTINGS = frozenset(
    {
        CONFIG_VARIABLE,
        f"{ENV_PREFIX}_LOG_LEVEL",
        f"{ENV_PREFIX}_LOG_FORMAT",
        f"{ENV_PREFIX}_MODELS_DIR",
    }
)


@dataclass(frozen=True, slots=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: str = "data"  # SQLite database lives here
    max_message_bytes: int = 1 << 20  # larger websocket messages close the connection (1009)
    max_errors_per_connection: int = 50  # a client this broken is disconnected
    max_calls: int = 0  # 0 = no cap
    final_timeout_s: float = 120.0  # how long a closing call may wait for its last finals
    # Running with no [tokens] on an address other machines can reach needs this, on purpose.
    allow_open: bool = False
    # Origins besides the service's own whose pages may open the websockets and JSON routes
    # (a CRM that embeds the desktop): ["https://crm.example.com"]. No wildcards.
    allowed_origins: tuple[str, ...] = ()
    frame_ancestors: str = "'none'"  # CSP frame-ancestors: who may frame the pages
    first_message_timeout_s: float = 5.0  # an ingest socket silent this long closes (0 = off)
    idle_timeout_s: float = 60.0  # an ingest socket with no message for this long closes (0 = off)
    max_connections: int = 1000  # open websockets in all (0 = no cap)
    max_connections_per_client: int = 100  # open websockets per client address (0 = no cap)
    # SIGTERM: how long live calls may go on before they are ended (server_shutdown) and
    # their platforms reconnect elsewhere; new calls are refused, /readyz is 503, meanwhile.
    drain_s: float = 30.0

    def __post_init__(self) -> None:
        for origin in self.allowed_origins:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"allowed_origins: {origin!r} is not an origin such as https://crm.example.com "
                    "(scheme, host and port only)"
                )
        sources = self.frame_ancestors.split()
        bare = {"none", "self"} & {source.lower() for source in sources}
        if not _SOURCE_LIST.fullmatch(self.frame_ancestors) or not sources or bare:
            raise ValueError(
                f"frame_ancestors {self.frame_ancestors!r} is not a CSP source list "
                "such as 'none' (with its quotes), 'self' or https://crm.example.com"
            )
        for name in ("first_message_timeout_s", "idle_timeout_s", "drain_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")


@dataclass(frozen=True, slots=True)
class TokenOptions:
    ingest: str | None = None  # platforms streaming audio
    agent: str | None = None  # desktops reading a call's events
    supervisor: str | None = None  # the alert feed (also opens any call's events)
    # Signs desktop links bound to one call (`callassist link`, GET /v1/calls/{id}/link);
    # unset = links are off. At least 32 characters: secrets.token_urlsafe(32) makes one.
    link_secret: str | None = None

    def __post_init__(self) -> None:
        if self.link_secret is not None and len(self.link_secret) < MIN_LINK_SECRET_CHARS:
            raise ValueError(f"link_secret needs at least {MIN_LINK_SECRET_CHARS} characters")


@dataclass(frozen=True, slots=True)
class CallOptions:
    language: str = "auto"  # the caller's language when the platform does not say; "auto" =
    # identify it per speaker from the first seconds of speech (multilingual model)
    agent_language: str = "en"
    # What "auto" may identify: the languages the contact centre serves. Whisper knows 99,
    # and on short, accented or telephone speech it names the wrong one (English heard as
    # Japanese or Chinese); narrow this to the deployment's own. () = any language.
    languages: tuple[str, ...] = DEFAULT_CANDIDATE_LANGUAGES

    def __post_init__(self) -> None:
        for code in self.languages:
            if not re.fullmatch(r"[a-z]{2,3}", code):
                raise ValueError(f"languages: {code!r} is not a language code such as en or de")


@dataclass(frozen=True, slots=True)
class PrivacyOptions:
    # A TOML policy saying where each kind of personal data is redacted; "" = the built-in
    # one (assist/data/privacy.toml). A file that cannot be loaded stops the service.
    policy_file: str = ""
    keep_last_four: bool = False  # "[card number ending 1111]" rather than "[card number]"
    max_pause_s: float = 300.0  # a call paused this long raises a cue to resume (0 = never)
    # The key of the callers' keyed hashes (caller history). Unset: a random one kept in
    # data_dir/caller.key; several nodes must share one (at least 32 characters).
    caller_key: str | None = None

    def __post_init__(self) -> None:
        if self.max_pause_s < 0:
            raise ValueError("max_pause_s must be >= 0")
        if self.caller_key is not None and len(self.caller_key) < MIN_LINK_SECRET_CHARS:
            raise ValueError(f"caller_key needs at least {MIN_LINK_SECRET_CHARS} characters")


@dataclass(frozen=True, slots=True)
class RetentionOptions:
    days: int = 0  # calls that ended longer ago than this are purged; 0 = kept until erased
    purge_every_s: float = 3600.0  # how often the purge runs while the service is up

    def __post_init__(self) -> None:
        if self.days < 0:
            raise ValueError("days must be >= 0 (0 keeps calls until they are erased)")
        if self.purge_every_s <= 0:
            raise ValueError("purge_every_s must be > 0")


@dataclass(frozen=True, slots=True)
class StoreOptions:
    # "" = SQLite in data_dir (one node); postgresql://user:password@host:5432/db for
    # several (streams/postgres.py creates and migrates its tables)
    url: str = ""

    def __post_init__(self) -> None:
        if self.url and not self.url.startswith(("postgresql://", "postgres://")):
            raise ValueError("url must be empty (SQLite) or start with postgresql://")


@dataclass(frozen=True, slots=True)
class BusOptions:
    # "" = in-process (one node); redis://host:6379/0 (rediss:// for TLS) for several
    url: str = ""
    call_stream_events: int = 2000  # a call's stream is trimmed to about this many events
    feed_stream_events: int = 10000  # the alert feed's stream, likewise
    max_unsent: int = 20000  # events kept while Redis is away (partials go first)

    def __post_init__(self) -> None:
        if self.url and not self.url.startswith(("redis://", "rediss://")):
            raise ValueError("url must be empty (in-process) or start with redis://")
        for name in ("call_stream_events", "feed_stream_events", "max_unsent"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    node: str = ""  # this node's name, unique in the cluster; "" = host name and process id
    lease_s: float = 10.0  # a node silent this long is dead: its live calls are ended
    sweep_every_s: float = 5.0  # how often each node looks for dead nodes' calls

    def __post_init__(self) -> None:
        if self.lease_s < 3 or self.sweep_every_s <= 0:
            raise ValueError("lease_s must be >= 3 and sweep_every_s > 0")


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerOptions = field(default_factory=ServerOptions)
    asr: WhisperOptions = field(default_factory=WhisperOptions)
    streaming: StreamingOptions = field(default_factory=StreamingOptions)
    scheduler: SchedulerOptions = field(default_factory=SchedulerOptions)
    tokens: TokenOptions = field(default_factory=TokenOptions)
    call: CallOptions = field(default_factory=CallOptions)
    assist: AssistOptions = field(default_factory=AssistOptions)
    webrtc: WebRtcOptions = field(default_factory=WebRtcOptions)
    audiohook: AudioHookOptions = field(default_factory=AudioHookOptions)
    privacy: PrivacyOptions = field(default_factory=PrivacyOptions)
    retention: RetentionOptions = field(default_factory=RetentionOptions)
    store: StoreOptions = field(default_factory=StoreOptions)
    bus: BusOptions = field(default_factory=BusOptions)
    cluster: ClusterOptions = field(default_factory=ClusterOptions)

    def __post_init__(self) -> None:
        if self.bus.url and not self.store.url:
            raise ValueError(
                "[bus] url needs [store] url: nodes that share events must share one store "
                "(PostgreSQL), or a desktop on one could not replay another's calls"
            )

    @property
    def database_path(self) -> Path:
        return Path(self.server.data_dir) / "calls.sqlite3"


def load_config(
    path: Path | None = None, environ: Mapping[str, str] | None = None, **overrides: Any
) -> Config:
    """Defaults < the file < `environ` (default: os.environ) < `overrides`, which are
    section -> {key: value} (the CLI's flags; a None value is a flag not given)."""
    environ = os.environ if environ is None else environ
    path = path or config_path(environ)
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if path is not None:
        layers.append((str(path), settings.read_toml(path, error=ConfigError)))
    layers.append(
        (
            "environment",
            settings.from_environment(
                Config, environ, ENV_PREFIX, exempt=NOT_SETTINGS, error=ConfigError
            ),
        )
    )
    flags = {
        section: {k: v for k, v in values.items() if v is not None}
        for section, values in overrides.items()
    }
    layers.append(("flags", flags))
    return settings.layered(Config, layers, error=ConfigError)


def config_path(environ: Mapping[str, str]) -> Path | None:
    """The file to read when no --config is given: $CALLASSIST_CONFIG, else
    ./callassist.toml when present, else none (defaults and environment only)."""
    if environ.get(CONFIG_VARIABLE):
        return Path(environ[CONFIG_VARIABLE])
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None
