"""The event contract: every event a client can receive, as typed, frozen values.

This module is the one definition of the public protocol. `contract.codec` turns
these values into JSON and back (and generates `docs/events.schema.json` from
them); nothing else picks field names by string. Renaming a field here changes
the protocol: bump `CONTRACT_VERSION` and regenerate the schema
(`callassist schema`).

On the wire every event is one JSON object: `type` (the tag below), `call_id`,
`seq` (1, 2, 3 ... per call, no gaps) and `ts` (server time, ISO 8601), then the
payload's own fields. Producers build payloads; the hub adds the envelope.

Layering: `contract` imports nothing of ours. `voice` builds the transcript
payloads, `assist` the co-pilot's, `streams` the call lifecycle and the envelope.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

CONTRACT_VERSION = "2.2"  # major: a field or type changed meaning or went away; minor: added


class Speaker(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"


class Protocol(enum.StrEnum):
    """How the call's audio reached the service."""

    NATIVE = "native"
    TWILIO = "twilio"
    AUDIOHOOK = "audiohook"
    FORK = "fork"
    WEBRTC = "webrtc"


class EndReason(enum.StrEnum):
    STOP = "stop"  # the platform said the call ended
    CLIENT_DISCONNECTED = "client_disconnected"  # the socket dropped without a stop
    SERVER_SHUTDOWN = "server_shutdown"
    INTERRUPTED = "interrupted"  # the process died; closed when it came back
    ERROR = "error"  # the platform broke its protocol; `detail` has the code
    RECONNECT = "reconnect"  # the platform will reconnect (AudioHook)


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class SuggestionKind(enum.StrEnum):
    KNOWLEDGE = "knowledge"
    NEXT_ACTION = "next_action"
    COACHING = "coaching"  # about how the conversation goes: talk ratio, pace, silences


class IncidentKind(enum.StrEnum):
    TALK_OVER = "talk_over"  # both spoke at once for a while
    INTERRUPTION = "interruption"  # the agent started while the customer was speaking
    DEAD_AIR = "dead_air"  # nobody spoke for a while (hold, searching, a dropped line)


class TranslationEngine(enum.StrEnum):
    ARGOS = "argos"  # text translation of the transcript
    WHISPER = "whisper"  # Whisper's speech translation of the segment's audio
    NONE = "none"  # nothing could translate it; `note` says why


class PausedBy(enum.StrEnum):
    PLATFORM = "platform"  # the telephony platform (AudioHook paused, a fork's metadata, ...)
    AGENT = "agent"  # the agent's desktop ("Pause for payment")


class HandedOverBy(enum.StrEnum):
    PLATFORM = "platform"  # the telephony platform signalled a transfer
    AGENT = "agent"  # the agent's Transfer on the desktop


class PrivateKind(enum.StrEnum):
    """Kinds of personal data the service redacts (see the privacy policy)."""

    CARD_NUMBER = "card_number"
    SECURITY_CODE = "security_code"
    EXPIRY_DATE = "expiry_date"
    NATIONAL_ID = "national_id"  # social security, national insurance, tax id
    BANK_ACCOUNT = "bank_account"  # bank account, IBAN, routing number, sort code
    DATE_OF_BIRTH = "date_of_birth"
    EMAIL = "email"
    PHONE = "phone"
    ADDRESS = "address"


class _Value(msgspec.Struct, frozen=True):
    """A value nested inside events."""


class _Payload(msgspec.Struct, frozen=True, tag_field="type"):
    """An event's own fields; its class's `tag` is the event's `type`."""


# --- values inside events ---------------------------------------------------------------
class Word(_Value, frozen=True):
    text: str
    t_start: float
    t_end: float
    probability: float


class Prosody(_Value, frozen=True):
    """How a final segment sounded (voice/prosody.py): the voice side of sentiment."""

    loudness_dbfs: float
    pitch_hz: float | None  # median over voiced frames; None when nothing was voiced
    voiced_s: float


class DataPoint(_Value, frozen=True):
    kind: str  # account_number, order_number, amount, date, email, phone, ...
    value: str  # normalised: "4471", "89.99 USD", "2025-03-01" or the spoken phrase
    text: str  # as it was transcribed
    segment_id: str


class Item(_Value, frozen=True):
    """One extractive summary line, with the segment it was taken from."""

    text: str
    segment_id: str
    speaker: Speaker


class Redaction(_Value, frozen=True):
    """A span of `text` that now reads `[card number]`-style: what was there, never its value."""

    kind: PrivateKind
    start: int  # character offsets into the redacted text, end exclusive
    end: int


class FollowUpOwner(enum.StrEnum):
    AGENT = "agent"  # the agent said they would ("I'll email you the guide")
    COMPANY = "company"  # someone else here will ("the engineer will call", "we'll refund")
    CUSTOMER = "customer"  # the caller will ("I'll send the invoice tonight")


class FollowUp(_Value, frozen=True):
    what: str  # the words that promised it
    owner: FollowUpOwner
    when: str  # as said ("tomorrow morning", "within 5 days"); "" when nobody said
    segment_id: str = ""  # the segment that said it; "" for one the agent added


