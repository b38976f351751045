"""Personal data out of every event before it is numbered, stored or sent.

Each payload a call produces leaves as three *views*, one per audience: what is
stored (and so replayed to everyone later), what the agent's desktop sees live,
and what supervisors see live. The policy (`assist/data/privacy.toml`, or
`[privacy] policy_file`) says which kinds each audience never sees; the store
must hide whatever any reader hides, because it is replayed to all of them.

Transcripts (partials, finals, translations) are searched (`assist.pii`) with
the call's context, and each hidden span becomes `[card number]`, listed in
`redactions` by kind and offsets, never by value. The co-pilot reads only the
desktop's view, so kinds the desktop does not see never reach a summary, a cue
or an alert. Kinds the desktop sees but others do not (a date of birth, under
the built-in policy) may: those values are remembered for the call, in memory
only, and replaced wherever they turn up in the co-pilot's events.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import msgspec

from assist import pii
from assist.entities import written
from contract import settings
from contract.events import (
    CallStarted,
    DataPoint,
    Payload,
    PrivateKind,
    Redaction,
    Speaker,
    TranscriptFinal,
    TranscriptPartial,
    TranscriptUpdate,
    Translation,
    Word,
)

DEFAULT_POLICY = Path(__file__).parent / "data" / "privacy.toml"
PRIME_FOR_S = 30.0  # a keyword primes the numbers of the finals within this much audio
PRIME_FOR_FINALS = 2  # ... and of this many finals that say something else
# After a card number, the agent's next questions are for the rest of the card ("and the
# last bit?", "the one from the front?"): a question with no keyword asks for its code.
PAYMENT_FOR_S = 90.0

# A number inside a remembered value that is worth hiding on its own (two characters up).
_NUMBER_PIECE = re.compile(r"\b\w*\d\w*(?:[-/.]\w*\d\w*)*\b")
P = TypeVar("P", bound=Payload)
T = TypeVar("T", covariant=True)  # a view of a CallEnded is a view of a Payload
U = TypeVar("U")


class Audience(enum.StrEnum):
    STORE = "store"
    DESKTOP = "desktop"
    SUPERVISOR = "supervisor"


class PolicyError(settings.SettingsError):
    """A privacy policy that cannot be used: the service does not start without one."""


@dataclass(frozen=True, slots=True)
class _PolicyFile:
    redact: dict[PrivateKind, tuple[Audience, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Policy:
    """Which kinds of personal data each audience never sees."""

    hidden: dict[Audience, frozenset[PrivateKind]]
    keep_last_four: bool = False  # "[card number ending 1111]"

    @classmethod
    def load(cls, path: Path | None = None, *, keep_last_four: bool = False) -> Policy:
        """The built-in policy, with `path`'s lines over it."""
        redact = dict(settings.load(DEFAULT_POLICY, _PolicyFile, error=PolicyError).redact)
        if path is not None:
            redact |= settings.load(path, _PolicyFile, error=PolicyError).redact
        source = str(path or DEFAULT_POLICY)
        for kind, audiences in redact.items():
            leaked = {Audience.DESKTOP, Audience.SUPERVISOR} & set(audiences)
            if leaked and Audience.STORE not in audiences:
                raise PolicyError.at(
                    source,
                    f"redact.{kind.value}",
                    f"hidden from {', '.join(sorted(leaked))} but stored: stored events are "
                    'replayed to every reader, so add "store"',
                )
        hidden = {
            audience: frozenset(k for k, audiences in redact.items() if audience in audiences)
            for audience in Audience
        }
        return cls(hidden, keep_last_four)

    def hides(self, audience: Audience) -> frozenset[PrivateKind]:
        return self.hidden.get(audience, frozenset())


@dataclass(frozen=True, slots=True)
class Views(Generic[T]):
    """One payload as each audience gets it."""

    store: T
    desktop: T
    supervisor: T

    def __getitem__(self, audience: Audience) -> T:
        return getattr(self, audience.value)  # type: ignore[no-any-return]

    @staticmethod
    def same(payload: U) -> Views[U]:
        return Views(payload, payload, payload)

    def map(self, change: Callable[[T], U]) -> Views[U]:
        """Each view changed alike (views that were one object stay one)."""
        changed: dict[int, U] = {}
        for view in (self.store, self.desktop, self.supervisor):
            if id(view) not in changed:
                changed[id(view)] = change(view)
        return Views(
            changed[id(self.store)], changed[id(self.desktop)], changed[id(self.supervisor)]
        )


