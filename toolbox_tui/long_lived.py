"""Keeping the garbage collector's full passes out of the first frame, the headless run and
keypresses: :func:`freeze_start_up` and :func:`freeze_long_lived`.

(Before either, while the process starts, the collector is paused: see
:mod:`toolbox_tui.launch`.)

By the time the dashboard starts drawing, its imports have made tens of thousands of
objects, and CPython starts a full collection once enough has been made since the last: on
the way to the first frame one walked them all, ~40 ms of a ~450 ms start. Frozen before
the app runs, they are not walked until the first run is over. ``toolbox-tui check`` freezes
them before its run too: the SDKs its checks import set off full collections that walked
them, 55-70 ms of a ~1 s run on the demo.

By the end of its first run of checks the dashboard holds most of what it will hold for its
life: Textual, our modules, the SDKs the checks imported, their classes and caches (over
100,000 objects). CPython's full collection walks all of them, 100-200 ms here, and starts
one every few seconds while the screen is drawn: now and then a tab key waited for it. After
the first run they are collected once, then frozen (``gc.freeze``): later full passes walk
only what was made after, 20-50 ms.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_start_up() -> None:
    """Freeze what start-up has made so far, without collecting it first (a collection now
    would be the very pass this avoids), and resume the collector, which the command's entry
    point paused (:mod:`toolbox_tui.launch`). In the dashboard, the garbage among start-up's
    objects is collected after the first run, by :func:`freeze_long_lived`; a headless run
    ends with its process."""
    gc.freeze()
    resume_collector()


def resume_collector() -> None:
    """Turn the collector back on, after the entry point's pause: for the commands other than
    the dashboard and ``check``, once their arguments are read (nothing frozen: none of them
    collects later as the dashboard does, and start-up's garbage would stay frozen for good)."""
    gc.enable()


def freeze_long_lived() -> None:
    """Unfreeze start-up's objects, collect, then freeze what is left; the first call only
    (a freeze keeps what it freezes for good, so it is done once, when the objects that
    live as long as the dashboard are all there)."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    # Start-up's objects come back first, so that what of them is garbage is collected too.
    gc.unfreeze()
    gc.collect()
    gc.freeze()
