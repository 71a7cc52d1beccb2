"""What the headless commands share: :class:`UsageError`, and :func:`collect`, one run of
checks gathered into a :class:`~toolbox_tui.reporters.Report` (what ``toolbox-tui check``
reports and each run of ``toolbox-tui watch`` shows).

Its own module so that the command line (:mod:`toolbox_tui.cli`) and watch
(:mod:`toolbox_tui.watching`), which the command line imports, share them without importing
each other. No Textual here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from toolbox_tui.reporters import Report

if TYPE_CHECKING:
    from checks.context import CheckContext
    from checks.core import CheckSpec


class UsageError(Exception):
    """Bad arguments or configuration: exit 2 with the message, never a traceback."""


async def collect(specs: Sequence[CheckSpec], ctx: CheckContext) -> Report:
    """Run ``specs`` with ``ctx``; every finished result, in the order they finished, and
    how long the run took."""
    # Imported when a run starts: `list` and `--help` never load the runner.
    from checks.runner import Finished, run_checks

    start = time.perf_counter()
    report = Report()
    async for event in run_checks(specs, ctx):
        if isinstance(event, Finished):
            report.results.append(event.result)
    report.duration_ms = (time.perf_counter() - start) * 1000
    return report
