"""Background tasks with an owner.

asyncio keeps only a weak reference to a running task, so a task nobody holds
can be garbage-collected mid-flight, and a task nobody awaits loses its
exception silently. Code whose lifetime fits an `async with` uses an
`asyncio.TaskGroup`; an object that starts tasks from plain methods owns them
through a `TaskSet` instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class TaskSet:
    """Holds each task until it ends; a task that fails is logged (with its traceback),
    never lost. Awaiting a task as well is fine: its exception is then raised there too."""

    def __init__(self, log: logging.Logger, owner: str) -> None:
        self._log = log
        self._owner = owner  # for the log: whose task failed (an id, never a transcript)
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        name = getattr(coroutine, "__qualname__", None)  # e.g. "SpeakerWorker._run"
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    async def join(self) -> None:
        """Returns once every task has ended, those started meanwhile included."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self._log.error(
                "%s: background task %s failed", self._owner, task.get_name(), exc_info=error
            )
