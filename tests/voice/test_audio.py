import numpy as np
import pytest

from voice.audio import AudioFormat, Encoding, Resampler, decode_pcm16, parse_encoding, to_ulaw
from voice.errors import AudioFormatError


def test_pcm16_stereo_frames_split_into_channels():
    samples = np.array([[1, -1], [2, -2], [3, -3]], dtype="<i2")
    decoded = decode_pcm16(samples.tobytes(), AudioFormat(Encoding.PCM16, 16000, 2))
    assert decoded.shape == (3, 2)
    assert decoded[:, 1].tolist() == [-1, -2, -3]


def test_mulaw_round_trip_is_close():
    original = (0.5 * np.sin(np.linspace(0, 20, 800))).astype(np.float32)
    decoded = decode_pcm16(to_ulaw(original), AudioFormat(Encoding.MULAW, 8000, 1))[:, 0] / 32768
    assert np.max(np.abs(decoded - original)) < 0.02  # G.711 quantisation only


def test_alaw_decodes_one_byte_per_sample():
    decoded = decode_pcm16(bytes([0xD5] * 160), AudioFormat(Encoding.ALAW, 8000, 1))
    assert decoded.shape == (160, 1)
    assert np.all(np.abs(decoded) < 16)  # 0xD5 is A-law's smallest magnitude


def test_odd_byte_count_is_refused():
    with pytest.raises(AudioFormatError, match="not a whole number"):
        decode_pcm16(b"\x00\x01\x02", AudioFormat(Encoding.PCM16, 16000, 1))


@pytest.mark.parametrize("rate", [7999, 48001, 0])
def test_sample_rate_out_of_range_is_refused(rate):
    with pytest.raises(AudioFormatError, match="out of range"):
        AudioFormat(Encoding.PCM16, rate, 1)


def test_unknown_encoding_names_the_known_ones():
    with pytest.raises(AudioFormatError, match="pcm16, mulaw, alaw"):
        parse_encoding("opus")


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampler_streams_any_rate_to_16k(rate):
    resampler = Resampler(rate)
    chunk = np.zeros(rate // 50, dtype=np.int16)  # 20 ms
    total = sum(len(resampler.push(chunk)) for _ in range(100))  # 2 s
    total += len(resampler.push(np.zeros(0, dtype=np.int16), last=True))
    assert abs(total - 32000) <= 16
