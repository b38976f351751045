"""The only module that imports faster_whisper: Whisper decoding and Silero VAD.

Both run on worker threads; nothing here is async. One `WhisperEngine` (one
loaded model) serves every call in the process. Importing this module changes
nothing in faster_whisper: the first `WhisperEngine` fits its encoder windows
(see below). `WhisperOptions` lives in `voice.options`; it is re-exported here.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import faster_whisper.transcribe as fw_transcribe
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.vad import get_vad_model

from contract.events import Word
from voice import loops
from voice.decoding import DecodeRequest, DecodeTask, Hypothesis, Segment
from voice.errors import ModelError
from voice.models import resolve_model_dir
from voice.options import WhisperOptions
from voice.vad import VAD_FRAME_SAMPLES

__all__ = ["LanguageRouter", "SileroVad", "WhisperEngine", "WhisperOptions"]

log = logging.getLogger(__name__)

_WHISPER_WINDOW_FRAMES = 3000  # 30 s of 10 ms mel frames: what Whisper was trained on
_WINDOW_STEP_FRAMES = 500  # fitted windows grow in 5 s steps
_MIN_WINDOW_FRAMES = 1000  # never encode less than 10 s: shorter windows lose accuracy
_VAD_CONTEXT_SAMPLES = 64  # Silero v6 looks at the previous 64 samples of each window
# A streaming decode must take bounded time: no temperature fallback (up to six
# re-decodes of a hard utterance) and no more tokens than speech can hold.
_MAX_TOKENS_PER_S = 8  # fast speech is ~4 tokens/s
_MIN_MAX_TOKENS = 24
# Identification decodes in the language it heard only when at least this sure of it;
# below, in the first candidate (the centre's main language): an unsure guess on a short
# accented utterance must not turn English into Portuguese.
_DETECT_SURE = 0.5


# --- encoder window fitting -------------------------------------------------------
# faster-whisper pads every window to 30 s before encoding, so 1 s of speech costs
# as much as 30 s. The encoder accepts shorter inputs; fitting the window to the
# utterance (>= 10 s) halves decode time at equal WER on the eval set (see README).
# faster-whisper 1.2.1 offers no supported way: `transcribe(chunk_length=...)` changes
# the shared feature extractor (not thread-safe) and `generate_segments` still pads
# every window to 3000 frames with `pad_or_trim(segment)`. So the module global
# `faster_whisper.transcribe.pad_or_trim` is replaced, once, by the first engine;
# the replacement pads as before unless this thread is inside `_fitted_window(True)`.
# tests/voice/test_whisper_patch.py checks that this still applies to the pinned version.
_fitted = threading.local()
_patch_lock = threading.Lock()


def _pad_to_fitted_window(
    array: np.ndarray, length: int = _WHISPER_WINDOW_FRAMES, *, axis: int = -1
) -> np.ndarray:
    if getattr(_fitted, "enabled", False) and length == _WHISPER_WINDOW_FRAMES:
        content = array.shape[axis]
        steps = -(-(content + 100) // _WINDOW_STEP_FRAMES)  # ceil, with 1 s of headroom
        length = min(_WHISPER_WINDOW_FRAMES, max(_MIN_WINDOW_FRAMES, steps * _WINDOW_STEP_FRAMES))
    padded: np.ndarray = pad_or_trim(array, length, axis=axis)
    return padded


def _install_fitted_windows() -> None:
    """Routes faster-whisper's window padding through `_pad_to_fitted_window`: idempotent
    and thread-safe (two engines may load at once)."""
    with _patch_lock:
        if fw_transcribe.pad_or_trim is not _pad_to_fitted_window:
            fw_transcribe.pad_or_trim = _pad_to_fitted_window


@contextmanager
def _fitted_window(enabled: bool) -> Iterator[None]:
    _fitted.enabled = enabled
    try:
        yield
    finally:
        _fitted.enabled = False


class WhisperEngine:
    """A loaded Whisper model. `decode` is thread-safe and blocking."""

    def __init__(self, options: WhisperOptions, candidates: tuple[str, ...] = ()) -> None:
        """`candidates`: the only languages identification may choose (() = any)."""
        self.options = options
        self.candidates = candidates
        _install_fitted_windows()
        model_dir = resolve_model_dir(options.model)
        try:
            self._model = WhisperModel(
                str(model_dir),
                device=options.device,
                compute_type=options.compute_type,
                cpu_threads=options.cpu_threads,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"cannot load Whisper model from {model_dir}: {exc}") from exc
        log.info(
            "loaded Whisper model %s on %s (%s)", model_dir, options.device, options.compute_type
        )

    @property
    def multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual)

    def decode(self, request: DecodeRequest) -> Hypothesis:
        """Transcribes (or translates into English) one utterance of at most 30 s; with no
        language, identifies it first (`identify`). A decode that loops ("3. 3. 3. ...") is
        decoded once more without repeated trigrams, and what still loops is cut
        (voice/loops.py)."""
        if request.language is None:
            heard = self.identify(request)
            language = choose(heard, self, request)
            decoded = self.decode(dataclasses.replace(request, language=language))
            return identified(decoded, heard)
        translate = request.task is DecodeTask.TRANSLATE
        # speech translation with small models loops ("my garden garden garden")
        segments, info = self._transcribe(request, no_repeat=translate)
        if not translate and any(loops.loops(s.text) for s in segments):
            segments, info = self._transcribe(request, no_repeat=True)
        return Hypothesis(segments=tuple(_segment(s) for s in segments), language=info.language)

    def identify(self, request: DecodeRequest) -> tuple[tuple[str, float], ...]:
        """The languages the utterance may be in, most likely first, with probabilities
        renormalised over the candidates: one encoder pass and one decoder step, no
        transcript. An English-only model hears English."""
        if not self.multilingual:
            return (("en", 1.0),)
        with _fitted_window(self.options.fit_window_finals or request.busy):
            _, _, heard = self._model.detect_language(audio=request.audio)
        return _among(self.candidates, heard)

    @property
    def main_language(self) -> str:
        """The language to decode in while identification is unsure."""
        return self.candidates[0] if self.candidates else "en"

    def _transcribe(self, request: DecodeRequest, no_repeat: bool) -> tuple[list[Any], Any]:
        options = self.options
        if request.final:
            fit = options.fit_window_finals or request.busy
        else:
            fit = options.fit_window_partials
        with _fitted_window(fit):
            segments, info = self._model.transcribe(
                request.audio,
                language=request.language if self.multilingual else "en",
                task=request.task.value if self.multilingual else DecodeTask.TRANSCRIBE.value,
                no_repeat_ngram_size=3 if no_repeat else 0,
                beam_size=options.beam_size,
                initial_prompt=request.prompt or None,
                hotwords=options.hotwords or None,
                condition_on_previous_text=False,
                word_timestamps=request.word_timestamps,
                without_timestamps=not request.word_timestamps,
                vad_filter=False,  # our own streaming VAD already cut the utterance
                temperature=0.0,
                max_new_tokens=_max_tokens(request.audio_s),
            )
            return list(segments), info  # the generator decodes lazily: finish it here

    def transcribe_offline(self, audio: np.ndarray) -> str:
        """A whole recording in one pass, as faster-whisper does offline (for baselines)."""
        segments, _ = self._model.transcribe(
            audio,
            language="en" if not self.multilingual else None,
            beam_size=self.options.beam_size,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return " ".join(s.text.strip() for s in segments)


def _among(candidates: tuple[str, ...], heard: Any) -> tuple[tuple[str, float], ...]:
    """The candidate languages (every language for none), most likely first, with their
    probabilities among them only."""
    probabilities = {code: float(p) for code, p in heard if not candidates or code in candidates}
    total = sum(probabilities.values())
    if not probabilities or total <= 0:
        return ((candidates[0] if candidates else "en", 0.0),)
    ranked = sorted(probabilities.items(), key=lambda item: -item[1])
    return tuple((code, p / total) for code, p in ranked)


def choose(
    heard: tuple[tuple[str, float], ...], engine: WhisperEngine, request: DecodeRequest
) -> str:
    """The language to decode an identified utterance in."""
    if request.known_language is not None:
        return request.known_language
    language, probability = heard[0]
    return language if probability >= _DETECT_SURE else engine.main_language


def identified(decoded: Hypothesis, heard: tuple[tuple[str, float], ...]) -> Hypothesis:
    """`decoded` with what identification heard."""
    probability = dict(heard).get(decoded.language, 0.0)
    return dataclasses.replace(decoded, language_probability=probability, languages=heard)


def _segment(decoded: Any) -> Segment:
    """faster-whisper's segment as ours, with any loop left in it cut (its words too)."""
    text = decoded.text.strip()
    words = tuple(
        Word(w.word.strip(), float(w.start), float(w.end), float(w.probability))
        for w in decoded.words or ()
    )
    trimmed = loops.trim(text)
    if trimmed != text:
        text, words = trimmed, words[: len(trimmed.split())]
    return Segment(
        text=text,
        words=words,
        no_speech_prob=float(decoded.no_speech_prob),
        avg_logprob=float(decoded.avg_logprob),
    )


