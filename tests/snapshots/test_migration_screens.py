"""Snapshots of the Migrations pane on the real sandbox: pending migrations, and the live log
of a backup and an upgrade run from the dashboard.

The servers' ports, versions and timings vary from run to run, so the numbers are
normalised before anything reaches the screen; everything else is what a person sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import OptionList

from checks import catalog
from checks.context import CheckContext
from checks.redact import Redactor
from checks.settings import DeploymentEnv, ToolboxConfig
from tests.conftest import FIXED_NOW
from tests.snapshots.steady import SteadyApp, steady_runner
from tests.tui.conftest import settle, wait_for_screen
from toolbox_tui.app import ToolboxApp
from toolbox_tui.sandbox.stack import Sandbox
from toolbox_tui.screens.confirm import ConfirmActionScreen
from toolbox_tui.screens.pick_action import PickActionScreen


@pytest.fixture
def sandbox_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ToolboxApp]:
    with Sandbox(tmp_path, ["pending-migration"], now=FIXED_NOW, seed=2026):
        monkeypatch.chdir(tmp_path)
        config = ToolboxConfig(
            env_file=Path(".env"),
            app_dir=Path("."),
            app_venv=Path("venv"),
            alembic_ini=Path("alembic.ini"),
            backup_dir=Path("backups"),
        )
        env = DeploymentEnv.load(config.env_file)
        ctx = CheckContext(env, config, Redactor(env.secret_values()), clock=lambda: FIXED_NOW)
        yield SteadyApp(ctx, catalog.load(), runner=steady_runner)


async def migrations_pane(pilot) -> None:  # type: ignore[no-untyped-def]
    await settle(pilot.app, pilot)
    await pilot.press("2")


async def pick(pilot, action_id: str) -> None:  # type: ignore[no-untyped-def]
    """Choose ``action_id`` in the fix picker with the arrow keys, wherever it is listed."""
    await wait_for_screen(pilot, PickActionScreen)
    options = pilot.app.screen.query_one(OptionList)
    ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
    await pilot.press(*["down"] * ids.index(action_id), "enter")


def test_pending_migrations(snap_compare, sandbox_app: ToolboxApp) -> None:  # type: ignore[no-untyped-def]
    """The Migrations pane with the release's migration pending: "Database at the scripts'
    head" FAIL on top naming 0002_roblox_email_queue, the tables check skipped because of it,
    reachability, one head, reversibility and the DDL review passing."""
    assert snap_compare(sandbox_app, terminal_size=(80, 24), run_before=migrations_pane)


def test_upgrade_live_log(snap_compare, sandbox_app: ToolboxApp) -> None:  # type: ignore[no-untyped-def]
    """The detail of the revision check after a backup and an upgrade run from it: the check
    now PASSes at head, and the log shows pg_dump's line, the typed-confirmed upgrade's
    preview SQL and alembic's "Running upgrade 0001_baseline -> 0002_roblox_email_queue"."""

    async def backup_then_upgrade(pilot) -> None:  # type: ignore[no-untyped-def]
        await migrations_pane(pilot)
        await pilot.press("enter", "f")
        await pick(pilot, "db.backup")
        await wait_for_screen(pilot, ConfirmActionScreen)
        await pilot.press("enter")
        await settle(pilot.app, pilot)
        await pilot.press("f")
        await pick(pilot, "db.upgrade")
        await wait_for_screen(pilot, ConfirmActionScreen)
        await pilot.press(*"db.upgrade", "enter")
        await settle(pilot.app, pilot)
        assert pilot.app.board.results["db.revision-state"].status.value == "pass"
        # Toasts expire on a timer: whether the backup's was still up would depend on how
        # long the upgrade took. The log below says the same.
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(sandbox_app, terminal_size=(80, 24), run_before=backup_then_upgrade)
