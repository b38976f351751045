"""The whole co-pilot on scripted calls: the script's own words, the voice measured from
the synthesised audio of each turn, no recogniser in between."""

from __future__ import annotations

import pytest

from assist.session import AssistSession, HandoverRequest
from contract.events import (
    Alert,
    AssistEvent,
    HandedOverBy,
    HandoverCue,
    IntentDetected,
    Speaker,
    Suggestion,
    Summary,
    TranscriptFinal,
)
from testkit import FIXTURES
from testkit.calls import LabelledCall, found_data_point, found_step, script_finals

CALLS = FIXTURES / "calls"
NAMES = ["billing_double_charge", "cancel_contract", "internet_outage"]


def run(assistant, call: LabelledCall) -> list[tuple[int, AssistEvent]]:
    session = AssistSession(assistant)
    events: list[tuple[int, AssistEvent]] = []
    for k, final in enumerate(script_finals(call)):
        events += [(k, e) for e in session.on_final(final) + session.on_time(final.t_end)]
    return events


@pytest.mark.parametrize("name", NAMES)
def test_labelled_call(assistant, name):
    call = LabelledCall.load(CALLS / name)
    events = run(assistant, call)
    labels = call.labels
    intents = [e for _, e in events if isinstance(e, IntentDetected)]
    assert intents[-1].intent == labels.intent
    summary = [e for _, e in events if isinstance(e, Summary)][-1]
    for point in labels.data_points:
        assert found_data_point(point, summary), (point, summary.data_points)
    for step in labels.steps_tried:
        assert found_step(step, summary), (step, summary.steps_tried)
    cue_turns = [k for k, e in events if isinstance(e, HandoverCue)]
    alerts = [e for _, e in events if isinstance(e, Alert)]
    if labels.handover_expected:
        assert cue_turns and cue_turns[0] == labels.escalation_turn, cue_turns
        assert len({a.rule for a in alerts}) == len(alerts), "one alert per cause"
    else:
        assert cue_turns == [] and alerts == []
    kinds = [(e.kind, e.source, e.title) for _, e in events if isinstance(e, Suggestion)]
    assert kinds and len(set(kinds)) == len(kinds), "a suggestion is never repeated"


def test_a_polite_call_with_negations_raises_nothing(assistant):
    turns = [
        ("agent", "Hello, you are through to Contoso. How can I help?"),
        ("customer", "Hi, I'm not unhappy at all, I just want to upgrade my plan."),
        ("agent", "Of course. I can offer you the faster package for five pounds more."),
        ("customer", "No problem, that sounds fine. It's not a big deal if it takes a day."),
        ("agent", "Great, I will switch it over tonight."),
        ("customer", "Thank you so much, that was really helpful."),
    ]
    session = AssistSession(assistant)
    events: list[AssistEvent] = []
    for k, (speaker, text) in enumerate(turns):
        final = TranscriptFinal(f"t{k}", Speaker(speaker), text, 5.0 * k, 5.0 * k + 4, "en", ())
        events += session.on_final(final) + session.on_time(5.0 * k + 4)
    assert not any(isinstance(e, HandoverCue | Alert) for e in events)
    assert session.summary().intent == "upgrade_plan"
    assert "switch it over tonight" in [s.text for s in session.summary().next_steps]


def test_agent_silence_fires_once_per_silence_and_rearms(assistant):
    session = AssistSession(assistant)

    def say(speaker: str, t: float) -> list:
        final = TranscriptFinal(f"{speaker}-{t}", Speaker(speaker), "okay then", t, t + 1, "en", ())
        return session.on_final(final)

    def cues(t: float) -> list:  # dead air and dynamics come too: tests/assist/test_dynamics.py
        return [e for e in session.on_time(t) if isinstance(e, HandoverCue | Alert)]

    say("agent", 0.0)
    say("customer", 2.0)
    assert cues(20.0) == []
    fired = cues(32.0)
    assert {type(e) for e in fired} >= {HandoverCue, Alert}
    cue = next(e for e in fired if isinstance(e, HandoverCue))
    assert "agent_silence" in cue.rule
    assert cues(40.0) == []  # same silence: no second alert
    say("agent", 41.0)
    say("customer", 43.0)
    assert cues(60.0) == []
    assert any(isinstance(e, Alert) for e in cues(75.0))


def test_no_agent_on_the_call_means_no_silence_alert(assistant):
    session = AssistSession(assistant)
    final = TranscriptFinal("c1", Speaker.CUSTOMER, "hello there", 0.0, 1.0, "en", ())
    session.on_final(final)
    assert [e for e in session.on_time(300.0) if isinstance(e, HandoverCue | Alert)] == []


def test_the_handover_package_carries_everything_the_call_showed(assistant):
    call = LabelledCall.load(CALLS / "billing_double_charge")
    session = AssistSession(assistant)
    for final in script_finals(call):
        session.on_final(final)
    request = HandoverRequest(HandedOverBy.AGENT, to="billing", note="refund not issued yet")
    package = session.handover(request)
    assert (package.by, package.to, package.note) == (HandedOverBy.AGENT, "billing", request.note)
    assert package.summary == session.summary()
    assert package.summary.intent == call.labels.intent
    assert package.cues and package.reason == package.cues[-1]  # no reason given: the last cue's
    assert package.sentiment_start is not None and package.sentiment_now is not None
    assert package.sentiment_now < package.sentiment_start  # the caller escalated
    assert " \u2192 " in package.sentiment_trend
    assert package.transcript_tail[-1].text == script_finals(call)[-1].text.strip()


def test_a_handover_before_anyone_spoke_is_still_a_package(keyword_assistant):
    package = AssistSession(keyword_assistant).handover(HandoverRequest(HandedOverBy.PLATFORM))
    assert package.summary.intent is None and package.sentiment_trend == ""
    assert package.transcript_tail == () and package.cues == ()
