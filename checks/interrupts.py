"""All-or-nothing steps that an interruption must not split from their record.

An action interrupted (Ctrl-C, SIGTERM, quit) while a blocking step runs in a thread cannot
stop that thread: the write goes on. :func:`finish_then_cancel` waits for such a step to end,
reports it (so the audit log says the change happened), and only then lets the
cancellation through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def finish_then_cancel(step: Callable[[], T], done: Callable[[T], None]) -> T:
    """Run ``step`` in a thread and call ``done`` with its result, even when cancelled meanwhile.

    Cancelled while ``step`` runs, this still waits for it, calls ``done``, and then re-raises
    the cancellation; a ``step`` that raises is never reported as done.
    """
    future = asyncio.ensure_future(asyncio.to_thread(step))
    try:
        result = await asyncio.shield(future)
    except asyncio.CancelledError:
        result = await future
        done(result)
        raise
    done(result)
    return result
