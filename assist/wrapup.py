"""The wrap-up, drafted while the call runs so that it is ready the moment it ends.

Disposition: the catalog (assist/data/dispositions.toml, documented at its top)
lists dispositions most specific first. Each has patterns that show it in the
agent's words ("I'll put you through to my team leader" is `escalated`); the
first in file order with such evidence wins, the others shown become the
alternatives. With no evidence, a disposition whose `intents` name the call's
intent is chosen, else the catalog's `default`. Confidence says which of these
it was, so the agent knows how much to check.

Notes: the reason is the intent and the caller's first words about it; actions
are what the agent said they did ("I've sent you a reset link") or will do; the
follow-ups are every commitment with its owner (the agent's "I'll", the
company's "we'll" / "the engineer will", the caller's own "I'll") and when, as said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assist.cues import compile_patterns
from assist.errors import CatalogError
from contract import settings
from contract.events import FollowUp, FollowUpOwner, Speaker, Wrapup, WrapupNotes

NO_INTENT = "none"  # in `intents`: calls where no intent was found
MAX_NOTES = 8  # actions and follow-ups each; notes are read at a glance
CONFIDENCE_SHOWN = 0.8  # the words showed one disposition only
CONFIDENCE_CONTESTED = 0.6  # the words showed it and others after it in the catalog
CONFIDENCE_BY_INTENT = 0.5
CONFIDENCE_DEFAULT = 0.3


@dataclass(frozen=True, slots=True)
class Disposition:
    """One [[disposition]] of a catalog, as documented at the top of dispositions.toml."""

    name: str
    description: str = ""
    patterns: tuple[re.Pattern[str], ...] = ()  # in the agent's words; case-insensitive
    intents: tuple[str, ...] = ()  # chosen for these intents when no words showed any
    default: bool = False
    resolved: bool = True  # the customer's need was met (first-contact resolution)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", self.name):
            raise ValueError(f"{self.name!r}: a name is lower-case letters, digits and _")


@dataclass(frozen=True, slots=True)
class DispositionsFile:
    disposition: tuple[Disposition, ...] = ()


class DispositionCatalog:
    def __init__(self, dispositions: list[Disposition]) -> None:
        defaults = [d for d in dispositions if d.default]
        if len(defaults) != 1:
            raise CatalogError("a disposition catalog needs exactly one `default = true`")
        self.dispositions = dispositions
        self.default = defaults[0]
        self.names = tuple(d.name for d in dispositions)
        self.resolved = {d.name: d.resolved for d in dispositions}

    @classmethod
    def load(cls, path: Path) -> DispositionCatalog:
        loaded = settings.load(
            path, DispositionsFile, error=CatalogError, dec_hook=compile_patterns
        )
        names = [d.name for d in loaded.disposition]
        settings.refuse_duplicates(names, source=str(path), key="disposition", error=CatalogError)
        try:
            return cls(list(loaded.disposition))
        except CatalogError as exc:
            raise CatalogError.at(str(path), "disposition", str(exc)) from None


# Commitments: who says it, the subject, and the owner that makes.
_AGENT_WILL = re.compile(
    r"\b(?:I'll|I will|I'm going to|I am going to|let me|I'm sending|I am sending)\s+"
    r"(?P<what>[^.!?]+)",
    re.I,
)
_CUSTOMER_WILL = re.compile(r"\b(?:I'll|I will)\s+(?P<what>[^.!?]+)", re.I)
_COMPANY_WILL = re.compile(
    r"\b(?:we'll|we will|we're going to|(?:the|an?|our|your)\s+(?:\w+\s+)?"
    r"(?:engineer|technician|courier|manager|team|refund|credit|letter|email|text|parcel|replacement)"
    r"\s+(?:will|should|is going to|goes|comes|arrives)|you'll (?:get|receive|have|see))"
    r"\s+(?P<what>[^.!?]+)",
    re.I,
)
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_WHEN = re.compile(
    r"\b(?:(?:with)?in (?:the next |about |around )?(?:\w+ (?:to \w+ )?)?(?:working |business )?"
    r"(?:minutes?|hours?|days?|weeks?)|within the hour|right now|now|today|tonight|tomorrow"
    r"(?: morning| afternoon| evening)?|this (?:morning|afternoon|evening|week)"
    rf"|(?:(?:by|on|next|this|before) )?(?:{_WEEKDAYS})(?: morning| afternoon| evening)?"
    r"|(?:on|from) (?:your |the )?next (?:bill(?:ing date)?|month)"
    r"|by the end of (?:the day|the week|the month))\b",
    re.I,
)
_DONE = re.compile(
    r"\bI(?:'ve| have)\s+(?:just\s+|now\s+|also\s+|already\s+)?"
    r"(?P<what>(?:\w+ed|sent|put|set|made|taken|given|reset|done)\b[^.!?]*)",
    re.I,
)
# One commitment per clause: "remove the charges now, and I'll flag the account".
_NEXT_COMMITMENT = re.compile(
    r",?\s+(?:and|so|but)\s+(?=(?:I'll|I will|we'll|we will|it'll|you'll)\b)|,\s+(?:so|but)\s+",
    re.I,
)
# Things the company delivers whoever promised them: a refund, a credit, a replacement...
_COMPANY_DELIVERS = re.compile(
    r"\b(?:refund|credit|replacement|letter|engineer|technician|courier|parcel|visit|upgrade)\b",
    re.I,
)
_VAGUE = re.compile(r"^(?:help|see|understand|check that|do that|be|have a look|just)\b", re.I)
_FIRST_WORDS = 5  # a caller's line this long says why they called


@dataclass
class WrapupDraft:
    """One call's wrap-up, kept up to date final by final."""

    catalog: DispositionCatalog
    _shown: dict[str, list[str]] = field(default_factory=dict)  # disposition -> lines
    _reason_line: str = ""
    _actions: list[str] = field(default_factory=list)
    _follow_ups: list[FollowUp] = field(default_factory=list)

    def add(self, segment_id: str, speaker: Speaker, text: str) -> None:
        if speaker is Speaker.CUSTOMER:
            if not self._reason_line and len(text.split()) >= _FIRST_WORDS:
                self._reason_line = text
            self._commit(_CUSTOMER_WILL, text, FollowUpOwner.CUSTOMER, segment_id)
            return
        for disposition in self.catalog.dispositions:
            if any(p.search(text) for p in disposition.patterns):
                self._shown.setdefault(disposition.name, []).append(text)
        self._add(self._actions, [m["what"] for m in _DONE.finditer(text)])
        self._commit(_AGENT_WILL, text, FollowUpOwner.AGENT, segment_id)
        self._commit(_COMPANY_WILL, text, FollowUpOwner.COMPANY, segment_id)

    def draft(self, intent: str | None, intent_description: str) -> Wrapup:
        chosen, confidence, evidence, alternatives = self._disposition(intent)
        reason = intent_description.rstrip(". ") or "Not clear from the call"
        if self._reason_line:
            reason = f"{reason}: \u201c{_clip(self._reason_line)}\u201d"
        promised = [f.what for f in self._follow_ups if f.owner is not FollowUpOwner.CUSTOMER]
        actions = self._actions + [p for p in promised if p not in self._actions]
        notes = WrapupNotes(
            reason=reason,
            actions=tuple(actions[:MAX_NOTES]),
            outcome=chosen.description or chosen.name.replace("_", " "),
            follow_ups=tuple(self._follow_ups[:MAX_NOTES]),
        )
        return Wrapup(
            chosen.name,
            chosen.description,
            confidence,
            evidence,
            notes,
            alternatives,
            self.catalog.names,
            chosen.resolved,
        )

    def _disposition(
        self, intent: str | None
    ) -> tuple[Disposition, float, tuple[str, ...], tuple[str, ...]]:
        shown = [d for d in self.catalog.dispositions if d.name in self._shown]
        if shown:
            others = tuple(d.name for d in shown[1:])
            confidence = CONFIDENCE_CONTESTED if others else CONFIDENCE_SHOWN
            return shown[0], confidence, tuple(self._shown[shown[0].name][-2:]), others
        wanted = intent or NO_INTENT
        for disposition in self.catalog.dispositions:
            if wanted in disposition.intents:
                return disposition, CONFIDENCE_BY_INTENT, (), ()
        return self.catalog.default, CONFIDENCE_DEFAULT, (), ()

    def _commit(self, pattern: re.Pattern[str], text: str, owner: FollowUpOwner, sid: str) -> None:
        matches = [m for clause in _NEXT_COMMITMENT.split(text) for m in pattern.finditer(clause)]
        for match in matches:
            said = match["what"]
            what = _clip(said.strip(" ,"))
            if len(what.split()) < 2 or _VAGUE.match(what) or len(self._follow_ups) >= MAX_NOTES:
                continue
            if any(f.what == what for f in self._follow_ups):
                continue
            when = _WHEN.search(said)
            # what the agent arranges for the company to do is the company's to deliver
            if owner is FollowUpOwner.AGENT and _COMPANY_DELIVERS.search(what):
                owner = FollowUpOwner.COMPANY
            self._follow_ups.append(FollowUp(what, owner, when[0] if when else "", sid))

    @staticmethod
    def _add(items: list[str], found: list[Any]) -> None:
        for text in found:
            text = _clip(str(text).strip(" ,"))
            if len(text.split()) >= 2 and text not in items and len(items) < MAX_NOTES:
                items.append(text)


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"
