import json

import numpy as np
import pytest

from contract.events import EndReason, Speaker
from streams.errors import ProtocolError
from streams.protocols.base import MAX_REASON_CHARS, AudioFrames, CallPause, CallStart, CallStop
from streams.protocols.native import NativeParser
from voice.audio import Encoding


def start(**fields) -> str:
    return json.dumps(
        {
            "type": "start",
            "call_id": "c1",
            "sample_rate": 16000,
            "encoding": "pcm16",
            "channels": 1,
            **fields,
        }
    )


def test_start_audio_stop():
    parser = NativeParser()
    [begin] = parser.feed_text(start(speaker="agent", language="de", metadata={"queue": "billing"}))
    assert isinstance(begin, CallStart)
    assert begin.channel_speakers == (Speaker.AGENT,)
    assert begin.language == "de"
    assert begin.metadata == {"queue": "billing"}
    [audio] = parser.feed_bytes(np.arange(320, dtype="<i2").tobytes())
    assert isinstance(audio, AudioFrames)
    assert audio.samples.shape == (320, 1)
    assert parser.feed_text('{"type": "stop"}') == [CallStop(EndReason.STOP)]


def test_two_channels_are_customer_then_agent():
    [begin] = NativeParser().feed_text(start(channels=2, encoding="mulaw", sample_rate=8000))
    assert isinstance(begin, CallStart)
    assert begin.channel_speakers == (Speaker.CUSTOMER, Speaker.AGENT)
    assert begin.audio_format.encoding is Encoding.MULAW


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"encoding": "opus"}, "bad_format"),
        ({"sample_rate": 96000}, "bad_format"),
        ({"sample_rate": 7000}, "bad_format"),
        ({"sample_rate": "fast"}, "bad_format"),
        ({"channels": 3}, "bad_format"),
        ({"call_id": "../../etc/passwd"}, "bad_call_id"),
        ({"call_id": ""}, "bad_call_id"),
        ({"speaker": "robot"}, "bad_speaker"),
        ({"metadata": [1]}, "bad_metadata"),
        ({"sample_rate": 8000.5}, "bad_format"),
        ({"sample_rate": True}, "bad_format"),
        ({"sample_rate": 10**400}, "bad_format"),
        ({"channels": [2]}, "bad_format"),
        ({"encoding": ["pcm16"]}, "bad_format"),
        ({"language": ["en"]}, "bad_language"),
        ({"language": 7}, "bad_language"),
        ({"agent_language": {"code": "en"}}, "bad_language"),
        ({"language": "english!"}, "bad_language"),
        ({"speaker": ["agent"]}, "bad_speaker"),
        ({"call_id": ["c1"]}, "bad_call_id"),
    ],
)
def test_bad_start_is_refused(fields, code):
    with pytest.raises(ProtocolError) as error:
        NativeParser().feed_text(start(**fields))
    assert error.value.code == code


def test_audio_before_start_is_refused():
    with pytest.raises(ProtocolError) as error:
        NativeParser().feed_bytes(b"\x00\x00")
    assert error.value.code == "not_started"


def test_odd_byte_count_is_refused_and_the_call_goes_on():
    parser = NativeParser()
    parser.feed_text(start())
    with pytest.raises(ProtocolError) as error:
        parser.feed_bytes(b"\x00\x01\x02")
    assert error.value.code == "bad_audio"
    assert parser.feed_bytes(b"\x00\x01")


def test_second_start_is_refused():
    parser = NativeParser()
    parser.feed_text(start())
    with pytest.raises(ProtocolError) as error:
        parser.feed_text(start())
    assert error.value.code == "duplicate_start"


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "start", "call_id": "c1", "sample_rate": NaN}',
        '{"type": "start", "call_id": "c1", "sample_rate": Infinity}',
        "[" * 100_000 + "]" * 100_000,
        '{"type": "start", "metadata": ' + "[" * 500 + "]" * 500 + "}",
    ],
)
def test_what_is_not_json_is_invalid_json(text):
    with pytest.raises(ProtocolError) as error:
        NativeParser().feed_text(text)
    assert error.value.code == "invalid_json"


def test_a_stop_reason_that_is_not_a_string_is_a_plain_stop():
    parser = NativeParser()
    parser.feed_text(start())
    assert parser.feed_text('{"type": "stop", "reason": [1, 2]}') == [CallStop(EndReason.STOP)]


def test_pause_and_resume_with_the_platforms_reason():
    parser = NativeParser()
    parser.feed_text(start())
    assert parser.feed_text('{"type": "pause", "reason": "payment", "by": "ivr"}') == [
        CallPause(paused=True, reason="payment")  # unknown fields are ignored
    ]
    assert parser.feed_text('{"type": "resume"}') == [CallPause(paused=False, reason="")]


def test_a_pause_reason_is_one_short_printable_line():
    parser = NativeParser()
    parser.feed_text(start())
    long = json.dumps({"type": "pause", "reason": "card\n\u0000payment " + "x" * 10_000})
    [pause] = parser.feed_text(long)
    assert isinstance(pause, CallPause)
    assert pause.reason.startswith("card payment x") and len(pause.reason) == MAX_REASON_CHARS


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"type": "pause", "reason": 7}, "bad_reason"),
        ({"type": "pause", "reason": ["payment"]}, "bad_reason"),
        ({"type": "resume", "reason": {"why": "done"}}, "bad_reason"),
    ],
)
def test_a_pause_reason_of_the_wrong_type_is_refused(message, code):
    parser = NativeParser()
    parser.feed_text(start())
    with pytest.raises(ProtocolError) as refused:
        parser.feed_text(json.dumps(message))
    assert refused.value.code == code


def test_a_pause_before_start_is_refused():
    with pytest.raises(ProtocolError) as refused:
        NativeParser().feed_text('{"type": "pause"}')
    assert refused.value.code == "not_started"
