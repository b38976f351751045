"""CallAssist: order, off-loop execution, a failing step that costs nothing else, and
latency on a ManualClock."""

import threading

from assist.session import AssistSession
from contract.events import Sentiment, Speaker, Summary, TranscriptFinal
from streams.assisting import CallAssist
from voice.clock import ManualClock


class FlakySession:
    """Fails on the words "boom"; otherwise one sentiment event per final. Each final
    takes `step_s` of the clock's time."""

    def __init__(self, clock: ManualClock | None = None, step_s: float = 0.0) -> None:
        self.threads: set[int] = set()
        self.clock = clock
        self.step_s = step_s

    def on_final(self, final: TranscriptFinal) -> list:
        self.threads.add(threading.get_ident())
        if self.clock is not None:
            self.clock.advance(self.step_s)
        if final.text == "boom":
            raise RuntimeError("a bug in a detector")
        return [Sentiment(final.segment_id, Speaker.CUSTOMER, 0.0, 0.0, False, "", final.t_end)]

    def on_time(self, audio_s: float) -> list:
        return []

    def summary(self) -> Summary:
        return Summary(intent="general_inquiry")


def as_session(fake: FlakySession) -> AssistSession:
    return fake  # type: ignore[return-value]  # duck-typed: what CallAssist calls


def final(k: int, text: str) -> TranscriptFinal:
    return TranscriptFinal(f"s{k}", Speaker.CUSTOMER, text, k, k + 1.0, "en", ())


async def test_steps_run_in_order_off_the_loop_and_survive_a_failure():
    clock = ManualClock()
    session = FlakySession(clock, step_s=0.25)
    published: list = []
    latencies: list[float] = []
    assist = CallAssist("c1", as_session(session), published.append, latencies.append, clock)
    for k, text in enumerate(["one", "boom", "three", "four"]):
        assist.final(final(k, text))
    summary = await assist.close()
    assert [e.segment_id for e in published] == ["s0", "s2", "s3"]
    assert threading.get_ident() not in session.threads
    assert summary.intent == "general_inquiry"
    # queued together, each 0.25 s of work: latency counts the wait behind the others
    assert latencies == [0.25, 0.75, 1.0]


async def test_ticks_are_spaced_by_call_audio_time():
    ticks: list[float] = []

    class Ticking(FlakySession):
        def on_time(self, audio_s: float) -> list:
            ticks.append(audio_s)
            return []

    assist = CallAssist("c2", as_session(Ticking()), lambda e: None)
    for audio_s in (0.2, 0.5, 1.1, 1.5, 2.3, 2.4):
        assist.tick(audio_s)
    await assist.close()
    assert ticks == [1.1, 2.3]


async def test_a_full_queue_drops_ticks_first_then_the_oldest_final_and_counts():
    dropped: list[str] = []
    assist = CallAssist(
        "c3", as_session(FlakySession()), lambda e: None, max_queued=4, on_dropped=dropped.append
    )
    # nothing runs until we yield: the queue fills
    assist.final(final(0, "one"))
    assist.tick(1.0)
    assist.final(final(1, "two"))
    assist.tick(2.0)
    assist.final(final(2, "three"))  # full: the oldest tick goes
    assist.final(final(3, "four"))  # full: the other tick goes
    assert dropped == ["tick", "tick"] and assist.queued == 4
    assist.final(final(4, "five"))  # only finals left: the oldest final goes
    assert dropped == ["tick", "tick", "final"] and assist.queued == 4
    assert assist.dropped == {"tick": 2, "final": 1}
    await assist.close()
