"""Configuration: embedded defaults, then a TOML file, then environment variables.

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

Every key can also be set as CALLASSIST_<SECTION>_<KEY>, e.g. CALLASSIST_ASR_MODEL=base,
CALLASSIST_SERVER_PORT=9000, CALLASSIST_TOKENS_AGENT=secret. The file is
`--config PATH`, else $CALLASSIST_CONFIG, else ./callassist.toml when present.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from assist.assistant import AssistOptions
from streams.errors import ConfigError
from streams.webrtc import WebRtcOptions
from voice.online import StreamingOptions
from voice.scheduler import SchedulerOptions
from voice.whisper import WhisperOptions

ENV_PREFIX = "CALLASSIST"
DEFAULT_CONFIG_FILE = Path("callassist.toml")


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


T = TypeVar("T")


def load_config(
    path: Path | None = None, environ: Mapping[str, str] | None = None, **overrides: Any
) -> Config:
    """Builds the configuration; `overrides` are section -> {key: value} (from the CLI)."""
    environ = os.environ if environ is None else environ
    table: dict[str, Any] = {}
    path = path or (
        Path(environ[f"{ENV_PREFIX}_CONFIG"])
        if f"{ENV_PREFIX}_CONFIG" in environ
        else DEFAULT_CONFIG_FILE
        if DEFAULT_CONFIG_FILE.is_file()
        else None
    )
    if path is not None:
        try:
            table = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
    for section, values in overrides.items():
        table.setdefault(section, {}).update({k: v for k, v in values.items() if v is not None})
    return _build(Config, table, environ, ENV_PREFIX)


def _build(cls: type[T], table: Mapping[str, Any], environ: Mapping[str, str], prefix: str) -> T:
    unknown = set(table) - {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    if unknown:
        raise ConfigError(f"unknown setting(s) {sorted(unknown)} under {prefix}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind = hints[f.name]
        name = f"{prefix}_{f.name.upper()}"
        if dataclasses.is_dataclass(kind):
            values[f.name] = _build(kind, table.get(f.name, {}), environ, name)  # type: ignore[arg-type]
        elif name in environ:
            values[f.name] = _coerce(environ[name], kind, name)
        elif f.name in table:
            values[f.name] = _coerce(table[f.name], kind, name)
    return cls(**values)


def _coerce(value: Any, kind: Any, name: str) -> Any:
    args = typing.get_args(kind)
    if isinstance(kind, types.UnionType) and type(None) in args:  # "str | None"
        return None if value in ("", None) else _coerce(value, args[0], name)
    try:
        if kind is bool:
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if kind in (int, float, str):
            return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a {kind.__name__}, not {value!r}") from None
    raise ConfigError(f"{name}: unsupported setting type {kind}")
