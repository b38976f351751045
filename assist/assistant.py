"""What every call's assist shares, loaded once: options, the embedding model, the
intent catalog, the rules, the knowledge articles and the disposition catalog."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from assist.cues import RuleBook
from assist.dynamics import DynamicsOptions
from assist.embeddings import DEFAULT_MODEL, Embedder, load_embedder
from assist.errors import AssistError
from assist.intent import IntentCatalog, IntentOptions
from assist.knowledge import KnowledgeBase
from assist.sentiment import SentimentOptions
from assist.translate import ArgosTranslator
from assist.wrapup import DispositionCatalog

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True, slots=True)
class AssistOptions:
    enabled: bool = True
    intents_file: str = ""  # empty: the default catalog shipped in assist/data/
    rules_file: str = ""
    dispositions_file: str = ""
    knowledge_dir: str = ""
    embeddings_model: str = DEFAULT_MODEL  # "minilm", a model directory, or "none"
    embedding_threads: int = 1
    knowledge_min_score: float = 0.45  # cosine similarity (word overlap without the model)
    transcript_tail_lines: int = 8  # lines of transcript that travel with a cue
    translation: bool = True  # finals not in the agent's language are translated
    argos_packages_dir: str = ""  # "" = Argos's default (~/.local/share/argos-translate)
    intent: IntentOptions = field(default_factory=IntentOptions)
    sentiment: SentimentOptions = field(default_factory=SentimentOptions)
    dynamics: DynamicsOptions = field(default_factory=DynamicsOptions)

    def path(self, configured: str, default: str) -> Path:
        return Path(configured).expanduser() if configured else DATA_DIR / default


@dataclass(frozen=True, slots=True)
class Assistant:
    options: AssistOptions
    embedder: Embedder | None
    intents: IntentCatalog
    rules: RuleBook
    knowledge: KnowledgeBase
    dispositions: DispositionCatalog
    translator: ArgosTranslator | None = None

    @classmethod
    def load(cls, options: AssistOptions | None = None) -> Assistant:
        """Loads models and files; raises CatalogError naming the file that is wrong."""
        options = options or AssistOptions()
        started = time.monotonic()
        embedder = load_embedder(options.embeddings_model, options.embedding_threads)
        assistant = cls(
            options=options,
            embedder=embedder,
            intents=IntentCatalog.load(
                options.path(options.intents_file, "intents.toml"), embedder
            ),
            rules=RuleBook.load(options.path(options.rules_file, "rules.toml"), embedder),
            knowledge=KnowledgeBase.load(
                options.path(options.knowledge_dir, "knowledge"), embedder
            ),
            dispositions=DispositionCatalog.load(
                options.path(options.dispositions_file, "dispositions.toml")
            ),
            translator=_load_translator(options),
        )
        log.info(
            "assist ready in %.1f s: %d intents, %d rules, %d knowledge passages, embeddings %s",
            time.monotonic() - started,
            len(assistant.intents.intents),
            len(assistant.rules.rules),
            len(assistant.knowledge.passages),
            "on" if embedder is not None else "off",
        )
        return assistant


def _load_translator(options: AssistOptions) -> ArgosTranslator | None:
    if not options.translation:
        return None
    try:
        translator = ArgosTranslator(options.argos_packages_dir)
        pairs = sorted(translator.pairs)
    except AssistError as exc:
        log.warning("no text translation: %s", exc)
        return None
    log.info("Argos translation pairs installed: %s", pairs or "none")
    return translator