def label(span: pii.Span, keep_last_four: bool) -> str:
    name = span.kind.value.replace("_", " ")
    if keep_last_four and span.kind is PrivateKind.CARD_NUMBER and len(span.digits) >= 12:
        return f"[{name} ending {span.digits[-4:]}]"
    return f"[{name}]"


def redact_text(
    text: str, spans: Iterable[pii.Span], keep_last_four: bool = False
) -> tuple[str, tuple[Redaction, ...]]:
    """`text` with each span replaced by its label, and where the labels now stand."""
    pieces: list[str] = []
    redactions: list[Redaction] = []
    position = length = 0
    for span in spans:
        before = text[position : span.start]
        tag = label(span, keep_last_four)
        pieces += (before, tag)
        length += len(before)
        redactions.append(Redaction(span.kind, length, length + len(tag)))
        length += len(tag)
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces), tuple(redactions)


def redact_words(
    words: tuple[Word, ...], text: str, spans: list[pii.Span], keep_last_four: bool = False
) -> tuple[Word, ...]:
    """The words of a final, the words of each span made one word that reads its label
    (spans that share a word share that one word)."""
    if not spans:
        return words
    located = _locate(words, text)
    out: list[Word] = []
    index = 0
    while index < len(words):
        start, end = located[index]
        touched = [s for s in spans if start < s.end and s.start < end]
        if not touched:
            out.append(words[index])
            index += 1
            continue
        last, reach = index, max(s.end for s in touched)
        while last + 1 < len(words) and located[last + 1][0] < reach:
            last += 1
            following = located[last]
            reach = max(
                [reach, *(s.end for s in spans if following[0] < s.end and s.start < following[1])]
            )
        first_start, last_end = located[index][0], located[last][1]
        inside = [
            pii.Span(s.kind, s.start - first_start, s.end - first_start, s.digits)
            for s in spans
            if first_start < s.end and s.start < last_end
        ]
        piece = text[first_start : max(last_end, reach)]
        shown = redact_text(piece, inside, keep_last_four)[0]
        group = words[index : last + 1]
        probability = min(w.probability for w in group)
        out.append(Word(shown.strip(), group[0].t_start, group[-1].t_end, probability))
        index = last + 1
    return tuple(out)


def _locate(words: tuple[Word, ...], text: str) -> list[tuple[int, int]]:
    """Each word's character range in the final's text (words are its pieces, in order).
    A word the text does not contain is taken to stand where the search is."""
    located: list[tuple[int, int]] = []
    cursor = 0
    for word in words:
        found = text.find(word.text.strip(), cursor)
        start = found if found >= 0 else cursor
        end = start + len(word.text.strip()) if found >= 0 else len(text)
        located.append((start, end))
        cursor = end if found >= 0 else cursor
    return located


