"""Who may open what: roles, tokens, link tokens, Origin, connection caps and the security
headers. Sans-I/O: plain values in, decisions out; `streams.server` asks and acts.

`AccessPolicy.decide(ask, now_s)` applies these rules, in this order:

1. Public resources (the pages, /healthz, /metrics) are open to everyone.
2. A request that carries an `Origin` header comes from a browser: the Origin must be the
   Host's own origin or one of `[server] allowed_origins`, whatever token it carries
   (403, `origin`). A request without one (a platform, the CLI) is judged by its token.
3. With no tokens configured at all, everything else is open too (`deployment_problem`
   refuses that on an address other machines can reach unless `[server] allow_open`).
4. Otherwise the presented token (`Authorization: Bearer`, `X-API-KEY`, `?token=`) must
   be one the resource accepts (`ACCEPTS`): ingest for the ingest routes and WebRTC;
   agent or supervisor for the list of calls and any call's events and record;
   supervisor for the alert feed and for minting links. A role whose token is unset
   opens nothing. A link token (`mint_link`, signed with `[tokens] link_secret`) opens
   only the events and record of the call it was minted for, until it expires.
   Erasure (`BEARER_ONLY`) is the supervisor token's alone, and only in an
   `Authorization: Bearer` header: no link, page, image or address bar can set one, so
   nothing erases a call by being opened. It is never open, not even on a service with no
   tokens (403, `erase_closed`: `callassist erase` is there); a token that came another
   way is 401 (`bearer_only`) and is not even looked at.
5. Missing credentials are 401 (`no_token`), wrong ones 403 (`wrong_token`), an expired
   link 401 (`expired_link`). AudioHook answers 401 to a missing and a wrong key alike,
   as the protocol's reference does. Twilio cannot send headers: without a token its
   handshake goes on, and the server checks the token in its `start` message.

Every comparison with a secret is constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, urlsplit

from streams.config import ServerOptions, TokenOptions

CALL_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
LINK_PREFIX = "link1"
MAX_LINK_TTL_S = 7 * 24 * 3600
_LINK_DOMAIN = b"callassist-link-v1"
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
_LOOPBACK_NAMES = frozenset({"localhost"})
_SAFE_HOST = re.compile(r"[A-Za-z0-9.:\[\]-]{1,255}")  # what may go into a CSP source


class Role(StrEnum):
    INGEST = "ingest"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    LINK = "link"  # a link token: one call, until it expires


class Resource(StrEnum):
    PUBLIC = "public"  # pages, /healthz, /metrics
    INGEST = "ingest"  # /v1/ingest, /v1/fork
    TWILIO = "twilio"  # ingest whose token may come in the start message instead
    AUDIOHOOK = "audiohook"  # ingest that answers 401 to any bad key
    WEBRTC = "webrtc"
    CALL = "call"  # one call's events or record
    CALLS = "calls"  # the list of calls
    KPIS = "kpis"  # the supervisors' KPIs over ended calls
    ALERTS = "alerts"
    LINK = "link"  # minting a link token for one call
    ERASE = "erase"  # erasing one ended call: events, alerts and record


ACCEPTS: dict[Resource, frozenset[Role]] = {
    Resource.INGEST: frozenset({Role.INGEST}),
    Resource.TWILIO: frozenset({Role.INGEST}),
    Resource.AUDIOHOOK: frozenset({Role.INGEST}),
    Resource.WEBRTC: frozenset({Role.INGEST}),
    Resource.CALL: frozenset({Role.AGENT, Role.SUPERVISOR, Role.LINK}),
    Resource.CALLS: frozenset({Role.AGENT, Role.SUPERVISOR}),
    Resource.ALERTS: frozenset({Role.SUPERVISOR}),
    Resource.KPIS: frozenset({Role.SUPERVISOR}),
    Resource.LINK: frozenset({Role.SUPERVISOR}),
    Resource.ERASE: frozenset({Role.SUPERVISOR}),
}
# Resources whose token must come in an `Authorization: Bearer` header: a ?token= in an
# address would let a link, a bookmark or an <img> act just by being opened.
BEARER_ONLY = frozenset({Resource.ERASE})


class TokenSource(StrEnum):
    """Where a request's token came from (see `presented_credential`)."""

    BEARER = "bearer"  # Authorization: Bearer
    API_KEY = "api_key"  # X-API-KEY
    QUERY = "query"  # ?token=


