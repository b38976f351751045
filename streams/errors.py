"""Errors raised by the `streams` package.

StreamsError
├── ProtocolError      a client broke its protocol (bad JSON, media before start, ...)
│                      `code` names the kind; `fatal` ends the connection
└── ConfigError        a configuration file, variable or flag that cannot be used;
                       also a `contract.settings.SettingsError` (`source`, `key`)
"""

from __future__ import annotations

from contract.settings import SettingsError


class StreamsError(Exception):
    """Root of every error raised by `streams`."""


class ProtocolError(StreamsError):
    def __init__(self, code: str, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fatal = fatal


class ConfigError(StreamsError, SettingsError):
    """The configuration cannot be used as given; the message names the file or
    variable and the key."""
