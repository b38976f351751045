"""The event contract as clients see it: the published schema, golden events, the README
table and the pages all agree with contract/events.py."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import jsonschema
import pytest

from contract import codec, publish
from contract.events import (
    CONTRACT_VERSION,
    Alert,
    CallStarted,
    Event,
    HandoverCue,
    Payload,
    Protocol,
    Severity,
    Speaker,
    Summary,
    type_name,
)

ROOT = Path(__file__).parents[2]
GOLDEN = ROOT / "fixtures" / "events"
PAYLOAD_TYPES = [type_name(t) for t in typing.get_args(Payload)]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((ROOT / publish.SCHEMA_PATH).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_published_schema_is_generated_from_the_contract():
    committed = (ROOT / publish.SCHEMA_PATH).read_text()
    assert committed == publish.schema_text(), "stale: run `callassist schema`"


def test_page_typedefs_are_generated_from_the_contract():
    committed = (ROOT / publish.JSDOC_PATH).read_text()
    assert committed == publish.jsdoc_text(), "stale: run `callassist schema`"


def test_every_event_type_has_a_golden_example():
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted([*PAYLOAD_TYPES, "error"])


@pytest.mark.parametrize("name", PAYLOAD_TYPES)
def test_golden_event_decodes_and_encodes_back_unchanged(name, validator):
    text = (GOLDEN / f"{name}.json").read_text()
    event = codec.decode(text)
    assert type_name(type(event.payload)) == name
    assert json.loads(codec.encode(event)) == json.loads(text)
    validator.validate(json.loads(text))


def test_golden_error_matches_the_schema(validator):
    text = (GOLDEN / "error.json").read_text()
    validator.validate(json.loads(text))
    assert codec.decode_error(text).code == "bad_audio"


def test_the_alert_feed_position_travels_only_when_set(validator):
    alert = Alert("manager", Severity.HIGH, "asked", (), (), Summary(None), (), "s1")
    plain = json.loads(codec.encode(Event("c", 4, "t", alert)))
    on_feed = json.loads(codec.encode(Event("c", 4, "t", alert, feed_seq=17)))
    assert "feed_seq" not in plain and on_feed["feed_seq"] == 17
    assert list(on_feed)[:5] == ["type", "call_id", "seq", "ts", "feed_seq"]
    validator.validate(on_feed)
    assert codec.decode(json.dumps(on_feed)).feed_seq == 17


def test_call_started_carries_the_contract_version():
    started = CallStarted(Protocol.NATIVE, ("en",), (Speaker.CUSTOMER,))
    assert json.loads(codec.encode(Event("c", 1, "t", started)))["contract"] == CONTRACT_VERSION


@pytest.mark.parametrize(
    "change",
    [
        {"type": "transcript.finale"},  # unknown type
        {"speaker": "caller"},  # not a Speaker
        {"t_start": "8.0"},  # wrong type
        {"seq": None},
    ],
)
def test_what_is_not_an_event_is_refused(change, validator):
    body = json.loads((GOLDEN / "transcript.final.json").read_text()) | change
    with pytest.raises(codec.DecodeError):
        codec.decode(json.dumps(body))
    assert not validator.is_valid(body)


def test_nested_summary_is_the_summary_event_without_its_envelope():
    cue = codec.decode((GOLDEN / "handover.cue.json").read_text()).payload
    summary = codec.decode((GOLDEN / "summary.json").read_text()).payload
    assert isinstance(cue, HandoverCue) and isinstance(summary, Summary)
    assert cue.summary == summary


# --- the README and the pages speak the same names ---------------------------------------
def test_readme_event_table_lists_every_type_and_field():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Events", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `([a-z.]+)` \| (.*) \|$", section, re.MULTILINE)
    types = publish.event_types()
    assert sorted(name for name, _ in rows) == sorted(types)
    for name, text in rows:
        fields = set(types[name]["properties"]) - {"type"}
        named = set(re.findall(r"`([a-z_]+)`", text.split(": ", 1)[0]))
        assert named >= fields, f"README row {name} misses {sorted(fields - named)}"


def _field_names() -> set[str]:
    schema = json.loads((ROOT / publish.SCHEMA_PATH).read_text())
    names = set()
    for definition in schema["$defs"].values():
        names |= set(definition.get("properties", {}))
    return names


@pytest.mark.parametrize("page", ["desktop.js", "supervisor.js"])
def test_pages_read_only_fields_the_contract_has(page):
    source = (ROOT / "streams" / "static" / page).read_text()
    used = set(re.findall(r"\bevent\.([a-z_]+)\b", source))
    assert used, "the page reads no event fields: the pattern is out of date"
    assert used <= _field_names(), f"{page} reads unknown fields {sorted(used - _field_names())}"
