"""Headless fixes: ``toolbox-tui fix ACTION [ACTION...]``, run in order, stopping at the first
that does not succeed.

Ctrl-C, SIGTERM and SIGHUP all interrupt the running action the same way: it stops as cleanly
as it can (a database upgrade rolls back), its audit record says what it had changed, and the
last line printed says so too. A second signal while it stops is ignored: cutting the clean
stop short is what leaves a half-done change.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence

from checks import audit
from checks.context import CheckContext
from checks.core import Action
from checks.events import ActionDone, Log
from checks.runner import run_action
from toolbox_tui.console import say
from toolbox_tui.reporters import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK

INTERRUPTING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def warn_about_unfinished(ctx: CheckContext) -> None:
    """Say so when an earlier fix was killed before it could record its end."""
    try:
        records = audit.read(ctx.config.audit_path)
    except OSError as exc:  # the fix itself then says whether it can write the log
        print(f"toolbox-tui: warning: the audit log cannot be read: {exc}", file=sys.stderr)
        return
    for record in audit.unfinished(records):
        print(
            f"toolbox-tui: warning: {record.action} started at {record.at} by "
            f"{record.user}@{record.host} (pid {record.pid}) never recorded its end: that "
            "process was killed mid-action. Check its effect, then run "
            "`toolbox-tui fix audit.acknowledge`.",
            file=sys.stderr,
        )


async def fix_all(
    actions: Sequence[Action], ctx: CheckContext, *, confirmed: bool, dry_run: bool
) -> int:
    """Run ``actions`` in order; the exit code of the first that does not succeed, else 0."""
    interrupt_on_signals()
    for index, action in enumerate(actions):
        if len(actions) > 1:
            print(f"== {action.id}: {action.title}")
        code = await _fix_one(action, ctx, confirmed=confirmed, dry_run=dry_run)
        if code != EXIT_OK:
            rest = [a.id for a in actions[index + 1 :]]
            if rest:
                print(f"Stopped: not run: {', '.join(rest)}.", file=sys.stderr)
            return code
        # The next action plans against what this one changed.
        ctx = ctx.reloaded()
    return EXIT_OK


async def _fix_one(action: Action, ctx: CheckContext, *, confirmed: bool, dry_run: bool) -> int:
    ends: list[ActionDone] = []
    try:
        async for event in run_action(
            action, ctx, confirmed=confirmed, dry_run=dry_run, on_end=ends.append
        ):
            if isinstance(event, Log):
                print(f"  {event.line}", flush=True)
    except asyncio.CancelledError:
        # The action has stopped and its record is written; say how it ended, last.
        if ends:
            print(ends[-1].message)
        print(f"toolbox-tui: {action.id} was interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    done = ends[-1]
    print(done.message)
    if done.outcome == "refused" and action.dangerous and not confirmed:
        print("Run it again with --yes to confirm.", file=sys.stderr)
    return EXIT_OK if done.ok else EXIT_FAILED


def interrupt_on_signals() -> None:
    """The first Ctrl-C, SIGTERM or SIGHUP cancels the running fix; later ones are ignored
    while it stops (asyncio's own Ctrl-C handling would raise at the second one)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def interrupt(name: str) -> None:
        # say(): after SIGHUP the terminal is gone, and a failed print must not keep the
        # cancel from happening.
        if task.cancelling():
            say(f"toolbox-tui: {name}: still stopping cleanly, please wait.", sys.stderr)
            return
        say(f"toolbox-tui: {name}: interrupting.", sys.stderr)
        task.cancel()

    for signum in INTERRUPTING:
        loop.add_signal_handler(signum, interrupt, signum.name)
