"""Genesys AudioHook v2 parser, from a captured session and from violations."""

import json
from pathlib import Path

import numpy as np
import pytest

from contract.events import Speaker
from streams.errors import ProtocolError
from streams.protocols.audiohook import AudioHookParser, State, parse_duration
from streams.protocols.base import AudioFrames, CallPause, CallStart, CallStop, Reply
from voice.audio import Encoding

CAPTURE = Path(__file__).parents[2] / "fixtures" / "wire" / "audiohook_session.jsonl"
SESSION = "e160e428-53e2-487c-977d-96989bf5c99d"


def messages() -> list[dict]:
    return [json.loads(line) for line in CAPTURE.read_text().splitlines()]


def replies(events) -> list[dict]:
    return [json.loads(e.text) for e in events if isinstance(e, Reply)]


def opened_parser() -> AudioHookParser:
    parser = AudioHookParser()
    parser.feed_text(json.dumps(messages()[0]))
    return parser


def test_open_chooses_stereo_pcmu_and_maps_the_channels():
    parser = AudioHookParser()
    events = parser.feed_text(json.dumps(messages()[0]))
    start = next(e for e in events if isinstance(e, CallStart))
    assert start.call_id == "090eaa2f-72fa-480a-83e0-8667ff89c0ec"
    assert start.audio_format.encoding is Encoding.MULAW
    assert start.audio_format.sample_rate_hz == 8000 and start.audio_format.channels == 2
    assert start.channel_speakers == (Speaker.CUSTOMER, Speaker.AGENT)
    assert start.language == "en"
    assert start.metadata["participant"]["ani"] == "+1-555-555-1234"
    (opened,) = replies(events)
    assert opened["type"] == "opened" and opened["version"] == "2"
    assert opened["seq"] == 1 and opened["clientseq"] == 1 and opened["id"] == SESSION
    assert opened["parameters"]["media"] == [messages()[0]["parameters"]["media"][0]]
    assert opened["parameters"]["startPaused"] is False


def test_a_whole_captured_session():
    parser = AudioHookParser()
    out = [parser.feed_text(json.dumps(m)) for m in messages()]
    assert [r["type"] for events in out for r in replies(events)] == [
        "opened",
        "pong",
        "updated",
        "closed",
    ]
    assert [r["seq"] for events in out for r in replies(events)] == [1, 2, 3, 4]
    # paused, then resumed with 2.5 s discarded: a gap on both channels, no silence made
    (gap,) = [e for e in out[3] if isinstance(e, AudioFrames)]
    assert gap.samples.shape == (0, 2) and gap.gap_s == 2.5
    assert gap.channel_speakers == (Speaker.CUSTOMER, Speaker.AGENT)
    (dropped,) = [e for e in out[5] if isinstance(e, AudioFrames)]
    assert dropped.samples.shape == (0, 2) and dropped.gap_s == 0.5
    closing = out[6]
    assert isinstance(closing[0], CallStop) and closing[0].reason == "stop"
    assert replies(closing)[0]["clientseq"] == 7
    assert parser.state is State.CLOSED


def test_audio_frames_are_deinterleaved_by_the_chosen_channels():
    parser = opened_parser()
    frame = bytes([0xFF, 0x00] * 160)  # external silent, internal loud (mu-law)
    (audio,) = parser.feed_bytes(frame)
    assert isinstance(audio, AudioFrames) and audio.samples.shape == (160, 2)
    assert np.abs(audio.samples[:, 0]).max() < 10 < np.abs(audio.samples[:, 1]).max()


def test_audio_before_open_is_answered_with_disconnect():
    parser = AudioHookParser()
    with pytest.raises(ProtocolError) as error:
        parser.feed_bytes(b"\xff" * 160)
    reply = json.loads(parser.error_message(None, error.value.code, error.value.message))
    assert reply["type"] == "disconnect" and reply["parameters"]["reason"] == "error"
    assert "audio" in reply["parameters"]["info"]
    assert parser.feed_bytes(b"\xff" * 160) == []  # told once; the client will close


def test_audio_while_paused_is_a_violation():
    parser = opened_parser()
    parser.feed_text(json.dumps(messages()[1]))  # ping
    paused = {**messages()[2], "seq": 3}
    parser.feed_text(json.dumps(paused))
    with pytest.raises(ProtocolError, match="paused"):
        parser.feed_bytes(b"\xff" * 320)


@pytest.mark.parametrize(
    "change, code",
    [
        ({"seq": 3}, "bad_seq"),
        ({"serverseq": 9}, "bad_serverseq"),
        ({"id": "another-session"}, "bad_session"),
        ({"version": "1"}, "bad_version"),
        ({"type": "dance"}, "unknown_message"),
    ],
)
def test_envelope_violations(change, code):
    parser = opened_parser()
    with pytest.raises(ProtocolError) as error:
        parser.feed_text(json.dumps({**messages()[1], **change}))
    assert error.value.code == code


def test_unsupported_media_is_refused_the_protocol_way():
    parser = AudioHookParser()
    offer = messages()[0]
    offer["parameters"]["media"] = [
        {"type": "audio", "format": "opus", "channels": ["external"], "rate": 48000}
    ]
    with pytest.raises(ProtocolError) as error:
        parser.feed_text(json.dumps(offer))
    assert error.value.code == "unsupported_media"
    reply = json.loads(parser.error_message(None, error.value.code, error.value.message))
    assert reply["type"] == "disconnect" and "media" in reply["parameters"]["info"]


