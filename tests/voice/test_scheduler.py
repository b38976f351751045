"""DecodeScheduler: order, shedding and load signals on a ManualClock (decodes take
model time, not real time), and futures that resolve whatever fails."""

import asyncio

import numpy as np
import pytest

from tests.fakes import ScriptedDecoder, until
from voice.audio import MODEL_SAMPLE_RATE_HZ
from voice.clock import ManualClock
from voice.online import DecodeJob
from voice.scheduler import DecodeRecord, DecodeScheduler, SchedulerOptions


def job(seconds: float, is_final: bool) -> DecodeJob:
    audio = np.zeros(int(seconds * MODEL_SAMPLE_RATE_HZ), np.float32)
    return DecodeJob(audio, 0.0, is_final, "", False, 1, 0.0, seconds, language="en")


def start(scheduler: DecodeScheduler, *jobs: DecodeJob) -> list[asyncio.Future]:
    """Submits jobs in this order; they reach the queue at the next turn of the loop."""
    return [asyncio.ensure_future(scheduler.decode(j)) for j in jobs]


async def submit(scheduler: DecodeScheduler, *jobs: DecodeJob) -> list[asyncio.Future]:
    """Submits jobs and lets them reach the queue (the first may start decoding)."""
    futures = start(scheduler, *jobs)
    await asyncio.sleep(0)
    return futures


async def test_finals_run_before_partials_queued_earlier():
    decoder = ScriptedDecoder()
    decoder.hold()
    scheduler = DecodeScheduler(decoder, SchedulerOptions(workers=1), clock=ManualClock())
    busy = await submit(scheduler, job(0.1, False))
    await until(lambda: len(decoder.calls) == 1)  # the worker is now busy with the first job
    waiting = await submit(scheduler, job(0.2, False), job(0.3, False), job(0.9, True))
    assert scheduler.queue_depth == 3
    decoder.release()
    await asyncio.gather(*busy, *waiting)
    assert decoder.calls == [0.1, 0.9, 0.2, 0.3]
    scheduler.close()


@pytest.mark.parametrize(("decode_s", "shed"), [(0.05, False), (0.25, True)])
async def test_a_partial_that_waited_too_long_is_shed_never_a_final(decode_s, shed):
    clock = ManualClock()
    decoder = ScriptedDecoder(clock=clock, decode_s=decode_s)
    decoder.hold()
    options = SchedulerOptions(workers=1, max_partial_wait_s=0.1)
    scheduler = DecodeScheduler(decoder, options, clock=clock)
    first, partial, final = await submit(scheduler, job(1.0, True), job(0.5, False), job(0.7, True))
    decoder.release()  # the first decode takes decode_s: the other two wait that long
    results = await asyncio.gather(first, partial, final)
    assert results[0] is not None and results[2] is not None
    assert (results[1] is None) is shed
    assert scheduler.stats.dropped_partials == int(shed)
    assert decoder.calls == ([1.0, 0.7] if shed else [1.0, 0.7, 0.5])
    scheduler.close()


async def test_a_failing_decode_yields_none_and_the_queue_goes_on():
    def explode(seconds: float):
        raise RuntimeError("model crashed")

    scheduler = DecodeScheduler(ScriptedDecoder(explode), clock=ManualClock())
    assert await scheduler.decode(job(1.0, True)) is None
    assert scheduler.stats.failed == 1
    scheduler.close()


async def test_waiting_partials_space_partials_out_and_the_backoff_fades():
    clock = ManualClock()
    decoder = ScriptedDecoder(clock=clock, decode_s=0.25)
    decoder.hold()
    options = SchedulerOptions(workers=1, max_partial_wait_s=0.6)
    scheduler = DecodeScheduler(decoder, options, clock=clock)
    assert scheduler.partial_backoff == 1.0
    partials = await submit(scheduler, *(job(0.5, False) for _ in range(4)))
    decoder.release()
    results = await asyncio.gather(*partials)
    # they waited 0, 0.25, 0.5 and 0.75 s: the last one is shed
    assert [r is None for r in results] == [False, False, False, True]
    assert scheduler.partial_backoff == 2.0  # the average wait is past a quarter of the limit
    assert await scheduler.decode(job(1.0, True)) is not None
    assert decoder.requests[-1].busy  # behind: the final may be decoded the cheaper way
    clock.advance(10.0)  # no partial for a while: the average fades
    assert scheduler.partial_backoff == 1.0
    scheduler.close()


