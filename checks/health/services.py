"""Health pane, the app's services: ``services.running`` asks the service manager whether each
of TOOLBOX_SERVICES runs, and ``services.restart`` restarts them and makes sure they came back.

The manager (supervisord or systemd, TOOLBOX_SERVICE_MANAGER) is asked through
:mod:`checks.service_manager`; when none is found the check skips saying which setting to set.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

from checks.checklist import MONITORING
from checks.context import CheckContext
from checks.core import (
    ActionFailed,
    CheckFailed,
    Outcome,
    Plan,
    Status,
    action,
    check,
    failed,
    passed,
    plan,
    refused_plan,
)
from checks.health import PANE
from checks.service_manager import (
    NO_MANAGER_HINT,
    SERVICES_SETTING,
    manager,
    no_manager,
    services,
)
from checks.subprocesses import run

CHECK_TIMEOUT = 20.0
RESTART = "services.restart"


@check(
    id="services.running",
    pane=PANE,
    title="App services running",
    timeout=CHECK_TIMEOUT,
    checklist=(MONITORING, "Services running"),
)
async def services_running(ctx: CheckContext) -> Outcome:
    found = manager(ctx)
    if found is None:
        return Outcome(Status.SKIP, no_manager(), hint=NO_MANAGER_HINT)
    names = ctx.config.service_names
    states = await services(ctx, found, names)
    evidence = {"manager": found.name, **{s.name: s.state for s in states}}
    unknown = [s for s in states if not s.known]
    down = [s for s in states if s.known and not s.running]
    problems, hints = [], []
    if unknown:
        problems.append(
            f"{_listing(s.name for s in unknown)} "
            f"{'is' if len(unknown) == 1 else 'are'} unknown to {found.name} "
            f"({'; '.join(s.state for s in unknown)})."
        )
        hints.append(found.unknown_hint())
    if down:
        what = ", ".join(f"{s.name} ({s.state})" for s in down)
        problems.append(f"{len(down)} of {len(names)} not running: {what}.")
        hints.append(
            f"Start {'it' if len(down) == 1 else 'them'}: "
            f"{found.start_command(tuple(s.name for s in down))}, or run 'Restart the app's "
            f"services' ({RESTART}); then read why it stopped in its log."
        )
    if problems:
        actions = (RESTART,) if down else ()
        return failed(" ".join(problems), " ".join(hints), actions, **evidence)
    return passed(f"All {len(names)} services are running under {found.name}.", **evidence)


def _listing(names: Iterable[str]) -> str:
    return ", ".join(names)


async def _plan_restart(ctx: CheckContext) -> Plan:
    found = manager(ctx)
    if found is None:
        return refused_plan(f"Refused: {no_manager()} {NO_MANAGER_HINT}")
    names = ctx.config.service_names
    states = await services(ctx, found, names)
    unknown = [s.name for s in states if not s.known]
    lines = [f"Restart {len(names)} services with {found.name}:"]
    lines += [f"  {s.name}: now {s.state}" for s in states]
    if unknown:
        return refused_plan(
            f"Refused: {_listing(unknown)} unknown to {found.name}; fix {SERVICES_SETTING}.", *lines
        )
    argv = found.restart_argv(names)
    lines += [
        f"Command: {shlex.join(argv)}",
        "Each is stopped and started again: requests in flight on a restarting service fail.",
        "Then each must be running again, or the action fails naming it.",
    ]
    return plan(*lines, argv=argv, names=names)


@action(
    id=RESTART,
    title="Restart the app's services",
    pane=PANE,
    key="S",
    dangerous=True,
    plan=_plan_restart,
    description="Restart every service of TOOLBOX_SERVICES with its manager (supervisorctl or "
    "systemctl restart) and verify each is running again.",
)
async def restart_services(ctx: CheckContext, planned: Plan) -> str:
    argv: list[str] = planned.payload["argv"]
    names: tuple[str, ...] = planned.payload["names"]
    found = manager(ctx)
    if found is None:
        raise ActionFailed(f"{no_manager()} {NO_MANAGER_HINT}")
    ctx.log("$ " + shlex.join(argv))
    done = await run(argv, log=ctx.log, capture_stdout=True)
    for line in done.stdout.splitlines():
        ctx.log(line)
    if not done.ok and not done.stdout.strip() and done.stderr_lines:
        # systemctl refuses a user who may not restart units, on stderr.
        raise ActionFailed(
            f"{found.name} refused the restart: {done.stderr_lines[-1]} "
            "(restarting services needs root: run toolbox-tui with sudo)."
        )
    ctx.changed(f"restarted {', '.join(names)} with {found.name}")
    try:
        states = await services(ctx, found, names)
    except CheckFailed as exc:
        raise ActionFailed(f"The restart was sent, but {exc}") from None
    down = [s for s in states if not s.running]
    if down:
        what = ", ".join(f"{s.name} ({s.state})" for s in down)
        raise ActionFailed(
            f"Restarted, but {what} {'is' if len(down) == 1 else 'are'} not running again: "
            "its log says why."
        )
    return f"Restarted {len(names)} services; all are running again."
