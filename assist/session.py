"""One call's co-pilot: final segments in, assist events out.

    session = AssistSession(assistant)
    events = session.on_final(final)      # sentiment, intent, summary, suggestions, cues
    events = session.on_time(audio_s)     # time-driven rules (agent silence), dynamics
    events = session.on_activity(speaker, t_start, t_end)  # someone is speaking (partials)
    session.on_paused(seconds)            # call time that passed paused: nobody's silence
    cue = session.with_context(cue)       # a cue raised elsewhere, with summary and tail
    package = session.handover(request)   # the call changes hands: everything so far
    events = session.on_caller_history(history, now)  # the caller's earlier calls
    session.summary()                     # the record for call.ended
    session.wrapup()                      # the wrap-up draft, once the call ended

Pure computation, no I/O and no clock: call time comes from the audio, so a
call streamed faster than real time gets the same events. CPU-bound (one
sentence embedding per customer segment): run it off the event loop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
import numpy as np

from assist.assistant import Assistant
from assist.cues import CueState, Firing, Rule
from assist.dynamics import ConversationDynamics
from assist.intent import IntentTracker
from assist.sentiment import Reading, SpeakerSentiment
from assist.summary import RollingSummary
from assist.wrapup import WrapupDraft
from contract.events import (
    Alert,
    AssistEvent,
    CallerHistory,
    HandedOverBy,
    HandoverCue,
    HandoverPackage,
    IntentDetected,
    Sentiment,
    Severity,
    Speaker,
    Suggestion,
    SuggestionKind,
    Summary,
    TranscriptFinal,
    TranscriptLine,
    Translation,
    TranslationEngine,
    Wrapup,
)

CUSTOMER, AGENT = Speaker.CUSTOMER, Speaker.AGENT
_SEVERITY_ORDER = (Severity.HIGH, Severity.MEDIUM, Severity.LOW)
TREND_SEGMENTS = 2  # the customer's first and last segments that make the sentiment trend
REPEAT_DAYS = 7  # an unresolved call this recent about the same intent: a repeat contact
REPEAT_RULE = "repeat_contact"  # the rule whose cue a repeat raises
MAX_CUES_KEPT = 20


@dataclass(frozen=True, slots=True)
class HandoverRequest:
    """The call changes hands: who says so, to whom, why, and the sender's note."""

    by: HandedOverBy
    to: str = ""
    reason: str = ""
    note: str = ""


