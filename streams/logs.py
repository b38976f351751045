"""Logging set-up: plain text for people, or JSON lines for log pipelines.

Log records carry ids and counts (`call_id`, `protocol`, `code`, `reason`, `client`,
`duration_s` passed as `extra`), never transcript text, and never a secret: every
record that reaches the handler passes `RedactSecrets`, which blanks token query values
(`?token=...`), secret headers (Authorization, X-API-KEY, Cookie), `"token"` fields in
JSON, the payloads of the websocket frames that the `websockets` library logs at DEBUG
(its request line and headers carry the token; its frames carry Twilio's start message
and transcripts), and any configured secret wherever it appears.

As a last line of defence, personal data that needs no context to be recognised
(a 13+ digit card number, an SSN-shaped or national insurance number, an IBAN,
an email) is blanked too, in case a library's error message quotes a transcript.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime

from assist import pii
from assist.redaction import redact_text

_EXTRA_FIELDS = ("call_id", "protocol", "code", "reason", "client", "duration_s")
REDACTED = "[redacted]"
_MIN_SECRET_CHARS = 4  # shorter configured "secrets" would blank ordinary words
_PATTERNS = (
    # ?token=... and &token=... in URLs and request lines
    (re.compile(r"(?i)([?&;](?:token|access_token|api_key)=)[^&#\s\"'<>]*"), rf"\1{REDACTED}"),
    # header lines and reprs: "Authorization: Bearer x", 'x-api-key': 'y'
    (
        re.compile(
            r"(?im)\b(authorization|proxy-authorization|x-api-key|cookie|set-cookie)"
            r"([\"']?\s*[:=]\s*)([\"']?)[^\r\n\"']*"
        ),
        rf"\1\2\3{REDACTED}",
    ),
    # "token": "..." in JSON (Twilio's customParameters) and Python reprs, and the secrets
    # of the settings' own reprs (link_secret='...')
    (
        re.compile(
            r"(?i)((?:[\"'](?:token|link_secret|caller_key)[\"']\s*:|\b(?:link_secret|caller_key)=)"
            r"\s*[\"'])[^\"']*"
        ),
        rf"\1{REDACTED}",
    ),
)
# websockets logs each frame at DEBUG as "< TEXT '...' [12 bytes]": keep the kind and size
_FRAME = re.compile(r"^([<>] (?:TEXT|BINARY|CONT)) .*?((?: \[[^\]]*\])?)$", re.S)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every token, secret header value and frame payload blanked."""
    text = _FRAME.sub(rf"\1 {REDACTED}\2", text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return redact_text(text, pii.find(text))[0]


class RedactSecrets(logging.Filter):
    """Rewrites each record's message (and its traceback) without secrets; drops nothing.

    Attach it to handlers, not loggers: a handler sees every record that reaches it,
    including those of libraries' own loggers."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if len(s) >= _MIN_SECRET_CHARS)
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging reports it when it formats
            return True
        clean = redact(message, self._secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._secrets)
        return True


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: getattr(record, k) for k in _EXTRA_FIELDS if hasattr(record, k)})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, json_lines: bool, secrets: Iterable[str] = ()) -> None:
    """One handler on the root logger, which redacts `secrets` (the configured tokens) and
    every token-shaped value (see `redact`) from whatever any logger sends it."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonLinesFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactSecrets(secrets))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
