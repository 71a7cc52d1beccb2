"""Command line: the dashboard (default), headless ``check``, ``list``, ``fix`` and ``demo``.

Only ``tui`` and ``demo`` import Textual, lazily, so ``toolbox-tui check`` starts fast and
runs where Textual is not installed. Exit codes are part of the interface (see ``EXITS``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from checks import catalog, checklist
from checks.context import CheckContext
from checks.core import PANE_IDS, Action, CheckSpec, Registry
from checks.envfile import atomic_write
from checks.runner import ActionDone, Finished, Log, run_action, run_checks
from checks.settings import ToolboxConfig
from toolbox_tui import reporters
from toolbox_tui.reporters import (
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_WARNINGS,
    Report,
)

EXITS = {
    EXIT_OK: "every selected check passed (warnings allowed unless --fail-level warn)",
    EXIT_INTERNAL: "internal error (a bug: please report it with the command you ran)",
    EXIT_USAGE: "bad usage or unreadable configuration",
    EXIT_FAILED: "at least one check failed or could not decide (error)",
    EXIT_WARNINGS: "warnings, with --fail-level warn",
}


class UsageError(Exception):
    """Bad arguments or configuration: exit 2 with the message, never a traceback."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("deployment")
    group.add_argument("--env-file", type=Path, help="the app's env file (default ./.env)")
    group.add_argument("--app-dir", type=Path, help="the app's checkout (default .)")
    group.add_argument("--app-venv", type=Path, help="the app's virtualenv (default APP_DIR/venv)")
    group.add_argument("--target-url", help="base URL of the deployed app")
    group.add_argument("--read-only", action="store_true", default=None, help="disable actions")
    group.add_argument("--timeout", type=float, dest="check_timeout", help="seconds per check")
    group.add_argument("--audit-log", type=Path, help="audit log path")
    group.add_argument("--ca-bundle", type=Path, help="CA bundle for private TLS endpoints")

    parser = argparse.ArgumentParser(
        prog="toolbox-tui",
        description="Release-readiness checks for a ToolboxAI deployment.",
        parents=[common],
        epilog="Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXITS.items()),
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("tui", parents=[common], help="open the dashboard (the default)")

    check = sub.add_parser("check", parents=[common], help="run checks headless (for CI)")
    check.add_argument("--pane", action="append", default=[], choices=PANE_IDS)
    check.add_argument("--only", action="append", default=[], metavar="ID", help="a check id")
    check.add_argument("--format", default="text", choices=sorted(reporters.FORMATTERS))
    check.add_argument("--output", type=Path, help="write the report here instead of stdout")
    check.add_argument("--fail-level", default="fail", choices=("warn", "fail"))

    listing = sub.add_parser("list", parents=[common], help="checks, actions and coverage")
    listing.add_argument("--format", default="text", choices=("text", "markdown"))

    fix = sub.add_parser("fix", parents=[common], help="run one action by id")
    fix.add_argument("action_id", metavar="ACTION_ID")
    fix.add_argument("--yes", action="store_true", help="confirm a dangerous action")
    fix.add_argument("--dry-run", action="store_true", help="only show what would change")

    demo = sub.add_parser("demo", parents=[common], help="the dashboard on a demo deployment")
    demo.add_argument("--dir", type=Path, default=Path(".demo"), help="where to write it")
    demo.add_argument("--no-tui", action="store_true", help="write the demo, print its path")
    return parser


def load_config(args: argparse.Namespace) -> ToolboxConfig:
    names = ToolboxConfig.model_fields.keys()
    overrides = {k: v for k, v in vars(args).items() if k in names and v is not None}
    try:
        return ToolboxConfig(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"TOOLBOX_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise UsageError(f"configuration is not valid: {problems}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "tui"
    try:
        registry = catalog.load()
        if command == "list":
            print(render_list(registry, args.format), end="")
            return EXIT_OK
        if command == "demo":
            return cmd_demo(args, registry)
        config = load_config(args)
        if command == "check":
            return cmd_check(args, config, registry)
        if command == "fix":
            return cmd_fix(args, config, registry)
        return cmd_tui(config, registry)
    except UsageError as exc:
        print(f"toolbox-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("toolbox-tui: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        if os.environ.get("TOOLBOX_DEBUG"):
            raise
        print(
            f"toolbox-tui: internal error: {type(exc).__name__}: {exc}\n"
            "Run again with TOOLBOX_DEBUG=1 for the traceback.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def cmd_check(args: argparse.Namespace, config: ToolboxConfig, registry: Registry) -> int:
    try:
        specs = registry.select(panes=args.pane, ids=args.only)
    except KeyError as exc:
        raise UsageError(f"{exc.args[0]}; `toolbox-tui list` shows them") from None
    ctx = CheckContext.create(config)
    report = asyncio.run(_collect(specs, ctx))
    text = reporters.FORMATTERS[args.format](report)
    if args.output:
        atomic_write(args.output, text, backup=False)
        print(f"toolbox-tui: report written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return report.exit_code(args.fail_level)


async def _collect(specs: Sequence[CheckSpec], ctx: CheckContext) -> Report:
    start = time.perf_counter()
    report = Report()
    async for event in run_checks(specs, ctx):
        if isinstance(event, Finished):
            report.results.append(event.result)
    report.duration_ms = (time.perf_counter() - start) * 1000
    return report


def cmd_fix(args: argparse.Namespace, config: ToolboxConfig, registry: Registry) -> int:
    action = registry.actions.get(args.action_id)
    if action is None:
        known = ", ".join(registry.actions) or "none"
        raise UsageError(f"no action {args.action_id!r}; known actions: {known}")
    if action.dangerous and not (args.yes or args.dry_run or config.read_only):
        print(f"{action.id} is dangerous; this is what it would do:\n", file=sys.stderr)
    ctx = CheckContext.create(config)
    return asyncio.run(_fix(action, ctx, confirmed=args.yes, dry_run=args.dry_run))


async def _fix(action: Action, ctx: CheckContext, *, confirmed: bool, dry_run: bool) -> int:
    async for event in run_action(action, ctx, confirmed=confirmed, dry_run=dry_run):
        if isinstance(event, Log):
            print(f"  {event.line}")
        elif isinstance(event, ActionDone):
            print(event.message)
            if event.outcome == "refused" and action.dangerous and not confirmed:
                print("Run it again with --yes to confirm.", file=sys.stderr)
            return EXIT_OK if event.ok else EXIT_FAILED
    return EXIT_INTERNAL


def cmd_tui(config: ToolboxConfig, registry: Registry) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(
            "toolbox-tui: this is not a terminal, so the dashboard cannot be drawn.\n"
            "For CI and scripts run it headless:  toolbox-tui check [--format json|junit]",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from toolbox_tui.app import make_app

    make_app(CheckContext.create(config), registry).run()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, registry: Registry) -> int:
    from toolbox_tui.sandbox.demo import write_demo

    demo = write_demo(args.dir)
    print(f"toolbox-tui: demo deployment written to {demo.app_dir}", file=sys.stderr)
    if args.no_tui:
        return EXIT_OK
    config = load_config(args).model_copy(update=demo.config_overrides())
    return cmd_tui(config, registry)


def render_list(registry: Registry, fmt: str) -> str:
    """The catalogue: checks per pane, actions, and which checklist items are covered."""
    if fmt == "markdown":
        return _list_markdown(registry)
    lines = ["Checks"]
    for spec in registry.checks.values():
        lines.append(f"  {spec.id:<30} {spec.pane:<12} {spec.title}")
    lines.append("")
    lines.append("Actions")
    for action in registry.actions.values():
        flag = "dangerous" if action.dangerous else ""
        lines.append(f"  {action.id:<30} {flag:<12} {action.title}")
    lines.append("")
    lines.append("Checklist coverage")
    for row in checklist.coverage(registry.checks.values()):
        ids = ", ".join(row.check_ids)
        lines.append(f"  {row.state:<12} {row.ref.section} > {row.ref.item}  {ids}")
    return "\n".join(lines) + "\n"


def _list_markdown(registry: Registry) -> str:
    out = ["| check | pane | what it verifies |", "| --- | --- | --- |"]
    out += [f"| `{s.id}` | {s.pane} | {s.title} |" for s in registry.checks.values()]
    out += ["", "| action | dangerous | what it does |", "| --- | --- | --- |"]
    out += [
        f"| `{a.id}` | {'yes' if a.dangerous else 'no'} | {a.title} |"
        for a in registry.actions.values()
    ]
    out += ["", "| checklist section | item | state | checks |", "| --- | --- | --- | --- |"]
    out += [
        f"| {r.ref.section} | {r.ref.item} | {r.state} | "
        f"{', '.join(f'`{i}`' for i in r.check_ids)} |"
        for r in checklist.coverage(registry.checks.values())
    ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
