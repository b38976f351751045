"""Who may open what, without sockets: roles, link tokens, Origin, caps, headers, start-up."""

import pytest

from streams.access import (
    ACCEPTS,
    MAX_LINK_TTL_S,
    AccessPolicy,
    Ask,
    ConnectionCounts,
    Credential,
    Grant,
    LinkCheck,
    Refusal,
    Resource,
    Role,
    check_link,
    deployment_problem,
    desktop_path,
    is_loopback,
    mint_link,
    presented_credential,
    presented_token,
    security_headers,
)
from streams.access import TokenSource as Source
from streams.config import ServerOptions, TokenOptions

SECRET = "s" * 40
TOKENS = TokenOptions(ingest="in-tok", agent="agent-tok", supervisor="sup-tok", link_secret=SECRET)
HOST = "assist.example.com:8765"
OWN = "http://assist.example.com:8765"
CRM = "https://crm.example.com"
NOW = 1_000_000.0
POLICY = AccessPolicy(TOKENS, (CRM,))
OPEN = AccessPolicy(TokenOptions())


def decide(
    resource: Resource,
    token: str | None = None,
    *,
    call_id: str | None = None,
    origin: str | None = None,
    policy: AccessPolicy = POLICY,
    now_s: float = NOW,
) -> Grant | Refusal:
    return policy.decide(Ask(resource, call_id, token, origin, HOST), now_s)


def refusal(decision: Grant | Refusal) -> tuple[int, str]:
    assert isinstance(decision, Refusal), decision
    return decision.status, decision.reason


def link(call_id: str, ttl_s: int = 60) -> str:
    return mint_link(SECRET, call_id, NOW, ttl_s).token


# --- roles ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "resource, token, role",
    [
        (Resource.INGEST, "in-tok", Role.INGEST),
        (Resource.WEBRTC, "in-tok", Role.INGEST),
        (Resource.AUDIOHOOK, "in-tok", Role.INGEST),
        (Resource.CALL, "agent-tok", Role.AGENT),
        (Resource.CALL, "sup-tok", Role.SUPERVISOR),
        (Resource.CALLS, "agent-tok", Role.AGENT),
        (Resource.ALERTS, "sup-tok", Role.SUPERVISOR),
        (Resource.LINK, "sup-tok", Role.SUPERVISOR),
        (Resource.KPIS, "sup-tok", Role.SUPERVISOR),
    ],
)
def test_each_role_opens_its_own(resource: Resource, token: str, role: Role):
    assert decide(resource, token, call_id="c1") == Grant(role)


@pytest.mark.parametrize(
    "resource, token",
    [
        (Resource.INGEST, "agent-tok"),
        (Resource.CALL, "in-tok"),
        (Resource.ALERTS, "agent-tok"),
        (Resource.ALERTS, "in-tok"),
        (Resource.LINK, "agent-tok"),
        (Resource.CALLS, "in-tok"),
        (Resource.KPIS, "agent-tok"),
        (Resource.INGEST, "nonsense"),
    ],
)
def test_a_token_of_another_role_is_403(resource: Resource, token: str):
    assert refusal(decide(resource, token, call_id="c1")) == (403, "wrong_token")


def test_no_token_is_401_except_twilio_whose_token_comes_in_start():
    assert refusal(decide(Resource.ALERTS)) == (401, "no_token")
    assert refusal(decide(Resource.INGEST)) == (401, "no_token")
    assert decide(Resource.TWILIO) == Grant(None, token_pending=True)
    assert refusal(decide(Resource.TWILIO, "agent-tok")) == (403, "wrong_token")


def test_audiohook_answers_401_to_a_missing_or_a_wrong_key():
    assert refusal(decide(Resource.AUDIOHOOK)) == (401, "no_token")
    assert refusal(decide(Resource.AUDIOHOOK, "wrong")) == (401, "wrong_token")
    assert refusal(decide(Resource.AUDIOHOOK, "sup-tok")) == (401, "wrong_token")


def test_public_resources_need_nothing():
    assert decide(Resource.PUBLIC) == Grant(None)
    assert decide(Resource.PUBLIC, origin="https://evil.example") == Grant(None)


