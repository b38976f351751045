"""The real server on loopback with a scripted decoder: routing, bad input, isolation, tokens."""

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from streams.client import Recording
from streams.config import load_config
from streams.server import Service
from tests.fakes import ScriptedDecoder


async def start_service(tmp_path, **sections) -> tuple[Service, str]:
    sections.setdefault("server", {"port": 0, "data_dir": str(tmp_path)})
    sections.setdefault("assist", {"embeddings_model": "none"})  # keywords: no model to load
    config = load_config(environ={}, **sections)
    service = Service(config, engine=ScriptedDecoder())
    port = await service.start()
    return service, f"127.0.0.1:{port}"


@pytest.fixture
async def server(tmp_path):
    service, address = await start_service(tmp_path)
    yield address
    await service.stop()


def start_message(call_id: str, **fields) -> str:
    return json.dumps(
        {
            "type": "start",
            "call_id": call_id,
            "sample_rate": 16000,
            "encoding": "pcm16",
            "channels": 1,
            **fields,
        }
    )


SPEECH = Path(__file__).parents[2] / "fixtures" / "audio" / "en_sb_harvard_spk1_snt1.wav"


def speech_bytes() -> bytes:
    """2.9 s of real speech (16 kHz pcm16) and 1 s of silence: one utterance."""
    speech = Recording.from_wav(SPEECH).samples[:, 0]
    return np.concatenate([speech, np.zeros(16000, np.int16)]).astype("<i2").tobytes()


async def next_json(ws: ClientConnection, limit_s: float = 5.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), limit_s))


async def events_until_end(
    address: str, call_id: str, since: int = 0, query: str = ""
) -> list[dict]:
    events = []
    async with connect(f"ws://{address}/v1/calls/{call_id}/events?since={since}{query}") as ws:
        while True:
            events.append(await next_json(ws, 20))
            if events[-1]["type"] == "call.ended":
                return events


async def http_get(address: str, path: str, token: str | None = None) -> tuple[int, dict]:
    """GET on a thread: the server under test runs on this event loop."""
    return await asyncio.to_thread(_blocking_get, address, path, token)


async def http_text(address: str, path: str) -> str:
    def get() -> str:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as response:
            return response.read().decode()

    return await asyncio.to_thread(get)


def _blocking_get(address: str, path: str, token: str | None) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://{address}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def run_call(address: str, call_id: str) -> None:
    async with connect(f"ws://{address}/v1/ingest") as ws:
        await ws.send(start_message(call_id))
        data = speech_bytes()
        for i in range(0, len(data), 640):
            await ws.send(data[i : i + 640])
        await ws.send('{"type": "stop"}')


async def test_a_late_desktop_can_leave_stored_partials_out(server):
    async with connect(f"ws://{server}/v1/ingest") as ws:  # paced: partials get decoded
        await ws.send(start_message("late"))
        data = speech_bytes()
        for i in range(0, len(data), 640):
            await ws.send(data[i : i + 640])
            await asyncio.sleep(0.01)
        await ws.send('{"type": "stop"}')
    everything = await events_until_end(server, "late")
    lean = await events_until_end(server, "late", query="&partials=0")
    assert any(e["type"] == "transcript.partial" for e in everything)
    assert lean == [e for e in everything if e["type"] != "transcript.partial"]


async def test_a_call_streams_transcript_events_in_order(server):
    viewer = asyncio.create_task(events_until_end(server, "c1"))
    await asyncio.sleep(0.1)
    await run_call(server, "c1")
    events = await viewer
    assert events[0]["type"] == "call.started" and events[-1]["type"] == "call.ended"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert any(e["type"] == "transcript.final" and e["text"] == "hello there" for e in events)
    assert events[-1]["reason"] == "stop"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"\x00\x00", "not_started"),
        ("{oops", "invalid_json"),
        (start_message("x", encoding="speex"), "bad_format"),
        (start_message("x", sample_rate=4000), "bad_format"),
    ],
)
async def test_bad_input_gets_an_error_event_and_the_connection_survives(server, message, code):
    async with connect(f"ws://{server}/v1/ingest") as ws:
        await ws.send(message)
        error = await next_json(ws)
        assert error["type"] == "error" and error["code"] == code and error["message"]
        await ws.send(start_message("recovers"))  # the same connection can still start a call
        await ws.send('{"type": "stop"}')
    _, record = await http_get(server, "/v1/calls/recovers")
    assert record["status"] in ("live", "ended")


