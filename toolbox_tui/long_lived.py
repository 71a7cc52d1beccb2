"""Keeping the garbage collector's full passes out of keypresses: :func:`freeze_long_lived`.

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


def freeze_long_lived() -> None:
    """Collect, then freeze what is left; the first call only (a freeze keeps what it
    freezes for good, so it is done once, when start-up's objects are all there)."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
