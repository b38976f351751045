"""Genesys AudioHook request signatures: RFC 9421 HTTP Message Signatures, HMAC-SHA256.

Pure: the request's method, path (with query), headers, the client secret and the
time in; a `Verdict` out. Genesys signs the websocket upgrade request it opens:

    Signature-Input: sig1=("@request-target" "@authority" "audiohook-organization-id"
        "audiohook-session-id" "audiohook-correlation-id" "x-api-key");
        keyid="<the API key>";nonce="...";alg="hmac-sha256";created=...;expires=...
    Signature: sig1=:<base64 HMAC-SHA256 of the signature base>:

The key is the integration's client secret, base64-decoded. The signature base
(RFC 9421 section 2.5) is one line per covered component, `"name": value`, then
`"@signature-params": ` and the Signature-Input member's value re-serialised.
Checked here: every component above is covered, `keyid` is the request's
X-API-KEY, `alg` (when given) is hmac-sha256, the nonce is present, `created`
is no more than `max_age_s` old nor in the future and `expires` has not passed,
then the HMAC, compared in constant time. The derived components supported are
`@method`, `@authority` (the Host header), `@path`, `@query` and
`@request-target`; component parameters are not (Genesys uses none).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

REQUIRED_COMPONENTS = (
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
)
ALGORITHM = "hmac-sha256"
MAX_AGE_S = 10.0  # how old `created` may be (Genesys' reference server allows 10 s)
CLOCK_SKEW_S = 3.0  # how far the client's clock may run ahead of ours
MIN_NONCE_CHARS = 16
_MAX_HEADER_CHARS = 4096

# RFC 8941 pieces, as far as a Signature-Input or Signature dictionary member needs them
_KEY = r"[a-z*][a-z0-9_.*-]*"
_STRING = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\\"])*"'
_INTEGER = r"-?[0-9]{1,15}"
_TOKEN = r"[A-Za-z*][!#$%&'*+.^_`|~:/0-9A-Za-z-]*"
_BARE = rf"(?:{_STRING}|{_INTEGER}|{_TOKEN}|\?[01]|:[A-Za-z0-9+/=]*:)"
_PARAMS = rf"(?:;[ ]*{_KEY}(?:={_BARE})?)*"
_INNER_LIST = rf"\((?:[ ]*{_STRING}(?:[ ]+{_STRING})*[ ]*)?\)"
_MEMBER = re.compile(rf"[ \t]*({_KEY})=({_INNER_LIST}{_PARAMS}|:[A-Za-z0-9+/=]*:)[ \t]*")
_PARAM = re.compile(rf";[ ]*({_KEY})(?:=({_BARE}))?")
_ITEM_STRING = re.compile(_STRING)
_INNER_LIST_AT_START = re.compile(_INNER_LIST)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str  # why not (or "verified"); safe to log, never contains the secret

    def __bool__(self) -> bool:
        return self.ok


def _fail(reason: str) -> Verdict:
    return Verdict(False, reason)


def verify_request(
    method: str,
    path: str,
    headers: Mapping[str, str],
    client_secret: str,
    now_s: float,
    *,
    max_age_s: float = MAX_AGE_S,
) -> Verdict:
    """Whether the request carries a valid AudioHook signature made with `client_secret`
    (base64, as configured in Genesys). `path` is the request target: path and query.
    `headers` are looked up without regard to case; a repeated field is joined by ", "."""
    fields = {name.lower(): value for name, value in headers.items()}
    try:
        secret = base64.b64decode(client_secret, validate=True)
    except (binascii.Error, ValueError):
        return _fail("the configured client secret is not base64")
    signature_input = fields.get("signature-input", "")
    signature = fields.get("signature", "")
    if not signature_input and not signature:
        return _fail("the request is not signed (no Signature, Signature-Input)")
    if len(signature_input) > _MAX_HEADER_CHARS or len(signature) > _MAX_HEADER_CHARS:
        return _fail("a signature header is too long")
    inputs, signatures = _dictionary(signature_input), _dictionary(signature)
    if not inputs or signatures is None:
        return _fail("Signature-Input or Signature is not a valid structured dictionary")
    label, member = next(iter(inputs.items()))
    given = signatures.get(label, "")
    if not (given.startswith(":") and given.endswith(":") and len(given) >= 2):
        return _fail(f"no signature labelled {label!r}")
    try:
        sent = base64.b64decode(given[1:-1], validate=True)
    except (binascii.Error, ValueError):
        return _fail("the signature is not base64")
    parsed = _signature_params(member)
    if isinstance(parsed, Verdict):
        return parsed
    components, params = parsed
    problem = _check_params(components, params, fields, now_s, max_age_s)
    if problem is not None:
        return problem
    lines: list[str] = []
    for name in components:
        value = _component(name, method, path, fields)
        if value is None:
            return _fail(f"component {name!r} cannot be resolved")
        lines.append(f'"{name}": {value}')
    lines.append(f'"@signature-params": {_serialise(components, params)}')
    expected = hmac.new(secret, "\n".join(lines).encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, sent):
        return _fail("the signature does not match")
    return Verdict(True, "verified")


def _dictionary(value: str) -> dict[str, str] | None:
    """An RFC 8941 dictionary as {key: member text}; None when malformed. Only the
    member shapes signatures use (an inner list with parameters, a byte sequence)."""
    members: dict[str, str] = {}
    for part in _split_members(value):
        match = _MEMBER.fullmatch(part)
        if match is None:
            return None
        members.setdefault(match[1], match[2])
    return members


def _split_members(value: str) -> list[str]:
    """Splits on commas outside strings and parentheses."""
    parts: list[str] = []
    current: list[str] = []
    quoted, depth, escaped = False, 0, False
    for char in value:
        if quoted:
            quoted = escaped or char != '"'
            escaped = not escaped and char == "\\"
        elif char == '"':
            quoted = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()] if value.strip() else []


def _signature_params(member: str) -> tuple[list[str], dict[str, str]] | Verdict:
    """The covered component names and the parameters of one Signature-Input member."""
    inner = _INNER_LIST_AT_START.match(member)
    if inner is None:
        return _fail("Signature-Input member is not an inner list")
    close = inner.end() - 1
    components = [_unquote(s) for s in _ITEM_STRING.findall(member[1:close])]
    if len(set(components)) != len(components):
        return _fail("a component is covered twice")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(member[close + 1 :]):
        if match[1] in params:
            return _fail(f"signature parameter {match[1]!r} given twice")
        params[match[1]] = match[2] or "?1"
    return components, params


def _check_params(
    components: list[str],
    params: Mapping[str, str],
    fields: Mapping[str, str],
    now_s: float,
    max_age_s: float,
) -> Verdict | None:
    missing = [c for c in REQUIRED_COMPONENTS if c not in components]
    if missing:
        return _fail(f"the signature does not cover {', '.join(missing)}")
    unknown = set(params) - {"alg", "created", "expires", "keyid", "nonce", "tag"}
    if unknown:
        return _fail(f"unknown signature parameter {sorted(unknown)[0]!r}")
    keyid = _string_param(params, "keyid")
    if keyid is None or keyid != fields.get("x-api-key", "").strip():
        return _fail("keyid is not the request's X-API-KEY")
    alg = _string_param(params, "alg")
    if "alg" in params and alg != ALGORITHM:
        return _fail(f"unsupported signature algorithm (only {ALGORITHM})")
    nonce = _string_param(params, "nonce")
    if nonce is None or len(nonce) < MIN_NONCE_CHARS:
        return _fail("the nonce is missing or too short")
    created, expires = _int_param(params, "created"), _int_param(params, "expires")
    if created is None:
        return _fail("created is missing or not an integer")
    if created > now_s + CLOCK_SKEW_S:
        return _fail("created is in the future")
    if created + max_age_s < now_s - CLOCK_SKEW_S:
        return _fail("the signature is too old")
    if "expires" in params and (expires is None or expires < now_s - CLOCK_SKEW_S):
        return _fail("the signature has expired")
    return None


def _component(name: str, method: str, path: str, fields: Mapping[str, str]) -> str | None:
    """A covered component's value (RFC 9421 section 2.1, 2.2); None when absent."""
    target_path, _, query = path.partition("?")
    derived = {
        "@method": method.upper(),
        "@request-target": path,
        "@path": target_path or "/",
        "@query": f"?{query}",
        "@authority": fields.get("host", "").strip().lower(),
    }
    if name.startswith("@"):
        value = derived.get(name)
        return value or None
    value = fields.get(name)
    if value is None:
        return None
    return re.sub(r"[ \t]*\r\n[ \t]+", " ", value).strip()


def _serialise(components: list[str], params: Mapping[str, str]) -> str:
    """The member re-serialised (RFC 8941): the signature covers exactly this text."""
    names = " ".join(_quote(c) for c in components)
    values = "".join(f";{k}" if v == "?1" else f";{k}={v}" for k, v in params.items())
    return f"({names}){values}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(item: str) -> str:
    return item[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def _string_param(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    return _unquote(value) if value and value.startswith('"') else None


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    return int(value) if value is not None and re.fullmatch(_INTEGER, value) else None
