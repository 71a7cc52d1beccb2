"""A small registry of real checks and actions over files in tmp_path, for driving the UI.

The checks look at marker files, and the actions create them, so a fix visibly turns a
check from FAIL to PASS through the same engine the built-in checks use.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from checks.core import Action, Registry, failed, passed, plan, warned
from tests.conftest import MakeContext
from toolbox_tui.app import ToolboxApp, make_app


def marker_action(
    tmp_path: Path, action_id: str, marker: str, dangerous: bool, pane: str = "environment"
) -> Action:
    async def make_plan(ctx):  # type: ignore[no-untyped-def]
        return plan(f"create {marker} in the app directory")

    async def run(ctx, planned):  # type: ignore[no-untyped-def]
        ctx.log(f"creating {marker}")
        (tmp_path / marker).write_text("ok")
        ctx.changed(f"created {marker}")
        return f"{marker} created"

    title = f"Create {marker}"
    return Action(action_id, title, "", dangerous, pane, make_plan, run)


def marker_check(
    registry: Registry, tmp_path: Path, check_id: str, marker: str, action: str
) -> None:
    @registry.check(id=check_id, pane="environment", title=f"{marker} present")
    async def check(ctx):  # type: ignore[no-untyped-def]
        if (tmp_path / marker).exists():
            return passed(f"{marker} is there")
        return failed(f"{marker} is missing", hint="Press f to create it.", actions=[action])


def build_registry(
    tmp_path: Path, hang: asyncio.Event | None = None, cancelled: asyncio.Event | None = None
) -> Registry:
    registry = Registry()

    @registry.check(id="env.good", pane="environment", title="Good check")
    async def good(ctx):  # type: ignore[no-untyped-def]
        ctx.log("looked at the good thing")
        return passed("All fine")

    marker_check(registry, tmp_path, "env.marker", "marker", "env.create-marker")
    marker_check(registry, tmp_path, "env.risky", "risky", "env.create-risky")
    registry.add_action(marker_action(tmp_path, "env.create-marker", "marker", dangerous=False))
    registry.add_action(marker_action(tmp_path, "env.create-risky", "risky", dangerous=True))

    @registry.check(id="health.api", pane="health", title="API health")
    async def api(ctx):  # type: ignore[no-untyped-def]
        return warned("p95 latency 240 ms", hint="Look at the slow endpoints.")

    if hang is not None:

        @registry.check(id="health.hung", pane="health", title="Hung endpoint", timeout=3600)
        async def hung(ctx):  # type: ignore[no-untyped-def]
            try:
                await hang.wait()
            except asyncio.CancelledError:
                if cancelled is not None:
                    cancelled.set()
                raise
            return passed("answered at last")

    return registry


@pytest.fixture
def app(make_context: MakeContext, tmp_path: Path) -> ToolboxApp:
    return make_app(make_context("APP_ENV=production\n"), build_registry(tmp_path))


async def settle(app: ToolboxApp, pilot) -> None:  # type: ignore[no-untyped-def]
    """Wait for every worker (checks, actions) and the messages they posted.

    Pausing first lets the dashboard's Ready message start the first run, so there is
    something to wait for; a finished run can start another (a fix re-checks its pane).
    """
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause()


async def wait_for_screen(pilot, screen_type: type) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until ``screen_type`` is on top (a fix builds its plan in a worker
    before it shows its dialog); AssertionError if it never comes."""
    for _ in range(100):
        if isinstance(pilot.app.screen, screen_type):
            return
        await pilot.pause()
    raise AssertionError(f"{screen_type.__name__} never showed")
