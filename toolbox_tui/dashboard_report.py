"""The dashboard's ``p``: the release report (:mod:`toolbox_tui.release_report`) of the checks
as shown, written to ``APP_DIR/toolbox-report-<UTC stamp>.md`` (0600) by the careful writer
of :mod:`toolbox_tui.report_file`; a notification names the file, or says why there is none.
"""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import TYPE_CHECKING

from toolbox_tui import report_file
from toolbox_tui.reporters import Report

if TYPE_CHECKING:
    from pathlib import Path

    from checks.context import CheckContext
    from checks.core import CheckResult
    from toolbox_tui.app import ToolboxApp

REPORT_GROUP = "report"


def write_report_file(app: ToolboxApp) -> None:
    """``p``: write the report in a worker (reading the audit log must not block the screen)."""
    try:
        ctx = app.ctx
    except RuntimeError:
        app.notify("Still reading the deployment; try again in a moment.")
        return
    if ctx.config.read_only:
        app.notify(
            "Read-only mode writes nothing, not even a report file; "
            "`toolbox-tui report` prints one.",
            severity="warning",
        )
        return
    results = list(app.board.results.values())
    if not results:
        app.notify("No check has finished yet; press p once they have.")
        return

    async def write() -> None:
        await _write(app, ctx, results)

    app.run_worker(write, group=REPORT_GROUP, exclusive=True, exit_on_error=False)  # type: ignore[arg-type]


async def _write(app: ToolboxApp, ctx: CheckContext, results: list[CheckResult]) -> None:
    try:
        path = await _written(app, ctx, results)
    except Exception as exc:
        # The worker does not end the app on an error (exit_on_error=False): whatever goes
        # wrong must be said here, or pressing p seems to do nothing.
        why = str(exc) if isinstance(exc, report_file.ReportFileError) else _unexpected(exc)
        app.notify(f"No report written: {ctx.redactor.text(why)}", severity="error", markup=False)
        return
    app.notify(f"Report written to {path}", title="report", markup=False)


def _unexpected(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _written(app: ToolboxApp, ctx: CheckContext, results: list[CheckResult]) -> Path:
    """The report of ``results``, written; its path."""
    from toolbox_tui.release_report import REPORT_MODE, build, to_markdown

    now = ctx.clock()
    report = await build(ctx, Report(results=results, started_at=now), app.registry)
    text = to_markdown(report, ctx.redactor.text)
    path = ctx.config.app_dir / f"toolbox-report-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.md"
    await asyncio.to_thread(report_file.write_report, path, text, mode=REPORT_MODE)
    return path
