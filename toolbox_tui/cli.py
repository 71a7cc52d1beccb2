"""Command line: the dashboard (default), headless ``check``, ``list``, ``fix``, ``signoff``,
``release`` / ``rollback`` (:mod:`toolbox_tui.runbooks_cli`) and ``demo``.

Each command imports what it uses, when it runs: only ``tui`` and ``demo`` import Textual, so
``toolbox-tui check`` starts fast and runs where Textual is not installed; ``check --pane``
loads only the selected panes' checks; ``--help`` and ``list`` never load pydantic (the
configuration is read only by the commands that need it). Exit codes are part of the
interface (see ``EXITS``).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import toolbox_tui
from checks import catalog
from checks.core import PANE_IDS, Registry
from toolbox_tui import reporters, reporting_cli, runbooks_cli, watching
from toolbox_tui.console import say
from toolbox_tui.headless import UsageError, check_output_path, collect, write_output
from toolbox_tui.long_lived import freeze_start_up, resume_collector
from toolbox_tui.reporters import (
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_WARNINGS,
)
from toolbox_tui.sandbox.scenarios import DEMO_BREAKS, SCENARIOS

if TYPE_CHECKING:
    from checks.config import ToolboxConfig
    from checks.context import CheckContext

EXITS = {
    EXIT_OK: "every selected check passed (warnings allowed unless --fail-level warn)",
    EXIT_INTERNAL: "internal error (a bug: please report it with the command you ran)",
    EXIT_USAGE: "bad usage or unreadable configuration",
    EXIT_FAILED: "at least one check failed or could not decide (error)",
    EXIT_WARNINGS: "warnings, with --fail-level warn",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("deployment")
    group.add_argument("--env-file", type=Path, help="the app's env file (default ./.env)")
    group.add_argument("--app-dir", type=Path, help="the app's checkout (default .)")
    group.add_argument("--app-venv", type=Path, help="the app's virtualenv (default APP_DIR/venv)")
    group.add_argument("--target-url", help="base URL of the deployed app")
    group.add_argument(
        "--read-only",
        action="store_true",
        default=None,
        help="disable fixes, and skip the checks that write to the app",
    )
    group.add_argument("--timeout", type=float, dest="check_timeout", help="seconds per check")
    group.add_argument("--audit-log", type=Path, help="audit log path")
    group.add_argument("--ca-bundle", type=Path, help="CA bundle for private TLS endpoints")
    group.add_argument("--alembic-ini", type=Path, help="the app's alembic.ini (APP_DIR/...)")
    group.add_argument("--backup-dir", type=Path, help="database backups (APP_DIR/backups)")
    group.add_argument("--test-email-to", metavar="ADDRESS", help="recipient of email.send-test")
    group.add_argument(
        "--no-backup-required",
        dest="require_backup",
        action="store_false",
        default=None,
        help="let the database upgrade run without a verified backup of its revision",
    )
    group.add_argument(
        "--allow-read-only-env",
        action="store_true",
        default=None,
        help="let fixes rewrite an env file whose mode says read-only",
    )

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
    watching.add_parser(sub, common)
    reporting_cli.add_parsers(sub, common)

    listing = sub.add_parser("list", parents=[common], help="checks, actions and coverage")
    listing.add_argument("--format", default="text", choices=("text", "markdown"))

    fix = sub.add_parser(
        "fix", parents=[common], help="run actions by id, in order, stopping at a failure"
    )
    fix.add_argument("action_ids", nargs="+", metavar="ACTION_ID")
    fix.add_argument("--yes", action="store_true", help="confirm dangerous actions")
    fix.add_argument("--dry-run", action="store_true", help="only show what would change")
    fix.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an input of the action, e.g. --param tag=v1.5.0 for code.checkout (repeatable)",
    )
    runbooks_cli.add_parsers(sub, common)

    signoff = sub.add_parser(
        "signoff", parents=[common], help="sign off a manual check (recorded in the audit log)"
    )
    signoff.add_argument("check_id", metavar="CHECK_ID", help="a manual check, e.g. sec.xss")
    signoff.add_argument("--note", required=True, help="what you reviewed (required)")
    signoff.add_argument("--by", metavar="NAME", help="who signs off (default: the OS user)")

    scenarios = "; ".join(f"{s.name}: {s.description}" for s in SCENARIOS.values())
    demo = sub.add_parser(
        "demo", parents=[common], help="the dashboard on a demo deployment with real services"
    )
    demo.add_argument("--dir", type=Path, default=Path(".demo"), help="where to write it")
    demo.add_argument(
        "--break",
        dest="breaks",
        action="append",
        metavar="NAME",
        choices=sorted(SCENARIOS),
        help=f"a scenario (default: {', '.join(DEMO_BREAKS)}). {scenarios}",
    )
    sandbox = sub.add_parser(
        "sandbox", help="local PostgreSQL, Redis and Vault behind a demo deployment"
    )
    sandbox.add_argument("action", choices=("up",), help="start it; Ctrl-C stops everything")
    sandbox.add_argument("--dir", type=Path, default=Path(".sandbox"), help="the app directory")
    sandbox.add_argument(
        "--break",
        dest="breaks",
        action="append",
        default=[],
        metavar="NAME",
        choices=sorted(SCENARIOS),
        help=scenarios,
    )
    return parser


def load_config(args: argparse.Namespace) -> ToolboxConfig:
    # pydantic-settings is the dearest import of a headless run: only commands that need the
    # configuration pay for it.
    from pydantic import ValidationError

    from checks.config import ToolboxConfig

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
    if command not in ("tui", "check"):
        # Start-up is over for the others; the dashboard and `check` resume the collector
        # later, when theirs is (see toolbox_tui.launch).
        resume_collector()
    try:
        if command == "tui":
            # The dashboard registers the checks after its first frame: their modules cost
            # ~0.12 s to import, and it reads its settings then too.
            return cmd_tui(lambda: load_config(args), lambda: catalog.load(panes_to_load(args)))
        registry = catalog.load(panes_to_load(args))
        if command == "list":
            from toolbox_tui.listing import render_list

            print(render_list(registry, args.format), end="")
            return EXIT_OK
        if command == "demo":
            return cmd_demo(args, registry)
        if command == "sandbox":
            return cmd_sandbox(args)
        if command == "check":
            return cmd_check(args, load_config(args), registry)
        if command == "watch":
            return watching.cmd_watch(args, load_config(args), registry)
        if command == "fix":
            return cmd_fix(args, load_config(args), registry)
        if command == "signoff":
            return cmd_signoff(args, load_config(args), registry)
        if command in runbooks_cli.COMMANDS:
            return runbooks_cli.cmd_runbook(args, load_config(args))
        if command in reporting_cli.COMMANDS:
            return reporting_cli.COMMANDS[command](args, load_config(args), registry)
        raise AssertionError(f"no command {command!r}")  # argparse knows them all
    except UsageError as exc:
        print(f"toolbox-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("toolbox-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("TOOLBOX_DEBUG"):
            raise
        print(
            f"toolbox-tui: internal error: {type(exc).__name__}: {exc}\n"
            "Run again with TOOLBOX_DEBUG=1 for the traceback.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def panes_to_load(args: argparse.Namespace) -> tuple[str, ...]:
    """The panes whose checks a command needs: ``check --pane`` only those (and what they
    need); every other command, and ``check`` with ``--only`` or no ``--pane``, all of them."""
    if args.command in ("check", "watch") and args.pane and not args.only:
        return tuple(args.pane)
    return ()


def cmd_check(args: argparse.Namespace, config: ToolboxConfig, registry: Registry) -> int:
    try:
        specs = registry.select(panes=args.pane, ids=args.only)
    except KeyError as exc:
        raise UsageError(f"{exc.args[0]}; `toolbox-tui list` shows them") from None
    if not specs:
        # Zero checks must not read as "all passed" to a pipeline.
        raise UsageError(f"no checks in pane(s) {', '.join(args.pane)} yet; nothing to gate on")
    if args.output is not None:
        check_output_path(args.output)
    import asyncio

    from checks.context import CheckContext

    reading = time.perf_counter()
    ctx = CheckContext.create(config)
    read = time.perf_counter()
    freeze_start_up()  # the run's imports (the SDKs) would make each full collection walk it
    report = asyncio.run(collect(specs, ctx))
    report.setup_ms = {
        "start": (reading - toolbox_tui.IMPORTED_AT) * 1000,
        "env_file": (read - reading) * 1000,
    }
    write_output(args.output, reporters.FORMATTERS[args.format](report))
    return report.exit_code(args.fail_level)


def cmd_fix(args: argparse.Namespace, config: ToolboxConfig, registry: Registry) -> int:
    unknown = [a for a in args.action_ids if a not in registry.actions]
    if unknown:
        known = ", ".join(registry.actions) or "none"
        raise UsageError(f"no action {', '.join(map(repr, unknown))}; known actions: {known}")
    import asyncio

    from checks.context import CheckContext
    from toolbox_tui.fixing import fix_all, warn_about_unfinished

    params = parse_params(args.param)
    actions = [registry.actions[a] for a in args.action_ids]
    if any(a.dangerous for a in actions) and not (args.yes or args.dry_run or config.read_only):
        print("Dangerous actions need --yes; this is what they would do:\n", file=sys.stderr)
    ctx = CheckContext.create(config).with_params(**params)
    warn_about_unfinished(ctx)
    return asyncio.run(fix_all(actions, ctx, confirmed=args.yes, dry_run=args.dry_run))


def parse_params(given: Sequence[str]) -> dict[str, str]:
    """``--param key=value`` arguments as the actions' ``ctx.params``."""
    params: dict[str, str] = {}
    for item in given:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"--param wants KEY=VALUE (e.g. --param tag=v1.5.0), not {item!r}")
        params[key] = value
    return params


