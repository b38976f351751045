import asyncio

import numpy as np

from tests.fakes import ScriptedDecoder
from voice.online import DecodeJob
from voice.scheduler import DecodeRecord, DecodeScheduler, SchedulerOptions


def job(seconds: float, is_final: bool) -> DecodeJob:
    audio = np.zeros(int(seconds * 16000), np.float32)
    return DecodeJob(audio, 0.0, is_final, "", False, 1, 0.0, seconds)


async def test_finals_run_before_partials_queued_earlier():
    decoder = ScriptedDecoder(delay_s=0.05)
    scheduler = DecodeScheduler(decoder, SchedulerOptions(workers=1, max_partial_wait_s=10))
    busy = asyncio.create_task(scheduler.decode(job(0.1, False), "en"))
    await asyncio.sleep(0.01)  # the worker is now busy with the first job
    waiting = [scheduler.decode(job(s, False), "en") for s in (0.2, 0.3)]
    waiting.append(scheduler.decode(job(0.9, True), "en"))
    await asyncio.gather(busy, *waiting)
    assert decoder.calls == [0.1, 0.9, 0.2, 0.3]
    scheduler.close()


async def test_stale_partials_are_dropped_never_finals():
    decoder = ScriptedDecoder(delay_s=0.3)
    scheduler = DecodeScheduler(decoder, SchedulerOptions(workers=1, max_partial_wait_s=0.1))
    first = asyncio.create_task(scheduler.decode(job(1.0, True), "en"))
    await asyncio.sleep(0.01)
    stale = scheduler.decode(job(1.0, False), "en")
    final = scheduler.decode(job(1.0, True), "en")
    results = await asyncio.gather(first, stale, final)
    assert results[1] is None
    assert results[0] is not None and results[2] is not None
    assert scheduler.stats.dropped_partials == 1
    scheduler.close()


async def test_a_failing_decode_yields_none_and_the_queue_goes_on():
    def explode(seconds: float):
        raise RuntimeError("model crashed")

    scheduler = DecodeScheduler(ScriptedDecoder(explode))
    assert await scheduler.decode(job(1.0, True), "en") is None
    assert scheduler.stats.failed == 1
    scheduler.close()


async def test_waiting_partials_space_out_and_waiting_finals_mean_overloaded():
    decoder = ScriptedDecoder(delay_s=0.2)
    scheduler = DecodeScheduler(decoder, SchedulerOptions(workers=1, max_partial_wait_s=0.4))
    assert scheduler.partial_backoff == 1.0 and not scheduler.overloaded
    partials = [scheduler.decode(job(0.5, False), "en") for _ in range(4)]
    await asyncio.gather(*partials)
    assert scheduler.partial_backoff > 1.0  # partials queued behind each other
    finals = [asyncio.ensure_future(scheduler.decode(job(0.5, True), "en")) for _ in range(6)]
    await asyncio.sleep(0.7)
    assert scheduler.overloaded  # finals are waiting now
    await asyncio.gather(*finals)
    assert all(f.result() is not None for f in finals)  # none shed
    scheduler.close()


async def test_observer_hears_every_request_once():
    records: list[DecodeRecord] = []
    scheduler = DecodeScheduler(
        ScriptedDecoder(delay_s=0.2),
        SchedulerOptions(max_partial_wait_s=0.1),
        observer=records.append,
    )
    first = asyncio.ensure_future(scheduler.decode(job(1.0, True), "en"))
    await asyncio.sleep(0.01)
    await asyncio.gather(first, scheduler.decode(job(1.0, False), "en"))
    assert [(r.final, r.dropped) for r in records] == [(True, False), (False, True)]
    scheduler.close()
