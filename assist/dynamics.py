"""How the conversation goes, from when each side speaks: talk-over, interruptions, dead
air, the agent's share of the talking and both sides' pace.

Speech comes as intervals of call audio per speaker: a final's words (or its span),
and, while someone is still speaking, the end of their newest partial, so that a long
turn is never mistaken for silence before its final arrives. Everything is in call-audio
seconds, so a call streamed faster than real time gives the same events.

- talk-over: both speak at once for at least `talk_over_s`; when the agent started
  inside the customer's speech it is an interruption of the customer;
- dead air: nobody speaks for at least `dead_air_s` (one incident per silence, raised
  as soon as the threshold passes, and its length counted once it ends);
- talk ratio and pace over the last `window_s`: the agent's share of the speech, and
  words per minute of speaking time per side.

Snapshots (`dynamics`) go out every `snapshot_every_s` while something changed;
incidents (`dynamics.incident`) at once; a coaching nudge to the agent at most every
`nudge_every_s`, when the agent holds most of the talk or speaks outside the pace band.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from contract.events import (
    AssistEvent,
    Dynamics,
    DynamicsIncident,
    IncidentKind,
    Speaker,
    Suggestion,
    SuggestionKind,
    TranscriptFinal,
)

CUSTOMER, AGENT = Speaker.CUSTOMER, Speaker.AGENT
MERGE_GAP_S = 0.3  # words closer than this are one stretch of speech
KEPT_INTERVALS = 400  # per speaker: far more than any window holds


@dataclass(frozen=True, slots=True)
class DynamicsOptions:
    window_s: float = 120.0
    snapshot_every_s: float = 5.0
    dead_air_s: float = 10.0
    talk_over_s: float = 0.5
    agent_share_nudge: float = 0.8  # the agent held this much of the talk in the window
    min_speech_s: float = 30.0  # of speech in the window before the share means anything
    wpm_low: float = 100.0  # the agent's pace band
    wpm_high: float = 190.0
    nudge_every_s: float = 120.0


@dataclass
class _Track:
    intervals: deque[tuple[float, float, int]] = field(
        default_factory=lambda: deque(maxlen=KEPT_INTERVALS)
    )  # (start, end, words), by end
    speaking_until: float = -1.0  # end of the newest speech heard (partials included)


@dataclass
class ConversationDynamics:
    options: DynamicsOptions = field(default_factory=DynamicsOptions)
    _tracks: dict[Speaker, _Track] = field(
        default_factory=lambda: {CUSTOMER: _Track(), AGENT: _Track()}
    )
    _talk_over_s: float = 0.0
    _interruptions: int = 0
    _dead_air_s: float = 0.0
    _silence_reported: float | None = None  # start of the silence already reported
    _last_snapshot: Dynamics | None = None
    _last_snapshot_t: float = 0.0
    _last_nudge_t: float = float("-inf")

    # --- inputs -----------------------------------------------------------------------
    def on_final(self, final: TranscriptFinal) -> list[AssistEvent]:
        """A final's speech; an incident where it overlaps the other side's."""
        track = self._tracks.setdefault(final.speaker, _Track())
        events: list[AssistEvent] = []
        for start, end, words in _stretches(final):
            events += self._overlaps(final.speaker, start, end)
            track.intervals.append((start, end, words))
        self._heard(final.speaker, final.t_start, final.t_end)
        return events

    def on_activity(self, speaker: Speaker, t_start: float, t_end: float) -> list[AssistEvent]:
        """Someone is speaking (a partial): not silence, whatever the finals say yet."""
        return self._heard(speaker, t_start, t_end)

    def on_time(self, audio_s: float) -> list[AssistEvent]:
        """Dead air as it passes the threshold, the periodic snapshot and nudges."""
        events = self._dead_air(audio_s)
        if audio_s - self._last_snapshot_t >= self.options.snapshot_every_s:
            self._last_snapshot_t = audio_s
            snapshot = self.snapshot(audio_s)
            if self._last_snapshot is None or _changed(self._last_snapshot, snapshot):
                self._last_snapshot = snapshot
                events.append(snapshot)
                events += self._nudge(snapshot)
        return events

    def on_paused(self, seconds: float) -> None:
        """Paused call time is nobody's silence: the clock of speech moves with it."""
        for track in self._tracks.values():
            if track.speaking_until >= 0:
                track.speaking_until += seconds

    # --- figures ------------------------------------------------------------------------
    def snapshot(self, audio_s: float) -> Dynamics:
        o = self.options
        since = audio_s - o.window_s
        agent_s, agent_words = self._speech(AGENT, since)
        customer_s, customer_words = self._speech(CUSTOMER, since)
        total = agent_s + customer_s
        return Dynamics(
            t=round(audio_s, 3),
            window_s=o.window_s,
            agent_talk_ratio=round(agent_s / total, 3) if total >= o.min_speech_s else None,
            agent_wpm=_wpm(agent_words, agent_s),
            customer_wpm=_wpm(customer_words, customer_s),
            talk_over_s=round(self._talk_over_s, 3),
            interruptions=self._interruptions,
            dead_air_s=round(self._dead_air_s, 3),
        )

    # --- pieces ---------------------------------------------------------------------------
    def _heard(self, speaker: Speaker, t_start: float, t_end: float) -> list[AssistEvent]:
        """Speech ends any silence: its length counts once it is over."""
        if self._silence_reported is not None and t_start >= self._silence_reported:
            self._dead_air_s += t_start - self._silence_reported
            self._silence_reported = None
        track = self._tracks.setdefault(speaker, _Track())
        track.speaking_until = max(track.speaking_until, t_end)
        return []

    def _last_speech(self) -> float:
        return max(t.speaking_until for t in self._tracks.values())

    def _dead_air(self, audio_s: float) -> list[AssistEvent]:
        last = self._last_speech()
        if last < 0 or self._silence_reported is not None:
            return []  # nobody spoke yet, or this silence is already reported
        if audio_s - last < self.options.dead_air_s:
            return []
        self._silence_reported = last
        return [
            DynamicsIncident(
                IncidentKind.DEAD_AIR,
                round(last, 3),
                round(audio_s, 3),
                None,
                f"{audio_s - last:.0f} s of dead air",
            )
        ]

    def _overlaps(self, speaker: Speaker, start: float, end: float) -> list[AssistEvent]:
        other = AGENT if speaker is CUSTOMER else CUSTOMER
        events: list[AssistEvent] = []
        for o_start, o_end, _ in self._tracks.setdefault(other, _Track()).intervals:
            both = min(end, o_end) - max(start, o_start)
            if both < self.options.talk_over_s:
                continue
            self._talk_over_s += both
            # whoever started second talked over the other
            later, first_start = (speaker, o_start) if start >= o_start else (other, start)
            interrupted = later is AGENT and max(start, o_start) > first_start
            kind = IncidentKind.INTERRUPTION if interrupted else IncidentKind.TALK_OVER
            if interrupted:
                self._interruptions += 1
            who = "the agent" if later is AGENT else "the customer"
            what = "interrupted the customer" if interrupted else "talked over"
            detail = f"{who} {what} ({both:.1f} s at once)"
            t0, t1 = max(start, o_start), min(end, o_end)
            events.append(DynamicsIncident(kind, round(t0, 3), round(t1, 3), later, detail))
        return events

    def _speech(self, speaker: Speaker, since: float) -> tuple[float, int]:
        seconds, words = 0.0, 0
        for start, end, count in self._tracks.setdefault(speaker, _Track()).intervals:
            if end > since:
                inside = end - max(start, since)
                seconds += inside
                words += round(count * inside / (end - start)) if end > start else count
        return seconds, words

    def _nudge(self, snapshot: Dynamics) -> list[AssistEvent]:
        o = self.options
        if snapshot.t - self._last_nudge_t < o.nudge_every_s:
            return []
        minutes = o.window_s / 60
        said = ""
        if (
            snapshot.agent_talk_ratio is not None
            and snapshot.agent_talk_ratio >= o.agent_share_nudge
        ):
            said = (
                f"You have spoken {snapshot.agent_talk_ratio:.0%} of the last {minutes:.0f} "
                "minutes: ask an open question and let the caller talk."
            )
        elif snapshot.agent_wpm is not None and snapshot.agent_wpm > o.wpm_high:
            said = f"You are speaking fast ({snapshot.agent_wpm:.0f} words a minute): slow down."
        elif snapshot.agent_wpm is not None and snapshot.agent_wpm < o.wpm_low:
            said = f"Your pace is slow ({snapshot.agent_wpm:.0f} words a minute)."
        if not said:
            return []
        self._last_nudge_t = snapshot.t
        return [
            Suggestion(
                "",
                SuggestionKind.COACHING,
                "Conversation",
                said,
                1.0,
                "dynamics",
                f"From both sides' speech over the last {minutes:.0f} minutes",
            )
        ]


def _stretches(final: TranscriptFinal) -> list[tuple[float, float, int]]:
    """A final's speech as stretches of words (pauses over MERGE_GAP_S split them)."""
    timed = [w for w in final.words if w.t_end > w.t_start]
    if not timed:
        return [(final.t_start, final.t_end, len(final.text.split()))]
    stretches = [[timed[0].t_start, timed[0].t_end, 1]]
    for word in timed[1:]:
        if word.t_start - stretches[-1][1] <= MERGE_GAP_S:
            stretches[-1][1] = word.t_end
            stretches[-1][2] += 1
        else:
            stretches.append([word.t_start, word.t_end, 1])
    return [(float(a), float(b), int(n)) for a, b, n in stretches]


def _wpm(words: int, seconds: float) -> float | None:
    return round(words * 60 / seconds, 1) if seconds >= 10 else None


def _changed(before: Dynamics, after: Dynamics) -> bool:
    """Anything but the clock moved."""
    keys = (
        "agent_talk_ratio",
        "agent_wpm",
        "customer_wpm",
        "talk_over_s",
        "interruptions",
        "dead_air_s",
    )
    return any(getattr(before, k) != getattr(after, k) for k in keys)
