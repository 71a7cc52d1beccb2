"""The ``report`` and ``audit`` subcommands: :func:`add_parsers` adds them to the command line,
and :data:`COMMANDS` runs them (``cli.main`` looks the command up there).

``report`` runs every check and writes the release report (:mod:`toolbox_tui.release_report`);
``audit`` prints the audit log, one line a record (:mod:`toolbox_tui.audit_view`). Neither
imports Textual.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from toolbox_tui.reporters import EXIT_OK, EXIT_USAGE
from toolbox_tui.since import SINCE_HELP, BadSince, Since, parse_since

if TYPE_CHECKING:
    from checks.config import ToolboxConfig
    from checks.core import Registry
    from toolbox_tui.release_report import ReleaseReport
    from toolbox_tui.reporters import Report


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    report = sub.add_parser(
        "report",
        parents=[common],
        help="run every check and write the release report (for the release ticket)",
        description="Run every check, then write a report to paste into the release ticket: "
        "each pane's checks and their waivers, the manual sign-offs, the fixes and runbook "
        "steps taken, and a timeline of the audit log. No secret is in it. Exit code as check.",
    )
    report.add_argument("--format", default="markdown", choices=("markdown", "json"))
    report.add_argument(
        "--output", type=Path, help="write it to this file (created 0600) instead of stdout"
    )
    report.add_argument(
        "--since",
        type=_since,
        metavar="WHEN",
        help=f"audit records from then on: {SINCE_HELP} (default: 7d)",
    )
    audit = sub.add_parser(
        "audit",
        parents=[common],
        help="the audit log, one line a record",
        description="The audit log (TOOLBOX_AUDIT_LOG), oldest first, one line a record: "
        "time (UTC), outcome, action or runbook/step, user@host, message.",
    )
    audit.add_argument(
        "--since", type=_since, metavar="WHEN", help=f"only records from {SINCE_HELP}"
    )


def _since(text: str) -> Since:
    try:
        return parse_since(text)
    except BadSince as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_report(args: argparse.Namespace, config: ToolboxConfig, registry: Registry) -> int:
    import asyncio

    from checks.context import CheckContext
    from toolbox_tui.headless import check_output_path, collect, write_output
    from toolbox_tui.release_report import FORMATTERS, REPORT_MODE, build

    if args.output is not None:
        check_output_path(args.output)
    ctx = CheckContext.create(config)

    async def run() -> tuple[Report, ReleaseReport]:
        checks = await collect(registry.select(), ctx)
        return checks, await build(ctx, checks, registry, args.since)

    checks, report = asyncio.run(run())
    write_output(args.output, FORMATTERS[args.format](report, ctx.redactor.text), REPORT_MODE)
    return checks.exit_code()


def cmd_audit(args: argparse.Namespace, config: ToolboxConfig, registry: Registry) -> int:
    from checks.context import CheckContext
    from toolbox_tui.audit_view import read_entries

    ctx = CheckContext.create(config)  # for its redactor: a line must not show a secret
    log = read_entries(config.audit_path)
    if log.problem:
        print(f"toolbox-tui: {log.problem}.", file=sys.stderr)
        return EXIT_USAGE
    start = args.since.start(ctx.clock()) if args.since else None
    entries = log.since(start)
    for entry in entries:
        print(ctx.redactor.text(entry.line()))
    for note in log.notes():
        print(f"toolbox-tui: {config.audit_path}: {note}.", file=sys.stderr)
    if not entries:
        when = f" since {args.since.text}" if args.since else ""
        print(f"toolbox-tui: no audit records{when} in {config.audit_path}.", file=sys.stderr)
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, ToolboxConfig, Registry], int]] = {
    "report": cmd_report,
    "audit": cmd_audit,
}