class AssistSession:
    def __init__(self, assistant: Assistant, agent_language: str = "en") -> None:
        self._a = assistant
        self._agent_language = agent_language
        self._untranslatable: set[tuple[str, str]] = set()
        options = assistant.options
        self._intent = IntentTracker(assistant.intents, options.intent)
        self._sentiment = {
            CUSTOMER: SpeakerSentiment(options.sentiment),
            AGENT: SpeakerSentiment(options.sentiment),
        }
        self._summary = RollingSummary()
        self._wrapup = WrapupDraft(assistant.dispositions)
        self._dynamics = ConversationDynamics(options.dynamics)
        self._cues = CueState()
        self._tail: deque[TranscriptLine] = deque(maxlen=options.transcript_tail_lines)
        self._suggested: set[str] = set()
        self._cue_reasons: list[str] = []
        self._history: CallerHistory | None = None
        self._history_read_at: datetime | None = None
        self._customer_scores: list[float] = []
        self._last_end_s = {CUSTOMER: -1.0, AGENT: -1.0}
        self._needs_vector = {
            s: any(r.examples and r.speaker == s for r in assistant.rules.rules)
            for s in (CUSTOMER, AGENT)
        }

    # --- inputs ---------------------------------------------------------------------
    def on_final(self, final: TranscriptFinal) -> list[AssistEvent]:
        """Everything one final segment causes, worked out in the agent's language."""
        text = final.text.strip()
        if not text:
            return []
        if final.language in ("", self._agent_language):
            return self._understand(final, text)
        translated, events = self._translate(final, text)
        if translated is None:
            return events  # the speech translation (on_speech_translation) brings the words
        return events + self._understand(final, translated)

    def on_speech_translation(self, final: TranscriptFinal, text: str) -> list[AssistEvent]:
        """Whisper's own translation of a final's audio into English, where Argos had none.
        Empty when that decode failed: assist then reads the original words."""
        text = text.strip()
        if not text:
            return self._understand(final, final.text.strip())
        event = Translation(
            final.segment_id, final.language, self._agent_language, text, TranslationEngine.WHISPER
        )
        return [event, *self._understand(final, text)]

    def wants_speech_translation(self, language: str) -> bool:
        """True where only Whisper can put `language` into the agent's (English only)."""
        return (
            language not in ("", self._agent_language)
            and self._agent_language == "en"
            and not (self._a.translator and self._a.translator.can_translate(language, "en"))
        )

    def _translate(self, final: TranscriptFinal, text: str) -> tuple[str | None, list[AssistEvent]]:
        source, target, sid = final.language, self._agent_language, final.segment_id
        translator = self._a.translator
        if translator is not None and translator.can_translate(source, target):
            translated = translator.translate(text, source, target) or ""
            return translated, [
                Translation(sid, source, target, translated, TranslationEngine.ARGOS)
            ]
        if self.wants_speech_translation(source):
            return None, []
        if (source, target) in self._untranslatable:
            return text, []
        self._untranslatable.add((source, target))
        note = (
            f"No translation from {source} into {target}: install an Argos package "
            "(callassist translate install FILE.argosmodel). Assist reads the original words."
        )
        return text, [Translation(sid, source, target, "", TranslationEngine.NONE, note)]

    def _understand(self, final: TranscriptFinal, text: str) -> list[AssistEvent]:
        speaker, sid = final.speaker, final.segment_id
        dynamics = self._dynamics.on_final(final)
        self._tail.append(TranscriptLine(speaker, text, final.t_start))
        self._last_end_s[speaker] = max(self._last_end_s.get(speaker, -1.0), final.t_end)
        vector = self._vector(text) if speaker == CUSTOMER or self._needs_vector[speaker] else None
        reading = self._sentiment.setdefault(speaker, SpeakerSentiment()).read(
            text, final.prosody, may_spike=speaker == CUSTOMER
        )
        if speaker == CUSTOMER:
            self._customer_scores.append(reading.score)
        events: list[AssistEvent] = [
            Sentiment(
                sid,
                speaker,
                reading.score,
                reading.arousal,
                reading.spike,
                reading.reason,
                final.t_end,
            )
        ]
        intent = self._update_intent(sid, speaker, text, vector)
        changed = self._summary.add(sid, speaker, text)
        self._wrapup.add(sid, speaker, text)
        if intent is not None:
            events.append(intent)
        if changed or intent is not None:
            events.append(self._summary.snapshot(sid))
        if intent is not None:
            events += self._intent_action(sid, intent)
            events += self._repeat(sid)
        if speaker == CUSTOMER:
            events += self._knowledge(sid, text, vector)
        else:
            self._rearm_silence()
        firings = self._fired(speaker, text, vector, reading)
        if firings:
            events += self._raise(firings, sid)
        return events + dynamics

    def on_time(self, audio_s: float) -> list[AssistEvent]:
        """What time passing rather than words sets off: the agent's silence, dead air, the
        conversation's dynamics."""
        return self._dynamics.on_time(audio_s) + self._silence(audio_s)

    def on_activity(self, speaker: Speaker, t_start: float, t_end: float) -> list[AssistEvent]:
        """Someone is speaking (their newest partial covers t_start..t_end)."""
        return self._dynamics.on_activity(speaker, t_start, t_end)

    def _silence(self, audio_s: float) -> list[AssistEvent]:
        agent_end, customer_end = self._last_end_s[AGENT], self._last_end_s[CUSTOMER]
        if agent_end < 0 or customer_end <= agent_end:
            return []  # no agent on this call, or the caller is not waiting for one
        events: list[AssistEvent] = []
        for rule in self._a.rules.rules:
            silent = rule.kind == "agent_silence" and audio_s - agent_end >= rule.silence_s
            if silent and self._cues.first_time(rule):
                waiting = self._tail[-1].text if self._tail else ""
                detail = f"({audio_s - agent_end:.0f} s since the agent last spoke)"
                events += self._raise([Firing(rule, (waiting,), detail)], "")
        return events

    def on_paused(self, seconds: float) -> list[AssistEvent]:
        """`seconds` of call time passed while the call was paused (for payment): the
        silence rules do not count them, so a pause never reads as an agent who is silent."""
        for speaker, end_s in self._last_end_s.items():
            if end_s >= 0:
                self._last_end_s[speaker] = end_s + seconds
        self._dynamics.on_paused(seconds)
        return []

    def on_caller_history(self, history: CallerHistory, now: datetime) -> list[AssistEvent]:
        """The caller's earlier calls (read at wall-clock `now`): if the intent is already
        known, whether this call repeats one of them."""
        self._history, self._history_read_at = history, now
        return self._repeat("")

    def _repeat(self, sid: str) -> list[AssistEvent]:
        """A repeat contact: an unresolved call of the last REPEAT_DAYS had this intent.
        Says so once, as caller.history, and raises the repeat rule's cue."""
        history, intent, read_at = self._history, self._summary.intent, self._history_read_at
        if history is None or intent is None or read_at is None or history.repeat_contact:
            return []
        since = read_at - timedelta(days=REPEAT_DAYS)
        earlier = next(
            (
                c
                for c in history.calls
                if c.intent == intent and c.resolved is not True and _when(c.started_at) >= since
            ),
            None,
        )
        if earlier is None:
            return []
        self._history = msgspec.structs.replace(
            history, repeat_contact=True, repeat_of=earlier.call_id
        )
        events: list[AssistEvent] = [self._history]
        rule = next((r for r in self._a.rules.rules if r.name == REPEAT_RULE), None)
        if rule is not None and self._cues.first_time(rule):
            said = f"Called on {earlier.started_at[:10]} about {intent.replace('_', ' ')}"
            outcome = earlier.disposition.replace("_", " ") if earlier.disposition else "no wrap-up"
            detail = f"(caller history: {said}, {outcome})"
            events += self._raise([Firing(rule, (said,), detail)], sid)
        return events

    def with_context(self, cue: HandoverCue) -> HandoverCue:
        """A cue raised outside the transcript (a pause left too long), with what the next
        person needs: the current summary and transcript tail."""
        return msgspec.structs.replace(
            cue, summary=self._summary.snapshot(), transcript_tail=tuple(self._tail)
        )

    def handover(self, request: HandoverRequest) -> HandoverPackage:
        """Everything the next person needs, as the call is now."""
        scores = self._customer_scores
        start = _mean(scores[:TREND_SEGMENTS])
        now = _mean(scores[-TREND_SEGMENTS:])
        trend = (
            f"{_mood(start)} \u2192 {_mood(now)}" if start is not None and now is not None else ""
        )
        reason = request.reason or (self._cue_reasons[-1] if self._cue_reasons else "")
        return HandoverPackage(
            request.by,
            reason,
            request.to,
            request.note,
            self._summary.snapshot(),
            tuple(self._cue_reasons),
            trend,
            start,
            now,
            tuple(self._tail),
        )

    def summary(self) -> Summary:
        return self._summary.snapshot()

    def wrapup(self) -> Wrapup:
        intent = self._summary.intent
        described = next((i.description for i in self._a.intents.intents if i.name == intent), "")
        return self._wrapup.draft(intent, described)

    # --- pieces -----------------------------------------------------------------------
    def _vector(self, text: str) -> np.ndarray | None:
        embedder = self._a.embedder
        return embedder.embed([text])[0] if embedder is not None else None

    def _update_intent(
        self, sid: str, speaker: Speaker, text: str, vector: np.ndarray | None
    ) -> IntentDetected | None:
        if speaker != CUSTOMER:
            return None
        detected = self._intent.update(sid, text, vector)
        if detected is not None:
            self._summary.set_intent(detected.intent)
        return detected

    def _intent_action(self, sid: str, detected: IntentDetected) -> list[AssistEvent]:
        intent = next(i for i in self._a.intents.intents if i.name == detected.intent)
        if not intent.next_action:
            return []
        return self._suggest(
            Suggestion(
                sid,
                SuggestionKind.NEXT_ACTION,
                f"Next: {intent.name.replace('_', ' ')}",
                intent.next_action,
                detected.confidence,
                f"intent:{intent.name}",
                f"The caller's intent looks like {intent.name} ({intent.description})",
            )
        )

    def _knowledge(self, sid: str, text: str, vector: np.ndarray | None) -> list[AssistEvent]:
        minimum = self._a.options.knowledge_min_score
        for hit in self._a.knowledge.search(text, vector, self._summary.intent)[:3]:
            if hit.score < minimum:
                break
            key = f"{hit.passage.source}#{hit.passage.title}"
            if key not in self._suggested:
                return self._suggest(
                    Suggestion(
                        sid,
                        SuggestionKind.KNOWLEDGE,
                        hit.passage.title,
                        hit.snippet,
                        hit.score,
                        hit.passage.source,
                        f"Matches what the caller just said: \u201c{_clip(text)}\u201d",
                    ),
                    key,
                )
        return []

    def _suggest(self, suggestion: Suggestion, key: str = "") -> list[AssistEvent]:
        key = key or f"{suggestion.source}#{suggestion.body}"
        if key in self._suggested:
            return []
        self._suggested.add(key)
        return [suggestion]

    def _fired(
        self, speaker: Speaker, text: str, vector: np.ndarray | None, reading: Reading
    ) -> list[Firing]:
        rules = self._a.rules
        firings: list[Firing] = []
        for rule in rules.rules:
            if rule.kind == "phrase" and rule.speaker == speaker:
                firing = rules.match_phrase(rule, text, vector)
                if firing is not None:
                    firings.append(firing)
            elif rule.kind == "sentiment_spike" and reading.spike and speaker == rule.speaker:
                firings.append(Firing(rule, (text,), f"({reading.reason})"))
        return [f for f in firings if self._cues.first_time(f.rule)]

    def _rearm_silence(self) -> None:
        for rule in self._a.rules.rules:
            if rule.kind == "agent_silence":
                self._cues.rearm(rule)

    def _raise(self, firings: list[Firing], sid: str) -> list[AssistEvent]:
        """One cue and one alert for everything one segment set off, the most severe first."""
        firings = sorted(firings, key=lambda f: _SEVERITY_ORDER.index(f.rule.severity))
        rules = [f.rule for f in firings]
        name = "+".join(r.name for r in rules)
        severity = rules[0].severity
        reason = " ".join(f"{f.rule.reason} {f.detail}".strip() for f in firings)
        evidence = tuple(dict.fromkeys(e for f in firings for e in f.evidence))
        summary = self._summary.snapshot(sid)
        open_items = self._open_items(rules, summary)
        tail = tuple(self._tail)
        events: list[AssistEvent] = []
        if len(self._cue_reasons) < MAX_CUES_KEPT:
            self._cue_reasons.append(reason)
        if any(r.handover for r in rules):
            events.append(
                HandoverCue(name, reason, severity, evidence, open_items, summary, tail, sid)
            )
        if any(r.alert for r in rules):
            events.append(Alert(name, severity, reason, evidence, open_items, summary, tail, sid))
        lead = next((r for r in rules if r.next_action), None)
        if lead is not None:
            events += self._suggest(
                Suggestion(
                    sid,
                    SuggestionKind.NEXT_ACTION,
                    f"Next: {lead.name.replace('_', ' ')}",
                    lead.next_action,
                    1.0,
                    f"rule:{lead.name}",
                    lead.reason,
                )
            )
        return events

    @staticmethod
    def _open_items(rules: list[Rule], summary: Summary) -> tuple[str, ...]:
        items = [r.reason for r in rules]
        if summary.intent:
            items.append(f"Not resolved yet: {summary.intent.replace('_', ' ')}")
        items += [f"Caller asked: {q.text}" for q in summary.open_questions]
        items += [f"Promised: {s.text}" for s in summary.next_steps]
        return tuple(items)


def _when(iso: str) -> datetime:
    parsed = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _mean(scores: list[float]) -> float | None:
    return round(sum(scores) / len(scores), 3) if scores else None


def _mood(score: float) -> str:
    """A sentiment score in the words a person uses at a glance."""
    if score <= -0.5:
        return "upset"
    if score <= -0.15:
        return "unhappy"
    return "pleased" if score >= 0.3 else "calm"


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
