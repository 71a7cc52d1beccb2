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

_Request = tuple[list[str], asyncio.AbstractEventLoop, "asyncio.Future[None]"]
_requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
_importer: threading.Thread | None = None
_importer_lock = threading.Lock()


async def import_off_loop(*names: str) -> None:
    """Import the modules ``names`` (dotted) on the import thread, unless they are loaded;
    raises what the import raised.

    A module that another thread is still importing counts as not loaded: an ``import`` of
    it on the loop would wait, on the loop, for that thread to finish.
    """
    wanted = [name for name in names if not _loaded(name)]
    if not wanted:
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    _start_importer()
    _requests.put((wanted, loop, done))
    await done


def _loaded(name: str) -> bool:
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return module is not None and not getattr(spec, "_initializing", False)


def _start_importer() -> None:
    global _importer
    with _importer_lock:
        if _importer is None:
            _importer = threading.Thread(target=_serve, name="toolbox-import", daemon=True)
            _importer.start()


def _serve() -> None:
    while True:
        names, loop, done = _requests.get()
        failure: BaseException | None = None
        try:
            for name in names:
                importlib.import_module(name)
        except BaseException as exc:  # handed to the check that asked, as its import would
            failure = exc
        _answer(loop, done, failure)


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