@dataclass(frozen=True, slots=True)
class Credential:
    token: str
    source: TokenSource


@dataclass(frozen=True, slots=True)
class Ask:
    """One request, as far as access is concerned."""

    resource: Resource
    call_id: str | None = None  # CALL and LINK: the call in the path
    token: str | None = None  # as presented (see `presented_token`)
    origin: str | None = None  # the Origin header: present means a browser
    host: str | None = None  # the Host header
    # Where `token` came from; None (not said) is refused where BEARER_ONLY applies.
    token_source: TokenSource | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    role: Role | None  # None: the service is open (no tokens configured) or the resource is
    token_pending: bool = False  # Twilio: the token must come in the start message


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int  # HTTP status of the handshake's answer
    reason: str  # a metric label and a log field; never a secret
    message: str  # for the client


class LinkCheck(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Link:
    token: str
    expires_at_s: int  # Unix time


class AccessPolicy:
    def __init__(self, tokens: TokenOptions, allowed_origins: tuple[str, ...] = ()) -> None:
        self._tokens = {
            Role.INGEST: tokens.ingest,
            Role.AGENT: tokens.agent,
            Role.SUPERVISOR: tokens.supervisor,
        }
        self._link_secret = tokens.link_secret
        self._allowed = frozenset(filter(None, map(_origin_key, allowed_origins)))

    @property
    def is_open(self) -> bool:
        """No token configured: every role is open (only sensible on loopback)."""
        return not any(self._tokens.values())

    @property
    def links_enabled(self) -> bool:
        return self._link_secret is not None

    def decide(self, ask: Ask, now_s: float) -> Grant | Refusal:
        if ask.resource is Resource.PUBLIC:
            return Grant(None)
        if ask.origin is not None and not self.origin_allowed(ask.origin, ask.host):
            return Refusal(403, "origin", "this page's origin may not open this")
        if ask.resource in BEARER_ONLY:
            refusal = self._bearer_only(ask)
            if refusal is not None:
                return refusal
        if self.is_open:
            return Grant(None)
        if ask.token is None:
            if ask.resource is Resource.TWILIO:
                return Grant(None, token_pending=True)
            return _refused(ask.resource, "no_token", "a bearer token is required")
        return self._judge_token(ask, ask.token, now_s)

    def role_of(self, token: str) -> Role | None:
        """The role whose token this is (every configured token is compared)."""
        found = None
        for role, secret in self._tokens.items():
            if secret is not None and _same(token, secret):
                found = found or role
        return found

    def mint_link(self, call_id: str, now_s: float, ttl_s: int) -> Link:
        if self._link_secret is None:
            raise ValueError("links are off: set [tokens] link_secret")
        return mint_link(self._link_secret, call_id, now_s, ttl_s)

    def origin_allowed(self, origin: str, host: str | None) -> bool:
        key = _origin_key(origin)
        if key is None:
            return False  # "null", garbage, a path
        return key in self._allowed or _same_origin(key, host)

    def _bearer_only(self, ask: Ask) -> Refusal | None:
        if self.is_open:
            return Refusal(
                403, "erase_closed", "erasure over HTTP needs [tokens]: use `callassist erase`"
            )
        if ask.token is None:
            return Refusal(401, "no_token", "the supervisor token is required, as a bearer")
        if ask.token_source is not TokenSource.BEARER:
            return Refusal(
                401, "bearer_only", "send the token in an Authorization: Bearer header only"
            )
        return None

    def _judge_token(self, ask: Ask, token: str, now_s: float) -> Grant | Refusal:
        accepted = ACCEPTS[ask.resource]
        role = self.role_of(token)
        if role is not None:
            if role in accepted:
                return Grant(role)
            return _refused(ask.resource, "wrong_token", "this token does not open this")
        if Role.LINK in accepted and self._link_secret and ask.call_id and _is_link(token):
            check = check_link(self._link_secret, token, ask.call_id, now_s)
            if check is LinkCheck.VALID:
                return Grant(Role.LINK)
            if check is LinkCheck.EXPIRED:
                return Refusal(401, "expired_link", "this link has expired: ask for a new one")
        return _refused(ask.resource, "wrong_token", "token not accepted here")


def _refused(resource: Resource, reason: str, message: str) -> Refusal:
    if resource is Resource.AUDIOHOOK or reason == "no_token":
        return Refusal(401, reason, message)
    return Refusal(403, reason, message)


def _same(presented: str, secret: str) -> bool:
    return hmac.compare_digest(presented.encode(), secret.encode())


# --- link tokens --------------------------------------------------------------------------
def mint_link(secret: str, call_id: str, now_s: float, ttl_s: int) -> Link:
    """A token that opens `call_id`'s events and record until `now_s + ttl_s`."""
    if not CALL_ID.fullmatch(call_id):
        raise ValueError(f"not a call id: {call_id!r}")
    if not 0 < ttl_s <= MAX_LINK_TTL_S:
        raise ValueError(f"the ttl must be 1 to {MAX_LINK_TTL_S} s, not {ttl_s}")
    expires = int(now_s) + ttl_s
    return Link(f"{LINK_PREFIX}.{expires}.{_sign(secret, call_id, expires)}", expires)


def check_link(secret: str, token: str, call_id: str, now_s: float) -> LinkCheck:
    """Signature first (a forged token learns nothing about expiry), then expiry."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != LINK_PREFIX or not _is_number(parts[1]):
        return LinkCheck.INVALID
    expires = int(parts[1])
    if not hmac.compare_digest(parts[2].encode(), _sign(secret, call_id, expires).encode()):
        return LinkCheck.INVALID
    return LinkCheck.VALID if now_s < expires else LinkCheck.EXPIRED


def desktop_path(call_id: str, token: str) -> str:
    """The desktop's address for one call, with its link token (to append to the host)."""
    return f"/desktop?call={quote(call_id, safe='')}&token={quote(token, safe='')}"


def _sign(secret: str, call_id: str, expires: int) -> str:
    message = b"\n".join((_LINK_DOMAIN, call_id.encode(), str(expires).encode()))
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _is_link(token: str) -> bool:
    return token.startswith(f"{LINK_PREFIX}.")


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 12


# --- credentials ----------------------------------------------------------------------------
def presented_token(
    authorization: str | None, api_key: str | None, query_token: str | None
) -> str | None:
    """The token a request presents: a bearer header, else X-API-KEY (Genesys), else ?token=."""
    credential = presented_credential(authorization, api_key, query_token)
    return None if credential is None else credential.token


def presented_credential(
    authorization: str | None, api_key: str | None, query_token: str | None
) -> Credential | None:
    """The token a request presents and where it came from, in `presented_token`'s order."""
    if authorization and authorization.lower().startswith("bearer "):
        return Credential(authorization[7:].strip(), TokenSource.BEARER)
    if api_key and api_key.strip():
        return Credential(api_key.strip(), TokenSource.API_KEY)
    if query_token is None:
        return None
    return Credential(query_token, TokenSource.QUERY)


# --- Origin -------------------------------------------------------------------------------
def _origin_key(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin such as https://crm.example.com; None if it is not one."""
    try:
        url = urlsplit(origin.strip().lower())
        port = url.port
    except ValueError:
        return None
    if url.scheme not in _DEFAULT_PORTS or not url.hostname or url.path not in ("", "/"):
        return None
    if url.query or url.fragment or url.username or url.password:
        return None
    return url.scheme, url.hostname, port or _DEFAULT_PORTS[url.scheme]


def _same_origin(origin: tuple[str, str, int], host: str | None) -> bool:
    """Whether the origin names the host this request was sent to (the Host header)."""
    if not host:
        return False
    try:
        url = urlsplit(f"//{host.strip().lower()}")
        port = url.port
    except ValueError:
        return False
    scheme, name, origin_port = origin
    if url.hostname != name or url.path or url.query or url.username:
        return False
    return origin_port == (port or _DEFAULT_PORTS[scheme])


def is_origin(text: str) -> bool:
    return _origin_key(text) is not None


# --- response headers ---------------------------------------------------------------------
def security_headers(host: str | None, frame_ancestors: str) -> list[tuple[str, str]]:
    """Headers for every page and JSON answer: scripts, styles and connections to this host
    only; framing by `frame_ancestors` only; no Referer; no content sniffing."""
    connect = "'self'"
    if host and _SAFE_HOST.fullmatch(host):
        connect += f" ws://{host} wss://{host}"
    policy = "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            f"connect-src {connect}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        )
    )
    return [
        ("Content-Security-Policy", policy),
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
    ]


