import itertools

import numpy as np
import pytest

from contract.events import Speaker, TranscriptFinal, TranscriptPartial, TranscriptUpdate
from tests.fakes import EnergyVad, ScriptedDecoder, hypothesis, silence, tone
from voice.audio import MODEL_SAMPLE_RATE_HZ
from voice.decoding import DecodeRequest, DecodeTask, Hypothesis, Segment
from voice.online import DecodeJob, SpeakerStream, StreamingOptions


def run(
    stream: SpeakerStream, decoder: ScriptedDecoder, audio: np.ndarray
) -> list[TranscriptUpdate]:
    """Feeds audio in 20 ms chunks and runs every job at once, like a very fast model."""
    updates: list[TranscriptUpdate] = []

    def drain() -> None:
        while (job := stream.next_job()) is not None:
            result = decoder.decode(job.request())
            updates.extend(stream.apply(job, result))

    for i in range(0, len(audio), 320):
        stream.push_audio(audio[i : i + 320])
        drain()
    stream.finish()
    drain()
    return updates


def new_stream(**options) -> SpeakerStream:
    return SpeakerStream(Speaker.CUSTOMER, "en", EnergyVad(), StreamingOptions(**options))


def test_silence_never_reaches_the_model():
    decoder = ScriptedDecoder()
    assert run(new_stream(), decoder, silence(5.0)) == []
    assert decoder.calls == []


def test_an_utterance_gives_partials_then_one_final_with_call_times():
    decoder = ScriptedDecoder()
    audio = np.concatenate([silence(1.0), tone(2.0), silence(1.0)])
    updates = run(new_stream(), decoder, audio)
    kinds = [type(u) for u in updates]
    assert kinds.count(TranscriptFinal) == 1
    assert kinds[-1] is TranscriptFinal
    assert TranscriptPartial in kinds[: kinds.index(TranscriptFinal)]
    final = updates[-1]
    assert isinstance(final, TranscriptFinal)
    assert final.text == "hello there"
    assert final.speaker is Speaker.CUSTOMER
    assert 0.6 <= final.t_start <= 1.1  # the speech starts at 1.0 s (less the padding)
    assert final.segment_id == f"customer-{round(final.t_start * 1000)}"


def test_two_utterances_give_two_finals_in_order():
    audio = np.concatenate([tone(1.0), silence(1.0), tone(1.0), silence(1.0)])
    finals = [
        u for u in run(new_stream(), ScriptedDecoder(), audio) if isinstance(u, TranscriptFinal)
    ]
    assert len(finals) == 2
    assert finals[0].t_end <= finals[1].t_start


def test_a_click_is_not_an_utterance():
    decoder = ScriptedDecoder()
    audio = np.concatenate([silence(1.0), tone(0.064), silence(1.0)])
    assert [u for u in run(new_stream(), decoder, audio) if isinstance(u, TranscriptFinal)] == []


def test_hallucinated_segments_on_trailing_silence_are_dropped():
    invented = Segment("Thank you.", (), no_speech_prob=0.7, avg_logprob=-1.2)
    dots = Segment(". .", (), no_speech_prob=0.1, avg_logprob=-0.3)

    def respond(seconds: float) -> Hypothesis:
        real = hypothesis("I need help").segments[0]
        return Hypothesis((real, invented, dots), "en")

    audio = np.concatenate([tone(1.5), silence(1.0)])
    finals = [
        u
        for u in run(new_stream(), ScriptedDecoder(respond), audio)
        if isinstance(u, TranscriptFinal)
    ]
    assert [f.text for f in finals] == ["I need help"]


def test_thank_you_said_with_confidence_is_kept():
    respond = lambda seconds: hypothesis("Thank you.", avg_logprob=-0.2)  # noqa: E731
    audio = np.concatenate([tone(1.0), silence(1.0)])
    finals = [
        u
        for u in run(new_stream(), ScriptedDecoder(respond), audio)
        if isinstance(u, TranscriptFinal)
    ]
    assert [f.text for f in finals] == ["Thank you."]


