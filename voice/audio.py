"""Call audio: G.711 and PCM decoding, channel split, resampling to 16 kHz float32.

Every speaker's audio leaves this module as mono float32 in [-1, 1] at
`MODEL_SAMPLE_RATE_HZ`, the rate Whisper and Silero expect.
"""

from __future__ import annotations

import audioop  # stdlib until 3.12; the audioop-lts package from 3.13 on
import enum
from dataclasses import dataclass, field

import numpy as np
import soxr

from voice.errors import AudioFormatError

MODEL_SAMPLE_RATE_HZ = 16_000
MIN_SAMPLE_RATE_HZ = 8_000
MAX_SAMPLE_RATE_HZ = 48_000
MAX_CHANNELS = 2
_PCM16_SCALE = 32768.0


class Encoding(enum.StrEnum):
    PCM16 = "pcm16"  # signed 16-bit little-endian
    MULAW = "mulaw"  # G.711 mu-law, one byte per sample
    ALAW = "alaw"  # G.711 A-law, one byte per sample


@dataclass(frozen=True, slots=True)
class AudioFormat:
    encoding: Encoding
    sample_rate_hz: int
    channels: int

    def __post_init__(self) -> None:
        if not MIN_SAMPLE_RATE_HZ <= self.sample_rate_hz <= MAX_SAMPLE_RATE_HZ:
            raise AudioFormatError(
                f"sample_rate {self.sample_rate_hz} Hz is out of range "
                f"({MIN_SAMPLE_RATE_HZ}..{MAX_SAMPLE_RATE_HZ})"
            )
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise AudioFormatError(f"channels must be 1 or 2, not {self.channels}")

    @property
    def bytes_per_frame(self) -> int:
        """Bytes for one sample of every channel."""
        width = 2 if self.encoding is Encoding.PCM16 else 1
        return width * self.channels


def parse_encoding(name: str) -> Encoding:
    try:
        return Encoding(name.lower())
    except ValueError:
        known = ", ".join(e.value for e in Encoding)
        raise AudioFormatError(f"unknown encoding {name!r} (known: {known})") from None


def decode_pcm16(payload: bytes, fmt: AudioFormat) -> np.ndarray:
    """Decodes a frame of audio to int16 samples, shape (samples, channels)."""
    if len(payload) % fmt.bytes_per_frame:
        raise AudioFormatError(
            f"{len(payload)} bytes is not a whole number of {fmt.encoding.value} frames "
            f"of {fmt.channels} channel(s) ({fmt.bytes_per_frame} bytes each)"
        )
    if fmt.encoding is Encoding.MULAW:
        payload = audioop.ulaw2lin(payload, 2)
    elif fmt.encoding is Encoding.ALAW:
        payload = audioop.alaw2lin(payload, 2)
    return np.frombuffer(payload, dtype="<i2").reshape(-1, fmt.channels)


@dataclass(slots=True)
class Resampler:
    """Streaming conversion of one channel to 16 kHz float32 (keeps filter state between chunks)."""

    input_rate_hz: int
    _stream: soxr.ResampleStream | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.input_rate_hz != MODEL_SAMPLE_RATE_HZ:
            self._stream = soxr.ResampleStream(
                self.input_rate_hz, MODEL_SAMPLE_RATE_HZ, 1, dtype="float32", quality="HQ"
            )

    def push(self, samples_int16: np.ndarray, last: bool = False) -> np.ndarray:
        samples = samples_int16.astype(np.float32) / _PCM16_SCALE
        if self._stream is None:
            return samples
        resampled: np.ndarray = self._stream.resample_chunk(samples, last=last)
        return resampled


def to_ulaw(samples: np.ndarray) -> bytes:
    """Encodes float32 16 kHz-agnostic samples as mu-law bytes (for clients and tests)."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    return audioop.lin2ulaw(pcm, 2)