class WrapupNotes(_Value, frozen=True):
    """The after-call notes, drafted by the co-pilot, edited and accepted by the agent."""

    reason: str  # why the customer called
    actions: tuple[str, ...]  # what was done on the call
    outcome: str
    follow_ups: tuple[FollowUp, ...] = ()


class PreviousCall(_Value, frozen=True):
    """One earlier call of the same caller, as caller.history lists it."""

    call_id: str
    started_at: str  # ISO 8601 UTC
    intent: str | None
    disposition: str | None  # the accepted wrap-up's, else the draft's
    resolved: bool | None  # as the disposition catalog says; None: no wrap-up
    summary: str  # one line


class TranscriptLine(_Value, frozen=True):
    speaker: Speaker
    text: str
    t_start: float


# --- events -----------------------------------------------------------------------------
class CallStarted(_Payload, frozen=True, tag="call.started"):
    protocol: Protocol
    languages: tuple[str, ...]
    speakers: tuple[Speaker, ...]
    resumed: bool = False  # the same call id reconnected after an earlier end
    recorded: bool = True  # False: the platform opted out; the record is erased when it ends
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)  # the platform's own
    contract: str = CONTRACT_VERSION
    caller: str = ""  # the caller's keyed hash (never their number); "" when not given


class TranscriptPartial(_Payload, frozen=True, tag="transcript.partial"):
    """The newest, still-changing words of one speaker; replaces the previous partial."""

    speaker: Speaker
    text: str
    t_start: float  # seconds of call audio
    t_end: float
    language: str
    language_probability: float = 1.0  # 1.0 where the platform set the language
    redactions: tuple[Redaction, ...] = ()


class TranscriptFinal(_Payload, frozen=True, tag="transcript.final"):
    """A stable piece of transcript: never revised once emitted."""

    segment_id: str
    speaker: Speaker
    text: str
    t_start: float
    t_end: float
    language: str
    words: tuple[Word, ...]
    prosody: Prosody | None = None
    language_probability: float = 1.0
    redactions: tuple[Redaction, ...] = ()  # words inside a span are one word with its text


class Translation(_Payload, frozen=True, tag="translation"):
    """A final segment in the agent's language."""

    segment_id: str
    source_language: str
    target_language: str
    text: str
    engine: TranslationEngine
    note: str = ""
    redactions: tuple[Redaction, ...] = ()


class Sentiment(_Payload, frozen=True, tag="sentiment"):
    segment_id: str
    speaker: Speaker
    score: float  # -1 (hostile) .. 1 (delighted), from the words
    arousal: float  # 0 (flat) .. 1 (shouting), from the voice against this speaker's start
    spike: bool
    reason: str  # why the score and arousal are what they are; empty when unremarkable
    t_end: float


class IntentDetected(_Payload, frozen=True, tag="intent"):
    segment_id: str
    intent: str
    description: str
    confidence: float
    evidence: tuple[str, ...]  # the caller's words that show it


class Summary(_Payload, frozen=True, tag="summary"):
    """The rolling summary; also nested in cues, alerts and call.ended."""

    intent: str | None
    steps_tried: tuple[Item, ...] = ()
    data_points: tuple[DataPoint, ...] = ()
    next_steps: tuple[Item, ...] = ()
    open_questions: tuple[Item, ...] = ()
    segment_id: str = ""  # the segment whose arrival changed it


class Suggestion(_Payload, frozen=True, tag="suggestion"):
    segment_id: str
    kind: SuggestionKind
    title: str
    body: str
    score: float
    source: str  # knowledge file, or the rule / intent that proposes the action
    why: str


class HandoverCue(_Payload, frozen=True, tag="handover.cue"):
    """To the agent's desktop: hand over now, and here is everything the next person needs."""

    rule: str
    reason: str
    urgency: Severity
    evidence: tuple[str, ...]
    open_items: tuple[str, ...]
    summary: Summary
    transcript_tail: tuple[TranscriptLine, ...]
    segment_id: str


class Alert(_Payload, frozen=True, tag="alert"):
    """To every supervisor: the same context as the cue, for the person who may step in."""

    rule: str
    severity: Severity
    reason: str
    evidence: tuple[str, ...]
    open_items: tuple[str, ...]
    summary: Summary
    transcript_tail: tuple[TranscriptLine, ...]
    segment_id: str


class HandoverPackage(_Payload, frozen=True, tag="handover.package"):
    """To whoever takes the call over, when it changes hands: why, and everything the
    call has shown so far, so that they never start from zero."""

    by: HandedOverBy
    reason: str  # the platform's or the agent's words; else the last cue's reason; else ""
    to: str  # the queue or person named; "" when nobody said
    note: str  # the sending agent's own words for the next person
    summary: Summary  # intent, steps tried, data points, promised (next_steps), open questions
    cues: tuple[str, ...]  # the reasons of the cues raised on the call, oldest first
    sentiment_trend: str  # the customer's, in words: "calm -> upset"; "" before they spoke
    sentiment_start: float | None  # the customer's first segments (-1..1)
    sentiment_now: float | None  # their last segments
    transcript_tail: tuple[TranscriptLine, ...]


