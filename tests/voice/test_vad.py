import numpy as np

from voice.vad import VAD_FRAME_SAMPLES, SpeechEnd, SpeechSegmenter, SpeechStart, VadOptions

OPTIONS = VadOptions(threshold=0.5, neg_threshold=0.35, min_silence_s=0.128)  # 4 frames


def probs(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def test_speech_then_enough_silence_gives_start_and_end():
    segmenter = SpeechSegmenter(OPTIONS)
    events = segmenter.push(probs(0.1, 0.9, 0.8, 0.6, 0.1, 0.1, 0.1, 0.1))
    assert events == [
        SpeechStart(1 * VAD_FRAME_SAMPLES),
        SpeechEnd(4 * VAD_FRAME_SAMPLES, speech_samples=3 * VAD_FRAME_SAMPLES),
    ]


def test_short_pause_does_not_end_speech():
    segmenter = SpeechSegmenter(OPTIONS)
    events = segmenter.push(probs(0.9, 0.1, 0.1, 0.9, 0.9))
    assert events == [SpeechStart(0)]
    assert segmenter.in_speech


def test_middling_probability_continues_but_does_not_start_speech():
    segmenter = SpeechSegmenter(OPTIONS)
    assert segmenter.push(probs(0.4, 0.4, 0.4)) == []
    segmenter.push(probs(0.9))
    assert segmenter.push(probs(0.4, 0.4, 0.4, 0.4, 0.4)) == []  # above neg_threshold


def test_events_arrive_the_same_in_any_chunking():
    values = [0.1] * 3 + [0.9] * 10 + [0.1] * 6 + [0.9] * 3 + [0.1] * 5
    whole = SpeechSegmenter(OPTIONS).push(probs(*values))
    chunked_segmenter = SpeechSegmenter(OPTIONS)
    chunked = [e for v in values for e in chunked_segmenter.push(probs(v))]
    assert whole == chunked
    assert len(whole) == 4


def test_close_ends_open_speech_at_last_speech_frame():
    segmenter = SpeechSegmenter(OPTIONS)
    segmenter.push(probs(0.9, 0.9, 0.1))
    assert segmenter.close() == SpeechEnd(2 * VAD_FRAME_SAMPLES, 2 * VAD_FRAME_SAMPLES)
    assert segmenter.close() is None
