"""services.running and services.restart against a real supervisord running the reference
app's four programs; systemd (not running on these machines) through a stand-in
``systemctl`` that prints what the real one prints."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

import checks.health.services as services
import checks.rollback  # noqa: F401  (registers rollback.services-known)
import checks.service_manager as service_manager
from checks.context import CheckContext
from checks.core import CheckResult, Status, registry
from checks.events import ActionDone, Finished, Log
from checks.runner import run_action, run_checks
from tests.checks.db_helpers import run_check
from tests.conftest import MakeContext
from toolbox_tui.sandbox.reference_app import ReferenceAppSettings
from toolbox_tui.sandbox.supervisor import PROGRAMS, SupervisorServer
from toolbox_tui.sandbox.tls import CertificateAuthority

CHECK = "services.running"
BEAT = "toolboxai-celery-beat"


# supervisor: tests/sandbox_fixtures.py, one supervisord for the module.
pytestmark = pytest.mark.usefixtures("no_systemd")


def supervised(
    make_context: MakeContext, server: SupervisorServer, **config: object
) -> CheckContext:
    return make_context("", supervisor_config=server.config_file, **config)


async def check(ctx: CheckContext) -> CheckResult:
    return await run_check(ctx, CHECK)


def pids(result: CheckResult) -> dict[str, str]:
    """``RUNNING pid 123``, per program, without the uptime that changes every second."""
    return {name: result.evidence[name].split(",")[0] for name in PROGRAMS}


async def act(ctx: CheckContext, *, confirmed: bool) -> tuple[list[str], ActionDone]:
    lines, done = [], None
    async for event in run_action(registry.actions[services.RESTART], ctx, confirmed=confirmed):
        if isinstance(event, Log):
            lines.append(event.line)
        elif isinstance(event, ActionDone):
            done = event
    assert done is not None
    return lines, done


# -- services.running, supervisord ----------------------------------------------------------------


async def test_all_four_running_passes_with_each_state(
    make_context: MakeContext, supervisor: SupervisorServer
) -> None:
    result = await check(supervised(make_context, supervisor))

    assert result.status is Status.PASS, result.message
    assert result.message == "All 4 services are running under supervisord."
    for name in PROGRAMS:
        assert result.evidence[name].startswith("RUNNING pid "), result.evidence


async def test_auto_needs_only_the_config(
    make_context: MakeContext, supervisor: SupervisorServer
) -> None:
    ctx = supervised(make_context, supervisor, service_manager="auto")
    assert (await check(ctx)).status is Status.PASS


async def test_a_stopped_program_fails_naming_it_and_how_to_start_it(
    make_context: MakeContext, supervisor: SupervisorServer
) -> None:
    supervisor.stop_program(BEAT)
    try:
        result = await check(supervised(make_context, supervisor))
    finally:
        supervisor.start_program(BEAT)

    assert result.status is Status.FAIL
    assert result.message.startswith(f"1 of 4 not running: {BEAT} (STOPPED "), result.message
    assert f"supervisorctl -c {supervisor.config_file} start {BEAT}" in result.hint
    assert services.RESTART in result.actions
    assert result.evidence[BEAT].startswith("STOPPED")
    assert result.evidence["toolboxai-backend"].startswith("RUNNING")


async def test_an_unknown_name_fails_saying_it_is_unknown(
    make_context: MakeContext, supervisor: SupervisorServer
) -> None:
    ctx = supervised(make_context, supervisor, services="toolboxai-backend,toolboxai-api")
    result = await check(ctx)

    assert result.status is Status.FAIL
    assert result.message == "toolboxai-api is unknown to supervisord (no such process)."
    assert "TOOLBOX_SERVICES" in result.hint
    assert result.actions == ()


async def test_supervisord_not_running_fails_plainly(
    make_context: MakeContext, tmp_path: Path
) -> None:
    # The config of a supervisord that is not running: its socket is not there.
    config = tmp_path / "supervisord.conf"
    config.write_text(f"[supervisorctl]\nserverurl=unix://{tmp_path}/supervisor.sock\n")
    result = await check(make_context("", supervisor_config=config))

    assert result.status is Status.FAIL
    assert result.message == (
        f"supervisord did not answer (TOOLBOX_SUPERVISOR_CONFIG={config}): supervisorctl said "
        f"unix://{tmp_path}/supervisor.sock no such file"
    )
    assert "Is supervisord running?" in result.hint


async def test_a_missing_config_file_fails_naming_the_setting(
    make_context: MakeContext, tmp_path: Path
) -> None:
    result = await check(make_context("", supervisor_config=tmp_path / "nope.conf"))
    assert result.status is Status.FAIL
    assert (
        result.message
        == f"TOOLBOX_SUPERVISOR_CONFIG names {tmp_path / 'nope.conf'}, which is not a file."
    )


async def test_no_manager_found_skips_saying_what_to_set(make_context: MakeContext) -> None:
    result = await check(make_context(""))

    assert result.status is Status.SKIP
    assert "Neither supervisord" in result.message and "systemd" in result.message
    assert "TOOLBOX_SUPERVISOR_CONFIG" in result.hint and "TOOLBOX_SERVICE_MANAGER" in result.hint


# -- services.restart, supervisord ----------------------------------------------------------------


async def test_restart_plans_then_restarts_all_four(
    make_context: MakeContext, supervisor: SupervisorServer
) -> None:
    ctx = supervised(make_context, supervisor)
    before = await check(ctx)
    supervisor.stop_program(BEAT)

    lines, done = await act(ctx, confirmed=True)

    assert done.outcome == "ok", done.message
    assert done.message == "Restarted 4 services; all are running again."
    assert lines[0] == "Restart 4 services with supervisord:"
    assert any(line.startswith(f"  {BEAT}: now STOPPED") for line in lines), lines
    [command] = [line for line in lines if line.startswith("Command: ")]
    assert command.endswith(
        f"supervisorctl -c {supervisor.config_file} restart {' '.join(PROGRAMS)}"
    )
    after = await check(ctx)
    assert after.status is Status.PASS
    restarted = pids(after)
    for name in PROGRAMS:
        if name != BEAT:  # a new process: it was restarted
            assert restarted[name] != pids(before)[name]
    assert supervisor.states() == dict.fromkeys(PROGRAMS, "RUNNING")


async def test_restart_is_refused_read_only_and_unconfirmed(
    make_context: MakeContext, supervisor: SupervisorServer
) -> None:
    before = pids(await check(supervised(make_context, supervisor)))

    _, read_only = await act(supervised(make_context, supervisor, read_only=True), confirmed=True)
    _, unconfirmed = await act(supervised(make_context, supervisor), confirmed=False)

    assert (read_only.outcome, read_only.message) == (
        "refused",
        "Refused: toolbox-tui is in read-only mode.",
    )
    assert unconfirmed.outcome == "refused" and "not confirmed" in unconfirmed.message
    assert pids(await check(supervised(make_context, supervisor))) == before  # untouched


async def test_restart_refuses_an_unknown_name(
    make_context: MakeContext, supervisor: SupervisorServer
) -> None:
    ctx = supervised(make_context, supervisor, services="toolboxai-backend,toolboxai-api")
    _, done = await act(ctx, confirmed=True)
    assert done.outcome == "refused"
    assert done.message == "Refused: toolboxai-api unknown to supervisord; fix TOOLBOX_SERVICES."


async def test_restart_fails_naming_a_program_that_does_not_come_back(
    make_context: MakeContext, sandbox_ca: CertificateAuthority
) -> None:
    # startsecs=1, as supervisord's default: a program that exits at once is FATAL.
    with SupervisorServer(
        ReferenceAppSettings(), sandbox_ca.issue("127.0.0.1"), startsecs=1
    ) as server:
        # The backend can no longer start: its settings file is broken (it exits within a
        # tenth of a second, well inside startsecs).
        server.settings_file.write_text("{not json", encoding="utf-8")
        ctx = supervised(make_context, server, services="toolboxai-backend")
        _, done = await act(ctx, confirmed=True)

    assert done.outcome == "failed"
    # FATAL, or EXITED when supervisord saw the start succeed before the exit (one tick).
    assert re.match(r"Restarted, but toolboxai-backend \((FATAL|EXITED) ", done.message), (
        done.message
    )
    assert done.message.endswith("is not running again: its log says why.")


# -- systemd, through a stand-in systemctl --------------------------------------------------------

SYSTEMCTL = """#!/bin/sh
# A stand-in for systemctl: `show` prints each unit's saved properties, as systemctl does.
dir="$(dirname "$0")/units"
case "$1" in
show)
    shift 2  # show --property=...
    first=1
    for unit in "$@"; do
        [ "$first" = 1 ] || echo
        first=0
        if [ -f "$dir/$unit" ]; then
            cat "$dir/$unit"
        else
            printf 'Id=%s\\nLoadState=not-found\\nActiveState=inactive\\nSubState=dead\\n' "$unit"
            printf 'ActiveEnterTimestamp=\\n'
        fi
    done
    ;;
