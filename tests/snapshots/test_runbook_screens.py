"""Snapshots of the Rollback pane and of the rollback runbook part-way, against the sandbox
(its app directory a git checkout of v1.4.0, with v1.3.0 before it).

One sandbox serves the module. The pane comes first: the runbook then changes the
deployment (it backs the database up and downgrades it), and the tests run in file order.
Numbers that vary from run to run (ports, timings, paths) are normalised by
:mod:`tests.snapshots.steady`, on the runbook's screen too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from checks import catalog
from checks.context import CheckContext
from checks.runbooks.model import StepState
from checks.settings import ToolboxConfig
from tests.conftest import FIXED_NOW
from tests.snapshots.steady import SteadyApp, steady, steady_runner
from tests.tui.conftest import settle, wait_for_screen
from toolbox_tui.sandbox.stack import Sandbox
from toolbox_tui.screens.confirm import ConfirmActionScreen
from toolbox_tui.screens.runbook import RunbookScreen
from toolbox_tui.screens.runbook_opening import open_runbook


class SteadyRunbookScreen(RunbookScreen):
    def displayed(self, text: str) -> str:
        return steady(text)


class RunbookApp(SteadyApp):
    """The dashboard, its checks started by the test, its runbooks normalised like its log."""

    def action_runbook(self, kind: str) -> None:
        open_runbook(self, kind, SteadyRunbookScreen)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    app_dir = tmp_path_factory.mktemp("releases")
    with Sandbox(app_dir, now=FIXED_NOW, seed=2026) as sandbox, pytest.MonkeyPatch.context() as mp:
        mp.chdir(app_dir)
        config = ToolboxConfig(**sandbox.config_overrides())  # type: ignore[arg-type]
        yield config


def app_on(config: ToolboxConfig) -> RunbookApp:
    ctx = CheckContext.create(config, clock=lambda: FIXED_NOW)
    # Only the pane on screen is checked: the whole catalogue would take several seconds.
    return RunbookApp(ctx, catalog.load(), runner=steady_runner, autorun=False)


def test_rollback_pane(snap_compare, sandbox: ToolboxConfig) -> None:  # type: ignore[no-untyped-def]
    """The Rollback pane on the sandbox at v1.4.0, its footer offering D (release) and B
    (rollback)."""
    app = app_on(sandbox)

    async def rollback_pane(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("6")
        app.run_checks_now(app.registry.select(panes=["rollback"]))
        await settle(app, pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=rollback_pane)


def test_rollback_runbook_part_way(snap_compare, sandbox: ToolboxConfig) -> None:  # type: ignore[no-untyped-def]
    """The rollback v1.4.0 -> v1.3.0 after two steps: the database backed up and downgraded
    (typed confirmation) to 0001_baseline; "Check out v1.3.0" is next, its preview naming the
    commit range and the changed files; the log shows the downgrade's lines."""
    app = app_on(sandbox)

    async def two_steps(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("6", "B")
        await wait_for_screen(pilot, RunbookScreen)
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press("n")
        await wait_for_screen(pilot, ConfirmActionScreen)
        await pilot.press(*"db.downgrade", "enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RunbookScreen)
        states = [s.state for s in screen.runbook.statuses]
        assert states[:2] == [StepState.DONE, StepState.DONE], screen.runbook.statuses
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=two_steps)