def _max_tokens(seconds: float) -> int:
    return min(440, max(_MIN_MAX_TOKENS, round(seconds * _MAX_TOKENS_PER_S)))


class SileroVad:
    """Silero speech probabilities for one stream, carrying the model's state between chunks."""

    _shared_model = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        with SileroVad._lock:
            if SileroVad._shared_model is None:
                SileroVad._shared_model = get_vad_model()
        self._session = SileroVad._shared_model.session
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_VAD_CONTEXT_SAMPLES, dtype=np.float32)

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        """One probability per 512-sample frame; `samples` must be whole frames."""
        if len(samples) % VAD_FRAME_SAMPLES:
            raise ValueError("VAD input must be a whole number of 512-sample frames")
        if not len(samples):
            return np.zeros(0, dtype=np.float32)
        frames = samples.reshape(-1, VAD_FRAME_SAMPLES)
        contexts = np.concatenate(
            [self._context[None, :], frames[:-1, -_VAD_CONTEXT_SAMPLES:]], axis=0
        )
        batch = np.concatenate([contexts, frames], axis=1).astype(np.float32, copy=False)
        try:
            out, self._h, self._c = self._session.run(
                None, {"input": batch, "h": self._h, "c": self._c}
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"Silero VAD failed: {exc}") from exc
        self._context = frames[-1, -_VAD_CONTEXT_SAMPLES:].copy()
        return np.asarray(out, dtype=np.float32).ravel()