def test_long_utterance_commits_agreed_words_in_pieces():
    script = "one two three four five six seven eight nine ten eleven twelve".split()

    def respond(seconds: float) -> Hypothesis:
        heard = int(seconds / 0.5)  # a word every 0.5 s of audio
        return hypothesis(" ".join(script[:heard]), word_s=0.5)

    audio = np.concatenate([tone(6.0), silence(1.0)])
    updates = run(new_stream(commit_after_s=2.0, holdback_s=0.5), ScriptedDecoder(respond), audio)
    finals = [u for u in updates if isinstance(u, TranscriptFinal)]
    assert len(finals) >= 2  # committed early, then the rest at the end
    for before, after in itertools.pairwise(finals):
        assert before.t_end <= after.t_start + 1e-6
    assert " ".join(f.text for f in finals).split()[:3] == ["one", "two", "three"]


def test_unbroken_speech_is_forced_final_before_whisper_window_ends():
    decoder = ScriptedDecoder(lambda seconds: hypothesis("blah " * 3))
    run(new_stream(max_utterance_s=5.0), decoder, np.concatenate([tone(12.0), silence(1.0)]))
    assert max(decoder.calls) <= 5.2


def test_next_job_refuses_while_a_job_is_out():
    stream = new_stream()
    stream.push_audio(np.concatenate([tone(1.0), silence(1.0)]))
    assert stream.next_job() is not None
    with pytest.raises(RuntimeError):
        stream.next_job()


def test_audio_buffer_stays_bounded_over_long_silence():
    stream = new_stream()
    for _ in range(600):  # 10 minutes of silence in 1 s chunks
        stream.push_audio(silence(1.0))
    assert stream.audio_s == pytest.approx(600.0)
    assert stream._audio.end - stream._audio.start < MODEL_SAMPLE_RATE_HZ  # only the pre-roll


def test_partial_backoff_spaces_partials_out():
    def partial_count(backoff: float) -> int:
        stream = new_stream()
        count = 0
        for chunk in np.split(tone(4.0), 200):
            stream.push_audio(chunk)
            if (job := stream.next_job(partial_backoff=backoff)) is not None:
                count += not job.is_final
                stream.apply(job, None)
        return count

    assert partial_count(4.0) <= partial_count(1.0) / 3


def test_a_job_asks_the_decoder_with_one_request():
    audio = tone(1.0)
    job = DecodeJob(audio, 2.0, False, "earlier words", True, 3, 2.3, 2.9, language="de")
    request = job.request(busy=True)
    assert isinstance(request, DecodeRequest) and request.audio is audio
    assert (request.language, request.prompt, request.word_timestamps) == (
        "de",
        "earlier words",
        True,
    )
    assert (request.final, request.busy, request.task) == (False, True, DecodeTask.TRANSCRIBE)
    assert request.audio_s == job.audio_s == 1.0
    assert job.t_end == 3.0


def test_a_long_gap_closes_the_utterance_and_moves_the_clock_without_audio():
    stream = new_stream()
    decoder = ScriptedDecoder()
    updates: list[TranscriptUpdate] = []

    def drain() -> None:
        while (job := stream.next_job()) is not None:
            updates.extend(stream.apply(job, decoder.decode(job.request())))

    stream.push_audio(tone(1.0))  # speaking when the platform stops sending
    stream.skip(86_400.0)  # a day the platform did not send
    drain()
    assert [type(u) for u in updates][-1] is TranscriptFinal  # the utterance was closed
    assert stream.skipped_s == pytest.approx(86_400.0 - 0.5) and stream.gaps_skipped == 1
    assert stream.audio_s == pytest.approx(86_401.0)
    assert stream.undecoded_s < 1.0  # nothing held for the gap
    stream.push_audio(np.concatenate([tone(1.0), silence(1.0)]))
    drain()
    stream.finish()
    drain()
    finals = [u for u in updates if isinstance(u, TranscriptFinal)]
    assert len(finals) == 2
    assert finals[1].t_start == pytest.approx(86_401.0, abs=0.35)  # on the call's clock


def test_a_short_gap_is_heard_as_silence():
    stream = new_stream()
    stream.push_audio(tone(1.0))
    stream.skip(0.2)  # shorter than a pause that ends an utterance
    assert stream.skipped_s == 0 and stream.gaps_skipped == 0
    assert stream.audio_s == pytest.approx(1.2)
    assert not stream.has_pending_finals()  # still the same utterance
