"""Audio-fork websockets (FreeSWITCH mod_audio_fork, jambonz listen): metadata, then L16."""

import json

import numpy as np
import pytest

from contract.events import Speaker
from streams.errors import ProtocolError
from streams.protocols.base import AudioFrames, CallPause, CallStart
from streams.protocols.fork import ForkParser

# The first frame jambonz `listen` sends (its documented fields).
JAMBONZ = {
    "callSid": "b6f48929-8e86-4d62-ae3b-64fb574d91f6",
    "accountSid": "9351f46a-678c-43f5-b8a6-d4eb58d131af",
    "from": "+15083084809",
    "to": "+15083728299",
    "direction": "inbound",
    "sampleRate": 8000,
    "mixType": "stereo",
}


def test_jambonz_metadata_sets_rate_channels_and_call_id():
    parser = ForkParser()
    (start,) = parser.feed_text(json.dumps(JAMBONZ))
    assert isinstance(start, CallStart)
    assert start.call_id == JAMBONZ["callSid"]
    assert start.audio_format.sample_rate_hz == 8000 and start.audio_format.channels == 2
    assert start.channel_speakers == (Speaker.CUSTOMER, Speaker.AGENT)
    assert start.metadata["from"] == "+15083084809"
    stereo = np.array([[100, -200]] * 160, dtype="<i2").tobytes()
    (audio,) = parser.feed_bytes(stereo)
    assert isinstance(audio, AudioFrames) and audio.samples.shape == (160, 2)
    assert audio.samples[0].tolist() == [100, -200]


def test_outbound_calls_put_the_customer_on_the_callee_channel():
    (start,) = ForkParser().feed_text(json.dumps({**JAMBONZ, "direction": "outbound"}))
    assert isinstance(start, CallStart)
    assert start.channel_speakers == (Speaker.AGENT, Speaker.CUSTOMER)


def test_freeswitch_format_comes_from_the_url_when_the_metadata_is_silent():
    parser = ForkParser({"sample_rate": "16000", "channels": "1", "call_id": "fs-42"})
    (start,) = parser.feed_text(json.dumps({"any": "thing the dialplan sends"}))
    assert isinstance(start, CallStart)
    assert start.call_id == "fs-42"
    assert start.audio_format.sample_rate_hz == 16000 and start.audio_format.channels == 1


def test_audio_before_metadata_and_bad_frames():
    parser = ForkParser()
    with pytest.raises(ProtocolError) as error:
        parser.feed_bytes(b"\x00\x00" * 160)
    assert error.value.code == "not_started"
    assert json.loads(parser.error_message(None, "not_started", "x"))["type"] == "error"
    parser.feed_text(json.dumps(JAMBONZ))
    with pytest.raises(ProtocolError) as error:
        parser.feed_bytes(b"\x00" * 3)  # not whole stereo 16-bit frames
    assert error.value.code == "bad_audio"


def test_a_bad_rate_is_refused():
    with pytest.raises(ProtocolError) as error:
        ForkParser().feed_text(json.dumps({**JAMBONZ, "sampleRate": 4000}))
    assert error.value.code == "bad_format"


def test_later_text_frames_carry_no_audio():
    parser = ForkParser()
    parser.feed_text(json.dumps(JAMBONZ))
    assert parser.feed_text(json.dumps({"type": "mark", "data": {"name": "x"}})) == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"language": ["de"]}, "bad_language"),
        ({"mixType": "surround"}, "bad_format"),
        ({"mixType": ["stereo"]}, "bad_format"),
        ({"sampleRate": "abc"}, "bad_format"),
        ({"sampleRate": 8000.5}, "bad_format"),
        ({"callSid": ["x"]}, "bad_call_id"),
    ],
)
def test_malformed_metadata_is_refused_with_a_code(change, code):
    with pytest.raises(ProtocolError) as error:
        ForkParser().feed_text(json.dumps({**JAMBONZ, **change}))
    assert error.value.code == code


def test_pause_and_resume_sent_with_send_text_after_the_metadata():
    parser = ForkParser()
    parser.feed_text(json.dumps(JAMBONZ))
    pause = {"type": "pause", "reason": "payment", "callSid": JAMBONZ["callSid"]}
    assert parser.feed_text(json.dumps(pause)) == [CallPause(paused=True, reason="payment")]
    assert parser.feed_text('{"type": "resume"}') == [CallPause(paused=False)]
    assert parser.feed_text('{"type": "dtmf", "digit": "5"}') == []  # other text: ignored


def test_a_fork_pause_with_a_reason_of_the_wrong_type_is_refused():
    parser = ForkParser()
    parser.feed_text(json.dumps(JAMBONZ))
    with pytest.raises(ProtocolError) as refused:
        parser.feed_text('{"type": "pause", "reason": 42}')
    assert refused.value.code == "bad_reason"


def test_a_pause_as_the_first_frame_is_only_metadata():
    (start,) = ForkParser({"call_id": "fs-1"}).feed_text('{"type": "pause"}')
    assert isinstance(start, CallStart)
