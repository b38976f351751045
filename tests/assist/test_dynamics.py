"""Conversation dynamics from when each side speaks, in call-audio seconds."""

from assist.dynamics import ConversationDynamics, DynamicsOptions
from contract.events import (
    Dynamics,
    DynamicsIncident,
    IncidentKind,
    Speaker,
    Suggestion,
    SuggestionKind,
    TranscriptFinal,
    Word,
)

CUSTOMER, AGENT = Speaker.CUSTOMER, Speaker.AGENT


def said(speaker: Speaker, start: float, end: float, words_per_s: float = 2.5) -> TranscriptFinal:
    """A final whose words fill start..end evenly."""
    count = max(1, round((end - start) * words_per_s))
    step = (end - start) / count
    words = tuple(
        Word("word", start + k * step, start + (k + 1) * step - 0.05, 0.9) for k in range(count)
    )
    return TranscriptFinal(
        f"{speaker.value}-{start}", speaker, " ".join(["word"] * count), start, end, "en", words
    )


def incidents(events) -> list[DynamicsIncident]:
    return [e for e in events if isinstance(e, DynamicsIncident)]


def test_the_agent_starting_inside_the_customers_speech_interrupts():
    dynamics = ConversationDynamics()
    assert incidents(dynamics.on_final(said(CUSTOMER, 0.0, 6.0))) == []
    (found,) = incidents(dynamics.on_final(said(AGENT, 4.5, 8.0)))
    assert (found.kind, found.speaker) == (IncidentKind.INTERRUPTION, AGENT)
    assert (found.t_start, found.t_end) == (4.5, 5.95)
    snapshot = dynamics.snapshot(10.0)
    assert snapshot.interruptions == 1 and snapshot.talk_over_s == 1.45


def test_the_customer_talking_over_is_talk_over_and_a_short_overlap_is_nothing():
    dynamics = ConversationDynamics()
    dynamics.on_final(said(AGENT, 0.0, 5.0))
    (found,) = incidents(dynamics.on_final(said(CUSTOMER, 3.0, 7.0)))
    assert (found.kind, found.speaker) == (IncidentKind.TALK_OVER, CUSTOMER)
    assert incidents(dynamics.on_final(said(AGENT, 6.8, 9.0))) == []  # 0.15 s: a turn change


def test_dead_air_is_raised_once_as_it_passes_the_threshold_and_counted_when_it_ends():
    dynamics = ConversationDynamics(DynamicsOptions(dead_air_s=10.0))
    dynamics.on_final(said(CUSTOMER, 0.0, 4.0))
    assert incidents(dynamics.on_time(13.0)) == []
    (found,) = incidents(dynamics.on_time(14.0))
    assert (found.kind, found.t_start, found.t_end) == (IncidentKind.DEAD_AIR, 4.0, 14.0)
    assert incidents(dynamics.on_time(20.0)) == []  # the same silence
    dynamics.on_final(said(AGENT, 25.0, 27.0))
    assert dynamics.snapshot(28.0).dead_air_s == 21.0


def test_someone_still_speaking_is_no_dead_air():
    dynamics = ConversationDynamics(DynamicsOptions(dead_air_s=10.0))
    dynamics.on_final(said(CUSTOMER, 0.0, 2.0))
    dynamics.on_activity(CUSTOMER, 3.0, 13.5)  # a long turn, its final not in yet
    assert incidents(dynamics.on_time(14.0)) == []


def test_paused_time_is_no_dead_air():
    dynamics = ConversationDynamics(DynamicsOptions(dead_air_s=10.0))
    dynamics.on_final(said(CUSTOMER, 0.0, 2.0))
    dynamics.on_paused(60.0)
    assert incidents(dynamics.on_time(65.0)) == []


def test_an_agent_who_holds_the_talk_is_nudged_at_most_every_so_often():
    options = DynamicsOptions(window_s=120.0, nudge_every_s=120.0, snapshot_every_s=5.0)
    dynamics = ConversationDynamics(options)
    events = []
    for t in range(0, 120, 10):
        events += dynamics.on_final(said(AGENT, t, t + 9.0))
        events += dynamics.on_final(said(CUSTOMER, t + 9.0, t + 9.9))
        events += dynamics.on_time(t + 10.0)
    nudges = [e for e in events if isinstance(e, Suggestion)]
    assert len(nudges) == 1 and nudges[0].kind is SuggestionKind.COACHING
    assert "You have spoken 91% of the last 2 minutes" in nudges[0].body
    snapshots = [e for e in events if isinstance(e, Dynamics)]
    last = snapshots[-1]
    assert last.agent_talk_ratio is not None and 0.9 <= last.agent_talk_ratio <= 0.92
    assert last.agent_wpm is not None and 140 <= last.agent_wpm <= 160


def test_snapshots_only_when_something_changed():
    dynamics = ConversationDynamics(DynamicsOptions(snapshot_every_s=5.0))
    dynamics.on_final(said(CUSTOMER, 0.0, 20.0))
    first = [e for e in dynamics.on_time(25.0) if isinstance(e, Dynamics)]
    again = [e for e in dynamics.on_time(30.0) if isinstance(e, Dynamics)]
    assert len(first) == 1 and again == []
