"""Live calls: audio from a protocol parser through `voice` to events on the hub.

One `CallSession` per live call and, inside it, one `SpeakerWorker` per speaker
(streams/speakers.py). A gap the platform reports (`AudioFrames.gap_s`) reaches
every speaker of the frames in order with their audio: the stream moves its clock
on without audio.

A paused call (`pause`, streams/pausing.py) hears nothing: each speaker's open
utterance is cut at the pause and decoded from the audio before it, and until
`resume` its frames count only as call time, given to the speakers as one gap when
the pause ends. A call that ends paused just ends (call.ended, no call.resumed).

Everything a call publishes passes `CallSession._publish`, where the call's
`CallRedactor` (assist/redaction.py) makes the store's, the desktop's and the
supervisors' views before the hub numbers, stores or sends anything; the co-pilot
reads the desktop's. A call whose platform said `record=false` keeps its live assist
and is erased once it ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
import numpy as np

from assist.redaction import CallRedactor, Policy, Views
from assist.session import HandoverRequest
from contract.events import (
    CallEnded,
    CallStarted,
    HandoverCue,
    PausedBy,
    Payload,
    Protocol,
    Speaker,
    TranscriptFinal,
    TranscriptPartial,
    Translation,
)
from streams.assisting import AssistRuntime
from streams.callers import (
    HISTORY_DAYS,
    MAX_HISTORY_CALLS,
    CallerKey,
    history,
    since_iso,
    take_caller,
)
from streams.hub import Hub
from streams.pausing import PauseState
from streams.protocols.base import AudioFrames, CallStart, CallStop
from streams.speakers import SpeakerWorker, SpeechTranslation
from streams.speakers import Voice as Voice  # where callers have always found it
from streams.storage import StoreUnavailable
from voice.audio import Resampler
from voice.online import SpeakerStream
from voice.tasks import TaskSet

log = logging.getLogger(__name__)

_NO_AUDIO = np.zeros(0, dtype=np.float32)
_SHOWN_FINALS_KEPT = 64  # speech translations come back within a few finals
_NO_SAMPLES = np.zeros(0, dtype=np.int16)
DEFAULT_MAX_PAUSE_S = 300.0  # [privacy] max_pause_s


class CallRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_NO = frozenset({"false", "no", "0", "off"})


def wants_record(metadata: Mapping[str, Any]) -> bool:
    """False when the platform's parameters say `record=false` (our protocol's and the
    fork's metadata, Twilio's customParameters, AudioHook's customConfig)."""
    places = [metadata, metadata.get("custom_parameters"), metadata.get("custom_config")]
    for place in places:
        if isinstance(place, Mapping) and "record" in place:
            value = place["record"]
            return not (value is False or str(value).strip().lower() in _NO)
    return True


