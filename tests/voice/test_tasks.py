"""TaskSet: a background task is held until it ends, and its failure is logged."""

import asyncio
import gc
import logging

from voice.tasks import TaskSet

log = logging.getLogger("tests.tasks")


async def test_a_failing_task_is_logged_and_let_go(caplog):
    tasks = TaskSet(log, "call c1")

    async def fail() -> None:
        raise RuntimeError("a bug")

    tasks.spawn(fail())
    await tasks.join()
    assert len(tasks) == 0
    assert "call c1: background task" in caplog.text and "fail" in caplog.text
    assert "RuntimeError: a bug" in caplog.text


async def test_a_task_nobody_else_holds_runs_to_its_end():
    tasks = TaskSet(log, "call c2")
    done = asyncio.Event()

    async def later() -> None:
        await asyncio.sleep(0.01)
        gc.collect()  # a task held only by the loop could be collected here
        done.set()

    tasks.spawn(later())
    gc.collect()
    await asyncio.wait_for(done.wait(), 1)


async def test_join_waits_for_tasks_started_meanwhile_and_cancel_ends_them():
    tasks = TaskSet(log, "call c3")
    order: list[str] = []
    forever = asyncio.Event()

    async def second() -> None:
        order.append("second")

    async def first() -> None:
        await asyncio.sleep(0)
        tasks.spawn(second())
        order.append("first")

    tasks.spawn(first())
    await tasks.join()
    assert order == ["first", "second"]
    stuck = tasks.spawn(forever.wait())
    tasks.cancel()
    await tasks.join()
    assert stuck.cancelled()
