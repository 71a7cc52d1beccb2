"""Health pane, the app's services: ``services.running`` asks the service manager whether each
of TOOLBOX_SERVICES runs, and ``services.restart`` restarts them and makes sure they came back.

The manager is TOOLBOX_SERVICE_MANAGER: supervisord, through ``supervisorctl -c
TOOLBOX_SUPERVISOR_CONFIG status NAME...``, or systemd, through ``systemctl show`` of each
``NAME.service``. ``auto`` picks supervisord when TOOLBOX_SUPERVISOR_CONFIG is set, else
systemd when it runs this host (``/run/systemd/system`` exists), else the check skips saying
which setting to set. Both commands run through :mod:`checks.subprocesses`: a quit or a
timeout leaves nothing of them behind.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

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
from checks.subprocesses import run

CHECK_TIMEOUT = 20.0
RESTART = "services.restart"
SYSTEMD_RUNTIME = Path("/run/systemd/system")  # present only where systemd is PID 1
_SETTINGS = "TOOLBOX_SERVICES"
# supervisorctl status: ``name   STATE   description``; an unknown name: ``name: ERROR (...)``.
_SUPERVISOR_LINE = re.compile(
    r"^(?P<name>\S+)\s+(?P<state>STOPPED|STARTING|RUNNING|BACKOFF|STOPPING|EXITED|FATAL|UNKNOWN)"
    r"\b\s*(?P<detail>.*)$"
)
_SUPERVISOR_ERROR = re.compile(r"^(?P<name>\S+): ERROR \((?P<detail>.*)\)$")


@dataclass(frozen=True)
class Service:
    """One service as its manager reports it."""

    name: str
    known: bool
    running: bool
    state: str
    """For a person: ``RUNNING pid 123, uptime 0:00:05``, ``inactive (dead)``..."""


class Manager:
    """How one service manager is asked about, and told to restart, the services."""

    name: str

    def status_argv(self, names: tuple[str, ...]) -> list[str]:
        raise NotImplementedError

    def restart_argv(self, names: tuple[str, ...]) -> list[str]:
        raise NotImplementedError

    def start_command(self, names: tuple[str, ...]) -> str:
        raise NotImplementedError

    def parse(self, names: tuple[str, ...], output: str) -> list[Service]:
        """Each of ``names``' state; raises CheckFailed when the output is no status at all
        (the manager is not there to answer)."""
        raise NotImplementedError

    def unknown_hint(self) -> str:
        raise NotImplementedError


def _binary(name: str, install: str) -> str:
    """``name`` on PATH, else beside this interpreter (supervisor installed in our venv)."""
    found = shutil.which(name)
    if found is not None:
        return found
    beside = Path(sys.executable).with_name(name)
    if beside.is_file():
        return str(beside)
    raise CheckFailed(f"{name} is not installed here (not on PATH).", install)


class Supervisord(Manager):
    name = "supervisord"

    def __init__(self, config: Path | None) -> None:
        self.config = config

    def _ctl(self) -> list[str]:
        if self.config is not None and not self.config.is_file():
            raise CheckFailed(
                f"TOOLBOX_SUPERVISOR_CONFIG names {self.config}, which is not a file.",
                "Point it at the config of the supervisord that runs the app "
                "(often /etc/supervisor/supervisord.conf).",
            )
        ctl = _binary(
            "supervisorctl",
            "Install supervisor (apt-get install supervisor), or set TOOLBOX_SERVICE_MANAGER "
            "to the manager that runs the app's services.",
        )
        return [ctl, "-c", str(self.config)] if self.config is not None else [ctl]

    def status_argv(self, names: tuple[str, ...]) -> list[str]:
        return [*self._ctl(), "status", *names]

    def restart_argv(self, names: tuple[str, ...]) -> list[str]:
        return [*self._ctl(), "restart", *names]

    def start_command(self, names: tuple[str, ...]) -> str:
        config = f" -c {shlex.quote(str(self.config))}" if self.config is not None else ""
        return f"supervisorctl{config} start {' '.join(map(shlex.quote, names))}"

    def unknown_hint(self) -> str:
        where = f" in {self.config}" if self.config is not None else ""
        return (
            f"Write {_SETTINGS} as the program names{where}, comma-separated, as "
            "`supervisorctl status` lists them (group:name for a program in a group)."
        )

    def parse(self, names: tuple[str, ...], output: str) -> list[Service]:
        found: dict[str, Service] = {}
        for line in output.splitlines():
            line = line.strip()
            if match := _SUPERVISOR_LINE.match(line):
                state = f"{match['state']} {match['detail']}".strip()
                running = match["state"] == "RUNNING"
                found[match["name"]] = Service(match["name"], True, running, state)
            elif match := _SUPERVISOR_ERROR.match(line):
                found[match["name"]] = Service(match["name"], False, False, match["detail"])
        if not found:
            said = " ".join(output.split()) or "nothing"
            where = f" (TOOLBOX_SUPERVISOR_CONFIG={self.config})" if self.config else ""
            raise CheckFailed(
                f"supervisord did not answer{where}: supervisorctl said {said[:200]}",
                "Is supervisord running? Start it (systemctl start supervisor), or point "
                "TOOLBOX_SUPERVISOR_CONFIG at the config of the supervisord that runs the app.",
            )
        missing = Service("", False, False, "not in supervisorctl's answer")
        return [found.get(name, _named(missing, name)) for name in names]


class Systemd(Manager):
    name = "systemd"
    PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "ActiveEnterTimestamp")

    def _ctl(self) -> str:
        return _binary(
            "systemctl",
            "Set TOOLBOX_SERVICE_MANAGER=supervisord and TOOLBOX_SUPERVISOR_CONFIG if "
            "supervisord runs the app's services.",
        )

    @staticmethod
    def unit(name: str) -> str:
        return name if "." in name else f"{name}.service"

    def status_argv(self, names: tuple[str, ...]) -> list[str]:
        properties = ",".join(self.PROPERTIES)
        return [self._ctl(), "show", f"--property={properties}", *map(self.unit, names)]

    def restart_argv(self, names: tuple[str, ...]) -> list[str]:
        return [self._ctl(), "restart", *map(self.unit, names)]

    def start_command(self, names: tuple[str, ...]) -> str:
        return "sudo systemctl start " + " ".join(shlex.quote(self.unit(n)) for n in names)

    def unknown_hint(self) -> str:
        return (
            f"Write {_SETTINGS} as the unit names, comma-separated, as `systemctl list-units "
            "--type=service` lists them."
        )

    def parse(self, names: tuple[str, ...], output: str) -> list[Service]:
        # One block of Key=Value lines per unit, in the order asked, blank lines between.
        blocks = [
            dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            for block in re.split(r"\n\s*\n", output.strip())
            if block.strip()
        ]
        if len(blocks) != len(names) or not all("ActiveState" in b for b in blocks):
            said = " ".join(output.split()) or "nothing"
            raise CheckFailed(
                f"systemctl show did not describe the {len(names)} unit(s) asked: {said[:200]}",
                "Is systemd running this host? Otherwise set TOOLBOX_SERVICE_MANAGER.",
            )
        return [self._service(name, block) for name, block in zip(names, blocks, strict=True)]

    def _service(self, name: str, block: dict[str, str]) -> Service:
        load, active, sub = block.get("LoadState"), block.get("ActiveState"), block.get("SubState")
        if load == "not-found":
            return Service(name, False, False, "no such unit (LoadState=not-found)")
        since = block.get("ActiveEnterTimestamp", "").strip()
        state = f"{active} ({sub})" + (f" since {since}" if since and active == "active" else "")
        running = active in ("active", "reloading") and sub not in ("exited", "dead", "failed")
        return Service(name, True, running, state)


def _named(service: Service, name: str) -> Service:
    return Service(name, service.known, service.running, service.state)


def manager(ctx: CheckContext) -> Manager | None:
    """The manager TOOLBOX_SERVICE_MANAGER names, or the one found (None: neither)."""
    chosen = ctx.config.service_manager
    config = ctx.config.supervisor_config
    if chosen == "supervisord" or (chosen == "auto" and config is not None):
        return Supervisord(config)
    if chosen == "systemd" or (chosen == "auto" and SYSTEMD_RUNTIME.is_dir()):
        return Systemd()
    return None


def _no_manager() -> str:
    return (
        "Neither supervisord (TOOLBOX_SUPERVISOR_CONFIG is not set) nor systemd (this host "
        f"has no {SYSTEMD_RUNTIME}) was found, so the services were not asked."
    )


_NO_MANAGER_HINT = (
    "Set TOOLBOX_SUPERVISOR_CONFIG=/etc/supervisor/supervisord.conf if supervisord runs the "
    "app, or TOOLBOX_SERVICE_MANAGER=systemd."
)


async def services(ctx: CheckContext, found: Manager, names: tuple[str, ...]) -> list[Service]:
    argv = found.status_argv(names)
    ctx.log("$ " + shlex.join(argv))
    # supervisorctl exits non-zero when a service is not running: the output says which.
    done = await run(argv, log=ctx.log, capture_stdout=True)
    return found.parse(names, "\n".join([done.stdout, *done.stderr_lines]))


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
        return Outcome(Status.SKIP, _no_manager(), hint=_NO_MANAGER_HINT)
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
        return refused_plan(f"Refused: {_no_manager()} {_NO_MANAGER_HINT}")
    names = ctx.config.service_names
    states = await services(ctx, found, names)
    unknown = [s.name for s in states if not s.known]
    lines = [f"Restart {len(names)} services with {found.name}:"]
    lines += [f"  {s.name}: now {s.state}" for s in states]
    if unknown:
        return refused_plan(
            f"Refused: {_listing(unknown)} unknown to {found.name}; fix {_SETTINGS}.", *lines
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
        raise ActionFailed(f"{_no_manager()} {_NO_MANAGER_HINT}")
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
