"""Headless runbooks: ``toolbox-tui release --to TAG`` and ``toolbox-tui rollback [--to TAG]``.

Each step prints its preview (the plan its action built), its log and its outcome; the run
ends with every step's state and wall time, and a last line saying how the runbook ended.
Without ``--yes`` nothing runs: it lists the steps and the next one's preview (a runbook
takes dangerous steps). ``--resume`` continues the unfinished runbook the audit log holds,
never repeating a done step. One runbook at a time, across processes.

Ctrl-C, SIGTERM and SIGHUP interrupt the running step as ``fix`` does
(:mod:`toolbox_tui.fixing`): it stops cleanly, and the journal says where the runbook stopped.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from toolbox_tui.console import say
from toolbox_tui.headless import UsageError
from toolbox_tui.reporters import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK

if TYPE_CHECKING:
    from checks.config import ToolboxConfig
    from checks.context import CheckContext
    from checks.runbooks.model import Runbook

COMMANDS = ("release", "rollback")


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    release = sub.add_parser(
        "release",
        parents=[common],
        help="release a tag: gate, backups, code, dependencies, env, migrations, restart",
        description="Take the deployment to release TAG step by step: gate (every check "
        "passes), env and database backups, git checkout, pip install, the staged env file, "
        "alembic upgrade, restart, health checks. Every step is journaled in the audit log.",
    )
    release.add_argument("--to", required=True, metavar="TAG", help="the release tag, e.g. v1.5.0")
    release.add_argument(
        "--fail-level",
        choices=("warn", "fail"),
        help="the gate and verify steps stop on a check at this level or worse (default "
        "fail; a resumed release keeps the one it was started with)",
    )
    rollback = sub.add_parser(
        "rollback",
        parents=[common],
        help="undo the last release (or go back to the previous release tag)",
        description="Undo what the last release in the audit log did, from wherever it "
        "stopped: downgrade the database, check out the previous tag, reinstall its "
        "requirements, restore .env from .env.backup, restart, health checks.",
    )
    rollback.add_argument(
        "--to", metavar="TAG", help="the release to go back to (default: the previous one)"
    )
    for parser in (release, rollback):
        parser.add_argument("--yes", action="store_true", help="confirm the dangerous steps")
        parser.add_argument(
            "--resume",
            action="store_true",
            help="continue the unfinished runbook in the audit log (done steps are not repeated)",
        )


def cmd_runbook(args: argparse.Namespace, config: ToolboxConfig) -> int:
    # Imported here, as everything the runbooks use: the parser must stay cheap for `--help`.
    import asyncio

    from checks.context import CheckContext

    if config.read_only:
        say(
            f"toolbox-tui: {args.command} refused: toolbox-tui is in read-only mode, and a "
            f"{args.command} changes the deployment.",
            sys.stderr,
        )
        return EXIT_FAILED
    if args.command == "release" and not args.to.strip():
        raise UsageError("release --to needs a release tag, e.g. --to v1.5.0")
    return asyncio.run(_run(args, CheckContext.create(config)))


async def _run(args: argparse.Namespace, ctx: CheckContext) -> int:
    import asyncio

    from checks.runbooks import RunbookError, open_release, open_rollback
    from checks.runbooks.lock import runbook_lock
    from toolbox_tui.fixing import interrupt_on_signals

    interrupt_on_signals()
    resume = bool(args.resume)  # False: a new runbook, unless the last one changed nothing
    fail_level = getattr(args, "fail_level", None)
    try:
        with runbook_lock(ctx.config.audit_path):
            if args.command == "release":
                runbook = await open_release(ctx, args.to, fail_level=fail_level, resume=resume)
            else:
                runbook = await open_rollback(ctx, args.to, fail_level=fail_level, resume=resume)
            say(f"{runbook.title} (journal: {ctx.config.audit_path})")
            if runbook.resumed_note:
                say(runbook.resumed_note)
            if not args.yes:
                return await _without_yes(runbook, ctx, args)
            return await _run_steps(runbook, ctx)
    except RunbookError as exc:
        say(f"toolbox-tui: {exc}", sys.stderr)
        return EXIT_FAILED
    except asyncio.CancelledError:  # a signal before any step ran (a running one says so)
        say(f"toolbox-tui: interrupted; the {args.command} ran no step.", sys.stderr)
        return EXIT_INTERRUPTED


async def _without_yes(runbook: Runbook, ctx: CheckContext, args: argparse.Namespace) -> int:
    """What the runbook would do, and how to run it: nothing runs without --yes."""
    for status in runbook.statuses:
        flag = "dangerous" if status.step.dangerous else ""
        say(f"  {status.step.id:<11} {status.state.value:<8} {flag:<9} {status.step.title}")
    upcoming = runbook.next_status()
    if upcoming is None:
        say("Every step is done; nothing to run.")
        return EXIT_OK
    say(f"== {upcoming.step.id}: {upcoming.step.title} (next)")
    plan = await runbook.preview(ctx)
    for line in ctx.redactor.text(plan.text).splitlines():
        say(f"  {line}")
    again = f"toolbox-tui {args.command}{f' --to {args.to}' if args.to else ''}"
    say(
        f"Nothing was run: a {runbook.kind} takes dangerous steps. Run `{again} --yes"
        f"{' --resume' if runbook.resumed_note else ''}` to run it.",
        sys.stderr,
    )
    return EXIT_FAILED


async def _run_steps(runbook: Runbook, ctx: CheckContext) -> int:
    import asyncio

    from checks.runbooks.model import StepEnded, StepLog, StepState

    began = time.perf_counter()
    code = EXIT_OK
    try:
        while (status := runbook.next_status()) is not None:
            say(f"== {status.step.id}: {status.step.title}")
            async for event in runbook.run_next(ctx, confirmed=True):
                if isinstance(event, StepLog):
                    say(f"  {event.line}")
                elif isinstance(event, StepEnded):
                    say(f"{event.state.value}: {event.message}")
            if status.state not in (StepState.DONE, StepState.SKIPPED):
                code = EXIT_FAILED
                break
    except asyncio.CancelledError:
        # The step has stopped and the journal says so; say how it ended, then the summary.
        if status is not None:
            say(f"interrupted: {status.message}")
        code = EXIT_INTERRUPTED
    _summary(runbook, time.perf_counter() - began, code)
    return code


def _summary(runbook: Runbook, seconds: float, code: int) -> None:
    """Each step's state and wall time, then one line on how the runbook ended."""
    from checks.runbooks.model import StepState

    say("Steps:")
    for status in runbook.statuses:
        took = f"{status.seconds:6.2f} s" if status.seconds else ""
        if not took and status.state is StepState.DONE:
            took = "(an earlier run)"
        say(f"  {status.step.id:<11} {status.state.value:<8} {took}".rstrip())
    stopped = runbook.next_status()
    if stopped is None:
        say(f"{runbook.title}: done in {seconds:.1f} s.")
        return
    how = "interrupted" if code == EXIT_INTERRUPTED else stopped.state.value
    if runbook.kind == "release":
        target = runbook.release.rpartition(" -> ")[2]
        then = f"Continue with `toolbox-tui release --to {target} --resume --yes`"
        # Stopped at the gate, it changed nothing: there is nothing to undo.
        then += ", or undo it with `toolbox-tui rollback --yes`." if _past_gate(runbook) else "."
    else:
        then = "Continue with `toolbox-tui rollback --resume --yes`."
    say(f"{runbook.title}: stopped at step '{stopped.step.id}' ({how}) after {seconds:.1f} s.")
    say(then)


def _past_gate(runbook: Runbook) -> bool:
    """A step after the gate ran (here or in an earlier run): it may have changed something."""
    from checks.runbooks.model import StepState

    return any(
        s.step.id != "gate" and (s.seconds or s.state not in (StepState.PENDING, StepState.SKIPPED))
        for s in runbook.statuses
    )