restart)
    echo "Failed to restart $2: Access denied" >&2
    exit 4
    ;;
esac
"""
RUNNING = (
    "Id={unit}\nLoadState=loaded\nActiveState=active\nSubState=running\n"
    "ActiveEnterTimestamp=Sat 2026-11-28 10:00:00 UTC\n"
)
DEAD = (
    "Id={unit}\nLoadState=loaded\nActiveState=failed\nSubState=failed\n"
    "ActiveEnterTimestamp=Sat 2026-11-28 10:00:00 UTC\n"
)


@pytest.fixture
def systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``systemctl`` first on PATH; its units are files in ``units/``."""
    bin_dir = tmp_path / "bin"
    (bin_dir / "units").mkdir(parents=True)
    script = bin_dir / "systemctl"
    script.write_text(SYSTEMCTL)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for name in PROGRAMS:
        (bin_dir / "units" / f"{name}.service").write_text(RUNNING.format(unit=f"{name}.service"))
    return bin_dir / "units"


async def test_systemd_units_all_running_pass(make_context: MakeContext, systemctl: Path) -> None:
    result = await check(make_context("", service_manager="systemd"))
    assert result.status is Status.PASS, result.message
    assert result.evidence["toolboxai-backend"] == (
        "active (running) since Sat 2026-11-28 10:00:00 UTC"
    )


