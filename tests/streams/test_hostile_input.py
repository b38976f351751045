"""Hostile or broken platforms against a real server on loopback: every bad message gets
the protocol's own error (never 1011), a claimed gap costs no memory, the AudioHook
handshake is signed, and a full store is reported and refused, not silently dropped."""

from __future__ import annotations

import base64
import json
import resource

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from streams.config import load_config
from streams.server import Service
from tests.fakes import ScriptedDecoder, until
from tests.streams.test_hub import fill_up, make_room
from tests.streams.test_signature import API_KEY, SECRET, base_headers, signed

PCM_20MS = b"\x00\x01" * 320


async def start(tmp_path, **sections) -> tuple[Service, str]:
    server = {"port": 0, "data_dir": str(tmp_path), **sections.pop("server", {})}
    sections.setdefault("assist", {"enabled": False})
    config = load_config(environ={}, server=server, **sections)
    service = Service(config, engine=ScriptedDecoder())
    return service, f"127.0.0.1:{await service.start()}"


@pytest.fixture
async def service(tmp_path):
    service, address = await start(tmp_path)
    yield service, address
    await service.stop()


def twilio(event: str, **fields: object) -> str:
    return json.dumps({"event": event, **fields})


def twilio_start(call_id: str, media_format: object) -> str:
    start = {"callSid": call_id, "streamSid": "MZ1", "tracks": ["inbound"]}
    return twilio("start", start={**start, "mediaFormat": media_format}, streamSid="MZ1")


async def first_error(ws) -> dict:
    message = json.loads(await ws.recv())
    assert message["type"] == "error", message
    return message


@pytest.mark.parametrize(
    ("route", "messages", "code"),
    [
        ("/v1/twilio", [twilio_start("t1", {"sampleRate": "abc"})], "bad_format"),
        ("/v1/twilio", [twilio_start("t2", "x")], "bad_format"),
        ("/v1/ingest", ['{"type": "start", "call_id": "n1", "sample_rate": NaN}'], "invalid_json"),
        ("/v1/ingest", ["[" * 100_000 + "]" * 100_000], "invalid_json"),
        ("/v1/ingest", ['{"type": "start", "call_id": "n2", "language": 7}'], "bad_language"),
        ("/v1/ingest", [b"\x00\x01\x02"], "not_started"),
    ],
)
async def test_malformed_input_gets_an_error_event_not_a_crash(service, route, messages, code):
    _, address = service
    async with connect(f"ws://{address}{route}", max_size=None) as ws:
        for message in messages:
            await ws.send(message)
        assert (await first_error(ws))["code"] == code
        await ws.send(json.dumps({"type": "ping"}))  # still served: an error, not a close
        assert (await first_error(ws))["code"] in ("unknown_message", "not_started")


async def test_a_claimed_day_long_gap_costs_no_memory(service):
    svc, address = service
    rss_before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    media = base64.b64encode(b"\xff" * 160).decode()
    async with connect(f"ws://{address}/v1/twilio") as ws:
        await ws.send(twilio_start("gap", {"encoding": "audio/x-mulaw", "sampleRate": 8000}))
        for timestamp in (0, 20, 86_400_000):  # the last one claims a whole day later
            body = {"track": "inbound", "timestamp": str(timestamp), "payload": media}
            await ws.send(twilio("media", media=body, streamSid="MZ1"))
        await ws.send(twilio("stop", stop={"callSid": "gap"}, streamSid="MZ1"))
    await until(lambda: (svc.store.call_row("gap") or {}).get("status") == "ended")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before_kb) / 1024
    assert grown_mb < 100, f"a claimed gap grew the peak RSS by {grown_mb:.0f} MB"
    record = svc.store.call_row("gap")
    assert record is not None and record["duration_s"] > 86_399  # on the call's clock


async def test_audiohook_handshakes_must_be_signed_when_a_secret_is_set(tmp_path):
    tokens = {"ingest": API_KEY, "agent": "a" * 12, "supervisor": "s" * 12}
    service, address = await start(tmp_path, tokens=tokens, audiohook={"client_secret": SECRET})
    try:
        unsigned = {k: v for k, v in base_headers().items() if k != "Host"}
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://{address}/v1/audiohook", additional_headers=unsigned):
                pass
        assert refused.value.response.status_code == 401
        headers = signed(
            {**base_headers(), "Host": address},
            path="/v1/audiohook",
            created=int(service._clock()),
        )
        headers.pop("Host")
        async with connect(f"ws://{address}/v1/audiohook", additional_headers=headers):
            pass  # accepted
    finally:
        await service.stop()


async def test_a_full_store_refuses_new_calls_and_reports_unhealthy(service):
    svc, address = service
    fill_up(svc.store)
    for k in range(40):  # the store refuses as soon as a page is needed
        svc.hub.publish("filler", svc_final(k))
    assert not svc.hub.healthy
    async with connect(f"ws://{address}/v1/ingest") as ws:
        start = {"type": "start", "call_id": "late", "sample_rate": 16000}
        await ws.send(json.dumps(start))
        assert (await first_error(ws))["code"] == "store_unavailable"
        await ws.wait_closed()
        assert ws.close_code == 1013
    make_room(svc.store)
    svc.hub.publish("filler", svc_final(99))
    assert svc.hub.healthy


def svc_final(k: int):
    from contract.events import Speaker, TranscriptFinal

    return TranscriptFinal(f"f{k}", Speaker.CUSTOMER, "x" * 400, k, k + 1.0, "en", ())
