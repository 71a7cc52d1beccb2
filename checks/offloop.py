"""Importing a library from a check without holding up the event loop: :func:`import_off_loop`.

The SDKs load inside the checks that use them, so that the dashboard's first frame and a
``check --pane environment`` never pay for them. But an ``import stripe`` written in a check
runs on the event loop: for the ~0.5 s it takes, no other check moves, no subprocess is
reaped, and the dashboard does not draw. A check awaits :func:`import_off_loop` first; its own
``import`` statement then only looks the module up.

The imports run on one thread of their own, one after the other. An import holds the GIL
nearly all the time, so two at once are no faster than one after the other; but each import
thread takes its share of the GIL from the event loop's thread, and with six of them the
loop (connecting to PostgreSQL, reaping git) got a seventh of it. The thread is a daemon: a
quit does not wait for imports nobody needs any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import queue
import sys
import threading

_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]
_lock = threading.Lock()
# The modules asked for and not yet imported, each with who waits for it. A check asking for
# one already queued or being imported waits for that import, not for the whole queue.
_waiting: dict[str, list[_Waiter]] = {}
_queue: queue.SimpleQueue[str] = queue.SimpleQueue()
_importer: threading.Thread | None = None


async def import_off_loop(*names: str) -> None:
    """Import the modules ``names`` (dotted) on the import thread, unless they are loaded;
    raises what the import raised.

    A module that another thread is still importing counts as not loaded: an ``import`` of
    it on the loop would wait, on the loop, for that thread to finish. Each module is waited
    for as soon as it is in, whatever else is queued behind it.
    """
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(_asked(name, loop) for name in names if not _loaded(name)))


def _loaded(name: str) -> bool:
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return module is not None and not getattr(spec, "_initializing", False)


def _asked(name: str, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """A future settled when ``name`` is imported: queued unless it already is."""
    global _importer
    done: asyncio.Future[None] = loop.create_future()
    with _lock:
        waiters = _waiting.setdefault(name, [])
        waiters.append((loop, done))
        if len(waiters) == 1:
            _queue.put(name)
        if _importer is None:
            _importer = threading.Thread(target=_serve, name="toolbox-import", daemon=True)
            _importer.start()
    return done


def _serve() -> None:
    while True:
        name = _queue.get()
        failure: BaseException | None = None
        try:
            importlib.import_module(name)
        except BaseException as exc:  # handed to the checks that asked, as their import would
            failure = exc
        with _lock:
            answers = [(waiter, failure) for waiter in _waiting.pop(name, [])]
            # A module asked for may have come in as this one's dependency: its waiters need
            # not wait for its own turn in the queue (where it is then found loaded at once).
            for other in [other for other in _waiting if _loaded(other)]:
                answers += [(waiter, None) for waiter in _waiting.pop(other)]
        for (loop, done), failed in answers:
            _answer(loop, done, failed)


def _answer(
    loop: asyncio.AbstractEventLoop, done: asyncio.Future[None], failure: BaseException | None
) -> None:
    def settle() -> None:
        if done.done():
            return  # the check that asked gave up (timed out, cancelled)
        if failure is None:
            done.set_result(None)
        else:
            done.set_exception(failure)

    with contextlib.suppress(RuntimeError):  # that loop has closed meanwhile
        loop.call_soon_threadsafe(settle)