async def test_a_run_of_both_service_checks_asks_the_manager_once(
    make_context: MakeContext, systemctl: Path
) -> None:
    asked = systemctl.parent / "asked"
    real = systemctl.parent / "systemctl"
    real.rename(real.with_name("systemctl-real"))
    real.write_text(
        f'#!/bin/sh\necho "$*" >> {asked}\nexec "$(dirname "$0")/systemctl-real" "$@"\n'
    )
    real.chmod(0o755)
    ctx = make_context("", service_manager="systemd")
    ids = ["services.running", "rollback.services-known"]
    results = {}
    async for event in run_checks(registry.select(ids=ids), ctx):
        if isinstance(event, Finished):
            results[event.result.id] = event.result
    assert {r.status for r in results.values()} == {Status.PASS}
    assert len(asked.read_text().splitlines()) == 1


async def test_auto_finds_systemd_when_it_runs_the_host(
    make_context: MakeContext, systemctl: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "systemd").mkdir()
    monkeypatch.setattr(service_manager, "SYSTEMD_RUNTIME", tmp_path / "systemd")
    result = await check(make_context(""))
    assert (result.status, result.evidence["manager"]) == (Status.PASS, "systemd")


async def test_a_failed_unit_and_an_unknown_one_fail(
    make_context: MakeContext, systemctl: Path
) -> None:
    (systemctl / f"{BEAT}.service").write_text(DEAD.format(unit=f"{BEAT}.service"))
    ctx = make_context("", service_manager="systemd", services=f"toolboxai-backend,{BEAT},web")

    result = await check(ctx)

    assert result.status is Status.FAIL
    assert result.message == (
        "web is unknown to systemd (no such unit (LoadState=not-found)). "
        f"1 of 3 not running: {BEAT} (failed (failed))."
    )
    assert f"sudo systemctl start {BEAT}.service" in result.hint


async def test_a_systemd_restart_refused_says_it_needs_root(
    make_context: MakeContext, systemctl: Path
) -> None:
    _, done = await act(make_context("", service_manager="systemd"), confirmed=True)
    assert done.outcome == "failed"
    assert done.message == (
        "systemd refused the restart: Failed to restart toolboxai-backend.service: Access denied "
        "(restarting services needs root: run toolbox-tui with sudo)."
    )