async def test_odd_byte_count_mid_call_is_an_error_not_the_end(server):
    async with connect(f"ws://{server}/v1/ingest") as ws:
        await ws.send(start_message("odd"))
        await ws.send(b"\x00\x01\x02")
        assert (await next_json(ws))["code"] == "bad_audio"
        await ws.send(b"\x00\x01")
        await ws.send('{"type": "stop"}')


async def test_bad_input_on_one_call_does_not_disturb_another(server):
    viewer = asyncio.create_task(events_until_end(server, "good"))
    await asyncio.sleep(0.1)
    async with connect(f"ws://{server}/v1/ingest") as bad:
        await bad.send(start_message("bad"))
        good = asyncio.create_task(run_call(server, "good"))
        for _ in range(10):
            await bad.send("{broken")
            await bad.send(b"\x01")
        await good
    events = await viewer
    assert events[-1]["reason"] == "stop"
    assert any(e["type"] == "transcript.final" for e in events)


async def test_oversize_message_closes_with_1009(server):
    async with connect(f"ws://{server}/v1/ingest", max_size=None) as ws:
        await ws.send(start_message("big"))
        await ws.send(b"\x00" * (2 << 20))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    events = await events_until_end(server, "big")
    assert events[-1]["type"] == "call.ended"


async def test_duplicate_live_call_id_is_refused_and_the_first_goes_on(server):
    async with connect(f"ws://{server}/v1/ingest") as first:
        await first.send(start_message("dup"))
        await asyncio.sleep(0.1)
        async with connect(f"ws://{server}/v1/ingest") as second:
            await second.send(start_message("dup"))
            error = await next_json(second)
            assert error["code"] == "duplicate_call"
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(second.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        await first.send(speech_bytes())
        await first.send('{"type": "stop"}')
    events = await events_until_end(server, "dup")
    assert [e["type"] for e in events].count("call.started") == 1
    assert events[-1]["reason"] == "stop"


async def test_a_vanishing_client_ends_its_call_cleanly(server):
    ws = await connect(f"ws://{server}/v1/ingest")
    await ws.send(start_message("gone"))
    await ws.send(speech_bytes()[:48000])  # mid-utterance
    ws.transport.abort()  # no close frame: the network just drops
    events = await events_until_end(server, "gone")
    assert events[-1]["reason"] == "client_disconnected"
    assert any(e["type"] == "transcript.final" for e in events)  # the open utterance was kept


async def test_events_of_an_unknown_call_wait_for_it(server):
    async with connect(f"ws://{server}/v1/calls/not-yet/events") as ws:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)
        await run_call(server, "not-yet")
        assert (await next_json(ws))["type"] == "call.started"


async def test_http_endpoints(server):
    await run_call(server, "h1")
    await asyncio.sleep(0.5)
    status, health = await http_get(server, "/healthz")
    assert status == 200 and health["status"] == "ok"
    status, listing = await http_get(server, "/v1/calls")
    assert status == 200 and [c["call_id"] for c in listing["calls"]] == ["h1"]
    status, record = await http_get(server, "/v1/calls/h1")
    assert status == 200 and record["transcript"][0]["text"] == "hello there"
    assert all(e["type"] != "transcript.partial" for e in record["events"])
    assert (await http_get(server, "/v1/calls/nope"))[0] == 404
    assert (await http_get(server, "/v2/anything"))[0] == 404


