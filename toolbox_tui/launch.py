"""The ``toolbox-tui`` command's entry point: :func:`run` pauses the garbage collector while
the process starts, then runs :func:`toolbox_tui.cli.run`.

Starting is importing: Textual, our modules and, for ``check``, pydantic-settings. Nearly
every object made on the way lives as long as the process, so the collector's passes over
them find almost nothing to free; there were 80-110 of them before the dashboard's first
frame, 12-15 ms of a ~270 ms start. Each command resumes the collector where its start-up
ends (:mod:`toolbox_tui.long_lived`): the dashboard just before its app runs and ``check``
before its run (both freeze what start-up made first), every other command (``demo`` too,
which starts its servers first) once its arguments are read.

This module imports nothing of ours at the top, so that the pause comes before the first of
those imports.
"""

from __future__ import annotations

import gc


def run() -> None:
    """``toolbox-tui``: the collector paused until start-up is over, then the command."""
    gc.disable()
    from toolbox_tui.cli import run as run_command

    run_command()
