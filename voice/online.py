"""Streaming recognition for one speaker, as a caller-driven state machine.

    stream.push_audio(samples)      # float32 at MODEL_SAMPLE_RATE_HZ; runs Silero VAD
    stream.skip(seconds)            # audio the platform did not send: the clock moves on
    job = stream.next_job()         # a DecodeJob to run on the model, or None
    updates = stream.apply(job, hypothesis)
    stream.finish()                 # call over: close the open utterance

At most one job is out at a time: `apply` must return before the next
`next_job`. Utterances are cut by VAD. While one runs, partial decodes show the
newest words; at its end one final decode gives a stable `TranscriptFinal`.
Long utterances are committed in pieces by LocalAgreement. Silence never
reaches the model, and hypotheses that look like Whisper's silence
hallucinations are dropped.

A gap (audio the platform did not send: a pause, a discarded stretch, a jump in
its timestamps) costs no memory whatever its length: up to `gap_silence_s` of it
is heard as silence, as a pause in speech would be; a longer one ends the open
utterance and moves the clock on, so later times stay on the call's clock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from contract.events import Speaker, TranscriptFinal, TranscriptPartial, TranscriptUpdate, Word
from voice.agreement import comparable, stable_words
from voice.audio import MODEL_SAMPLE_RATE_HZ
from voice.decoding import DecodeRequest, DecodeTask, Hypothesis, Segment
from voice.prosody import measure_prosody
from voice.vad import VAD_FRAME_SAMPLES, SpeechEnd, SpeechSegmenter, SpeechStart, VadOptions

AUTO_LANGUAGE = "auto"  # the call's language is identified from the speech
_PROMPT_MAX_CHARS = 200  # Whisper's prompt window is small; keep the latest words only
# Whisper's favourite inventions on noise. Dropped only when the decode itself is unsure,
# because callers do say "thank you".
_HALLUCINATIONS = frozenset(
    {
        "thank you",
        "thanks for watching",
        "thank you for watching",
        "you",
        "bye",
        "subtitles by the amaraorg community",
        "so",
    }
)


@dataclass(frozen=True, slots=True)
class StreamingOptions:
    partial_interval_s: float = 0.5  # new audio between two partial decodes
    min_partial_audio_s: float = 0.3  # no partial before this much of an utterance is heard
    commit_after_s: float = 8.0  # past this length, agreed words are committed early
    max_utterance_s: float = 20.0  # a piece is forced final here (Whisper sees <= 30 s)
    holdback_s: float = 1.0  # words this close to the cut are never committed early
    vad_batch_frames: int = 2  # VAD runs on 64 ms of audio at a time
    no_speech_prob_max: float = 0.5  # a segment above this and below the next is not speech
    min_avg_logprob: float = -0.6
    unsure_avg_logprob: float = -0.6  # a stock phrase below this is a hallucination
    vad: VadOptions = field(default_factory=VadOptions)
    # Language identification ("auto" calls): finals identify their language until a
    # language holds this share of the evidence (probability x seconds of speech) ...
    language_decide_probability: float = 0.6
    language_decide_after_s: float = 2.0  # ... over at least this much speech;
    # partials meanwhile decode in the leading language (English at first), unidentified.
    # Then a final checks again every this many finals, and the speaker's language
    # switches when this many checks in a row are this sure of one other language.
    language_recheck_every: int = 5
    language_switch_probability: float = 0.8
    language_switch_checks: int = 2
    # A gap up to this long is fed to VAD as silence; a longer one ends the utterance
    # and moves the clock on without audio.
    gap_silence_s: float = 0.5


@dataclass(frozen=True, slots=True, eq=False)
class DecodeJob:
    audio: np.ndarray
    t_start: float  # call-audio seconds of audio[0]
    is_final: bool
    prompt: str
    word_timestamps: bool
    utterance: int
    speech_start_s: float  # where VAD heard speech begin and end: the text's times
    speech_end_s: float  # when the decode gives no word times
    language: str | None = None  # None: the model detects it (language identification)
    task: DecodeTask = DecodeTask.TRANSCRIBE
    known_language: str | None = None  # see DecodeRequest

    @property
    def audio_s(self) -> float:
        return len(self.audio) / MODEL_SAMPLE_RATE_HZ

    @property
    def t_end(self) -> float:
        return self.t_start + self.audio_s

    def request(self, *, busy: bool = False) -> DecodeRequest:
        """What the decoder is asked; `busy`: the machine is behind (cheaper finals too)."""
        return DecodeRequest(
            audio=self.audio,
            language=self.language,
            known_language=self.known_language,
            prompt=self.prompt,
            word_timestamps=self.word_timestamps,
            final=self.is_final,
            busy=busy,
            task=self.task,
        )


class SpeechProbabilities(Protocol):
    def probabilities(self, samples: np.ndarray) -> np.ndarray: ...


class _AudioBuffer:
    """Model-rate samples from absolute index `start` to `end`; old audio is discarded."""

    def __init__(self) -> None:
        self._data = np.zeros(MODEL_SAMPLE_RATE_HZ * 4, dtype=np.float32)
        self.start = 0
        self.end = 0

    def append(self, samples: np.ndarray) -> None:
        used = self.end - self.start
        if used + len(samples) > len(self._data):
            grown = np.zeros(max(2 * len(self._data), used + len(samples)), dtype=np.float32)
            grown[:used] = self._data[:used]
            self._data = grown
        self._data[used : used + len(samples)] = samples
        self.end += len(samples)

    def slice(self, start: int, end: int) -> np.ndarray:
        start, end = max(start, self.start), min(end, self.end)
        return self._data[start - self.start : end - self.start].copy()

    def discard_before(self, index: int) -> None:
        index = min(max(index, self.start), self.end)
        keep = self.end - index
        self._data[:keep] = self._data[index - self.start : self.end - self.start]
        self.start = index


@dataclass(slots=True)
class _Utterance:
    id: int
    commit: int  # absolute sample: audio before it is already final
    speech_start: int  # absolute sample where the not-yet-final speech begins
    decoded_until: int  # absolute sample where the last partial decode ended
    previous_words: tuple[Word, ...] = ()


class SpeakerStream:
    def __init__(
        self,
        speaker: Speaker,
        language: str,
        vad: SpeechProbabilities,
        options: StreamingOptions | None = None,
        t0_s: float = 0.0,
    ) -> None:
        self.speaker = speaker
        # None until identified when the call's language is "auto"
        self.language: str | None = None if language == AUTO_LANGUAGE else language
        self.language_probability = 1.0
        self._auto_language = self.language is None
        self._finals_since_check = 0
        self._heard_language = ""  # the leading language, shown while undecided
        self._evidence: dict[str, float] = {}  # language -> probability x seconds, undecided
        self._evidence_s = 0.0
        self._switch_to = ""  # a language the last checks heard instead, and how many in a row
        self._switch_checks = 0
        self._options = options or StreamingOptions()
        self._vad = vad
        self._segmenter = SpeechSegmenter(self._options.vad, MODEL_SAMPLE_RATE_HZ)
        self._t0_s = t0_s
        self._skipped_s = 0.0  # gaps the clock moved over without audio
        self.gaps_skipped = 0  # how many gaps were longer than gap_silence_s
        self._audio = _AudioBuffer()
        self._vad_until = 0
        self._utterance: _Utterance | None = None
        self._utterance_count = 0
        self._finals: deque[tuple[int, DecodeJob]] = deque()  # (first sample, job)
        self._job_out = False
        self._pad = round(self._options.vad.speech_pad_s * MODEL_SAMPLE_RATE_HZ)
        self._context = ""  # this speaker's latest final words: the next utterance's prompt

    # --- audio in -----------------------------------------------------------------
    @property
    def t0_s(self) -> float:
        """Call time of this speaker's first sample (> 0 when a call resumes)."""
        return self._t0_s

    @property
    def audio_s(self) -> float:
        """Seconds of this speaker's call so far: audio received, and gaps moved over."""
        return self._skipped_s + self._audio.end / MODEL_SAMPLE_RATE_HZ

    @property
    def skipped_s(self) -> float:
        """Seconds of gaps the clock moved over without audio."""
        return self._skipped_s

    def push_audio(self, samples: np.ndarray) -> None:
        self._audio.append(samples.astype(np.float32, copy=False))
        batch = VAD_FRAME_SAMPLES * self._options.vad_batch_frames
        while self._audio.end - self._vad_until >= batch:
            self._run_vad(self._vad_until + batch)

    def skip(self, seconds: float) -> None:
        """`seconds` of call time the platform sent no audio for. A short gap is heard as
        silence; a longer one closes the open utterance and moves the clock on, holding
        no audio for it."""
        if not math.isfinite(seconds) or seconds <= 0:
            return
        heard_s = min(seconds, self._options.gap_silence_s)
        self.push_audio(np.zeros(round(heard_s * MODEL_SAMPLE_RATE_HZ), dtype=np.float32))
        if seconds > heard_s:
            self.finish()
            self._skipped_s += seconds - heard_s
            self.gaps_skipped += 1

    def finish(self) -> None:
        """No more audio (or a long gap): run VAD on what is left and close an open
        utterance."""
        whole = self._vad_until + (self._audio.end - self._vad_until) // VAD_FRAME_SAMPLES * (
            VAD_FRAME_SAMPLES
        )
        if whole > self._vad_until:
            self._run_vad(whole)
        end = self._segmenter.close()
        if end is not None:
            self._on_speech_end(end, closing=True)

    def _run_vad(self, until: int) -> None:
        probabilities = self._vad.probabilities(self._audio.slice(self._vad_until, until))
        self._vad_until = until
        for event in self._segmenter.push(probabilities):
            if isinstance(event, SpeechStart):
                self._on_speech_start(event)
            else:
                self._on_speech_end(event)
        self._trim()

    def _on_speech_start(self, event: SpeechStart) -> None:
        start = max(event.sample - self._pad, self._audio.start)
        self._utterance_count += 1
        self._utterance = _Utterance(
            self._utterance_count, commit=start, speech_start=event.sample, decoded_until=start
        )

    def _on_speech_end(self, event: SpeechEnd, closing: bool = False) -> None:
        utterance, self._utterance = self._utterance, None
        if utterance is None:
            return
        if event.speech_samples < self._options.vad.min_speech_s * MODEL_SAMPLE_RATE_HZ:
            return  # a click or a breath, not speech
        end = self._audio.end if closing else min(event.sample + self._pad, self._audio.end)
        if end > utterance.commit:
            job = self._job(utterance, end, is_final=True, speech_end=event.sample)
            self._finals.append((utterance.commit, job))

    def _trim(self) -> None:
        """Keeps only audio that a future decode can still need."""
        keep_from = self._vad_until - self._pad
        if self._utterance is not None:
            keep_from = min(keep_from, self._utterance.commit)
        self._audio.discard_before(keep_from)

    # --- decoding -------------------------------------------------------------------
    def next_job(self, partial_backoff: float = 1.0) -> DecodeJob | None:
        """The next decode; partials come `partial_backoff` times further apart under load."""
        if self._job_out:
            raise RuntimeError("apply() the previous job before asking for another")
        job = (
            self._finals.popleft()[1]
            if self._finals
            else self._partial_or_forced_job(partial_backoff)
        )
        self._job_out = job is not None
        return job

    def has_pending_finals(self) -> bool:
        return bool(self._finals)

    @property
    def undecoded_s(self) -> float:
        """Seconds of received audio whose transcript is not final yet (nor judged silence)."""
        if self._finals:
            start = self._finals[0][0]
        elif self._utterance is not None:
            start = self._utterance.commit
        else:
            start = self._vad_until
        return (self._audio.end - start) / MODEL_SAMPLE_RATE_HZ

    def _partial_or_forced_job(self, partial_backoff: float) -> DecodeJob | None:
        utterance = self._utterance
        if utterance is None:
            return None
        now = self._vad_until  # decode only audio VAD has already judged
        heard = now - utterance.commit
        if heard >= self._options.max_utterance_s * MODEL_SAMPLE_RATE_HZ:
            job = self._job(utterance, now, is_final=True)
            utterance.commit = utterance.decoded_until = utterance.speech_start = now
            utterance.previous_words = ()
            return job
        fresh = now - utterance.decoded_until
        if heard < self._options.min_partial_audio_s * MODEL_SAMPLE_RATE_HZ or (
            fresh < self._options.partial_interval_s * partial_backoff * MODEL_SAMPLE_RATE_HZ
        ):
            return None
        utterance.decoded_until = now
        return self._job(utterance, now, is_final=False)

    def _job(
        self, utterance: _Utterance, end: int, *, is_final: bool, speech_end: int | None = None
    ) -> DecodeJob:
        # Word times only where LocalAgreement needs a place to cut: on short clips
        # Whisper's timestamp mode loops and invents endings ("1. 1. 1.", "Thank you.").
        commit_after = self._options.commit_after_s * MODEL_SAMPLE_RATE_HZ
        long_enough = end - utterance.commit >= commit_after
        return DecodeJob(
            language=self._decode_language(is_final),
            known_language=self.language,
            audio=self._audio.slice(utterance.commit, end),
            t_start=self._seconds(utterance.commit),
            is_final=is_final,
            prompt=self._context,
            word_timestamps=long_enough and not is_final,
            utterance=utterance.id,
            speech_start_s=self._seconds(max(utterance.speech_start, utterance.commit)),
            speech_end_s=self._seconds(end if speech_end is None else min(speech_end, end)),
        )

    def apply(self, job: DecodeJob, hypothesis: Hypothesis | None) -> list[TranscriptUpdate]:
        """Turns a decode result into transcript updates. `None` means the decode was dropped."""
        self._job_out = False
        if hypothesis is not None and job.language is None and self._auto_language:
            self._identify(hypothesis, job.speech_end_s - job.speech_start_s)
        speech = [s for s in (hypothesis.segments if hypothesis else ()) if self._is_speech(s)]
        if not speech:
            return []
        text = " ".join(s.text for s in speech)
        words = self._absolute_words(job, speech)
        if job.is_final:
            return [self._final(job, text, words)]
        utterance = self._utterance
        if (
            utterance is None
            or utterance.id != job.utterance
            or (self._seconds(utterance.commit) != job.t_start)
        ):
            return []  # the utterance moved on while this partial was decoding
        return self._apply_partial(job, utterance, text, words)

    def _apply_partial(
        self, job: DecodeJob, utterance: _Utterance, text: str, words: tuple[Word, ...]
    ) -> list[TranscriptUpdate]:
        updates: list[TranscriptUpdate] = []
        committed = 0
        if job.word_timestamps:
            committed = stable_words(
                utterance.previous_words, words, job.t_end, self._options.holdback_s
            )
        if committed:
            piece = words[:committed]
            cut_s = words[committed].t_start if committed < len(words) else piece[-1].t_end
            updates.append(self._final(job, " ".join(w.text for w in piece), piece))
            utterance.commit = max(utterance.commit, self._samples(cut_s))
            utterance.speech_start = utterance.commit
            words = words[committed:]
            text = " ".join(w.text for w in words)
        utterance.previous_words = words
        if text:
            t_start = words[0].t_start if committed else job.speech_start_s
            updates.append(
                TranscriptPartial(
                    self.speaker,
                    text,
                    t_start,
                    job.t_end,
                    self._shown_language(job),
                    round(self.language_probability, 3),
                )
            )
        return updates

    def _final(self, job: DecodeJob, text: str, words: tuple[Word, ...]) -> TranscriptFinal:
        self._context = f"{self._context} {text}".strip()[-_PROMPT_MAX_CHARS:]
        timed = [w for w in words if not math.isnan(w.t_start)]
        t_start = timed[0].t_start if timed else job.speech_start_s
        t_end = timed[-1].t_end if timed else job.speech_end_s
        return TranscriptFinal(
            segment_id=f"{self.speaker.value}-{round(t_start * 1000)}",
            speaker=self.speaker,
            text=text,
            t_start=round(t_start, 3),
            t_end=round(t_end, 3),
            language=self._shown_language(job),
            language_probability=round(self.language_probability, 3),
            words=tuple(timed),
            prosody=measure_prosody(
                job.audio[self._offset(job, t_start) : self._offset(job, t_end)]
            ),
        )

    def _shown_language(self, job: DecodeJob) -> str:
        """The speaker's language once decided, else the leading one, else the language
        the words were decoded in (a final cut from a partial before any identification)."""
        return self.language or self._heard_language or job.language or ""

    @staticmethod
    def _offset(job: DecodeJob, t: float) -> int:
        return max(0, round((t - job.t_start) * MODEL_SAMPLE_RATE_HZ))

    def _absolute_words(self, job: DecodeJob, segments: list[Segment]) -> tuple[Word, ...]:
        if not any(s.words for s in segments):  # decoded without timestamps: text only
            nan = float("nan")
            return tuple(Word(w, nan, nan, nan) for s in segments for w in s.text.split())

        def clamp(t: float) -> float:
            return round(min(max(job.t_start + t, job.t_start), job.t_end), 3)

        return tuple(
            Word(w.text, clamp(w.t_start), clamp(w.t_end), w.probability)
            for s in segments
            for w in s.words
        )

    def _decode_language(self, is_final: bool) -> str | None:
        """The language to decode in; None asks the decoder to identify it first. Only
        finals identify: a partial is shown and replaced, not worth an encoder pass."""
        if not self._auto_language:
            return self.language
        if self.language is None:
            return None if is_final else (self._heard_language or "en")
        if is_final:
            self._finals_since_check += 1
            if self._finals_since_check >= self._options.language_recheck_every:
                self._finals_since_check = 0
                return None  # has the caller switched language?
        return self.language

    def _identify(self, hypothesis: Hypothesis, speech_s: float) -> None:
        """Weighs what identification heard in one final: decides the speaker's language
        once the evidence is clear, and switches it only on repeated, sure checks."""
        heard = hypothesis.languages or ((hypothesis.language, hypothesis.language_probability),)
        if self.language is None:
            self._weigh(heard, speech_s)
            return
        language, sure = heard[0]
        if language == self.language:
            self._switch_checks = 0
            self.language_probability = max(self.language_probability, sure)
        elif sure >= self._options.language_switch_probability:
            self._switch_checks = self._switch_checks + 1 if language == self._switch_to else 1
            self._switch_to = language
            if self._switch_checks >= self._options.language_switch_checks:
                self.language, self.language_probability = language, sure
                self._switch_checks = 0
            else:
                self._finals_since_check = self._options.language_recheck_every  # check again
        else:
            self._switch_checks = 0

    def _weigh(self, heard: tuple[tuple[str, float], ...], speech_s: float) -> None:
        for language, probability in heard:
            self._evidence[language] = self._evidence.get(language, 0.0) + probability * speech_s
        self._evidence_s += speech_s
        total = sum(self._evidence.values())
        leader = max(self._evidence, key=lambda language: self._evidence[language])
        self._heard_language = leader
        self.language_probability = self._evidence[leader] / total if total > 0 else 0.0
        options = self._options
        if (
            self._evidence_s >= options.language_decide_after_s
            and self.language_probability >= options.language_decide_probability
        ):
            self.language = leader

    def _is_speech(self, segment: Segment) -> bool:
        """False for what Whisper invents on silence: empty or unsure stock text."""
        options = self._options
        text = " ".join(comparable(w) for w in segment.text.split()).strip()
        if not text:
            return False
        if (
            segment.no_speech_prob > options.no_speech_prob_max
            and segment.avg_logprob < options.min_avg_logprob
        ):
            return False
        return not (text in _HALLUCINATIONS and segment.avg_logprob < options.unsure_avg_logprob)

    def _seconds(self, sample: int) -> float:
        """Call time of a sample received since the last gap (no utterance spans a gap)."""
        return self._t0_s + self._skipped_s + sample / MODEL_SAMPLE_RATE_HZ

    def _samples(self, seconds: float) -> int:
        return round((seconds - self._t0_s - self._skipped_s) * MODEL_SAMPLE_RATE_HZ)