class CallSession:
    def __init__(
        self,
        start: CallStart,
        protocol: Protocol,
        hub: Hub,
        voice: Voice,
        language: str,
        assist: AssistRuntime | None = None,
        agent_language: str = "en",
        max_pause_s: float = DEFAULT_MAX_PAUSE_S,
        privacy: Policy | None = None,
        caller_key: CallerKey | None = None,
    ) -> None:
        self.call_id = start.call_id
        self.recorded = wants_record(start.metadata)
        self._redactor = CallRedactor(privacy or Policy.load())
        # finals as the desktop saw them, until Whisper's translation of each comes back
        self._shown_finals: OrderedDict[str, TranscriptFinal] = OrderedDict()
        self._start = start
        self._hub = hub
        self._voice = voice
        self._resamplers: dict[Speaker, Resampler] = {}
        self._workers: dict[Speaker, SpeakerWorker] = {}
        # The platform's language is the caller's; the agent speaks the agent language.
        self._language = start.language or language
        self._agent_language = start.agent_language or agent_language
        self._t0_s = hub.store.audio_end_s(start.call_id)  # > 0 when a call id resumes
        self._closed = False
        self._pause = PauseState(voice.clock, max_pause_s, self._overdue)
        number, metadata = take_caller(start.metadata)  # the number goes no further
        self.caller = caller_key.hash(number) if caller_key is not None and number else ""
        started = CallStarted(
            protocol=protocol,
            languages=tuple(dict.fromkeys((self._language, self._agent_language))),
            speakers=start.channel_speakers,
            recorded=self.recorded,
            metadata=metadata,
            caller=self.caller,
        )
        hub.start_call(start.call_id, self._redactor.started(started), self.caller)
        self._assist = (
            assist.open(self.call_id, self._publish, start.agent_language) if assist else None
        )
        self._tasks = TaskSet(log, f"call {self.call_id}")
        if self.caller:
            self._tasks.spawn(self._caller_history())

    @property
    def sample_rate_hz(self) -> int:
        return self._start.audio_format.sample_rate_hz

    @property
    def audio_s(self) -> float:
        heard_s = max((w.stream.audio_s for w in self._workers.values()), default=0.0)
        return self._t0_s + heard_s + self._pause.held_s

    @property
    def paused(self) -> bool:
        return self._pause.paused

    def feed(self, frames: AudioFrames) -> None:
        if self._closed:
            return
        if self._pause.paused:  # its length moves the clock; no sample goes anywhere
            heard_s = len(frames.samples) / self.sample_rate_hz
            self._pause.hold(frames.channel_speakers, frames.gap_s + heard_s)
            return
        for channel, speaker in enumerate(frames.channel_speakers):
            samples = frames.samples[:, channel]
            audio = self._resampler(speaker).push(samples) if len(samples) else _NO_AUDIO
            self._worker(speaker).feed(audio, frames.gap_s)
        if self._assist is not None:
            self._assist.tick(self.audio_s)

    @property
    def has_room(self) -> bool:
        """False while any speaker's audio is backed up (see `room`)."""
        return all(w.has_room for w in self._workers.values())

    @property
    def skipped_s(self) -> float:
        """Call time moved over without audio (gaps), summed over the speakers."""
        return sum(w.stream.skipped_s for w in self._workers.values())

    async def room(self) -> None:
        """Waits while any speaker's audio is backed up: the platform's sends slow down,
        and no audio is dropped or piled up in memory."""
        for worker in list(self._workers.values()):
            await worker.room()

    def pause(self, by: PausedBy, reason: str) -> bool:
        """Stops hearing the call until `resume`. False (and nothing published) when it
        was already paused or has ended."""
        event = None if self._closed else self._pause.begin(by, reason)
        if event is None:
            return False
        self._cut()
        self._publish(event)
        return True

    async def _caller_history(self) -> None:
        """The caller's earlier calls, once the store has answered (off the loop)."""
        try:
            rows = await self._hub.store.ended_calls(
                since_iso(HISTORY_DAYS), self.caller, MAX_HISTORY_CALLS + 1
            )
        except StoreUnavailable as exc:
            log.warning("call %s: no caller history (%s)", self.call_id, exc)
            return
        earlier = history(self.caller, [r for r in rows if r["call_id"] != self.call_id])
        if self._closed:
            return
        self._publish(earlier)
        if self._assist is not None:
            self._assist.caller_history(earlier, datetime.now(UTC))

    def hand_over(self, request: HandoverRequest) -> bool:
        """The call changes hands: the co-pilot publishes the handover package once the
        finals before it are in. False when there is no co-pilot or the call ended."""
        if self._assist is None or self._closed:
            return False
        self._assist.handover(request)
        return True

    def resume(self, by: PausedBy, reason: str = "") -> bool:
        """Hears the call again. False (and nothing published) when it was not paused."""
        event = None if self._closed else self._pause.end(by, reason)
        if event is None:
            return False
        self._release_paused_time()
        self._publish(event)
        return True

    async def close(self, stop: CallStop) -> None:
        if self._closed:
            return
        self._closed = True
        self._tasks.cancel()
        self._pause.close()
        self._release_paused_time()  # a call that ends paused: its duration counts the pause
        self._flush_resamplers()  # the last few ms of every track are decoded too
        try:
            await asyncio.wait_for(
                asyncio.gather(*(w.finish() for w in self._workers.values())),
                self._voice.final_timeout_s,
            )
        except TimeoutError:
            log.error(
                "call %s: last finals not decoded in %.0f s",
                self.call_id,
                self._voice.final_timeout_s,
            )
        summary = None
        if self._assist is not None:
            summary = await self._assist.close()
            if (wrapup := self._assist.wrapup()) is not None:
                self._publish(wrapup)  # before call.ended: the last word of a live stream
        ended = CallEnded(round(self.audio_s, 3), stop.reason, summary, stop.detail)
        self._hub.end_call(self.call_id, self._redactor.derived(ended))

    def _publish(self, payload: Payload) -> None:
        """Every event of the call passes here: redacted for each audience, then
        numbered, stored and sent; the co-pilot reads what the desktop may see."""
        views: Views[Payload]
        if isinstance(payload, TranscriptPartial | TranscriptFinal):
            views = self._redactor.transcript(payload)
        elif isinstance(payload, Translation):
            views = self._redactor.translation(payload)
        else:
            views = self._redactor.derived(payload)
        self._hub.publish(self.call_id, views)
        if self._assist is not None and isinstance(views.desktop, TranscriptPartial):
            self._assist.activity(views.desktop)
        if self._assist is not None and isinstance(views.desktop, TranscriptFinal):
            self._assist.final(views.desktop)
            self._shown_finals[views.desktop.segment_id] = views.desktop
            while len(self._shown_finals) > _SHOWN_FINALS_KEPT:
                self._shown_finals.popitem(last=False)

    def _speech_translation(self, final: TranscriptFinal, text: str) -> None:
        """Whisper's English for a final reaches the co-pilot as the desktop may see it,
        with the final as the desktop saw it (the co-pilot reads that one when the
        translation came back empty)."""
        if self._assist is None:
            return
        shown = self._shown_finals.pop(final.segment_id, None)
        if shown is None:  # long gone: nothing of the raw final may reach the co-pilot
            shown = msgspec.structs.replace(final, text="", words=())
        self._assist.speech_translation(shown, self._redactor.desktop_text(text))

    def _cut(self) -> None:
        """Each speaker's utterance ends with the audio before the pause, and no paused
        sample passes through a resampler (feed makes fresh ones after the resume)."""
        self._flush_resamplers()
        for worker in self._workers.values():
            worker.cut()

    def _flush_resamplers(self) -> None:
        """The resamplers give up the few ms they still hold and are dropped."""
        for speaker, resampler in self._resamplers.items():
            self._worker(speaker).feed(resampler.push(_NO_SAMPLES, last=True))
        self._resamplers.clear()

    def _release_paused_time(self) -> None:
        """The call time that passed paused reaches each speaker as one gap (times stay on
        the call's clock), and assist learns that it was nobody's silence."""
        held = self._pause.release()
        for speaker, seconds in held.items():
            if seconds > 0:
                self._worker(speaker).feed(_NO_AUDIO, seconds)
        if self._assist is not None and held:
            self._assist.paused(max(held.values()))

    def _overdue(self, cue: HandoverCue) -> None:
        """A pause left too long: one cue, with assist's summary and transcript when it runs."""
        if self._closed:
            return
        log.info("call %s still paused: cue raised", self.call_id, extra={"call_id": self.call_id})
        if self._assist is not None:
            self._assist.with_context(cue)
        else:
            self._publish(cue)

    def _resampler(self, speaker: Speaker) -> Resampler:
        if speaker not in self._resamplers:
            self._resamplers[speaker] = Resampler(self._start.audio_format.sample_rate_hz)
        return self._resamplers[speaker]

    def _worker(self, speaker: Speaker) -> SpeakerWorker:
        if speaker not in self._workers:
            stream = SpeakerStream(
                speaker,
                self._agent_language if speaker is Speaker.AGENT else self._language,
                self._voice.make_vad(),
                self._voice.streaming,
                t0_s=self._t0_s,
            )
            translation = (
                SpeechTranslation(self._assist.wants_speech_translation, self._speech_translation)
                if self._assist is not None
                else None
            )
            self._workers[speaker] = SpeakerWorker(stream, self._voice, self._publish, translation)
        return self._workers[speaker]


