"""Utterance boundaries from per-frame speech probabilities, one frame at a time.

Pure logic: the probabilities come from Silero (see `voice.whisper.SileroVad`),
so this state machine is tested with scripted numbers and no model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voice.audio import MODEL_SAMPLE_RATE_HZ

VAD_FRAME_SAMPLES = 512  # Silero's window at 16 kHz: 32 ms


@dataclass(frozen=True, slots=True)
class VadOptions:
    threshold: float = 0.5  # a frame at or above this starts or continues speech
    neg_threshold: float = 0.35  # a frame below this counts as silence inside speech
    min_silence_s: float = 0.45  # silence that ends an utterance
    min_speech_s: float = 0.2  # utterances shorter than this are noise, not speech
    speech_pad_s: float = 0.3  # audio kept on each side of detected speech


@dataclass(frozen=True, slots=True)
class SpeechStart:
    sample: int  # first speech sample (padding not applied)


@dataclass(frozen=True, slots=True)
class SpeechEnd:
    sample: int  # one past the last speech sample (padding not applied)
    speech_samples: int  # frames judged speech inside the utterance, in samples


VadEvent = SpeechStart | SpeechEnd


class SpeechSegmenter:
    """Turns a stream of frame probabilities into SpeechStart/SpeechEnd events."""

    def __init__(self, options: VadOptions, sample_rate_hz: int = MODEL_SAMPLE_RATE_HZ) -> None:
        self._options = options
        self._min_silence_frames = max(
            1, round(options.min_silence_s * sample_rate_hz / VAD_FRAME_SAMPLES)
        )
        self._frames_seen = 0
        self._in_speech = False
        self._last_speech_frame = 0
        self._speech_frames = 0
        self._silent_run = 0

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    def push(self, probabilities: np.ndarray) -> list[VadEvent]:
        events: list[VadEvent] = []
        for p in probabilities.ravel().tolist():
            event = self._step(float(p))
            if event is not None:
                events.append(event)
            self._frames_seen += 1
        return events

    def close(self) -> SpeechEnd | None:
        """Ends a running utterance at the last speech frame (call over)."""
        if not self._in_speech:
            return None
        self._in_speech = False
        return self._end_event()

    def _step(self, p: float) -> VadEvent | None:
        frame = self._frames_seen
        if not self._in_speech:
            if p >= self._options.threshold:
                self._in_speech = True
                self._last_speech_frame = frame
                self._speech_frames = 1
                self._silent_run = 0
                return SpeechStart(frame * VAD_FRAME_SAMPLES)
            return None
        if p >= self._options.neg_threshold:
            self._last_speech_frame = frame
            self._speech_frames += 1
            self._silent_run = 0
            return None
        self._silent_run += 1
        if self._silent_run >= self._min_silence_frames:
            self._in_speech = False
            return self._end_event()
        return None

    def _end_event(self) -> SpeechEnd:
        return SpeechEnd(
            sample=(self._last_speech_frame + 1) * VAD_FRAME_SAMPLES,
            speech_samples=self._speech_frames * VAD_FRAME_SAMPLES,
        )
