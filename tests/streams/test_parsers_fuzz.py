"""Property tests: any JSON shape, text or bytes gives each sans-I/O parser's own error
(ProtocolError) or a clean list of events, never another exception."""

import json
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.errors import ProtocolError
from streams.protocols.audiohook import AudioHookParser
from streams.protocols.base import (
    AudioFrames,
    CallPause,
    CallStart,
    CallStop,
    Reply,
    parse_json_object,
)
from streams.protocols.desktop import parse_control
from streams.protocols.fork import ForkParser
from streams.protocols.native import NativeParser
from streams.protocols.twilio import TwilioParser
from streams.webrtc import parse_offer

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(
        ["start", "media", "stop", "open", "8000", "PT5S", "en-US", "stereo", "pause", "resume"]
    )
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# keys the parsers read, so that random values reach the checks behind them
KEYS = [
    "type",
    "event",
    "call_id",
    "sample_rate",
    "encoding",
    "channels",
    "speaker",
    "language",
    "agent_language",
    "metadata",
    "start",
    "media",
    "mediaFormat",
    "sampleRate",
    "tracks",
    "customParameters",
    "callSid",
    "track",
    "payload",
    "timestamp",
    "version",
    "seq",
    "serverseq",
    "id",
    "parameters",
    "conversationId",
    "format",
    "rate",
    "supportedLanguages",
    "discarded",
    "reason",
    "mixType",
    "direction",
    "sdp",
    "speakers",
    "uuid",
]
messages = st.dictionaries(st.sampled_from(KEYS), values, max_size=8)

Parser = NativeParser | TwilioParser | AudioHookParser | ForkParser
EVENTS = (CallStart, AudioFrames, CallStop, CallPause, Reply)


def native_started() -> NativeParser:
    parser = NativeParser()
    parser.feed_text(json.dumps({"type": "start", "call_id": "c1", "channels": 2}))
    return parser


def twilio_started() -> TwilioParser:
    parser = TwilioParser()
    start = {"callSid": "CA1", "tracks": ["inbound", "outbound"]}
    parser.feed_text(json.dumps({"event": "start", "start": start}))
    return parser


def audiohook_open() -> AudioHookParser:
    parser = AudioHookParser()
    media = [
        {"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}
    ]
    open_ = {"version": "2", "type": "open", "seq": 1, "serverseq": 0, "id": "s1",
             "parameters": {"conversationId": "c1", "media": media}}  # fmt: skip
    parser.feed_text(json.dumps(open_))
    return parser


def fork_started() -> ForkParser:
    parser = ForkParser()
    parser.feed_text(json.dumps({"callSid": "f1", "mixType": "stereo"}))
    return parser


PARSERS: list[Callable[[], Parser]] = [
    NativeParser, native_started, TwilioParser, twilio_started,
    AudioHookParser, audiohook_open, ForkParser, fork_started,
]  # fmt: skip


def feeds_cleanly(parser: Parser, message: str | bytes) -> None:
    try:
        events = (
            parser.feed_text(message) if isinstance(message, str) else parser.feed_bytes(message)
        )
    except ProtocolError as error:
        assert error.code and isinstance(error.message, str)
        parser.error_message(None, error.code, error.message)  # the answer can be made
        return
    assert isinstance(events, list) and all(isinstance(e, EVENTS) for e in events)


@pytest.mark.parametrize("make", PARSERS)
@FAST
@given(value=values | messages)
def test_any_json_shape(make, value):
    feeds_cleanly(make(), json.dumps(value))


@pytest.mark.parametrize("make", PARSERS)
@FAST
@given(value=messages)
def test_any_known_message_shape(make, value):
    parser = make()
    for kind in ("start", "media", "stop", "open", "close", "discarded", "resumed"):
        # AudioHook's envelope: keep seq in step so the message reaches its type's handler
        fixed = {"type": kind, "event": kind, "version": "2", "id": "s1", "seq": 2}
        feeds_cleanly(parser, json.dumps({**value, **fixed}))


@pytest.mark.parametrize("make", PARSERS)
@FAST
@given(data=st.binary(max_size=300) | st.text(max_size=300))
def test_any_bytes_or_text(make, data):
    feeds_cleanly(make(), data)


@FAST
@given(value=values | messages, data=st.binary(max_size=64) | st.text(max_size=2000))
def test_any_desktop_control(value, data):
    """What a reader sends on a call's event stream: a pause, a resume, or ProtocolError."""
    for message in (json.dumps(value), data):
        try:
            assert isinstance(parse_control(message), CallPause)
        except ProtocolError as error:
            assert error.code and isinstance(error.message, str)


@FAST
@given(
    value=values | messages,
    sdp=st.text(max_size=300) | st.builds(lambda rest: "v=0\r\nm=" + rest, st.text(max_size=200)),
)
def test_any_offer(value, sdp):
    for text in (
        (json.dumps(value), json.dumps({**value, "type": "offer", "sdp": sdp}))
        if isinstance(value, dict)
        else (json.dumps(value),)
    ):
        try:
            parse_offer(text)
        except ProtocolError as error:
            assert error.code


def test_deep_nesting_is_invalid_json_not_a_recursion_error():
    for text in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000):
        with pytest.raises(ProtocolError) as error:
            parse_json_object(text)
        assert error.value.code == "invalid_json"
    shallow_enough = '{"a": ' + "[" * 30 + "]" * 30 + "}"
    assert parse_json_object(shallow_enough)
    with pytest.raises(ProtocolError, match="nested"):
        parse_json_object('{"a": ' + "[" * 40 + "]" * 40 + "}")


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', '{"a": ' + "9" * 5000 + "}"])
def test_what_python_reads_but_json_is_not(text):
    with pytest.raises(ProtocolError) as error:
        parse_json_object(text)
    assert error.value.code == "invalid_json"
