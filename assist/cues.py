"""Handover cues and supervisor alerts: rules from a file, checked as each segment lands.

A rule is one of three kinds (see assist/data/rules.toml for the documented defaults):

- `phrase`: words of a speaker match a pattern (regular expression) or mean the
  same as an example (sentence embeddings, above `min_similarity`);
- `sentiment_spike`: the customer's sentiment spiked (words and voice);
- `agent_silence`: the caller spoke and the agent has said nothing for `silence_s`.

A rule fires at most once per call for the same cause (`agent_silence` re-arms
when the agent speaks again), so supervisors never get the same alert twice.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assist.embeddings import Embedder
from assist.errors import CatalogError
from contract.events import Severity

KINDS = ("phrase", "sentiment_spike", "agent_silence")


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    kind: str
    reason: str
    severity: Severity = Severity.MEDIUM
    speaker: str = "customer"
    patterns: tuple[re.Pattern[str], ...] = ()
    examples: tuple[str, ...] = ()
    min_similarity: float = 0.7
    silence_s: float = 30.0
    handover: bool = True  # a cue on the agent's desktop
    alert: bool = True  # an alert to supervisors
    next_action: str = ""


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
        try:
            table = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CatalogError(f"cannot read rules file {path}: {exc}") from None
        return cls([_rule(entry, path) for entry in table.get("rule", [])], embedder)

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


def _rule(entry: dict[str, object], path: Path) -> Rule:
    try:
        name, kind, reason = str(entry["name"]), str(entry["kind"]), str(entry["reason"])
    except KeyError as exc:
        raise CatalogError(f"{path}: a [[rule]] has no {exc}") from None
    if kind not in KINDS:
        raise CatalogError(f"{path}: rule {name!r} has kind {kind!r}; expected one of {KINDS}")
    try:
        patterns = tuple(re.compile(str(p), re.I) for p in _strings(entry.get("patterns")))
        severity = Severity(str(entry.get("severity", "medium")))
    except (re.error, ValueError) as exc:
        raise CatalogError(f"{path}: rule {name!r}: {exc}") from None
    return Rule(
        name=name,
        kind=kind,
        reason=reason,
        severity=severity,
        speaker=str(entry.get("speaker", "customer")),
        patterns=patterns,
        examples=tuple(_strings(entry.get("examples"))),
        min_similarity=float(entry.get("min_similarity", 0.7)),  # type: ignore[arg-type]
        silence_s=float(entry.get("silence_s", 30.0)),  # type: ignore[arg-type]
        handover=bool(entry.get("handover", True)),
        alert=bool(entry.get("alert", True)),
        next_action=str(entry.get("next_action", "")),
    )


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []
