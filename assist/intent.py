"""What the caller wants, from their words: a catalog of intents and a per-call detector.

Each customer segment is compared with every intent's example phrases (sentence
embeddings, cosine similarity); a keyword hit is a fast, strong first signal
that works without the model. Evidence adds up over the call, so one stray
sentence does not flip an intent that several sentences support, and a new
intent takes over only when its evidence clearly leads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from assist.embeddings import Embedder
from assist.errors import CatalogError
from contract import settings
from contract.events import IntentDetected


@dataclass(frozen=True, slots=True)
class Intent:
    """One [[intent]] of an intents file, as documented at the top of assist/data/intents.toml."""

    name: str
    description: str = ""  # "" in a file: the name
    examples: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    next_action: str = ""  # what the agent should do once this intent is clear

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("an intent needs a name")
        if any(not k.strip() for k in self.keywords):
            raise ValueError(f"intent {self.name!r} has an empty keyword")


@dataclass(frozen=True, slots=True)
class IntentsFile:
    """An intents file: its [[intent]] tables."""

    intent: tuple[Intent, ...] = ()


@dataclass(frozen=True, slots=True)
class IntentOptions:
    similarity_floor: float = 0.35  # below this an example match is no evidence
    keyword_weight: float = 0.35  # evidence per keyword hit
    min_evidence: float = 0.15  # evidence needed before an intent is announced
    min_share: float = 0.5  # of all evidence so far, the leader's share
    change_margin: float = 1.5  # a new intent needs this times the current one's evidence
    reannounce_step: float = 0.15  # confidence change worth another event


class IntentCatalog:
    def __init__(self, intents: list[Intent], embedder: Embedder | None) -> None:
        if not intents:
            raise CatalogError("an intent catalog needs at least one intent")
        self.intents = intents
        self._embedder = embedder
        self._keywords = [
            re.compile(r"\b(?:" + "|".join(map(re.escape, i.keywords)) + r")\b", re.I)
            if i.keywords
            else None
            for i in intents
        ]
        self._owner: list[int] = []
        self._examples: np.ndarray | None = None
        if embedder is not None:
            texts = [e for i in intents for e in (i.description, *i.examples)]
            self._owner = [k for k, i in enumerate(intents) for _ in (i.description, *i.examples)]
            self._examples = embedder.embed(texts)

    @classmethod
    def load(cls, path: Path, embedder: Embedder | None) -> IntentCatalog:
        """The intents in a TOML file, read strictly (contract.settings); CatalogError
        naming the file and the key when it is wrong."""
        loaded = settings.load(path, IntentsFile, error=CatalogError)
        if not loaded.intent:
            raise CatalogError.at(str(path), "intent", "the catalog needs at least one [[intent]]")
        names = [intent.name for intent in loaded.intent]
        settings.refuse_duplicates(names, source=str(path), key="intent", error=CatalogError)
        intents = [replace(i, description=i.description or i.name) for i in loaded.intent]
        return cls(intents, embedder)

    def evidence(
        self, text: str, vector: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None, list[list[str]]]:
        """Per intent: keyword hits, best similarity to its examples, and the words hit."""
        hits = np.zeros(len(self.intents), dtype=np.float32)
        quotes: list[list[str]] = [[] for _ in self.intents]
        for k, pattern in enumerate(self._keywords):
            found = pattern.findall(text) if pattern else []
            hits[k] = len(found)
            quotes[k] = found
        if vector is None or self._examples is None:
            return hits, None, quotes
        best = np.full(len(self.intents), -1.0, dtype=np.float32)
        np.maximum.at(best, self._owner, self._examples @ vector)
        return hits, best, quotes


@dataclass
class IntentTracker:
    """One call's running belief about the caller's intent."""

    catalog: IntentCatalog
    options: IntentOptions = field(default_factory=IntentOptions)
    current: str | None = None
    _confidence: float = 0.0
    _evidence: np.ndarray | None = None
    _quotes: dict[int, list[str]] = field(default_factory=dict)

    def update(
        self, segment_id: str, text: str, vector: np.ndarray | None
    ) -> IntentDetected | None:
        """Adds a customer segment; returns an event when the intent is new or firmer."""
        catalog, o = self.catalog, self.options
        gain, quotes = self._gain(text, vector)
        total = gain if self._evidence is None else self._evidence + gain
        self._evidence = total
        for k in np.flatnonzero(gain > 0):
            self._quotes.setdefault(int(k), []).extend(quotes[k] or [text])
        leader = int(total.argmax())
        share = float(total[leader] / max(total.sum(), 1e-6))
        if total[leader] < o.min_evidence or share < o.min_share:
            return None
        name = catalog.intents[leader].name
        if self.current is not None and name != self.current:
            current = next(k for k, i in enumerate(catalog.intents) if i.name == self.current)
            if total[leader] < o.change_margin * total[current]:
                return None
        confidence = round(min(1.0, float(total[leader])) * share, 3)
        if name == self.current and abs(confidence - self._confidence) < o.reannounce_step:
            return None
        self.current, self._confidence = name, confidence
        intent = catalog.intents[leader]
        evidence = tuple(dict.fromkeys(self._quotes.get(leader, [])))[:3]
        return IntentDetected(segment_id, name, intent.description, confidence, evidence)

    def _gain(self, text: str, vector: np.ndarray | None) -> tuple[np.ndarray, list[list[str]]]:
        o = self.options
        keywords, similarity, quotes = self.catalog.evidence(text, vector)
        gain = o.keyword_weight * keywords
        if similarity is not None:
            gain = gain + np.clip(similarity - o.similarity_floor, 0.0, None)
        return gain, quotes