def cmd_signoff(args: argparse.Namespace, config: ToolboxConfig, registry: Registry) -> int:
    from checks import signoffs
    from checks.context import CheckContext

    try:
        recorded = signoffs.sign_off(
            CheckContext.create(config), registry, args.check_id, args.note, args.by
        )
    except signoffs.SignoffRefused as exc:
        raise UsageError(f"signoff: {exc}") from None
    print(f"{recorded.check_id} {recorded.text()}; recorded in {config.audit_path}.")
    return EXIT_OK


def _require_terminal() -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "this is not a terminal, so the dashboard cannot be drawn.\n"
            "For CI and scripts run it headless:  toolbox-tui check [--format json|junit]"
        )


def cmd_tui(
    config: ToolboxConfig | Callable[[], ToolboxConfig],
    registry: Registry | Callable[[], Registry],
) -> int:
    code, note = _dashboard(config, registry)
    if note:
        say(note, file=sys.stderr)
    return code


def _dashboard(
    config: ToolboxConfig | Callable[[], ToolboxConfig],
    registry: Registry | Callable[[], Registry],
) -> tuple[int, str | None]:
    """Run the dashboard; its exit code, and what it has to say when quitting had to do with
    a running fix (printed last, where a person looks).

    ``config`` may be a function that reads the settings, and ``registry`` one that registers
    the checks: the dashboard calls them after its first frame (pydantic costs ~0.1 s, the
    check modules ~0.12 s), and bad settings end it with exit 2.
    """
    _require_terminal()
    from toolbox_tui.app import make_app

    def context() -> CheckContext:
        # Called after the first frame, on the loader's thread: the settings' modules too.
        from checks.context import CheckContext

        return CheckContext.create(config() if callable(config) else config)

    app = make_app(context, registry, handle_signals=True)
    freeze_start_up()
    app.run()
    if app.load_error is not None:
        raise app.load_error  # bad settings: exit 2 with the message, as for any command
    return (EXIT_INTERNAL if app.return_code else EXIT_OK), app.exit_note