class CallRedactor:
    """One call's redaction: the context its finals leave, and the values it has seen
    that the desktop may show but the store or the supervisors may not."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._watched = frozenset().union(*policy.hidden.values())
        self._prime: pii.Context = pii.UNSET
        self._prime_t = 0.0
        self._prime_finals = 0
        self._card_t: float | None = None  # when a card number was last said
        self._open_question = False  # the agent's last final asked without naming anything
        self._leads: dict[Speaker, pii.Lead] = {}  # a number a speaker's last final ended on
        self._seen: dict[str, PrivateKind] = {}  # value as written -> kind (not on the desktop)
        self._scrubbers: dict[Audience, Callable[[str], str] | None] = {}
        self._recall: re.Pattern[str] | None = None  # the values in _seen, in one pattern

    # --- transcripts ------------------------------------------------------------------------
    def transcript(self, update: TranscriptUpdate) -> Views[TranscriptUpdate]:
        spans = self.spans(update)
        if not spans:
            return Views.same(update)
        return Views(*(self._transcript_view(update, spans, a) for a in Audience))

    def spans(self, update: TranscriptUpdate) -> list[pii.Span]:
        """The personal data in a transcript update that some audience may not see, judged
        in the call's context; a final moves that context on."""
        lead = self._leads.get(update.speaker)
        spans = self._find(update.text, update.t_start, lead)
        if not spans and self._open_question and update.speaker is Speaker.CUSTOMER:
            spans = self._bare_code(update.text)
        if isinstance(update, TranscriptFinal):
            self._after_final(update, spans)
            self._leads.pop(update.speaker, None)
            if (ending := pii.trailing(update.text, spans)) is not None:
                self._leads[update.speaker] = ending
        return spans

    def translation(self, translation: Translation) -> Views[Translation]:
        spans = self._find(translation.text, None)
        self._remember_spans(translation.text, spans)
        return Views(*(self._translation_view(translation, spans, a) for a in Audience))

    def desktop_text(self, text: str) -> str:
        """Text the co-pilot is about to read that no transcript event carried (Whisper's
        translation of the audio), as the desktop may see it."""
        spans = self._find(text, None)
        self._remember_spans(text, spans)
        return redact_text(text, self._hidden(spans, Audience.DESKTOP), self.policy.keep_last_four)[
            0
        ]

    def started(self, started: CallStarted) -> Views[CallStarted]:
        """call.started, its platform metadata searched without context (AudioHook's
        participant carries the caller's number)."""
        if not self._watched:
            return Views.same(started)

        def view(audience: Audience) -> CallStarted:
            hidden = self.policy.hides(audience)
            metadata = _scrub_metadata(started.metadata, hidden, self.policy.keep_last_four)
            return msgspec.structs.replace(started, metadata=metadata)

        return Views(*(view(a) for a in Audience))

    # --- everything else ------------------------------------------------------------------
    def derived(self, payload: P) -> Views[P]:
        """The co-pilot's events (built from the desktop's view) for each audience."""
        if not self._seen:
            return Views.same(payload)
        return Views(
            self._scrub(payload, Audience.STORE),
            payload,
            self._scrub(payload, Audience.SUPERVISOR),
        )

    # --- inside ---------------------------------------------------------------------------
    def _find(self, text: str, t: float | None, lead: pii.Lead | None = None) -> list[pii.Span]:
        """What the detector finds, and the values this call has already shown to be
        personal wherever they come again ("that was March 3rd 1985, right?")."""
        if not self._watched or not text:
            return []
        prime = self._prime
        if t is not None and t - self._prime_t > PRIME_FOR_S:
            prime = pii.UNSET
        found = [s for s in pii.find(text, prime, lead) if s.kind in self._watched]
        return pii.merge([*found, *self._recalled(text)], text)

    def _recalled(self, text: str) -> list[pii.Span]:
        if not self._seen:
            return []
        if self._recall is None:
            values = sorted(self._seen, key=len, reverse=True)
            self._recall = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, values)) + r")(?!\w)")
        return [
            pii.Span(self._seen[m.group()], m.start(), m.end()) for m in self._recall.finditer(text)
        ]

    def _after_final(self, final: TranscriptFinal, spans: list[pii.Span]) -> None:
        """The context this final leaves for the next: its own last keyword, else the
        old one while it keeps being used (a card read over several finals)."""
        context = pii.last_context(final.text, self._prime)
        if any(s.kind is PrivateKind.CARD_NUMBER for s in spans):
            self._card_t = final.t_end
        # the next final answers it
        self._open_question = final.speaker is Speaker.AGENT and pii.names_nothing(final.text)
        if self._open_question and self._paying(final):
            context = PrivateKind.SECURITY_CODE
        if context is not pii.UNSET:
            self._prime, self._prime_t, self._prime_finals = context, final.t_end, PRIME_FOR_FINALS
            self._leads.clear()  # a new question: what anyone said before is not continued
        elif any(s.kind == self._prime for s in spans):
            self._prime_t, self._prime_finals = final.t_end, PRIME_FOR_FINALS
        elif len(final.text.split()) > 2:  # "okay" from the other side does not count
            self._prime_finals -= 1
            if self._prime_finals <= 0:
                self._prime = pii.UNSET
        self._remember_spans(final.text, spans)

    def _paying(self, final: TranscriptFinal) -> bool:
        """A card was read out shortly before this final."""
        return self._card_t is not None and final.t_start - self._card_t <= PAYMENT_FOR_S

    def _bare_code(self, text: str) -> list[pii.Span]:
        """A bare three or four digits answering a question that named nothing ("And the
        last bit?" / "552."): most likely a card's code, the costliest thing to store."""
        if PrivateKind.SECURITY_CODE not in self._watched:
            return []
        span = pii.bare_code(text)
        return [span] if span is not None else []

    def _remember_spans(self, text: str, spans: list[pii.Span]) -> None:
        """Values to hide wherever they come back: the co-pilot may quote what the desktop
        may see, and anyone may repeat a part ("ending in 2258" after an SSN). Not card
        numbers: a card's last four may be said and shown (PCI DSS)."""
        for span in spans:
            if span.kind is not PrivateKind.CARD_NUMBER:
                self._remember(text[span.start : span.end], span.kind)

    def _remember(self, value: str, kind: PrivateKind) -> None:
        """The value as said and as the co-pilot writes it ("March third nineteen eighty
        five" is "March 3rd 1985" in a data point), and each of its numbers on their own
        (they may be quoted apart: "March 3rd" and "1985" as two data points)."""
        forms = {value, written(value)}
        numbers = [m.group() for f in forms for m in _NUMBER_PIECE.finditer(f)]
        groups = [g for f in forms for g in re.findall(r"\d{3,}", f)]  # "2258" of 471-09-2258
        for piece in [*forms, *(n for n in numbers if len(n) >= 2), *groups]:  # never a "3"
            if piece.strip() and piece not in self._seen:
                self._seen[piece] = kind
                self._scrubbers.clear()
                self._recall = None

    def _hidden(self, spans: list[pii.Span], audience: Audience) -> list[pii.Span]:
        hidden = self.policy.hides(audience)
        return [s for s in spans if s.kind in hidden]

    def _transcript_view(
        self, update: TranscriptUpdate, spans: list[pii.Span], audience: Audience
    ) -> TranscriptUpdate:
        mine = self._hidden(spans, audience)
        if not mine:
            return update
        keep_four = self.policy.keep_last_four
        text, redactions = redact_text(update.text, mine, keep_four)
        if isinstance(update, TranscriptPartial):
            return msgspec.structs.replace(update, text=text, redactions=redactions)
        words = redact_words(update.words, update.text, mine, keep_four)
        return msgspec.structs.replace(update, text=text, words=words, redactions=redactions)

    def _translation_view(
        self, translation: Translation, spans: list[pii.Span], audience: Audience
    ) -> Translation:
        mine = self._hidden(spans, audience)
        if not mine:
            return translation
        text, redactions = redact_text(translation.text, mine, self.policy.keep_last_four)
        return msgspec.structs.replace(translation, text=text, redactions=redactions)

    def _scrub(self, payload: P, audience: Audience) -> P:
        if audience is Audience.DESKTOP or not self._seen:
            return payload
        if audience not in self._scrubbers:
            self._scrubbers[audience] = self._scrubber(audience)
        scrubber = self._scrubbers[audience]
        return payload if scrubber is None else _walk(payload, scrubber)

    def _scrubber(self, audience: Audience) -> Callable[[str], str] | None:
        hidden = self.policy.hides(audience)
        values = sorted((v for v, k in self._seen.items() if k in hidden), key=len, reverse=True)
        if not values:
            return None
        pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, values)) + r")(?!\w)")
        kinds = self._seen

        def scrub(text: str) -> str:
            return pattern.sub(lambda m: f"[{kinds[m.group()].value.replace('_', ' ')}]", text)

        return scrub


