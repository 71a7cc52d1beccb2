"""Fixing from the dashboard: preview, typed confirmation, read-only, audit, re-check."""

from __future__ import annotations

import asyncio
from pathlib import Path

from checks import audit
from checks.core import Action, Registry, Status, failed, plan
from tests.conftest import MakeContext
from tests.tui.conftest import build_registry, marker_action, settle, wait_for_screen
from toolbox_tui.app import make_app
from toolbox_tui.screens.confirm import ConfirmActionScreen
from toolbox_tui.screens.dashboard import DashboardScreen
from toolbox_tui.screens.pick_action import PickActionScreen


async def test_safe_fix_previews_runs_and_rechecks(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f")  # worst first: env.marker (FAIL, a safe fix) is on top
        await pilot.pause()
        assert isinstance(app.screen, ConfirmActionScreen)
        preview = str(app.screen.query_one("#preview-text").render())
        assert "create marker in the app directory" in preview
        await pilot.press("enter")
        await settle(app, pilot)
        assert (tmp_path / "marker").exists()
        assert app.board.results["env.marker"].status is Status.PASS
        assert any("creating marker" in line for line in app.board.logs["env.marker"])
        # The Enter that confirmed must not also open a detail screen underneath.
        assert isinstance(app.screen, DashboardScreen)
        [record] = audit.endings(audit.read(app.ctx.config.audit_path))
        assert (record.action, record.outcome) == ("env.create-marker", "ok")


async def test_dangerous_fix_needs_the_typed_id(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "f")  # env.risky: dangerous fix
        await pilot.pause()
        assert isinstance(app.screen, ConfirmActionScreen)
        await pilot.press(*"yes", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmActionScreen), "a plain 'yes' must not confirm"
        assert "That is not it" in str(app.screen.query_one("#prompt").render())
        assert not (tmp_path / "risky").exists()
        await pilot.press(*"env.create-risky", "enter")
        await settle(app, pilot)
        assert (tmp_path / "risky").exists()
        assert app.board.results["env.risky"].status is Status.PASS


async def test_escape_cancels_and_changes_nothing(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "f")
        await pilot.pause()
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmActionScreen)
        assert not (tmp_path / "risky").exists()
        assert audit.read(app.ctx.config.audit_path) == []


async def test_read_only_disables_fixes_and_says_so(
    make_context: MakeContext, tmp_path: Path
) -> None:
    app = make_app(make_context(read_only=True), build_registry(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "READ-ONLY" in str(app.screen.query_one("SummaryBar").render())
        await pilot.press("f")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmActionScreen)
        assert any("Read-only" in n.message for n in app._notifications)
        assert not (tmp_path / "marker").exists()


async def test_check_without_fix_explains(app) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "down", "f")  # env.good (PASS, last) has no action
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmActionScreen)
        assert any("no automatic fix" in n.message for n in app._notifications)


async def test_fix_from_the_detail_screen(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter", "f")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmActionScreen)
        await pilot.press("enter")
        await settle(app, pilot)
        assert (tmp_path / "marker").exists()
        log = "\n".join(app.screen.query_one("#log").lines)  # type: ignore[attr-defined]
        assert "creating marker" in log


async def test_several_fixes_ask_which_one(make_context: MakeContext, tmp_path: Path) -> None:
    registry = Registry()

    @registry.check(id="env.either", pane="environment", title="Either marker")
    async def either(ctx):  # type: ignore[no-untyped-def]
        return failed("neither marker", actions=["env.make-a", "env.make-b"])

    registry.add_action(marker_action(tmp_path, "env.make-a", "a", dangerous=False))
    registry.add_action(marker_action(tmp_path, "env.make-b", "b", dangerous=False))
    app = make_app(make_context(), registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, PickActionScreen)
        await pilot.press("down", "enter")
        await wait_for_screen(pilot, ConfirmActionScreen)
        assert isinstance(app.screen, ConfirmActionScreen)
        assert app.screen.action_spec.id == "env.make-b"
        await pilot.press("enter")
        await settle(app, pilot)
        assert (tmp_path / "b").exists() and not (tmp_path / "a").exists()


async def test_a_second_fix_waits_for_the_first(make_context: MakeContext, tmp_path: Path) -> None:
    release = asyncio.Event()
    registry = Registry()

    @registry.check(id="env.slow", pane="environment", title="Slow fix")
    async def slow(ctx):  # type: ignore[no-untyped-def]
        return failed("not yet", actions=["env.slow-fix"])

    async def make_plan(ctx):  # type: ignore[no-untyped-def]
        return plan("wait for the release")

    async def run(ctx, planned):  # type: ignore[no-untyped-def]
        await release.wait()
        (tmp_path / "slow-done").write_text("ok")
        return "done"

    registry.add_action(
        Action("env.slow-fix", "Slow fix", "", False, "environment", make_plan, run)
    )
    app = make_app(make_context(), registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f")
        await wait_for_screen(pilot, ConfirmActionScreen)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("f")  # while the first is still running
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmActionScreen)
        assert any("still running" in n.message for n in app._notifications)
        release.set()
        await settle(app, pilot)
        assert (tmp_path / "slow-done").exists()
    [record] = audit.endings(audit.read(app.ctx.config.audit_path))
    assert record.outcome == "ok"  # not cut off
