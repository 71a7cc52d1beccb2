"""Work that several checks of one run need, done once per run and shared.

Reading the app's migration scripts costs a cold import of alembic and SQLAlchemy and a walk of
the script directory; five checks need the result. The first to ask starts it; the others await
the same task. A new run starts from scratch, so nothing stale carries over between runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class RunMemo:
    """Shared results of one run of checks, by key."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    async def get(self, key: str, compute: Callable[[], Awaitable[T]]) -> T:
        """The result of ``compute()``, computed by the first caller for ``key`` in this run.

        A caller that gives up (its check timed out) does not cancel the work for the others.
        """
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(compute())
            self._tasks[key] = task
        result: T = await asyncio.shield(task)
        return result

    def close(self) -> None:
        """The run is over: stop what nobody waits for any more."""
        for task in self._tasks.values():
            task.cancel()
            if task.done() and not task.cancelled():
                task.exception()  # retrieved, so asyncio does not report it as lost
        self._tasks.clear()
