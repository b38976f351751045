import base64
import json
from pathlib import Path

import pytest

from contract.events import Speaker
from streams.errors import ProtocolError
from streams.protocols.base import AudioFrames, CallStart, CallStop
from streams.protocols.twilio import TwilioParser

CAPTURE = Path(__file__).parents[2] / "fixtures" / "wire" / "twilio_call.jsonl"


def captured() -> list[str]:
    return CAPTURE.read_text().splitlines()


def media(track: str = "inbound", payload: str | None = None, timestamp: str = "0") -> str:
    payload = base64.b64encode(bytes([0xFF]) * 160).decode() if payload is None else payload
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": "9",
            "streamSid": "MZ1",
            "media": {"track": track, "chunk": "1", "timestamp": timestamp, "payload": payload},
        }
    )


def started() -> TwilioParser:
    parser = TwilioParser()
    for line in captured()[:2]:
        parser.feed_text(line)
    return parser


def test_captured_call_parses_into_start_audio_and_stop():
    parser = TwilioParser()
    events = [e for line in captured() for e in parser.feed_text(line)]
    start = events[0]
    assert isinstance(start, CallStart)
    assert start.call_id == "order-4471"  # customParameters.call_id wins over callSid
    assert start.channel_speakers == (Speaker.CUSTOMER, Speaker.AGENT)
    assert start.audio_format.sample_rate_hz == 8000
    assert start.metadata["call_sid"].startswith("CA")
    audio = [e for e in events if isinstance(e, AudioFrames)]
    assert [a.channel_speakers for a in audio] == [
        (Speaker.CUSTOMER,),
        (Speaker.AGENT,),
        (Speaker.CUSTOMER,),
        (Speaker.CUSTOMER,),
    ]
    assert all(a.samples.shape[1] == 1 for a in audio)
    assert isinstance(events[-1], CallStop)


def test_call_sid_is_the_call_id_without_custom_parameter():
    start = json.loads(captured()[1])
    del start["start"]["customParameters"]["call_id"]
    [event] = TwilioParser().feed_text(json.dumps(start))
    assert isinstance(event, CallStart)
    assert event.call_id == start["start"]["callSid"]


def test_a_gap_in_timestamps_is_reported_not_filled():
    parser = TwilioParser()
    events = [e for line in captured() for e in parser.feed_text(line)]
    inbound = [
        e
        for e in events
        if isinstance(e, AudioFrames) and e.channel_speakers == (Speaker.CUSTOMER,)
    ]
    # the third inbound frame says 1045 ms after two 20 ms frames: a ~1 s gap, no silence
    assert len(inbound[2].samples) == 160
    assert inbound[2].gap_s == pytest.approx((1045 * 8 - 320) / 8000)
    assert inbound[0].gap_s == inbound[1].gap_s == 0


def test_a_24_hour_timestamp_jump_allocates_no_audio():
    parser = started()
    parser.feed_text(media(timestamp="0"))
    (jump,) = parser.feed_text(media(timestamp=str(24 * 3600 * 1000)))
    assert isinstance(jump, AudioFrames)
    assert jump.samples.shape == (160, 1) and jump.gap_s == pytest.approx(86_400 - 0.02)
    (after,) = parser.feed_text(media(timestamp=str(24 * 3600 * 1000 + 20)))
    assert isinstance(after, AudioFrames) and after.gap_s == 0  # back on the track's clock
    (absurd,) = parser.feed_text(media(timestamp="9" * 14))
    assert isinstance(absurd, AudioFrames) and absurd.gap_s == 86_400  # one day at most


def test_media_before_start_is_an_error():
    with pytest.raises(ProtocolError) as error:
        TwilioParser().feed_text(media())
    assert error.value.code == "not_started"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        (media(payload="@@not-base64@@"), "bad_base64"),
        (media(track="sideways"), "bad_track"),
        (json.dumps({"event": "teleport"}), "unknown_message"),
        (json.dumps({"event": ["media"]}), "unknown_message"),
        (json.dumps({"event": "media", "media": {"track": ["inbound"]}}), "bad_track"),
        (json.dumps({"event": "media", "media": {"payload": 12}}), "bad_base64"),
        (json.dumps({"event": "media", "media": []}), "bad_media"),
        ("[" * 100_000 + "]" * 100_000, "invalid_json"),
    ],
)
def test_bad_messages_are_refused_with_a_code(message, code):
    parser = started()
    with pytest.raises(ProtocolError) as error:
        parser.feed_text(message)
    assert error.value.code == code
    assert not error.value.fatal
    assert parser.feed_text(media())  # the stream goes on after a bad message


def test_other_media_formats_are_refused():
    start = json.loads(captured()[1])
    start["start"]["mediaFormat"] = {"encoding": "audio/x-l16", "sampleRate": 16000, "channels": 1}
    with pytest.raises(ProtocolError) as error:
        TwilioParser().feed_text(json.dumps(start))
    assert error.value.code == "bad_format"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": "abc"}}, "bad_format"),
        ({"mediaFormat": "x"}, "bad_format"),
        ({"mediaFormat": {"encoding": ["audio/x-mulaw"]}}, "bad_format"),
        ({"tracks": [["inbound"]]}, None),  # an unknown track is skipped, as before
        ({"tracks": "inbound"}, "bad_start"),
        ({"customParameters": {"language": ["en"]}}, "bad_language"),
        ({"customParameters": {"call_id": 42}}, "bad_call_id"),
    ],
)
def test_a_malformed_start_is_refused_with_a_code(change, code):
    start = json.loads(captured()[1])
    start["start"].update(change)
    if code is None:
        assert TwilioParser().feed_text(json.dumps(start))
        return
    with pytest.raises(ProtocolError) as error:
        TwilioParser().feed_text(json.dumps(start))
    assert error.value.code == code


def test_language_parameters_become_whisper_codes():
    start = json.loads(captured()[1])
    start["start"]["customParameters"].update(language="de-DE", agent_language="EN")
    (event,) = TwilioParser().feed_text(json.dumps(start))
    assert isinstance(event, CallStart)
    assert (event.language, event.agent_language) == ("de", "en")


def test_binary_frames_are_not_twilio():
    with pytest.raises(ProtocolError) as error:
        started().feed_bytes(b"\x00\x01")
    assert error.value.code == "binary_frame"
