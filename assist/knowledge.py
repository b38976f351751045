"""Knowledge articles: a folder of Markdown files, searched as the call unfolds.

Each file is an article; its `# ` heading is the title and each `## ` section
a passage that can be suggested on its own. An optional line
`Intents: billing_dispute, refund_request` ties an article to intents, which
lifts it when the call's intent is one of them. Search is by meaning (sentence
embeddings) where the model is loaded, by shared words otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assist.embeddings import Embedder
from assist.errors import CatalogError

_INTENTS_LINE = re.compile(r"^intents:\s*(.+)$", re.I | re.M)
_WORD = re.compile(r"[a-z0-9']+")
_STOPWORDS = frozenset(
    "a an the and or but if to of in on for with at by from is are was were be been am i you "
    "he she it we they my your our their me him her us them this that these those have has had "
    "do does did not no so can could will would should just about there here what when how "
    "why which who please thank thanks yes okay ok hi hello".split()
)
INTENT_BOOST = 0.1  # an article written for the call's intent wins a close race
SNIPPET_CHARS = 280


@dataclass(frozen=True, slots=True)
class Passage:
    source: str  # file name
    title: str  # article title, and the section's when it has one
    text: str
    intents: frozenset[str]


@dataclass(frozen=True, slots=True)
class Hit:
    passage: Passage
    score: float

    @property
    def snippet(self) -> str:
        text = " ".join(self.passage.text.split())
        return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"


class KnowledgeBase:
    def __init__(self, passages: list[Passage], embedder: Embedder | None) -> None:
        self.passages = passages
        self._embedder = embedder
        self._vectors = (
            embedder.embed([f"{p.title}. {p.text}" for p in passages])
            if embedder is not None and passages
            else None
        )
        self._words = [_content_words(f"{p.title} {p.text}") for p in passages]

    @classmethod
    def load(cls, folder: Path, embedder: Embedder | None) -> KnowledgeBase:
        if not folder.is_dir():
            raise CatalogError(f"knowledge folder {folder} does not exist")
        passages = [p for path in sorted(folder.glob("*.md")) for p in _passages(path)]
        return cls(passages, embedder)

    def search(self, query: str, vector: np.ndarray | None, intent: str | None) -> list[Hit]:
        """Passages by relevance to `query`, best first."""
        if not self.passages:
            return []
        if vector is not None and self._vectors is not None:
            scores = self._vectors @ vector
        else:
            words = _content_words(query)
            scores = np.array([len(words & w) / (len(words) or 1) for w in self._words])
        boost = np.array([INTENT_BOOST if intent in p.intents else 0.0 for p in self.passages])
        total = scores + boost
        order = np.argsort(-total)
        return [Hit(self.passages[i], round(float(total[i]), 3)) for i in order]


def _passages(path: Path) -> list[Passage]:
    text = path.read_text(encoding="utf-8")
    found = _INTENTS_LINE.search(text)
    intents = frozenset(s.strip() for s in found[1].split(",")) if found else frozenset()
    text = _INTENTS_LINE.sub("", text)
    title_match = re.search(r"^#\s+(.+)$", text, re.M)
    title = title_match[1].strip() if title_match else path.stem.replace("_", " ")
    sections = re.split(r"^##\s+(.+)$", text, flags=re.M)
    intro = re.sub(r"^#\s+.+$", "", sections[0], flags=re.M).strip()
    passages = [Passage(path.name, title, intro, intents)] if intro else []
    for heading, body in zip(sections[1::2], sections[2::2], strict=True):
        if body.strip():
            passages.append(
                Passage(path.name, f"{title}: {heading.strip()}", body.strip(), intents)
            )
    return passages


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS and len(w) > 2}
