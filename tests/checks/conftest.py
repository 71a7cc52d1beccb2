"""Fixtures for the environment checks: a fresh fake deployment per test, and ways to run on it.

``deployment`` is a complete, valid production deployment (see ``fake_deployment``);
``check`` runs one check on it through the real runner and ``act`` one action.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_deployment import Deployment, RunAction, RunCheck, collect_action, collect_check

from checks.context import CheckContext
from checks.core import CheckResult
from checks.events import Event


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    return Deployment.create(tmp_path)


@pytest.fixture
def check(deployment: Deployment) -> RunCheck:
    """``await check("env.smtp")``: the result of one check on the deployment as it is now."""

    async def run(check_id: str, ctx: CheckContext | None = None) -> CheckResult:
        result, _ = await collect_check(check_id, ctx or deployment.context())
        return result

    return run


@pytest.fixture
def act(deployment: Deployment) -> RunAction:
    """``await act("env.rotate-fernet-key")``: every event of one confirmed action run."""

    async def run(action_id: str, ctx: CheckContext | None = None, **options: bool) -> list[Event]:
        return await collect_action(action_id, ctx or deployment.context(), **options)

    return run