class CallRegistry:
    """The live calls of this process, by call id."""

    def __init__(
        self,
        hub: Hub,
        voice: Voice,
        language: str,
        max_calls: int = 0,
        assist: AssistRuntime | None = None,
        agent_language: str = "en",
        max_pause_s: float = DEFAULT_MAX_PAUSE_S,
        privacy: Policy | None = None,
        erase: Callable[[str], Awaitable[object]] | None = None,
        caller_key: CallerKey | None = None,
    ) -> None:
        """`erase` removes an ended call's record: what a call the platform did not want
        recorded (`record=false`) gets once it ends. `caller_key` hashes the caller's
        number for caller history (None: no history)."""
        self._caller_key = caller_key
        self._hub = hub
        self._max_pause_s = max_pause_s
        self._privacy = privacy or Policy.load()
        self._erase = erase
        self._agent_language = agent_language
        self._voice = voice
        self._assist = assist
        self._language = language
        self._max_calls = max_calls
        self._live: dict[str, CallSession] = {}
        self._none_live = asyncio.Event()
        self._none_live.set()

    def __len__(self) -> int:
        return len(self._live)

    async def none_live(self) -> None:
        """Returns once no call is live (draining waits on it)."""
        await self._none_live.wait()

    @property
    def full(self) -> bool:
        """A new call would be refused as busy."""
        capped = bool(self._max_calls) and len(self._live) >= self._max_calls
        return capped or self._voice.scheduler.overloaded

    def live(self, call_id: str) -> CallSession | None:
        """The call's session when it is live on this process."""
        return self._live.get(call_id)

    def open(self, start: CallStart, protocol: Protocol) -> CallSession:
        if start.call_id in self._live:
            raise CallRejected("duplicate_call", f"call {start.call_id!r} is already live")
        if self._max_calls and len(self._live) >= self._max_calls:
            raise CallRejected("busy", f"at capacity ({self._max_calls} live calls); try later")
        if self._voice.scheduler.overloaded:
            raise CallRejected("busy", "recognition is at capacity; try later")
        session = CallSession(
            start,
            protocol,
            self._hub,
            self._voice,
            self._language,
            self._assist,
            self._agent_language,
            self._max_pause_s,
            self._privacy,
            self._caller_key,
        )
        self._live[start.call_id] = session
        self._none_live.clear()
        return session

    async def close(self, session: CallSession, stop: CallStop) -> None:
        """Ends a call for any reason; the one place every call's end is logged."""
        reason = stop.reason.value
        try:
            await session.close(stop)
        finally:
            self._live.pop(session.call_id, None)
            if not self._live:
                self._none_live.set()
        if not session.recorded and self._erase is not None:
            await self._erase_unrecorded(session.call_id)
        log.info(
            "call %s ended (%s) after %.1f s",
            session.call_id,
            reason,
            session.audio_s,
            extra={
                "call_id": session.call_id,
                "reason": reason,
                "duration_s": round(session.audio_s, 3),
            },
        )

    async def _erase_unrecorded(self, call_id: str) -> None:
        assert self._erase is not None
        try:
            await self._erase(call_id)
        except Exception:  # the record stays; retention or `callassist erase` can remove it
            log.exception("call %s: could not erase the unrecorded call", call_id)
        else:
            log.info("call %s erased: the platform asked for no record", call_id)

    async def close_all(self, stop: CallStop) -> None:
        await asyncio.gather(*(self.close(s, stop) for s in list(self._live.values())))