class LanguageRouter:
    """English to the English model (fast), every other language to the multilingual
    one, loaded on first need so that English-only deployments never pay for it."""

    def __init__(
        self,
        options: WhisperOptions,
        candidates: tuple[str, ...] = (),
        english: WhisperEngine | None = None,
    ) -> None:
        """`candidates`: the only languages identification may choose (() = any)."""
        self.options = options
        self.candidates = candidates
        self.english = english or WhisperEngine(options, candidates)
        self._multilingual: WhisperEngine | None = (
            self.english if self.english.multilingual else None
        )
        self._lock = threading.Lock()

    @property
    def multilingual(self) -> bool:
        return self._multilingual_engine() is not None

    def decode(self, request: DecodeRequest) -> Hypothesis:
        """With no language, the multilingual model identifies it (an encoder pass, no
        transcript) and English is still decoded by the English model."""
        multilingual = self._multilingual_engine()
        if request.language is None and multilingual is not None:
            heard = multilingual.identify(request)
            language = choose(heard, multilingual, request)
            return identified(self.decode(dataclasses.replace(request, language=language)), heard)
        engine = self.english
        if request.language != "en" or request.task is not DecodeTask.TRANSCRIBE:
            engine = multilingual or self.english
        return engine.decode(request)

    def transcribe_offline(self, audio: np.ndarray) -> str:
        return self.english.transcribe_offline(audio)

    def _multilingual_engine(self) -> WhisperEngine | None:
        if self._multilingual is None and self.options.multilingual_model:
            with self._lock:
                if self._multilingual is None:
                    self._multilingual = WhisperEngine(
                        dataclasses.replace(self.options, model=self.options.multilingual_model),
                        self.candidates,
                    )
        return self._multilingual