def test_with_no_tokens_everything_is_open_but_origin_still_counts():
    for resource in (Resource.INGEST, Resource.ALERTS, Resource.CALLS, Resource.CALL):
        assert decide(resource, policy=OPEN, call_id="c") == Grant(None)
    assert refusal(decide(Resource.ALERTS, policy=OPEN, origin="https://evil.example")) == (
        403,
        "origin",
    )


def test_a_role_without_a_token_is_closed_not_open():
    """Start-up refuses a partial set; were one to get through, the unset role is shut."""
    partial = AccessPolicy(TokenOptions(ingest="in-tok", agent="agent-tok"))
    assert refusal(decide(Resource.ALERTS, policy=partial)) == (401, "no_token")
    assert refusal(decide(Resource.ALERTS, "agent-tok", policy=partial)) == (403, "wrong_token")
    assert refusal(decide(Resource.LINK, "", policy=partial)) == (403, "wrong_token")


def test_an_empty_token_matches_nothing():
    assert refusal(decide(Resource.CALLS, "")) == (403, "wrong_token")


# --- link tokens ----------------------------------------------------------------------------
def test_a_link_opens_its_call_and_nothing_else():
    token = link("c1")
    assert decide(Resource.CALL, token, call_id="c1") == Grant(Role.LINK)
    assert refusal(decide(Resource.CALL, token, call_id="c2")) == (403, "wrong_token")
    for resource in (Resource.CALLS, Resource.ALERTS, Resource.LINK, Resource.INGEST):
        assert refusal(decide(resource, token, call_id="c1")) == (403, "wrong_token")


def test_a_link_is_refused_once_it_expires():
    token = link("c1", ttl_s=60)
    assert decide(Resource.CALL, token, call_id="c1", now_s=NOW + 59) == Grant(Role.LINK)
    assert refusal(decide(Resource.CALL, token, call_id="c1", now_s=NOW + 60)) == (
        401,
        "expired_link",
    )


def test_an_expired_link_for_another_call_is_just_wrong():
    """The signature is checked before the expiry: a forged token learns nothing."""
    token = link("c1", ttl_s=60)
    assert refusal(decide(Resource.CALL, token, call_id="c2", now_s=NOW + 600)) == (
        403,
        "wrong_token",
    )


def test_a_tampered_link_is_invalid():
    prefix, expires, signature = link("c1").split(".")
    longer = f"{prefix}.{int(expires) + 3600}.{signature}"
    assert check_link(SECRET, longer, "c1", NOW) is LinkCheck.INVALID
    assert check_link("t" * 40, link("c1"), "c1", NOW) is LinkCheck.INVALID
    for junk in ("link1", "link1..", "link1.x.y", "link1.²³.abc", f"link2.{expires}.{signature}"):
        assert check_link(SECRET, junk, "c1", NOW) is LinkCheck.INVALID
    assert check_link(SECRET, link("c1"), "c1", NOW) is LinkCheck.VALID


def test_links_are_off_without_a_secret():
    no_links = AccessPolicy(TokenOptions(ingest="i" * 8, agent="a" * 8, supervisor="s" * 8))
    assert not no_links.links_enabled
    assert refusal(decide(Resource.CALL, link("c1"), call_id="c1", policy=no_links)) == (
        403,
        "wrong_token",
    )
    with pytest.raises(ValueError, match="link_secret"):
        no_links.mint_link("c1", NOW, 60)


def test_minting_checks_the_call_id_and_the_ttl():
    with pytest.raises(ValueError, match="not a call id"):
        mint_link(SECRET, "a/b", NOW, 60)
    for ttl in (0, -1, MAX_LINK_TTL_S + 1):
        with pytest.raises(ValueError, match="ttl"):
            mint_link(SECRET, "c1", NOW, ttl)
    assert mint_link(SECRET, "c1", NOW, 60).expires_at_s == NOW + 60


def test_the_desktop_path_quotes_what_it_carries():
    assert desktop_path("a:b@c", "link1.5.x-_") == "/desktop?call=a%3Ab%40c&token=link1.5.x-_"


