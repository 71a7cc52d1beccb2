"""Importing a library from a check without holding up the event loop: :func:`import_off_loop`.

The SDKs load inside the checks that use them, so that the dashboard's first frame and a
``check --pane environment`` never pay for them. But an ``import stripe`` written in a check
runs on the event loop: for the ~0.5 s it takes, no other check moves, no subprocess is
reaped, and the dashboard does not draw. A check awaits :func:`import_off_loop` first; its own
``import`` statement then only looks the module up.

The imports run on one thread of their own, one after the other. An import holds the GIL
nearly all the time, so two at once are no faster than one after the other; but each import
thread takes its share of the GIL from the event loop's thread, and with six of them the
loop (connecting to PostgreSQL, reaping git) got a seventh of it.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from concurrent.futures import ThreadPoolExecutor

_IMPORTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="toolbox-import")


async def import_off_loop(*names: str) -> None:
    """Import the modules ``names`` (dotted) in a worker thread, unless they are loaded.

    A module that another thread is still importing counts as not loaded: an ``import`` of
    it on the loop would wait, on the loop, for that thread to finish.
    """
    wanted = [name for name in names if not _loaded(name)]
    if wanted:
        await asyncio.get_running_loop().run_in_executor(_IMPORTER, _import_all, wanted)


def _loaded(name: str) -> bool:
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return module is not None and not getattr(spec, "_initializing", False)


def _import_all(names: list[str]) -> None:
    for name in names:
        importlib.import_module(name)
