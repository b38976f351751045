"""Text translation with argostranslate: the only module that imports it.

Installed Argos packages are found offline in `packages_dir` (or Argos's own
default, `~/.local/share/argos-translate/packages`). Argos builds pivots through
an intermediate language (usually English) by itself when no direct package is
installed. Argos's own sentence splitters download models on first use and fail
offline, so every translation object gets ours instead.

argostranslate pulls torch through stanza: it is the `translation` extra, and
everything here says clearly when it is missing instead of failing a call.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

from assist.errors import AssistError

log = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+(?=[\"'“„(\[]?[A-ZÀ-ÖØ-ÞĀ-Ž0-9])")  # noqa: RUF001 (CJK sentence ends)


class SentenceSplitter:
    """Splits at sentence punctuation followed by a capital or a digit; offline, no model."""

    def split_sentences(self, text: str) -> list[str]:
        return [s for s in (p.strip() for p in _SENTENCE_END.split(text)) if s]


class ArgosTranslator:
    """Thread-safe: one lock around Argos, whose translators are not documented as reentrant.

    The installed pairs are read once, here: `can_translate` is asked on the event loop
    and must never wait for the lock a running translation holds. Packages installed
    later are seen after a restart."""

    def __init__(self, packages_dir: str = "") -> None:
        if packages_dir:
            os.environ["ARGOS_PACKAGES_DIR"] = str(Path(packages_dir).expanduser())
        self._translate = _import_argos()
        self._lock = threading.Lock()
        self._pairs: dict[tuple[str, str], Any] = {}
        self._splitter = SentenceSplitter()
        languages = self._translate.get_installed_languages()
        self.pairs = frozenset(
            (source.code, target.code)
            for source in languages
            for target in languages
            if source.code != target.code and source.get_translation(target) is not None
        )  # every (source, target) the installed packages cover, pivots included

    def can_translate(self, source: str, target: str) -> bool:
        return (source, target) in self.pairs

    def translate(self, text: str, source: str, target: str) -> str | None:
        translation = self._translation(source, target)
        if translation is None:
            return None
        with self._lock:
            return str(translation.translate(text))

    def _translation(self, source: str, target: str) -> Any:
        key = (source, target)
        if key not in self.pairs:
            return None
        if key not in self._pairs:
            with self._lock:
                languages = {lang.code: lang for lang in self._translate.get_installed_languages()}
                found = None
                if source in languages and target in languages:
                    found = languages[source].get_translation(languages[target])
                if found is not None:
                    _use_splitter(found, self._splitter)
                self._pairs[key] = found
        return self._pairs[key]


def _use_splitter(translation: Any, splitter: SentenceSplitter) -> None:
    """Puts our splitter into a translation and everything it is made of (pivots, caches)."""
    for attribute in ("underlying", "t1", "t2"):
        inner = getattr(translation, attribute, None)
        if inner is not None:
            _use_splitter(inner, splitter)
    if hasattr(translation, "sentencizer"):
        translation.sentencizer = splitter


def install_package(path: Path, packages_dir: str = "") -> None:
    """Installs one `.argosmodel` file, offline."""
    if packages_dir:
        os.environ["ARGOS_PACKAGES_DIR"] = str(Path(packages_dir).expanduser())
    _import_argos()
    import argostranslate.package

    if not path.is_file():
        raise AssistError(f"{path} is not a file")
    argostranslate.package.install_from_path(path)


def install_from_index(source: str, target: str, packages_dir: str = "") -> str:
    """Downloads and installs the package for a pair from the Argos index (needs a network)."""
    if packages_dir:
        os.environ["ARGOS_PACKAGES_DIR"] = str(Path(packages_dir).expanduser())
    _import_argos()
    import argostranslate.package

    argostranslate.package.update_package_index()
    for package in argostranslate.package.get_available_packages():
        if package.from_code == source and package.to_code == target:
            argostranslate.package.install_from_path(package.download())
            return f"{package.from_name} -> {package.to_name} {package.package_version}"
    raise AssistError(f"the Argos index has no {source} -> {target} package")


def _import_argos() -> Any:
    try:
        import argostranslate.translate
        import argostranslate.utils
    except ImportError as exc:
        raise AssistError(
            "translation needs the 'translation' extra: "
            "pip install torch==2.13.0 && pip install -e '.[translation]'"
        ) from exc
    # Argos logs every call at INFO with text in it; transcripts stay out of our logs.
    argostranslate.utils.logger.setLevel(logging.WARNING)
    return argostranslate.translate