async def test_tokens_per_role(tmp_path):
    tokens = {"ingest": "in-secret", "agent": "agent-secret", "supervisor": "sup-secret"}
    service, address = await start_service(tmp_path, tokens=tokens)
    try:
        for path, token, status in [
            ("/v1/ingest", None, 401),
            ("/v1/ingest", "agent-secret", 403),
            ("/v1/calls/c/events", None, 401),
            ("/v1/calls/c/events", "in-secret", 403),
            ("/v1/alerts", "agent-secret", 403),
        ]:
            headers = {"Authorization": f"Bearer {token}"} if token else None
            with pytest.raises(InvalidStatus) as refused:
                await connect(f"ws://{address}{path}", additional_headers=headers)
            assert refused.value.response.status_code == status
        async with connect(f"ws://{address}/v1/alerts?token=sup-secret"):
            pass
        async with connect(f"ws://{address}/v1/calls/c/events?token=agent-secret"):
            pass
        assert (await http_get(address, "/v1/calls"))[0] == 401
        assert (await http_get(address, "/v1/calls", "agent-secret"))[0] == 200
        assert (await http_get(address, "/healthz"))[0] == 200
        # Twilio cannot send headers: its token travels in customParameters
        async with connect(f"ws://{address}/v1/twilio") as ws:
            await ws.send(
                json.dumps(
                    {
                        "event": "start",
                        "start": {
                            "callSid": "CA1",
                            "tracks": ["inbound"],
                            "customParameters": {"token": "wrong"},
                        },
                    }
                )
            )
            assert (await next_json(ws))["code"] == "unauthorized"
        # Genesys AudioHook sends the key in X-API-KEY
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"ws://{address}/v1/audiohook", additional_headers={"X-API-KEY": "x"})
        assert refused.value.response.status_code == 401  # as the protocol's reference
        async with connect(
            f"ws://{address}/v1/audiohook", additional_headers={"X-API-KEY": "in-secret"}
        ):
            pass
    finally:
        await service.stop()


def audiohook(kind: str, seq: int, **parameters) -> str:
    return json.dumps(
        {
            "version": "2",
            "type": kind,
            "seq": seq,
            "serverseq": 0,
            "id": "s-1",
            "position": "PT0S",
            "parameters": parameters,
        }
    )


async def test_audiohook_violations_get_the_protocols_own_answer(server):
    async with connect(f"ws://{server}/v1/audiohook") as ws:
        await ws.send(b"\xff" * 160)  # audio before open
        disconnect = await next_json(ws)
        assert disconnect["type"] == "disconnect" and disconnect["version"] == "2"
        assert disconnect["parameters"]["reason"] == "error"
        await ws.send(b"\xff" * 160)  # ignored now: the client is expected to close
        await ws.send(audiohook("close", 1, reason="error"))
        closed = await next_json(ws)
        assert closed["type"] == "closed" and closed["clientseq"] == 1
    async with connect(f"ws://{server}/v1/audiohook") as ws:  # the server is fine
        media = [{"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000}]
        await ws.send(audiohook("open", 1, conversationId="ah-ok", media=media))
        assert (await next_json(ws))["type"] == "opened"
        await ws.send(audiohook("ping", 3))  # seq jumps from 1 to 3
        assert (await next_json(ws))["parameters"]["info"].startswith("Client Error: invalid seq")


async def test_metrics_parse_as_prometheus_text_and_move_with_a_call(server):
    def samples(text: str) -> dict[str, float]:
        return {
            s.name + str(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    before = samples(await http_text(server, "/metrics"))
    await run_call(server, "m1")
    await asyncio.sleep(0.5)
    after = samples(await http_text(server, "/metrics"))
    audio = "callassist_audio_seconds_total[('protocol', 'native')]"
    assert after[audio] - before.get(audio, 0) == pytest.approx(3.9, abs=0.1)
    assert after["callassist_connections_total[('protocol', 'native')]"] >= 1
    assert after["callassist_final_latency_seconds_count[]"] >= 1
    assert after["callassist_decode_seconds_count[('kind', 'final')]"] >= 1
    assert "callassist_live_calls[]" in after and "callassist_decode_queue_depth[]" in after


async def test_past_max_calls_a_new_call_is_told_busy(tmp_path):
    service, address = await start_service(
        tmp_path, server={"port": 0, "data_dir": str(tmp_path), "max_calls": 1}
    )
    try:
        async with connect(f"ws://{address}/v1/ingest") as first:
            await first.send(start_message("one"))
            await asyncio.sleep(0.1)
            async with connect(f"ws://{address}/v1/ingest") as second:
                await second.send(start_message("two"))
                assert (await next_json(second))["code"] == "busy"
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(second.recv(), 5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
            await first.send('{"type": "stop"}')
    finally:
        await service.stop()