async def test_waiting_finals_mean_overloaded_until_they_drain_and_time_passes():
    clock = ManualClock()
    decoder = ScriptedDecoder(clock=clock, decode_s=0.25)
    decoder.hold()
    options = SchedulerOptions(workers=1, admit_max_final_wait_s=0.5)
    scheduler = DecodeScheduler(decoder, options, clock=clock)
    finals = await submit(scheduler, *(job(0.5, True) for _ in range(6)))
    assert not scheduler.overloaded  # queued, but not waiting long yet
    clock.advance(0.75)
    assert scheduler.overloaded  # finals are waiting now
    decoder.release()
    assert all(r is not None for r in await asyncio.gather(*finals))  # none shed
    assert scheduler.stats.decoded_finals == 6
    clock.advance(30.0)  # the memory of those waits fades
    assert not scheduler.overloaded
    scheduler.close()


async def test_observer_hears_every_request_once_with_its_times():
    clock = ManualClock()
    records: list[DecodeRecord] = []
    decoder = ScriptedDecoder(clock=clock, decode_s=0.25)
    decoder.hold()
    options = SchedulerOptions(max_partial_wait_s=0.1)
    scheduler = DecodeScheduler(decoder, options, observer=records.append, clock=clock)
    futures = await submit(scheduler, job(1.0, True), job(0.5, False))
    decoder.release()
    await asyncio.gather(*futures)
    assert records == [
        DecodeRecord(final=True, wait_s=0.0, busy_s=0.25, audio_s=1.0, dropped=False),
        DecodeRecord(final=False, wait_s=0.25, busy_s=0.0, audio_s=0.5, dropped=True),
    ]
    scheduler.close()


async def test_a_failing_observer_costs_one_request_never_the_queue(caplog):
    heard: list[DecodeRecord] = []

    def observer(record: DecodeRecord) -> None:
        heard.append(record)
        if len(heard) == 1:
            raise RuntimeError("a bug in the metrics")

    scheduler = DecodeScheduler(ScriptedDecoder(), observer=observer, clock=ManualClock())
    async with asyncio.timeout(5):  # before the fix, the first request waited forever
        results = await asyncio.gather(*start(scheduler, job(1.0, True), job(0.8, True)))
    assert results[0] is None and results[1] is not None
    assert "decode bookkeeping failed" in caplog.text
    scheduler.close()


async def test_a_failing_observer_of_a_shed_partial_costs_only_that_partial(caplog):
    clock = ManualClock()

    def observer(record: DecodeRecord) -> None:
        if record.dropped:
            raise RuntimeError("a bug in the metrics")

    decoder = ScriptedDecoder(clock=clock, decode_s=0.25)
    decoder.hold()
    options = SchedulerOptions(max_partial_wait_s=0.1)
    scheduler = DecodeScheduler(decoder, options, observer=observer, clock=clock)
    futures = await submit(scheduler, job(1.0, True), job(0.5, False), job(0.7, True))
    decoder.release()
    async with asyncio.timeout(5):
        first, partial, final = await asyncio.gather(*futures)
    assert partial is None and first is not None and final is not None
    assert "decode scheduling failed" in caplog.text
    scheduler.close()


async def test_a_request_whose_caller_gave_up_is_never_decoded():
    decoder = ScriptedDecoder()
    decoder.hold()
    scheduler = DecodeScheduler(decoder, clock=ManualClock())
    first, abandoned = await submit(scheduler, job(1.0, True), job(0.5, False))
    abandoned.cancel()
    await asyncio.sleep(0)
    decoder.release()
    await first
    assert decoder.calls == [1.0]
    scheduler.close()


async def test_closing_resolves_what_is_queued_or_running():
    decoder = ScriptedDecoder()
    decoder.hold()
    scheduler = DecodeScheduler(decoder, clock=ManualClock())
    futures = await submit(scheduler, job(1.0, True), job(0.5, True))
    await until(lambda: len(decoder.calls) == 1)
    scheduler.close()
    async with asyncio.timeout(5):
        assert await asyncio.gather(*futures) == [None, None]
    assert await scheduler.decode(job(1.0, True)) is None
    decoder.release()
