"""Configuration: embedded defaults < a TOML file < environment variables < flags.

    [server]     host, port, data_dir, max_message_bytes, max_errors_per_connection
    [asr]        model, device, compute_type, cpu_threads, beam_size,
                 fit_window_partials, fit_window_finals
    [streaming]  partial_interval_s, commit_after_s, max_utterance_s, ...
    [streaming.vad]  threshold, min_silence_s, ...
    [scheduler]  workers, max_partial_wait_s
    [tokens]     ingest, agent, supervisor   (unset = open)
    [call]       language, agent_language
    [assist]     enabled, intents_file, rules_file, knowledge_dir, embeddings_model,
                 knowledge_min_score, transcript_tail_lines
    [assist.intent], [assist.sentiment]  detector thresholds (see assist/intent.py, sentiment.py)
    [webrtc]     ice_servers, ice_username, ice_credential

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assist.assistant import AssistOptions
from contract import settings
from streams.errors import ConfigError
from streams.webrtc import WebRtcOptions
from voice.online import StreamingOptions
from voice.options import WhisperOptions
from voice.scheduler import SchedulerOptions

ENV_PREFIX = "CALLASSIST"
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


@dataclass(frozen=True, slots=True)
class TokenOptions:
    ingest: str | None = None  # platforms streaming audio
    agent: str | None = None  # desktops reading a call's events
    supervisor: str | None = None  # the alert feed (also opens any call's events)


@dataclass(frozen=True, slots=True)
class CallOptions:
    language: str = "auto"  # the caller's language when the platform does not say; "auto" =
    # identify it per speaker from the first seconds of speech (multilingual model)
    agent_language: str = "en"


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
