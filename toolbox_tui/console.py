"""Printing to a terminal that may be gone: after SIGHUP, a print must not become a crash."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TextIO


def say(text: str, file: TextIO | None = None) -> None:
    """Print ``text`` to ``file`` (stdout), or drop it if the terminal is gone (SIGHUP)."""
    stream = file if file is not None else sys.stdout
    try:
        print(text, file=stream, flush=True)
    except OSError:
        # Nobody is reading. What is still buffered goes to /dev/null instead, so that the
        # flush at exit does not fail again and print a traceback.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
