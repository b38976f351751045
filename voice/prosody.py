"""How a stretch of speech sounds: loudness, pitch and how much of it is voiced.

Measured with numpy on the 16 kHz audio the recogniser already holds, so that
`assist` can tell a raised, faster voice from a calm one without the audio.
Absolute values mean little across phones and people; `assist` compares each
speaker with their own start of the call.
"""

from __future__ import annotations

import numpy as np

from contract.events import Prosody
from voice.audio import MODEL_SAMPLE_RATE_HZ

FRAME_S = 0.040  # long enough for two periods of a 60 Hz voice
HOP_S = 0.020
MIN_PITCH_HZ = 60.0
MAX_PITCH_HZ = 400.0
ACTIVE_BELOW_PEAK_DB = 30.0  # frames this far under the loudest frame are pauses
SILENCE_DBFS = -60.0  # quieter than this is no speech at all
VOICED_MIN_CORRELATION = 0.45  # normalised autocorrelation peak of a periodic frame


def measure_prosody(
    samples: np.ndarray, sample_rate_hz: int = MODEL_SAMPLE_RATE_HZ
) -> Prosody | None:
    """Loudness (dBFS of active frames), median pitch and voiced seconds; None if silent."""
    frame, hop = round(FRAME_S * sample_rate_hz), round(HOP_S * sample_rate_hz)
    if len(samples) < frame:
        return None
    frames = _frames(samples.astype(np.float32, copy=False), frame, hop)
    energy_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    active = energy_db > max(energy_db.max() - ACTIVE_BELOW_PEAK_DB, SILENCE_DBFS)
    if not active.any():
        return None
    loudness_dbfs = float(10 * np.log10(np.mean(10 ** (energy_db[active] / 10))))
    pitches = _pitch_hz(frames[active], sample_rate_hz)
    voiced = pitches[~np.isnan(pitches)]
    return Prosody(
        loudness_dbfs=round(loudness_dbfs, 1),
        pitch_hz=round(float(np.median(voiced)), 1) if len(voiced) else None,
        voiced_s=round(len(voiced) * HOP_S, 2),
    )


def _frames(samples: np.ndarray, frame: int, hop: int) -> np.ndarray:
    count = 1 + (len(samples) - frame) // hop
    index = np.arange(frame)[None, :] + hop * np.arange(count)[:, None]
    frames: np.ndarray = samples[index]
    return frames


def _pitch_hz(frames: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Per frame, the pitch from the autocorrelation peak; NaN where the frame is unvoiced."""
    centred = frames - frames.mean(axis=1, keepdims=True)
    windowed = centred * np.hanning(frames.shape[1])
    size = 1 << (2 * frames.shape[1] - 1).bit_length()
    spectrum = np.fft.rfft(windowed, size, axis=1)
    correlation = np.fft.irfft(np.abs(spectrum) ** 2, size, axis=1)[:, : frames.shape[1]]
    zero_lag = correlation[:, :1] + 1e-12
    low, high = int(sample_rate_hz / MAX_PITCH_HZ), int(sample_rate_hz / MIN_PITCH_HZ)
    normalised = correlation[:, low:high] / zero_lag
    best = normalised.argmax(axis=1)
    peak = normalised[np.arange(len(best)), best]
    return np.where(peak >= VOICED_MIN_CORRELATION, sample_rate_hz / (best + low), np.nan)