def test_oversized_text_is_refused():
    with pytest.raises(ProtocolError, match="too large"):
        AudioHookParser().feed_text("x" * 70_000)


def test_durations():
    assert parse_duration("PT12.34S") == pytest.approx(12.34)
    assert parse_duration("PT1H2M3S") == 3723
    assert parse_duration("soon") == 0.0


def test_a_day_discarded_allocates_no_audio():
    parser = opened_parser()
    discarded = {**messages()[5], "seq": 2, "serverseq": 1}
    discarded["parameters"] = {"start": "PT1S", "discarded": "PT86400S"}
    (gap,) = parser.feed_text(json.dumps(discarded))
    assert isinstance(gap, AudioFrames)
    assert gap.samples.size == 0 and gap.gap_s == 86_400
    longer = {**discarded, "seq": 3, "parameters": {"discarded": "PT999999999H"}}
    (capped,) = parser.feed_text(json.dumps(longer))
    assert isinstance(capped, AudioFrames) and capped.gap_s == 86_400  # a day at most
    endless = {**discarded, "seq": 4, "parameters": {"discarded": "PT" + "9" * 400 + "S"}}
    assert parser.feed_text(json.dumps(endless)) == []  # not a duration: no gap


def open_message(**parameters) -> str:
    message = messages()[0]
    message["parameters"].update(parameters)
    return json.dumps(message)


def test_a_connection_probe_is_answered_but_is_no_call():
    parser = AudioHookParser()
    probe = open_message(
        conversationId="00000000-0000-0000-0000-000000000000",
        participant={"id": "00000000-0000-0000-0000-000000000000"},
    )
    events = parser.feed_text(probe)
    assert not any(isinstance(e, CallStart) for e in events)
    assert [r["type"] for r in replies(events)] == ["opened"]
    assert parser.probe
    assert parser.feed_bytes(b"\xff" * 320) == []  # its audio is read and dropped
    close = {**messages()[6], "seq": 2, "serverseq": 1}
    closing = parser.feed_text(json.dumps(close))
    assert not any(isinstance(e, CallStop) for e in closing)
    assert [r["type"] for r in replies(closing)] == ["closed"]


def test_supported_languages_are_listed_when_the_open_asks():
    events = AudioHookParser(["en-US", "de-DE"]).feed_text(open_message(supportedLanguages=True))
    (opened,) = replies(events)
    assert opened["parameters"]["supportedLanguages"] == ["en-US", "de-DE"]
    (plain,) = replies(AudioHookParser().feed_text(open_message()))
    assert "supportedLanguages" not in plain["parameters"]
    (default,) = replies(AudioHookParser().feed_text(open_message(supportedLanguages=True)))
    assert "en-US" in default["parameters"]["supportedLanguages"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (open_message(language=["en-US"]), "bad_language"),
        (open_message(supportedLanguages="yes"), "bad_message"),
        (
            open_message(media=[{"type": "audio", "format": ["PCMU"], "rate": 8000}]),
            "unsupported_media",
        ),
        (
            open_message(media=[{"format": "PCMU", "rate": 8000, "channels": [["external"]]}]),
            "unsupported_media",
        ),
        (json.dumps({**messages()[0], "type": ["open"]}), "bad_message"),
        (json.dumps({**messages()[0], "seq": True}), "bad_message"),
        ("[" * 30_000 + "]" * 30_000, "invalid_json"),
    ],
)
def test_malformed_messages_get_the_protocols_disconnect(text, code):
    parser = AudioHookParser()
    with pytest.raises(ProtocolError) as error:
        parser.feed_text(text)
    assert error.value.code == code
    reply = json.loads(parser.error_message(None, error.value.code, error.value.message))
    assert reply["type"] == "disconnect" and reply["parameters"]["reason"] == "error"


def test_paused_and_resumed_pause_the_call_and_the_discarded_time_moves_its_clock():
    parser = AudioHookParser()
    out = [parser.feed_text(json.dumps(m)) for m in messages()[:4]]
    assert out[2] == [CallPause(paused=True, reason="")]  # the protocol names no reason
    gap, resumed = out[3]  # the gap while still paused, then the resume
    assert isinstance(gap, AudioFrames) and gap.gap_s == 2.5
    assert resumed == CallPause(paused=False)
    assert parser.state is State.ACTIVE


def test_a_second_paused_and_a_stray_resumed_change_nothing():
    parser = opened_parser()
    paused = {**messages()[2], "seq": 2, "serverseq": 1}
    assert parser.feed_text(json.dumps(paused)) == [CallPause(paused=True)]
    assert parser.feed_text(json.dumps({**paused, "seq": 3})) == []
    resumed = {**messages()[3], "seq": 4, "serverseq": 1, "parameters": {}}
    assert parser.feed_text(json.dumps(resumed)) == [CallPause(paused=False)]
    assert parser.feed_text(json.dumps({**resumed, "seq": 5})) == []


def test_a_probe_pauses_no_call():
    parser = AudioHookParser()
    parser.feed_text(open_message(conversationId="00000000-0000-0000-0000-000000000000"))
    paused = {**messages()[2], "seq": 2, "serverseq": 1}
    assert parser.feed_text(json.dumps(paused)) == []
    resumed = {**messages()[3], "seq": 3, "serverseq": 1}
    assert parser.feed_text(json.dumps(resumed)) == []
