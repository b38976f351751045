"""Event payloads that `streams` itself raises (the transcript ones come from `voice`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assist.events import Summary


@dataclass(frozen=True, slots=True)
class CallStarted:
    protocol: str
    languages: tuple[str, ...]
    speakers: tuple[str, ...]
    resumed: bool = False  # the same call id reconnected after an earlier end
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallEnded:
    duration_s: float
    reason: str  # "stop", "client_disconnected", "server_shutdown", "interrupted", ...
    summary: Summary | None = None  # the co-pilot's last word on the call
