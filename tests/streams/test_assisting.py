"""CallAssist: order, off-loop execution, and a failing step that costs nothing else."""

import threading

from contract.events import Sentiment, Speaker, Summary, TranscriptFinal
from streams.assisting import CallAssist


class FlakySession:
    """Fails on the words "boom"; otherwise one sentiment event per final."""

    def __init__(self) -> None:
        self.threads: set[int] = set()

    def on_final(self, final: TranscriptFinal) -> list:
        self.threads.add(threading.get_ident())
        if final.text == "boom":
            raise RuntimeError("a bug in a detector")
        return [Sentiment(final.segment_id, Speaker.CUSTOMER, 0.0, 0.0, False, "", final.t_end)]

    def on_time(self, audio_s: float) -> list:
        return []

    def summary(self) -> Summary:
        return Summary(intent="general_inquiry")


def final(k: int, text: str) -> TranscriptFinal:
    return TranscriptFinal(f"s{k}", Speaker.CUSTOMER, text, k, k + 1.0, "en", ())


async def test_steps_run_in_order_off_the_loop_and_survive_a_failure():
    session = FlakySession()
    published: list = []
    latencies: list[float] = []
    assist = CallAssist("c1", session, published.append, latencies.append)  # type: ignore[arg-type]
    for k, text in enumerate(["one", "boom", "three", "four"]):
        assist.final(final(k, text))
    summary = await assist.close()
    assert [e.segment_id for e in published] == ["s0", "s2", "s3"]
    assert threading.get_ident() not in session.threads
    assert summary.intent == "general_inquiry"
    assert len(latencies) == 3


async def test_ticks_are_spaced_by_call_audio_time():
    ticks: list[float] = []

    class Clock(FlakySession):
        def on_time(self, audio_s: float) -> list:
            ticks.append(audio_s)
            return []

    assist = CallAssist("c2", Clock(), lambda e: None)  # type: ignore[arg-type]
    for audio_s in (0.2, 0.5, 1.1, 1.5, 2.3, 2.4):
        assist.tick(audio_s)
    await assist.close()
    assert ticks == [1.1, 2.3]
