"""Asking the app's service manager about the services in TOOLBOX_SERVICES, and how to tell it
to restart them.

The manager is TOOLBOX_SERVICE_MANAGER: supervisord, through ``supervisorctl -c
TOOLBOX_SUPERVISOR_CONFIG status NAME...``, or systemd, through ``systemctl show`` of each
``NAME.service``. ``auto`` picks supervisord when TOOLBOX_SUPERVISOR_CONFIG is set, else
systemd when it runs this host (``/run/systemd/system`` exists). The commands run through
:mod:`checks.subprocesses`: a quit or a timeout leaves nothing of them behind. The Health
pane (``services.running``, ``services.restart``) and the Rollback pane
(``rollback.services-known``) ask through here.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from checks.context import CheckContext
from checks.core import CheckFailed
from checks.subprocesses import run

SYSTEMD_RUNTIME = Path("/run/systemd/system")  # present only where systemd is PID 1
SERVICES_SETTING = "TOOLBOX_SERVICES"
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
            f"Write {SERVICES_SETTING} as the program names{where}, comma-separated, as "
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
            f"Write {SERVICES_SETTING} as the unit names, comma-separated, as `systemctl "
            "list-units --type=service` lists them."
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


def no_manager() -> str:
    """Why no service manager was asked (checks skip, saying so; a restart refuses)."""
    return (
        "Neither supervisord (TOOLBOX_SUPERVISOR_CONFIG is not set) nor systemd (this host "
        f"has no {SYSTEMD_RUNTIME}) was found, so the services were not asked."
    )


NO_MANAGER_HINT = (
    "Set TOOLBOX_SUPERVISOR_CONFIG=/etc/supervisor/supervisord.conf if supervisord runs the "
    "app, or TOOLBOX_SERVICE_MANAGER=systemd."
)


async def services(ctx: CheckContext, found: Manager, names: tuple[str, ...]) -> list[Service]:
    """The state of each of ``names``, as ``found`` reports it. services.running and
    rollback.services-known both ask: a run of checks asks the manager once; an action (the
    restart reading its work back) asks afresh."""
    argv = found.status_argv(names)
    command = shlex.join(argv)
    ctx.log(f"$ {command}")
    return found.parse(
        names, await ctx.shared(f"service-states:{command}", lambda: _status(ctx, argv))
    )


async def _status(ctx: CheckContext, argv: list[str]) -> str:
    # supervisorctl exits non-zero when a service is not running: the output says which.
    done = await run(argv, log=ctx.log, capture_stdout=True)
    return "\n".join([done.stdout, *done.stderr_lines])
