"""Sentiment per final segment, from the words and from the voice.

Words: VADER (lexicon with negation, intensifiers, capitals and punctuation)
misreads the language of complaints ("nothing works. I'm furious" comes out
positive), so a complaint lexicon of our own pulls such segments down; its
phrases are skipped when negated ("not a problem").

Voice: arousal compares the segment's loudness, pitch and speaking rate with
this speaker's own start of the call; people differ, phones differ, a change
within one call does not lie.

A spike is the customer turning sharply negative or aroused relative to their
own start, and always says why.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from contract.events import Prosody

# Phrases of complaint that a general lexicon reads as neutral or positive.
COMPLAINT_PHRASES = (
    r"ridiculous",
    r"unacceptable",
    r"outrageous",
    r"disgrace\w*",
    r"furious",
    r"fed up",
    r"sick of",
    r"sick and tired",
    r"waste of (?:my )?time",
    r"nothing works",
    r"(?:doesn't|does not|isn't|is not|still not|not) (?:been )?work(?:ing|s)?",
    r"(?:has|have) not been working",
    r"(?:never|nobody|no one) (?:told|called|answered|replied|got back|fixed|helped)",
    r"(?:third|fourth|fifth|\d+(?:rd|th)) time",
    r"again and again",
    r"(?:keep|keeps|kept) (?:happening|failing|dropping|breaking)",
    r"charged twice",
    r"overcharged",
    r"rip(?:ped)? ?off",
    r"scam",
    r"(?:a |any )?fee\?",
    r"(?:speak|talk) to (?:a|your|the) (?:manager|supervisor)",
    r"right now",
    r"complaint",
    r"terrible",
    r"awful",
    r"worst",
    r"useless",
    r"incompetent",
    r"(?:a |an )?error",
    r"broken",
)
_COMPLAINT = re.compile(r"\b(?:" + "|".join(COMPLAINT_PHRASES) + r")", re.I)
# Sarcasm: praise said of something bad ("Oh great. Two more weeks without internet, that's
# just perfect."). Praise alone is praise; only with a bad fact in the same turn does it count
# against, phrase by phrase, and the lexicon's reading of it as positive is dropped.
_PRAISE = re.compile(
    r"\b(?:oh (?:great|brilliant|perfect|wonderful|fantastic|lovely|marvellous)"
    r"|(?:that's|that is|this is|how) (?:just )?"
    r"(?:perfect|great|brilliant|wonderful|fantastic|lovely)"
    r"|just (?:perfect|great|brilliant|wonderful|fantastic|lovely)"
    r"|thanks (?:so much|a lot|a bunch|for nothing)|great job|well done)\b",
    re.I,
)
_BAD_FACT = re.compile(
    r"\b(?:without|nothing|never"
    r"|still (?:not|no|nothing|waiting|broken|down|don't|haven't|can't)"
    r"|no (?:\w+ )?(?:internet|service|signal|power|heating|water|phone|money|refund|one)"
    r"|(?:more|another) (?:\w+ )?(?:days?|weeks?|months?|hours?))\b",
    re.I,
)
_NEGATED = re.compile(r"\b(?:not|no|never|isn't|wasn't|nothing)\s+(?:\w+\s+)?$", re.I)
COMPLAINT_WEIGHT = 0.35  # per phrase; three phrases make a segment fully negative


@dataclass(frozen=True, slots=True)
class SentimentOptions:
    baseline_segments: int = 2  # a speaker's "start of the call"
    spike_score: float = -0.5  # words at least this negative ...
    spike_arousal: float = 0.6  # ... with a voice at least this aroused, or
    spike_score_alone: float = -0.8  # words this negative alone, or
    spike_arousal_alone: float = 0.85  # a voice this aroused with non-positive words
    loudness_unit_db: float = 6.0  # one unit of arousal evidence each
    pitch_unit_semitones: float = 4.0
    rate_unit: float = 0.2  # +20 % words per second


@dataclass(frozen=True, slots=True)
class Reading:
    score: float
    arousal: float
    spike: bool
    reason: str


@dataclass(frozen=True, slots=True)
class _Voice:
    loudness_dbfs: float
    pitch_hz: float | None
    words_per_s: float | None


@dataclass
class SpeakerSentiment:
    """Tracks one speaker through a call: their baseline, then each segment against it."""

    options: SentimentOptions = field(default_factory=SentimentOptions)
    _baseline: list[_Voice] = field(default_factory=list)
    _scores: list[float] = field(default_factory=list)

    def read(self, text: str, prosody: Prosody | None, *, may_spike: bool) -> Reading:
        score, complaints = text_score(text)
        voice = _voice(text, prosody)
        if voice is not None and len(self._baseline) < self.options.baseline_segments:
            self._baseline.append(voice)
        arousal, changes = self._arousal(voice)
        self._scores.append(score)
        spike = may_spike and self._is_spike(score, arousal)
        return Reading(round(score, 3), round(arousal, 3), spike, _reason(complaints, changes))

    def _is_spike(self, score: float, arousal: float) -> bool:
        o = self.options
        start = statistics.fmean(self._scores[: o.baseline_segments])
        turned = score < start - 0.3  # words: relative to their own start, not absolute
        words = turned and (
            (score <= o.spike_score and arousal >= o.spike_arousal) or score <= o.spike_score_alone
        )
        # arousal is already relative to the speaker's start; the words need only not be kind
        voice = arousal >= o.spike_arousal_alone and score <= 0
        return words or voice

    def _arousal(self, voice: _Voice | None) -> tuple[float, list[str]]:
        """0..1 from how much louder, higher and faster than the start this segment is."""
        if voice is None or not self._baseline:
            return 0.0, []
        o = self.options
        base_loudness = statistics.median(v.loudness_dbfs for v in self._baseline)
        evidence, changes = 0.0, []
        loudness_db = voice.loudness_dbfs - base_loudness
        evidence += _clip(loudness_db / o.loudness_unit_db)
        if loudness_db >= o.loudness_unit_db / 2:
            changes.append(f"louder (+{loudness_db:.0f} dB)")
        pitches = [v.pitch_hz for v in self._baseline if v.pitch_hz]
        if voice.pitch_hz and pitches:
            semitones = 12 * math.log2(voice.pitch_hz / statistics.median(pitches))
            evidence += _clip(semitones / o.pitch_unit_semitones)
            if semitones >= o.pitch_unit_semitones / 2:
                changes.append(f"higher (+{semitones:.0f} semitones)")
        rates = [v.words_per_s for v in self._baseline if v.words_per_s]
        if voice.words_per_s and rates:
            faster = voice.words_per_s / statistics.median(rates) - 1
            evidence += _clip(faster / o.rate_unit)
            if faster >= o.rate_unit / 2:
                changes.append(f"faster (+{faster:.0%})")
        # 0 evidence (same as the start) reads 0.18, one unit 0.5, three units 0.95.
        return 1 / (1 + math.exp(-1.5 * (evidence - 1))), changes


def text_score(text: str) -> tuple[float, list[str]]:
    """-1..1 from the words, and the complaint phrases that pulled it down."""
    lexicon = _vader().polarity_scores(text)["compound"]
    complaints = [
        m[0] for m in _COMPLAINT.finditer(text) if not _NEGATED.search(text[: m.start()][-30:])
    ]
    if _BAD_FACT.search(text) and (sarcasm := [m[0] for m in _PRAISE.finditer(text)]):
        complaints += sarcasm
        lexicon = min(lexicon, 0.0)
    if not complaints:
        return lexicon, []
    complaint = -min(1.0, COMPLAINT_WEIGHT * len(complaints))
    return max(-1.0, complaint + 0.5 * min(lexicon, 0.0)), complaints


def _voice(text: str, prosody: Prosody | None) -> _Voice | None:
    if prosody is None:
        return None
    words = len(text.split())
    rate = words / prosody.voiced_s if prosody.voiced_s >= 0.5 and words >= 3 else None
    return _Voice(prosody.loudness_dbfs, prosody.pitch_hz, rate)


def _reason(complaints: list[str], changes: list[str]) -> str:
    parts = []
    if complaints:
        parts.append("negative words: " + ", ".join(f"'{c}'" for c in complaints[:4]))
    if changes:
        parts.append("voice " + ", ".join(changes) + " than at the start of the call")
    return "; ".join(parts)


def _clip(value: float, low: float = -1.0, high: float = 2.0) -> float:
    return min(max(value, low), high)


_ANALYZER: SentimentIntensityAnalyzer | None = None


def _vader() -> SentimentIntensityAnalyzer:
    global _ANALYZER
    if _ANALYZER is None:
        _ANALYZER = SentimentIntensityAnalyzer()
    return _ANALYZER
