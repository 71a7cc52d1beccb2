"""A running fix is visible and protected: the summary bar shows it alive, quitting asks first,
SIGTERM lets it finish; results from an older run never replace newer ones; a plan that cannot
run is shown, not run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path

from checks import audit
from checks.context import CheckContext
from checks.core import Action, CheckResult, CheckSpec, Registry, Status, failed, plan, refused_plan
from checks.events import Event, Finished, Started
from tests.conftest import MakeContext
from tests.tui.conftest import settle, wait_for_screen
from toolbox_tui.app import ToolboxApp, make_app
from toolbox_tui.board import Board
from toolbox_tui.screens.confirm import ConfirmActionScreen
from toolbox_tui.screens.quit_while_fixing import QuitWhileFixingScreen


def slow_fix_registry(tmp_path: Path, release: asyncio.Event, started: asyncio.Event) -> Registry:
    registry = Registry()

    @registry.check(id="env.slow", pane="environment", title="Slow fix")
    async def slow(ctx):  # type: ignore[no-untyped-def]
        return failed("not yet", actions=["env.slow-fix"])

    async def make_plan(ctx):  # type: ignore[no-untyped-def]
        return plan("wait for the release, then write slow-done")

    async def run(ctx, planned):  # type: ignore[no-untyped-def]
        ctx.log("applying the first half")
        started.set()
        await release.wait()
        (tmp_path / "slow-done").write_text("ok")
        ctx.changed("wrote slow-done")
        return "done"

    registry.add_action(Action("env.slow-fix", "Slow fix", "", True, "environment", make_plan, run))
    return registry


async def start_the_slow_fix(app: ToolboxApp, pilot, started: asyncio.Event) -> None:  # type: ignore[no-untyped-def]
    await settle(app, pilot)
    await pilot.press("f")
    await wait_for_screen(pilot, ConfirmActionScreen)
    await pilot.press(*"env.slow-fix", "enter")
    await started.wait()
    await pilot.pause()


async def test_a_running_fix_shows_in_the_summary_bar(
    make_context: MakeContext, tmp_path: Path
) -> None:
    release, started = asyncio.Event(), asyncio.Event()
    app = make_app(make_context(), slow_fix_registry(tmp_path, release, started))
    async with app.run_test(size=(80, 24)) as pilot:
        await start_the_slow_fix(app, pilot, started)
        bar = str(app.screen.query_one("SummaryBar").render())
        assert "fixing env.slow-fix" in bar and "applying the first half" in bar
        release.set()
        await settle(app, pilot)
        assert "fixing" not in str(app.screen.query_one("SummaryBar").render())


async def quit_during_the_slow_fix(
    make_context: MakeContext, tmp_path: Path, answer: str, release_first: bool
) -> ToolboxApp:
    """Start the slow fix, press q, answer the dialog; release the fix when told to."""
    release, started = asyncio.Event(), asyncio.Event()
    app = make_app(make_context(), slow_fix_registry(tmp_path, release, started))
    async with app.run_test(size=(80, 24)) as pilot:
        await start_the_slow_fix(app, pilot, started)
        await pilot.press("q")
        await wait_for_screen(pilot, QuitWhileFixingScreen)
        await pilot.press(answer)
        await pilot.pause()
        if release_first:
            assert app.is_running  # still waiting for the fix
            release.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
    return app


async def test_quit_while_fixing_asks_and_waits_when_told(
    make_context: MakeContext, tmp_path: Path
) -> None:
    app = await quit_during_the_slow_fix(make_context, tmp_path, "w", release_first=True)
    assert (tmp_path / "slow-done").exists()
    assert app.exit_note is not None and "env.slow-fix ended (ok)" in app.exit_note
    assert [r.outcome for r in audit.read(app.ctx.config.audit_path)] == ["started", "ok"]


async def test_quit_while_fixing_can_interrupt_and_the_audit_says_so(
    make_context: MakeContext, tmp_path: Path
) -> None:
    app = await quit_during_the_slow_fix(make_context, tmp_path, "i", release_first=False)
    assert not (tmp_path / "slow-done").exists()
    assert app.exit_note is not None and "env.slow-fix ended (cancelled)" in app.exit_note
    [record] = audit.endings(audit.read(app.ctx.config.audit_path))
    assert record.outcome == "cancelled" and "nothing had been changed" in record.message


async def test_escape_keeps_working_and_the_fix_goes_on(
    make_context: MakeContext, tmp_path: Path
) -> None:
    release, started = asyncio.Event(), asyncio.Event()
    app = make_app(make_context(), slow_fix_registry(tmp_path, release, started))
    async with app.run_test(size=(80, 24)) as pilot:
        await start_the_slow_fix(app, pilot, started)
        await pilot.press("q")
        await wait_for_screen(pilot, QuitWhileFixingScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, QuitWhileFixingScreen) and app.is_running
        release.set()
        await settle(app, pilot)
        assert app.is_running and (tmp_path / "slow-done").exists()


async def test_sigterm_lets_a_running_fix_finish_then_quits(
    make_context: MakeContext, tmp_path: Path
) -> None:
    release, started = asyncio.Event(), asyncio.Event()
    app = make_app(make_context(), slow_fix_registry(tmp_path, release, started))
    async with app.run_test(size=(80, 24)) as pilot:
        await start_the_slow_fix(app, pilot, started)
        app.quit_on_signal("SIGTERM")
        await pilot.pause()
        assert app.is_running
        release.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert (tmp_path / "slow-done").exists()
    assert app.exit_note is not None and "SIGTERM received" in app.exit_note


async def test_sigterm_with_nothing_running_quits_at_once(app) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.quit_on_signal("SIGHUP")
        await pilot.pause()
    assert app.exit_note == "toolbox-tui: SIGHUP received; quit."


async def test_a_plan_that_cannot_run_is_shown_and_enter_does_not_run_it(
    make_context: MakeContext, tmp_path: Path
) -> None:
    registry = Registry()

    @registry.check(id="env.gated", pane="environment", title="Gated")
    async def gated(ctx):  # type: ignore[no-untyped-def]
        return failed("needs a backup", actions=["env.gated-fix"])

    async def make_plan(ctx):  # type: ignore[no-untyped-def]
        return refused_plan("Refused: no verified backup.", "upgrade the thing")

    async def never(ctx, planned):  # type: ignore[no-untyped-def]
        raise AssertionError("must not run")

    registry.add_action(
        Action("env.gated-fix", "Gated fix", "", False, "environment", make_plan, never)
    )
    app = make_app(make_context(), registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f")
        await wait_for_screen(pilot, ConfirmActionScreen)
        assert "no verified backup" in str(app.screen.query_one("#preview-text").render())
        assert "cannot run now" in str(app.screen.query_one("#prompt").render())
        await pilot.press("enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmActionScreen)
    assert audit.read(app.ctx.config.audit_path) == []


def test_the_board_keeps_the_newer_run_s_result() -> None:
    spec = CheckSpec("env.x", "environment", "X", None, 1, (), None)  # type: ignore[arg-type]
    board = Board.for_specs([spec])
    newer = CheckResult("env.x", "environment", "X", Status.PASS, "fixed")
    older = replace(newer, status=Status.FAIL, message="pending migration")
    assert board.start("env.x", generation=1) and board.start("env.x", generation=2)
    assert board.finish(newer, generation=2)
    assert not board.finish(older, generation=1)  # the older run's late FAIL is dropped
    assert board.results["env.x"].status is Status.PASS and "env.x" not in board.running
    assert not board.start("env.x", generation=1)


async def test_a_late_result_from_an_older_run_never_replaces_a_newer_one(
    make_context: MakeContext,
) -> None:
    registry = Registry()

    @registry.check(id="env.x", pane="environment", title="X")
    async def x(ctx):  # type: ignore[no-untyped-def]
        return failed("unused")

    first_run = asyncio.Event()
    release_old = asyncio.Event()
    runs = 0

    async def runner(specs: Sequence[CheckSpec], ctx: CheckContext) -> AsyncIterator[Event]:
        nonlocal runs
        runs += 1
        mine = runs
        yield Started("env.x")
        if mine == 1:
            first_run.set()
            await release_old.wait()  # the old run is slow...
            status, message = Status.FAIL, "stale: pending migration"
        else:
            status, message = Status.PASS, "fresh: at head"
        yield Finished(CheckResult("env.x", "environment", "X", status, message))

    app = make_app(make_context(), registry, runner=runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_run.wait()
        app.run_checks_now(registry.select(), group="pane:environment")  # a newer run
        for _ in range(50):
            if "env.x" in app.board.results:
                break
            await pilot.pause()
        assert app.board.results["env.x"].message == "fresh: at head"
        release_old.set()  # ...and reports after the newer one
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.board.results["env.x"].message == "fresh: at head"
