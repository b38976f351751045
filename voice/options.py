"""Whisper's options, apart from the engine: reading a configuration must not import
(let alone patch) faster-whisper, so `streams.config` takes them from here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WhisperOptions:
    model: str = "tiny.en"  # a packaged model name or a CTranslate2 model directory
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    compute_type: str = "int8"  # e.g. "int8", "int8_float16", "float16"
    cpu_threads: int = 0  # threads per decode; 0 lets CTranslate2 use every core
    beam_size: int = 1  # 1 = greedy; 5 is more accurate and about 2x slower
    # Encode about the utterance, not a padded 30 s window: 2-6x faster decodes.
    # Short finals lose some confidence that way, so finals keep the full window
    # unless the scheduler says the machine is busy.
    fit_window_partials: bool = True
    fit_window_finals: bool = False
    # Speech in other languages goes to this model ("" = none: everything is English).
    multilingual_model: str = "base"
    # Words the recogniser should expect (faster-whisper's `hotwords`): a deployment's
    # product names, ids and data-point vocabulary. "" = none (see README, Measured).
    hotwords: str = ""
