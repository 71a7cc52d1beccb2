"""What the headless commands share: :class:`UsageError`; :func:`collect`, one run of
checks gathered into a :class:`~toolbox_tui.reporters.Report` (what ``toolbox-tui check``
reports and each run of ``toolbox-tui watch`` shows); and :func:`check_output_path` /
:func:`write_output`, how ``check`` and ``report`` write their ``--output``.

Its own module so that the command line (:mod:`toolbox_tui.cli`) and watch
(:mod:`toolbox_tui.watching`), which the command line imports, share them without importing
each other. No Textual here.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
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
    from checks.events import Finished
    from checks.runner import run_checks

    start = time.perf_counter()
    report = Report()
    async for event in run_checks(specs, ctx):
        if isinstance(event, Finished):
            report.results.append(event.result)
    report.duration_ms = (time.perf_counter() - start) * 1000
    return report


def check_output_path(path: Path) -> None:
    """Refuse a report path that cannot be written safely, before spending time on the checks
    (see :mod:`toolbox_tui.report_file`; it is checked again when the report is written)."""
    # report_file is imported by the commands that write a report; not by the dashboard's,
    # which imports this module for UsageError.
    from toolbox_tui import report_file

    try:
        report_file.check_destination(path)
    except report_file.ReportFileError as exc:
        raise UsageError(f"--output {exc}") from None


def write_output(path: Path | None, text: str, mode: int | None = None) -> None:
    """Write a report to ``path`` (standard output for None or ``-``) and say where it went;
    ``mode``: a new file's permissions (report_file's default for None)."""
    from toolbox_tui import report_file

    try:
        if mode is None:
            report_file.write_report(path, text)
        else:
            report_file.write_report(path, text, mode=mode)
    except report_file.ReportFileError as exc:
        raise UsageError(f"--output {exc}") from None
    if not report_file.is_stdout(path):
        print(f"toolbox-tui: report written to {path}", file=sys.stderr)