class Dynamics(_Payload, frozen=True, tag="dynamics"):
    """How the conversation goes, from both tracks' speech: a snapshot every few seconds
    of call audio while it changes."""

    t: float  # call-audio second of the snapshot
    window_s: float  # the sliding window of the ratio and the pace
    agent_talk_ratio: float | None  # the agent's share of the speech in the window
    agent_wpm: float | None  # words per minute while the agent spoke, in the window
    customer_wpm: float | None
    talk_over_s: float  # so far in the call
    interruptions: int
    dead_air_s: float  # silences of at least the dead-air threshold, so far


class DynamicsIncident(_Payload, frozen=True, tag="dynamics.incident"):
    """One moment worth a supervisor's look: a talk-over, an interruption, dead air."""

    kind: IncidentKind
    t_start: float  # call-audio seconds
    t_end: float
    speaker: Speaker | None  # who interrupted or talked over; None for dead air
    detail: str  # for people: "3.2 s of dead air"


class CallPaused(_Payload, frozen=True, tag="call.paused"):
    """Audio is dropped unheard until call.resumed: nothing is transcribed or stored."""

    by: PausedBy
    reason: str  # "payment", the platform's own reason, or ""


class CallResumed(_Payload, frozen=True, tag="call.resumed"):
    by: PausedBy
    reason: str
    paused_s: float  # wall-clock seconds the pause lasted


class CallEnded(_Payload, frozen=True, tag="call.ended"):
    duration_s: float
    reason: EndReason
    summary: Summary | None = None  # the co-pilot's last word on the call
    detail: str = ""  # the platform's own reason, or the error code


class CallerHistory(_Payload, frozen=True, tag="caller.history"):
    """The caller's earlier calls, at the start (and again once the intent shows a repeat)."""

    caller: str  # the caller's keyed hash: the same caller, never their number
    calls: tuple[PreviousCall, ...]  # the last 30 days, newest first
    repeat_contact: bool  # an earlier call in the last 7 days had this intent, unresolved
    repeat_of: str | None = None  # that call's id


class Wrapup(_Payload, frozen=True, tag="wrapup"):
    """The wrap-up drafted once the call's audio ended, for the agent to accept or edit."""

    disposition: str  # a name from the disposition catalog
    description: str
    confidence: float  # 0..1
    evidence: tuple[str, ...]  # the lines that decided the disposition
    notes: WrapupNotes
    alternatives: tuple[str, ...] = ()  # the next most likely dispositions, best first
    choices: tuple[str, ...] = ()  # every disposition of the catalog, for the agent to pick
    resolved: bool | None = None  # as the catalog says of this disposition


class WrapupAccepted(_Payload, frozen=True, tag="wrapup.accepted"):
    """The wrap-up as the agent accepted it: the call's after-call record."""

    disposition: str
    notes: WrapupNotes
    edited: bool  # anything changed from the draft
    acw_s: float  # after-call work: seconds from the call's end to this acceptance
    resolved: bool | None = None  # as the catalog says of this disposition


Payload = (
    CallStarted
    | TranscriptPartial
    | TranscriptFinal
    | Translation
    | Sentiment
    | IntentDetected
    | Summary
    | Suggestion
    | HandoverCue
    | Alert
    | HandoverPackage
    | CallerHistory
    | Dynamics
    | DynamicsIncident
    | CallPaused
    | CallResumed
    | CallEnded
    | Wrapup
    | WrapupAccepted
)
TranscriptUpdate = TranscriptPartial | TranscriptFinal
AssistEvent = (
    Translation
    | Sentiment
    | IntentDetected
    | Summary
    | Suggestion
    | HandoverCue
    | Alert
    | HandoverPackage
    | CallerHistory
    | Dynamics
    | DynamicsIncident
)

# What every supervisor sees, whatever the call: enough for a live wallboard.
ALERT_FEED_TYPES: tuple[type[Payload], ...] = (
    CallStarted,
    CallEnded,
    CallPaused,
    CallResumed,
    IntentDetected,
    Sentiment,
    HandoverCue,
    Alert,
    HandoverPackage,
    DynamicsIncident,
    WrapupAccepted,
)


class Event(msgspec.Struct, frozen=True):
    """A payload as stored and sent: numbered within its call and stamped."""

    call_id: str
    seq: int  # 1, 2, 3 ... per call, no gaps
    ts: str  # server time, ISO 8601 UTC
    payload: Payload
    feed_seq: int | None = None  # position in the alert feed (only on /v1/alerts)


class ErrorMessage(msgspec.Struct, frozen=True, tag_field="type", tag="error"):
    """Sent to the client that caused it; never stored, never numbered."""

    call_id: str | None
    ts: str
    code: str
    message: str


def type_name(payload_type: type[Payload]) -> str:
    """The `type` a payload class has on the wire."""
    tag = payload_type.__struct_config__.tag
    assert isinstance(tag, str)
    return tag
