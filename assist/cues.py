"""Handover cues and supervisor alerts: rules from a file, checked as each segment lands.

A rule is one of three kinds (see assist/data/rules.toml for the documented defaults):

- `phrase`: words of a speaker match a pattern (regular expression) or mean the
  same as an example (sentence embeddings, above `min_similarity`);
- `sentiment_spike`: the customer's sentiment spiked (words and voice);
- `agent_silence`: the caller spoke and the agent has said nothing for `silence_s`.

A rule fires at most once per call for the same cause (`agent_silence` re-arms
when the agent speaks again), so supervisors never get the same alert twice.

The file is read strictly (contract.settings): an unknown key, a wrong type, a kind,
speaker or severity outside its enum, a bad pattern or a rule that could never fire
is refused, naming the file and the key (`rule[2].speaker`, counting from 0).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assist.embeddings import Embedder
from assist.errors import CatalogError
from contract import settings
from contract.events import Severity, Speaker


class RuleKind(enum.StrEnum):
    PHRASE = "phrase"
    SENTIMENT_SPIKE = "sentiment_spike"
    AGENT_SILENCE = "agent_silence"


@dataclass(frozen=True, slots=True)
class Rule:
    """One [[rule]] of a rules file, as documented at the top of assist/data/rules.toml."""

    name: str
    kind: RuleKind
    reason: str
    severity: Severity = Severity.MEDIUM
    speaker: Speaker = Speaker.CUSTOMER
    patterns: tuple[re.Pattern[str], ...] = ()  # compiled case-insensitive
    examples: tuple[str, ...] = ()
    min_similarity: float = 0.7
    silence_s: float = 30.0
    handover: bool = True  # a cue on the agent's desktop
    alert: bool = True  # an alert to supervisors
    next_action: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a rule needs a name")
        if self.kind is RuleKind.PHRASE and not (self.patterns or self.examples):
            raise ValueError(f"phrase rule {self.name!r} has no patterns and no examples")
        if self.kind is not RuleKind.PHRASE and (self.patterns or self.examples):
            raise ValueError(f"rule {self.name!r}: patterns and examples are for phrase rules")
        if not 0.0 <= self.min_similarity <= 1.0:
            raise ValueError(f"rule {self.name!r}: min_similarity must be within 0..1")
        if self.silence_s <= 0:
            raise ValueError(f"rule {self.name!r}: silence_s must be above 0")


@dataclass(frozen=True, slots=True)
class RulesFile:
    """A rules file: its [[rule]] tables."""

    rule: tuple[Rule, ...] = ()


@dataclass(frozen=True, slots=True)
class Firing:
    rule: Rule
    evidence: tuple[str, ...]
    detail: str = ""  # what the rule saw, added to its reason


class RuleBook:
    def __init__(self, rules: list[Rule], embedder: Embedder | None) -> None:
        self.rules = rules
        self._examples: dict[str, np.ndarray] = {}
        if embedder is not None:
            for rule in rules:
                if rule.examples:
                    self._examples[rule.name] = embedder.embed(list(rule.examples))

    @classmethod
    def load(cls, path: Path, embedder: Embedder | None) -> RuleBook:
        """The rules in a TOML file; CatalogError naming the file and key when it is wrong."""
        loaded = settings.load(path, RulesFile, error=CatalogError, dec_hook=compile_patterns)
        names = [rule.name for rule in loaded.rule]
        settings.refuse_duplicates(names, source=str(path), key="rule", error=CatalogError)
        return cls(list(loaded.rule), embedder)

    def match_phrase(self, rule: Rule, text: str, vector: np.ndarray | None) -> Firing | None:
        for pattern in rule.patterns:
            found = pattern.search(text)
            if found:
                return Firing(rule, (found[0],))
        examples = self._examples.get(rule.name)
        if vector is None or examples is None:
            return None
        similarity = examples @ vector
        best = int(similarity.argmax())
        if similarity[best] >= rule.min_similarity:
            return Firing(rule, (text,), f"(means the same as '{rule.examples[best]}')")
        return None


@dataclass
class CueState:
    """Which rules already fired in one call."""

    fired: set[str] = field(default_factory=set)

    def first_time(self, rule: Rule) -> bool:
        if rule.name in self.fired:
            return False
        self.fired.add(rule.name)
        return True

    def rearm(self, rule: Rule) -> None:
        self.fired.discard(rule.name)


def compile_patterns(kind: type, value: Any) -> re.Pattern[str]:
    """msgspec's hook for `Rule.patterns`: each string a case-insensitive expression."""
    if kind is not re.Pattern and getattr(kind, "__origin__", None) is not re.Pattern:
        raise NotImplementedError(kind)
    if not isinstance(value, str):
        raise TypeError(f"expected str, got {type(value).__name__}")
    try:
        return re.compile(value, re.I)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