# --- Origin -------------------------------------------------------------------------------
def test_origin_comes_before_the_token():
    """A browser on another site is refused whatever it carries, even a good token."""
    evil = "https://evil.example"
    assert refusal(decide(Resource.ALERTS, "sup-tok", origin=evil)) == (403, "origin")
    assert refusal(decide(Resource.CALL, link("c1"), call_id="c1", origin=evil)) == (
        403,
        "origin",
    )
    assert refusal(decide(Resource.INGEST, "in-tok", origin=evil)) == (403, "origin")
    assert refusal(decide(Resource.ALERTS, origin=evil)) == (403, "origin")  # not 401


def test_an_allowed_origin_still_needs_its_token():
    assert decide(Resource.ALERTS, "sup-tok", origin=OWN) == Grant(Role.SUPERVISOR)
    assert decide(Resource.ALERTS, "sup-tok", origin=CRM) == Grant(Role.SUPERVISOR)
    assert refusal(decide(Resource.ALERTS, origin=CRM)) == (401, "no_token")
    assert refusal(decide(Resource.ALERTS, "agent-tok", origin=OWN)) == (403, "wrong_token")


@pytest.mark.parametrize(
    "origin, host, allowed",
    [
        ("http://assist.example.com:8765", "assist.example.com:8765", True),
        ("HTTP://Assist.Example.com:8765", "assist.example.com:8765", True),
        ("https://assist.example.com", "assist.example.com", True),  # behind a TLS proxy
        ("https://assist.example.com:443", "assist.example.com", True),
        ("http://assist.example.com", "assist.example.com:80", True),
        ("http://127.0.0.1:8765", "127.0.0.1:8765", True),
        ("http://[::1]:8765", "[::1]:8765", True),
        ("http://assist.example.com:8766", "assist.example.com:8765", False),
        ("https://assist.example.com:8443", "assist.example.com", False),
        ("http://assist.example.com.evil:8765", "assist.example.com:8765", False),
        ("http://evil.example", "assist.example.com", False),
        ("null", "assist.example.com", False),
        ("file://", "assist.example.com", False),
        ("http://assist.example.com/path", "assist.example.com", False),
        ("http://assist.example.com:99999", "assist.example.com", False),
        ("http://assist.example.com", None, False),
        ("http://assist.example.com", "assist.example.com:abc", False),
        ("https://crm.example.com", "assist.example.com", True),  # allowed_origins
        ("https://crm.example.com:443", "assist.example.com", True),
        ("http://crm.example.com", "assist.example.com", False),  # another scheme
    ],
)
def test_same_origin_or_listed(origin: str, host: str | None, allowed: bool):
    assert POLICY.origin_allowed(origin, host) is allowed


# --- credentials ----------------------------------------------------------------------------
def test_the_bearer_header_beats_the_api_key_which_beats_the_query():
    assert presented_token("Bearer a", "b", "c") == "a"
    assert presented_token("bearer  a ", None, "c") == "a"
    assert presented_token("Basic xyz", " b ", "c") == "b"
    assert presented_token(None, None, "c") == "c"
    assert presented_token(None, "  ", None) is None


def test_a_credential_says_where_its_token_came_from():
    assert presented_credential("Bearer a", "b", "c") == Credential("a", Source.BEARER)
    assert presented_credential("Basic xyz", " b ", "c") == Credential("b", Source.API_KEY)
    assert presented_credential(None, None, "c") == Credential("c", Source.QUERY)
    assert presented_credential(None, "  ", None) is None


# --- erasure --------------------------------------------------------------------------------
def erase(
    token: str | None,
    source: Source | None = Source.BEARER,
    *,
    origin: str | None = None,
    policy: AccessPolicy = POLICY,
) -> Grant | Refusal:
    return policy.decide(Ask(Resource.ERASE, "c1", token, origin, HOST, source), NOW)


def test_only_the_supervisor_token_erases():
    assert erase("sup-tok") == Grant(Role.SUPERVISOR)
    for other in ("agent-tok", "in-tok", link("c1"), "nonsense", ""):
        assert refusal(erase(other)) == (403, "wrong_token"), other
    assert ACCEPTS[Resource.ERASE] == frozenset({Role.SUPERVISOR})


