"""Hostile clients against the real server on loopback (a scripted decoder: the model is not
the point): half-configured tokens, foreign origins, link tokens, silent and piled-up
sockets, bad cursors and keys, and secrets in the logs. Each refusal is also read back
from /metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from streams.config import load_config
from streams.errors import ConfigError
from streams.logs import RedactSecrets, redact
from streams.server import Service
from tests.fakes import ScriptedDecoder

TOKENS = {
    "ingest": "in-secret-1",
    "agent": "agent-secret-1",
    "supervisor": "sup-secret-1",
    "link_secret": "L" * 40,
}
EVIL = "https://evil.example"


def start_message(call_id: str) -> str:
    fields = {"sample_rate": 16000, "encoding": "pcm16", "channels": 1}
    return json.dumps({"type": "start", "call_id": call_id, **fields})


class Clock:
    def __init__(self) -> None:
        self.now_s = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now_s


async def start(tmp_path, clock: Clock | None = None, **sections) -> tuple[Service, str]:
    server = {"port": 0, "data_dir": str(tmp_path), **sections.pop("server", {})}
    sections.setdefault("assist", {"enabled": False})
    config = load_config(environ={}, server=server, **sections)
    service = Service(config, engine=ScriptedDecoder(), clock=clock or Clock())
    port = await service.start()
    return service, f"127.0.0.1:{port}"


@pytest.fixture
async def guarded(tmp_path):
    """All tokens and links on; short deadlines; small caps."""
    clock = Clock()
    server = {"first_message_timeout_s": 0.3, "idle_timeout_s": 0.6}
    service, address = await start(tmp_path, clock, tokens=TOKENS, server=server)
    yield service, address, clock
    await service.stop()


@pytest.fixture
async def open_service(tmp_path):
    """The default: no tokens, on loopback."""
    service, address = await start(tmp_path, server={"first_message_timeout_s": 0.3})
    yield service, address
    await service.stop()


def request(
    address: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict, dict[str, str]]:
    req = urllib.request.Request(f"http://{address}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            body = response.read()
            return response.status, _json(body), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, _json(error.read()), dict(error.headers)


def _json(body: bytes) -> dict:
    try:
        return json.loads(body)
    except ValueError:
        return {}


async def http(address: str, path: str, **headers: str) -> tuple[int, dict, dict[str, str]]:
    """On a thread: the server under test runs on this event loop."""
    return await asyncio.to_thread(request, address, path, _names(headers))


def _names(headers: dict[str, str]) -> dict[str, str]:
    return {name.replace("_", "-"): value for name, value in headers.items()}


async def refused_status(address: str, path: str, **headers: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"ws://{address}{path}", additional_headers=_names(headers))
    return refused.value.response.status_code


async def refusals(address: str) -> dict[str, float]:
    def get() -> str:
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
            return response.read().decode()

    text = await asyncio.to_thread(get)
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "callassist_connections_refused"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


async def closed_with(ws: ClientConnection, limit_s: float = 5.0) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), limit_s)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


# --- 1. no route open by accident ------------------------------------------------------------
async def test_half_configured_tokens_refuse_to_start(tmp_path):
    with pytest.raises(ConfigError, match=r"^\[tokens\] supervisor is not set while ingest and"):
        await start(tmp_path, tokens={"ingest": "a" * 8, "agent": "b" * 8})
    assert not (tmp_path / "calls.sqlite3").exists()  # nothing was opened


async def test_an_open_service_on_a_reachable_address_needs_allow_open(tmp_path):
    with pytest.raises(ConfigError, match=r"allow_open = true"):
        await start(tmp_path, server={"host": "0.0.0.0"})
    service, _ = await start(tmp_path, server={"host": "0.0.0.0", "allow_open": True})
    await service.stop()


async def test_every_role_without_its_token_is_closed(guarded):
    _, address, _ = guarded
    for path in ("/v1/alerts", "/v1/calls/c1/events", "/v1/ingest", "/v1/fork", "/v1/webrtc"):
        assert await refused_status(address, path) == 401
    assert await refused_status(address, "/v1/alerts?token=agent-secret-1") == 403
    assert await refused_status(address, "/v1/webrtc", Authorization="Bearer sup-secret-1") == 403
    assert (await http(address, "/v1/calls"))[0] == 401
    assert (await http(address, "/v1/calls/c1", Authorization="Bearer in-secret-1"))[0] == 403
    counted = await refusals(address)
    assert counted["no_token"] == 6 and counted["wrong_token"] == 3


async def test_a_link_token_opens_one_call_until_it_expires(guarded):
    _, address, clock = guarded
    status, minted, _ = await http(
        address, "/v1/calls/c1/link?ttl=60", Authorization="Bearer sup-secret-1"
    )
    assert status == 200 and minted["path"] == f"/desktop?call=c1&token={minted['token']}"
    assert minted["expires_at"].startswith("2023-11-14T22:14:20")
    token = minted["token"]
    async with connect(f"ws://{address}/v1/calls/c1/events?token={token}"):
        pass
    async with connect(f"ws://{address}/v1/ingest?token=in-secret-1") as ingest:
        await ingest.send(start_message("c1"))
        await ingest.send('{"type": "stop"}')
    await asyncio.sleep(0.3)
    status, record, _ = await http(address, "/v1/calls/c1", Authorization=f"Bearer {token}")
    assert status == 200 and record["call_id"] == "c1"
    assert await refused_status(address, f"/v1/calls/c2/events?token={token}") == 403
    assert await refused_status(address, f"/v1/alerts?token={token}") == 403
    assert (await http(address, "/v1/calls", Authorization=f"Bearer {token}"))[0] == 403
    assert (await http(address, "/v1/calls/c2", Authorization=f"Bearer {token}"))[0] == 403
    assert (await http(address, "/v1/calls/c2/link", Authorization=f"Bearer {token}"))[0] == 403
    clock.now_s += 60
    assert await refused_status(address, f"/v1/calls/c1/events?token={token}") == 401
    assert (await refusals(address))["expired_link"] == 1


async def test_only_the_supervisor_mints_links_and_only_with_a_secret(guarded, tmp_path):
    _, address, _ = guarded
    agent = {"Authorization": "Bearer agent-secret-1"}
    assert (await http(address, "/v1/calls/c1/link", **agent))[0] == 403
    assert (await http(address, "/v1/calls/c1/link"))[0] == 401
    supervisor = {"Authorization": "Bearer sup-secret-1"}
    for ttl in ("0", "abc", "99999999999", str(8 * 24 * 3600)):
        assert (await http(address, f"/v1/calls/c1/link?ttl={ttl}", **supervisor))[0] == 400
    no_links = {k: v for k, v in TOKENS.items() if k != "link_secret"}
    service, other = await start(tmp_path / "other", tokens=no_links)
    try:
        status, body, _ = await http(other, "/v1/calls/c1/link", **supervisor)
        assert status == 404 and "link_secret" in body["error"]
    finally:
        await service.stop()


# --- 2. browser origins and headers --------------------------------------------------------
async def test_a_foreign_page_cannot_read_or_inject_on_an_open_service(open_service):
    _, address = open_service
    for path in ("/v1/alerts", "/v1/calls/c1/events", "/v1/ingest", "/v1/twilio", "/v1/webrtc"):
        assert await refused_status(address, path, Origin=EVIL) == 403
    assert (await http(address, "/v1/calls", Origin=EVIL))[0] == 403
    assert (await http(address, "/v1/calls", Origin="null"))[0] == 403
    assert (await refusals(address))["origin"] == 7
    own = f"http://{address}"
    async with connect(f"ws://{address}/v1/alerts", additional_headers={"Origin": own}):
        pass
    async with connect(f"ws://{address}/v1/alerts"):  # no Origin: not a browser
        pass
    assert (await http(address, "/desktop", Origin=EVIL))[0] == 200  # pages hold no data


async def test_a_listed_origin_may_embed_and_still_needs_its_token(tmp_path):
    crm = "https://crm.example.com"
    service, address = await start(
        tmp_path, tokens=TOKENS, server={"allowed_origins": [crm], "frame_ancestors": crm}
    )
    try:
        async with connect(
            f"ws://{address}/v1/alerts?token=sup-secret-1", additional_headers={"Origin": crm}
        ):
            pass
        assert await refused_status(address, "/v1/alerts", Origin=crm) == 401
        assert await refused_status(address, "/v1/alerts?token=sup-secret-1", Origin=EVIL) == 403
        _, _, headers = await http(address, "/desktop")
        assert f"frame-ancestors {crm}" in headers["Content-Security-Policy"]
    finally:
        await service.stop()


async def test_a_header_sent_twice_is_a_bad_request(open_service):
    _, address = open_service

    def twice() -> int:
        import http.client

        connection = http.client.HTTPConnection(address, timeout=5)
        connection.putrequest("GET", "/v1/calls")
        connection.putheader("Origin", f"http://{address}")
        connection.putheader("Origin", EVIL)
        connection.endheaders()
        return connection.getresponse().status

    assert await asyncio.to_thread(twice) == 400
    assert (await refusals(address))["bad_header"] == 1


@pytest.mark.parametrize(
    "path", ["/desktop", "/static/live.js", "/v1/calls", "/healthz", "/metrics", "/v2/nothing"]
)
async def test_every_answer_carries_the_security_headers(open_service, path):
    _, address = open_service
    _, _, headers = await http(address, path)
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert f"connect-src 'self' ws://{address} wss://{address}" in csp
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"


async def test_websockets_own_refusals_carry_them_too(open_service):
    _, address = open_service
    status, _, headers = await http(address, "/v1/alerts")  # plain GET: 426 Upgrade Required
    assert status == 426 and headers["Referrer-Policy"] == "no-referrer"


# --- 3. silent, idle and piled-up sockets --------------------------------------------------
async def test_a_socket_that_says_nothing_is_closed(guarded):
    _, address, _ = guarded
    async with connect(f"ws://{address}/v1/twilio") as ws:  # no token: it would come in start
        assert await closed_with(ws) == (1008, "no first message")
    async with connect(f"ws://{address}/v1/ingest?token=in-secret-1") as ws:
        assert await closed_with(ws) == (1008, "no first message")
    assert (await refusals(address))["no_first_message"] == 2


async def test_an_unauthenticated_twilio_socket_must_start_promptly(guarded):
    _, address, _ = guarded
    async with connect(f"ws://{address}/v1/twilio") as ws:
        await ws.send(json.dumps({"event": "connected", "protocol": "Call"}))
        assert await closed_with(ws) == (1008, "idle")  # within the first-message deadline


async def test_a_call_whose_platform_goes_quiet_is_closed_and_ended(guarded):
    _, address, _ = guarded
    async with connect(f"ws://{address}/v1/ingest?token=in-secret-1") as ws:
        await ws.send(start_message("quiet"))
        await ws.send(b"\x00\x00" * 1600)
        await asyncio.sleep(0.3)
        await ws.send(b"\x00\x00" * 1600)  # still talking: not idle yet
        assert await closed_with(ws) == (1008, "idle")
    await asyncio.sleep(0.3)
    status, record, _ = await http(address, "/v1/calls/quiet", Authorization="Bearer sup-secret-1")
    assert status == 200 and record["status"] == "ended"
    ended = record["events"][-1]
    assert ended["type"] == "call.ended" and ended["reason"] == "client_disconnected"
    assert ended["detail"] == "idle"
    assert (await refusals(address))["idle"] == 1


async def test_two_hundred_silent_sockets_are_capped_then_closed(tmp_path):
    # the deadline outlasts the burst of handshakes, so no slot comes back during it
    server = {"first_message_timeout_s": 3.0, "max_connections_per_client": 20}
    service, address = await start(tmp_path, tokens=TOKENS, server=server)
    try:
        attempts = await asyncio.gather(
            *(connect(f"ws://{address}/v1/twilio") for _ in range(200)), return_exceptions=True
        )
        opened = [ws for ws in attempts if isinstance(ws, ClientConnection)]
        early = [e for e in attempts if isinstance(e, InvalidStatus)]
        assert all(e.response.status_code == 429 for e in early)
        closed = await asyncio.gather(*(closed_with(ws) for ws in opened))
        late = [c for c in closed if c == (1013, "too many connections")]
        assert len(opened) - len(late) == 20  # exactly the cap got through
        assert all(c == (1008, "no first message") for c in closed if c not in late)
        counted = await refusals(address)
        assert counted["max_connections_per_client"] == 180
        assert counted["no_first_message"] == 20
        async with connect(f"ws://{address}/v1/twilio"):  # the slots came back
            pass
        assert service.limits.total <= 1
    finally:
        await service.stop()


async def test_the_total_cap_holds_readers_too(tmp_path):
    service, address = await start(tmp_path, server={"max_connections": 3})
    try:
        readers = [await connect(f"ws://{address}/v1/alerts") for _ in range(3)]
        assert await refused_status(address, "/v1/alerts") == 503
        assert await refused_status(address, "/v1/ingest") == 503
        assert (await http(address, "/healthz"))[0] == 200  # plain HTTP is not capped
        await readers[0].close()
        await asyncio.sleep(0.1)
        async with connect(f"ws://{address}/v1/calls/c1/events"):
            pass
        for reader in readers[1:]:
            await reader.close()
        assert (await refusals(address))["max_connections"] == 2
    finally:
        await service.stop()


# --- 4. AudioHook and 6. cursors --------------------------------------------------------------
async def test_audiohook_answers_401_to_a_missing_or_wrong_key(guarded):
    _, address, _ = guarded
    assert await refused_status(address, "/v1/audiohook") == 401
    assert await refused_status(address, "/v1/audiohook", X_API_KEY="wrong") == 401
    assert await refused_status(address, "/v1/audiohook", X_API_KEY="sup-secret-1") == 401
    async with connect(
        f"ws://{address}/v1/audiohook", additional_headers={"X-API-KEY": "in-secret-1"}
    ):
        pass


@pytest.mark.parametrize("since", ["%C2%B2", "-1", "1e3", "0x10", "%EF%BC%91", "9" * 19, ""])
async def test_a_bad_since_is_a_clean_400(open_service, since):
    _, address = open_service
    for path in (f"/v1/calls/c1/events?since={since}", f"/v1/alerts?since={since}"):
        if since == "":  # an empty since is no since
            async with connect(f"ws://{address}{path}"):
                continue
        assert await refused_status(address, path) == 400
        status, body, _ = await http(address, path)
        assert status == 400 and body == {"error": "since must be an integer >= 0"}


# --- secrets never reach the log -------------------------------------------------------------
async def test_no_token_reaches_the_log_even_at_debug(guarded, caplog):
    _, address, _ = guarded
    secrets = [v for v in TOKENS.values()]
    caplog.handler.addFilter(RedactSecrets())  # the patterns alone, not the configured values
    caplog.set_level(logging.DEBUG)
    async with connect(f"ws://{address}/v1/alerts?token=sup-secret-1&since=0"):
        pass
    async with connect(
        f"ws://{address}/v1/calls/c1/events",
        additional_headers={"Authorization": "Bearer agent-secret-1"},
    ):
        pass
    async with connect(f"ws://{address}/v1/twilio") as ws:
        start = {
            "callSid": "CA1",
            "tracks": ["inbound"],
            "customParameters": {"token": "in-secret-1"},
        }
        await ws.send(json.dumps({"event": "start", "start": start}))
        await ws.send(json.dumps({"event": "stop"}))
    await refused_status(address, "/v1/alerts?token=agent-secret-1")
    await refused_status(address, "/v1/audiohook", X_API_KEY="in-secret-1-wrong")
    await asyncio.sleep(0.2)
    text = caplog.text
    assert "< GET /v1/alerts?token=[redacted]&since=0" in text  # websockets logged the line
    assert not any(secret in text for secret in secrets)
    refusal = [r for r in caplog.records if r.getMessage().startswith("refused ")]
    assert refusal and all("?" not in r.getMessage() for r in refusal)
    assert all(r.client == "127.0.0.1" and r.reason for r in refusal)


def test_redaction_patterns():
    assert redact("GET /v1/fork?call_id=a&token=xyz HTTP/1.1") == (
        "GET /v1/fork?call_id=a&token=[redacted] HTTP/1.1"
    )
    assert redact("< Authorization: Bearer xyz") == "< Authorization: [redacted]"
    assert redact("< X-API-KEY: xyz") == "< X-API-KEY: [redacted]"
    assert redact("{'x-api-key': 'xyz'}") == "{'x-api-key': '[redacted]'}"
    assert redact('"customParameters": {"token": "xyz"}') == (
        '"customParameters": {"token": "[redacted]"}'
    )
    assert redact('< TEXT \'{"event": "start"...\' [300 bytes]') == "< TEXT [redacted] [300 bytes]"
    assert redact("a configured s3cret-value in text", ["s3cret-value"]) == (
        "a configured [redacted] in text"
    )
    assert redact("call c1 started (twilio)") == "call c1 started (twilio)"