# --- start-up -----------------------------------------------------------------------------
def deployment_problem(server: ServerOptions, tokens: TokenOptions) -> str | None:
    """Why this configuration must not start, in one line; None when it may."""
    roles = {
        Role.INGEST: tokens.ingest,
        Role.AGENT: tokens.agent,
        Role.SUPERVISOR: tokens.supervisor,
    }
    given = [role for role, token in roles.items() if token]
    missing = [role for role, token in roles.items() if not token]
    if given and missing:
        return _partial_tokens(given, missing)
    secrets = [token for token in (*roles.values(), tokens.link_secret) if token]
    if len(set(secrets)) < len(secrets):
        return "[tokens] two settings have the same value: each role and link_secret needs its own"
    if not given and tokens.link_secret:
        return (
            "[tokens] link_secret is set but ingest, agent and supervisor are not: "
            "on an open service a link limits nothing; set the three role tokens"
        )
    if not given and not server.allow_open and not is_loopback(server.host):
        return (
            f"[server] host = {server.host!r} can be reached from other machines and no "
            "[tokens] are set, so anyone there could read every call and inject audio: "
            "set [tokens] ingest, agent and supervisor, or set [server] allow_open = true"
        )
    return None


def _partial_tokens(given: list[Role], missing: list[Role]) -> str:
    """`[tokens] supervisor is not set while ingest and agent are: set it, or ...`"""
    one = len(missing) == 1
    names = " and ".join(missing), " and ".join(given)
    return (
        f"[tokens] {names[0]} {'is' if one else 'are'} not set while {names[1]} "
        f"{'is' if len(given) == 1 else 'are'}: set {'it' if one else 'them'}, or unset "
        f"{names[1]} to run open on a loopback address"
    )


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- connection caps ------------------------------------------------------------------------
class ConnectionCounts:
    """Open websockets, in total and per client address; 0 = no cap."""

    def __init__(self, max_total: int, max_per_client: int) -> None:
        self._max_total = max_total
        self._max_per_client = max_per_client
        self._per_client: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return self._per_client.total()

    def refusal(self, client: str) -> str | None:
        """Why one more connection from `client` would be one too many, or None."""
        if self._max_total and self.total >= self._max_total:
            return "max_connections"
        if self._max_per_client and self._per_client[client] >= self._max_per_client:
            return "max_connections_per_client"
        return None

    def add(self, client: str) -> None:
        self._per_client[client] += 1

    def remove(self, client: str) -> None:
        self._per_client[client] -= 1
        if self._per_client[client] <= 0:
            del self._per_client[client]
