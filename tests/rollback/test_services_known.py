"""rollback.services-known against a real supervisord running the reference app's programs."""

from __future__ import annotations

import pytest

from checks.context import CheckContext
from checks.core import CheckResult, Status
from checks.rollback import services as _registers  # noqa: F401  (registers the check)
from tests.checks.db_helpers import run_check
from tests.conftest import MakeContext
from toolbox_tui.sandbox.supervisor import PROGRAMS, SupervisorServer

CHECK = "rollback.services-known"
BEAT = "toolboxai-celery-beat"


# supervisor: tests/sandbox_fixtures.py, one supervisord for the module.
pytestmark = pytest.mark.usefixtures("no_systemd")


async def check(
    make_context: MakeContext, server: SupervisorServer, **config: object
) -> CheckResult:
    ctx: CheckContext = make_context("", supervisor_config=server.config_file, **config)
    return await run_check(ctx, CHECK)


async def test_every_configured_name_resolves(
    make_context: MakeContext, supervisor: SupervisorServer
) -> None:
    result = await check(make_context, supervisor)
    assert result.status is Status.PASS, result.message
    assert result.message == (
        f"All 4 service names resolve under supervisord: {', '.join(PROGRAMS)}."
    )
    assert result.evidence["manager"] == "supervisord"


async def test_a_stopped_service_still_resolves(
    make_context: MakeContext, supervisor: SupervisorServer
) -> None:
    supervisor.stop_program(BEAT)
    try:
        result = await check(make_context, supervisor)
    finally:
        supervisor.start_program(BEAT)
    assert result.status is Status.PASS, result.message
    assert result.evidence[BEAT].startswith("STOPPED")


async def test_an_unknown_name_fails_naming_it(
    make_context: MakeContext, supervisor: SupervisorServer
) -> None:
    result = await check(
        make_context, supervisor, services="toolboxai-backend,toolboxai-api,toolboxai-dashboard"
    )
    assert result.status is Status.FAIL
    assert result.message == (
        "Unknown to supervisord: toolboxai-api (no such process); the rollback's restart "
        "would fail there."
    )
    assert "TOOLBOX_SERVICES" in result.hint
    assert result.evidence["toolboxai-backend"].startswith("RUNNING")


async def test_without_a_service_manager_it_skips_saying_what_to_set(
    make_context: MakeContext,
) -> None:
    result = await run_check(make_context(""), CHECK)
    assert result.status is Status.SKIP
    assert "TOOLBOX_SUPERVISOR_CONFIG" in result.hint