def test_the_erase_token_must_come_in_the_bearer_header():
    """A ?token= address (a link, a bookmark, an <img>) must not erase by being opened, even
    with the right token; nor does X-API-KEY, nor a request that does not say."""
    for source in (Source.QUERY, Source.API_KEY, None):
        assert refusal(erase("sup-tok", source)) == (401, "bearer_only"), source
    assert refusal(erase(link("c1"), Source.QUERY)) == (401, "bearer_only")
    assert refusal(erase(None, None)) == (401, "no_token")


def test_erasure_is_never_open_not_even_without_tokens():
    assert refusal(erase(None, None, policy=OPEN)) == (403, "erase_closed")
    assert refusal(erase("anything", policy=OPEN)) == (403, "erase_closed")
    assert decide(Resource.CALL, policy=OPEN, call_id="c1") == Grant(None)  # reading still is


def test_erasure_from_a_browser_needs_an_allowed_origin_first():
    assert refusal(erase("sup-tok", origin="https://evil.example")) == (403, "origin")
    assert erase("sup-tok", origin=OWN) == Grant(Role.SUPERVISOR)


def test_every_resource_but_public_names_who_opens_it():
    assert set(ACCEPTS) == set(Resource) - {Resource.PUBLIC}


# --- caps -----------------------------------------------------------------------------------
def test_caps_per_client_and_in_total():
    counts = ConnectionCounts(max_total=3, max_per_client=2)
    counts.add("a")
    counts.add("a")
    assert counts.refusal("a") == "max_connections_per_client"
    assert counts.refusal("b") is None
    counts.add("b")
    assert counts.refusal("c") == "max_connections"
    counts.remove("a")
    assert counts.refusal("a") is None and counts.total == 2
    unlimited = ConnectionCounts(0, 0)
    for _ in range(1000):
        unlimited.add("a")
    assert unlimited.refusal("a") is None


# --- headers --------------------------------------------------------------------------------
def test_security_headers():
    headers = dict(security_headers("assist.example.com:8765", "'none'"))
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert "connect-src 'self' ws://assist.example.com:8765 wss://assist.example.com:8765" in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    framed = dict(security_headers("h", CRM))["Content-Security-Policy"]
    assert f"frame-ancestors {CRM}" in framed


def test_a_strange_host_never_reaches_the_policy():
    for host in ("evil; script-src *", "a b", None, ""):
        csp = dict(security_headers(host, "'none'"))["Content-Security-Policy"]
        assert "connect-src 'self';" in csp and "script-src *" not in csp


# --- start-up -------------------------------------------------------------------------------
def problem(host: str = "127.0.0.1", allow_open: bool = False, **tokens: str) -> str | None:
    return deployment_problem(
        ServerOptions(host=host, allow_open=allow_open), TokenOptions(**tokens)
    )


def test_a_partial_set_of_tokens_refuses_to_start_naming_the_unset_roles():
    assert problem(ingest="a" * 8, agent="b" * 8) == (
        "[tokens] supervisor is not set while ingest and agent are: set it, or unset "
        "ingest and agent to run open on a loopback address"
    )
    assert problem(agent="b" * 8) == (
        "[tokens] ingest and supervisor are not set while agent is: set them, or unset "
        "agent to run open on a loopback address"
    )
    assert problem(ingest="a" * 8, agent="b" * 8, supervisor="c" * 8) is None


def test_the_same_secret_for_two_roles_refuses_to_start():
    message = problem(ingest="a" * 8, agent="a" * 8, supervisor="c" * 8)
    assert message is not None and "same value" in message and "a" * 8 not in message


def test_a_link_secret_on_an_open_service_refuses_to_start():
    message = problem(link_secret=SECRET)
    assert message is not None and message.startswith("[tokens] link_secret is set")


def test_open_on_a_reachable_address_needs_allow_open():
    message = problem(host="0.0.0.0")
    assert message is not None and "[server] allow_open = true" in message
    assert "'0.0.0.0'" in message
    assert problem(host="0.0.0.0", allow_open=True) is None
    assert problem(host="192.168.1.5", ingest="a" * 8, agent="b" * 8, supervisor="c" * 8) is None
    for loopback in ("127.0.0.1", "localhost", "::1", "127.0.0.2", "[::1]"):
        assert problem(host=loopback) is None
    assert problem(host="") is not None  # every interface
    assert not is_loopback("example.com")