def _scrub_metadata(
    value: Any, hidden: frozenset[PrivateKind], keep_four: bool, key: str = ""
) -> Any:
    """A platform's parameters with personal data hidden: strings and numbers searched,
    with their key as context ({"ssn": "123456789"}), in lists and objects alike."""
    if isinstance(value, dict):
        return {k: _scrub_metadata(v, hidden, keep_four, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_metadata(v, hidden, keep_four, key) for v in value]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return value
    text = str(value)
    context = pii.last_context(key.replace("_", " "))
    spans = [s for s in pii.find(text, context, transcript=False) if s.kind in hidden]
    return redact_text(text, spans, keep_four)[0] if spans else value


def _walk(value: Any, scrub: Callable[[str], str]) -> Any:
    """`value` with `scrub` applied to every string inside it (enums stay as they are)."""
    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, tuple | list):
        return type(value)(_walk(v, scrub) for v in value)
    if isinstance(value, dict):
        return {k: _walk(v, scrub) for k, v in value.items()}
    if isinstance(value, msgspec.Struct):
        changes = {name: _walk(getattr(value, name), scrub) for name in value.__struct_fields__}
        if isinstance(value, DataPoint) and changes["text"] != value.text:
            changes["value"] = changes["text"]  # "1985-03-03" was read from what is now hidden
        return msgspec.structs.replace(value, **changes)
    return value