def cmd_demo(args: argparse.Namespace, registry: Registry) -> int:
    """The dashboard on the sandbox; without PostgreSQL/Redis binaries, on the env file alone.

    The servers stop whenever the dashboard ends: it returns, it raises, or (if this process
    is killed) the sandbox's watchdog stops them.
    """
    from datetime import date

    from toolbox_tui.sandbox.demo import ready_the_release, write_demo
    from toolbox_tui.sandbox.errors import NotADemoDirectory, SandboxError
    from toolbox_tui.sandbox.stack import Sandbox

    breaks = DEMO_BREAKS if args.breaks is None else args.breaks
    try:
        # Claim the directory, and make sure there is a screen, before any server starts.
        write_demo(args.dir)
        _require_terminal()
        sandbox = Sandbox(args.dir, breaks)
        sandbox.start()
        ready_the_release(sandbox.app_dir, date.today())
    except NotADemoDirectory as exc:
        raise UsageError(str(exc)) from None
    except SandboxError as exc:
        print(
            f"toolbox-tui: no sandbox services ({exc}); showing the env file only.", file=sys.stderr
        )
        demo = write_demo(args.dir)
        config = load_config(args).model_copy(update=demo.config_overrides())
        return cmd_tui(config, registry)
    note: str | None = None
    try:
        print(f"toolbox-tui: sandbox up in {sandbox.app_dir}", file=sys.stderr)
        config = load_config(args).model_copy(update=sandbox.config_overrides())
        code, note = _dashboard(config, registry)
        return code
    finally:
        sandbox.stop()
        # The last lines on the restored screen: not the stale "sandbox up" above, and what
        # became of a fix that was running when the dashboard closed, if one was.
        say(
            "toolbox-tui: demo ended; the sandbox's servers are stopped and removed.",
            file=sys.stderr,
        )
        if note:
            say(note, file=sys.stderr)


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Start the sandbox and keep it up until Ctrl-C, SIGTERM or SIGHUP (a closed terminal),
    then stop every process and say what was stopped."""
    from toolbox_tui.sandbox.demo import write_demo
    from toolbox_tui.sandbox.errors import SandboxError
    from toolbox_tui.sandbox.foreground import StopSignals
    from toolbox_tui.sandbox.stack import Sandbox

    try:
        write_demo(args.dir)  # refuses a directory it did not make, before anything starts
        sandbox = Sandbox(args.dir, args.breaks)
        sandbox.start()  # a Ctrl-C or a failure here stops what had started
    except SandboxError as exc:
        raise UsageError(str(exc)) from None
    # Held from here on: the signal that stops us cannot also cut the stopping short.
    with StopSignals() as stop:
        try:
            print(f"Sandbox up in {sandbox.app_dir}")
            servers = (sandbox.postgres, sandbox.redis, sandbox.vault, sandbox.pusher, sandbox.app)
            for server in servers:
                if server is None:
                    continue
                state = f"pid {server.pid}" if server.running else "stopped"
                print(f"  {server.NAME} {state} ({server.directory})")
            if sandbox.smtp is not None and sandbox.sendgrid is not None:
                print(f"  SMTP relay on {sandbox.smtp.host}:{sandbox.smtp.port} (STARTTLS, AUTH)")
                print(f"  SendGrid API at {sandbox.sendgrid.url}")
            if sandbox.app is not None:
                print(f"  ToolboxAI app at {sandbox.app.url}, its four programs under supervisord")
            print(f"  scenarios: {', '.join(args.breaks) or 'none'}")
            print("Point toolbox-tui at it:")
            for line in sandbox.shell_exports():
                print(f"  {line}")
            print("Ctrl-C, SIGTERM or closing the terminal stops it.", flush=True)
            received = stop.wait()
            say(f"toolbox-tui: {received.name} received; stopping the sandbox.")
        finally:
            stopped = sandbox.stop()
    for sentence in stopped:
        say(f"  {sentence}")
    say("Sandbox stopped.")
    return EXIT_OK


def run() -> None:
    """The ``toolbox-tui`` command: :func:`main`, then a quick exit.

    Everything is written and closed by the time main() returns; what is left is the
    interpreter freeing every module (SQLAlchemy and alembic are large), ~0.15 s that a CI
    gate would wait for. atexit handlers still run; only that teardown is skipped.
    """
    code = main()
    atexit._run_exitfuncs()
    watchdog = sys.modules.get("toolbox_tui.sandbox.watchdog")
    if watchdog is not None:
        # os._exit ends us at once; the sandbox's watchdog would still be reading its pipe's
        # end for a moment after. Closing it here means nothing of ours outlives the command.
        watchdog.close_shared()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
