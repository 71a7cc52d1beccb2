"""Driving the dashboard with keys only, as over SSH: panes, re-runs, detail, filter, help."""

from __future__ import annotations

import asyncio
import gc
import threading
from functools import partial
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, TabbedContent
from textual.widgets._footer import FooterKey

from checks.core import Registry, Status
from tests.conftest import MakeContext
from tests.tui.conftest import build_registry, settle
from toolbox_tui import app as app_module
from toolbox_tui import cli, long_lived
from toolbox_tui.app import make_app
from toolbox_tui.screens.dashboard import DashboardScreen
from toolbox_tui.screens.detail import CheckDetailScreen
from toolbox_tui.screens.help import HelpScreen
from toolbox_tui.widgets.check_table import CheckTable
from toolbox_tui.widgets.fitting_footer import FittingFooter
from toolbox_tui.widgets.pane_view import PaneView


async def test_results_fill_the_tables_and_summary(app) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.board.results["env.good"].status is Status.PASS
        assert app.board.results["env.marker"].status is Status.FAIL
        table = app.screen.query_one("#table-environment", DataTable)
        assert table.row_count == 3
        summary = str(app.screen.query_one("SummaryBar").render())
        assert "2 fail" in summary and "1 warn" in summary and "1 pass" in summary


async def test_a_burst_of_results_draws_each_pane_once(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Dozens of results arrive together at the start of a run: each pane they touch is
    drawn once after them, not once per result, and shows the last of them."""
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        drawn: list[str] = []
        show_rows = PaneView.show_rows

        def counted(view: PaneView, rows, needle: str = "") -> None:  # type: ignore[no-untyped-def]
            drawn.append(view.id or "")
            show_rows(view, rows, needle)

        monkeypatch.setattr(PaneView, "show_rows", counted)
        for _ in range(20):
            app.dashboard.refresh_check("env.good")
            app.dashboard.refresh_check("health.api")
        await pilot.pause()
        assert sorted(drawn) == ["view-environment", "view-health"]
        assert app.screen.query_one("#table-environment", DataTable).row_count == 3


async def test_number_keys_switch_panes(app) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for key, pane in (("4", "health"), ("6", "rollback"), ("1", "environment")):
            await pilot.press(key)
            assert app.screen.query_one(TabbedContent).active == pane


async def test_the_footer_is_mounted_after_the_first_frame_and_shows_its_keys(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    footers_at_mount: list[int] = []
    mounted = DashboardScreen.on_mount

    def on_mount(screen: DashboardScreen) -> None:
        footers_at_mount.append(len(screen.query(FittingFooter)))
        mounted(screen)

    monkeypatch.setattr(DashboardScreen, "on_mount", on_mount)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert footers_at_mount == [0]
        keys = app.screen.query_one(FittingFooter).query(FooterKey)
        assert {"Re-run", "Fix", "Quit"} <= {key.description for key in keys if key.display}


async def test_a_hidden_pane_is_laid_out_at_the_shown_width_so_its_key_lays_out_nothing(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        tables = list(app.screen.query(CheckTable))
        shown = app.screen.query_one("#table-environment", CheckTable)
        assert len(tables) > 1 and shown.size.width
        assert {table._widths() for table in tables} == {shown._widths()}
        width = shown.size.width
        cleared: list[str | None] = []

        def clear(table: CheckTable, columns: bool = False) -> CheckTable:
            cleared.append(table.id)
            return table

        monkeypatch.setattr(CheckTable, "clear", clear)
        await pilot.press("4")
        await pilot.pause()
        assert app.screen.query_one("#table-health", CheckTable).size.width == width
        assert cleared == []


async def test_the_first_run_collects_and_freezes_start_up_objects_once(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    monkeypatch.setattr(long_lived, "_frozen", False)
    monkeypatch.setattr(long_lived.gc, "collect", partial(calls.append, "collect"))
    monkeypatch.setattr(long_lived.gc, "freeze", partial(calls.append, "freeze"))
    monkeypatch.setattr(long_lived.gc, "unfreeze", partial(calls.append, "unfreeze"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert calls == ["unfreeze", "collect", "freeze"]
        await pilot.press("R")  # every check again: nothing more is frozen
        await settle(app, pilot)
        assert calls == ["unfreeze", "collect", "freeze"]


def test_start_up_objects_are_frozen_before_the_dashboard_runs(
    monkeypatch: pytest.MonkeyPatch, make_context: MakeContext
) -> None:
    """So that no full collection walks them on the way to the first frame; the collector,
    paused by the command's entry point, is back on when the app runs."""
    calls: list[object] = []

    class Dashboard:
        load_error = None
        return_code = 0
        exit_note = None

        def run(self) -> None:
            calls.append(("run", gc.isenabled()))

    monkeypatch.setattr(cli, "_require_terminal", lambda: None)
    monkeypatch.setattr(app_module, "make_app", lambda *args, **kwargs: Dashboard())
    monkeypatch.setattr(long_lived.gc, "freeze", partial(calls.append, "freeze"))

    gc.disable()  # as toolbox_tui.launch leaves it
    assert cli._dashboard(make_context().config, Registry()) == (cli.EXIT_OK, None)
    assert calls == ["freeze", ("run", True)]


async def test_the_checks_are_registered_after_the_first_frame_off_the_ui_thread(
    make_context: MakeContext, tmp_path: Path
) -> None:
    registry = build_registry(tmp_path)
    seen: list[tuple[str, int, int]] = []

    def register() -> Registry:
        table = app.screen.query_one("#table-environment", DataTable)
        seen.append((threading.current_thread().name, len(table.columns), table.row_count))
        return registry

    app = make_app(make_context("APP_ENV=production\n"), register)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        # Drawn first: the table with its header and no rows yet, on the UI thread.
        ((thread, columns, rows),) = seen
        assert thread != threading.main_thread().name
        assert (columns, rows) == (4, 0)
        assert app.screen.query_one("#table-environment", DataTable).row_count == 3
        assert app.board.results["env.good"].status is Status.PASS
        await pilot.press("2")  # this registry has no migrations checks: the pane says so
        await pilot.pause()
        assert_says_it_has_no_checks(app, "migrations", "Migrations")


async def test_checks_that_cannot_be_registered_close_the_dashboard_saying_why(
    make_context: MakeContext,
) -> None:
    def register() -> Registry:
        raise ImportError("checks.environment is broken")

    app = make_app(make_context("APP_ENV=production\n"), register)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
    assert isinstance(app.load_error, ImportError)
    assert app.return_code == 2


@pytest.mark.parametrize("registered", ["already", "after the first frame"])
async def test_a_pane_key_pressed_before_the_first_frame_is_not_lost(
    make_context: MakeContext, tmp_path: Path, registered: str
) -> None:
    """Keys typed while the dashboard starts (over a slow link they arrive together with the
    command) reach it before the hidden panes are mounted: the pane asked for still shows,
    whether the checks were registered before or (as `toolbox-tui` does) after the frame."""
    registry = build_registry(tmp_path)
    app = make_app(
        make_context("APP_ENV=production\n"),
        registry if registered == "already" else lambda: registry,
    )
    seen: list[str] = []

    async def early_keys(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("4")  # the pilot starts before the dashboard has mounted
        await settle(app, pilot)
        seen.append(app.screen.query_one(TabbedContent).active)
        seen.append(str(app.screen.focused.id if app.screen.focused else None))
        app.exit()

    await app.run_async(headless=True, size=(80, 24), auto_pilot=early_keys)
    assert seen == ["health", "table-health"]


async def test_empty_pane_says_so(app) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(app, pilot)
        assert_says_it_has_no_checks(app, "migrations", "Migrations")


def assert_says_it_has_no_checks(app, pane: str, title: str) -> None:  # type: ignore[no-untyped-def]
    """The pane on screen shows its note, and not its (empty) table."""
    view = app.screen.query_one(f"#view-{pane}")
    note = view.query_one(".empty")
    assert f"No checks in {title} yet" in str(note.render())
    assert note.region.width and not view.query_one(CheckTable).region.width


async def test_enter_opens_detail_with_hint_and_log(app) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "down", "enter")  # env.good passed: the last row
        assert isinstance(app.screen, CheckDetailScreen)
        assert app.screen.check_id == "env.good"
        log = app.screen.query_one("#log")
        assert "looked at the good thing" in "\n".join(log.lines)  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert not isinstance(app.screen, CheckDetailScreen)


async def test_r_reruns_the_selected_check_only(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        (tmp_path / "marker").write_text("made by hand")
        (tmp_path / "risky").write_text("made by hand")
        await pilot.press("r")  # env.marker: the first row, worst first
        await settle(app, pilot)
        assert app.board.results["env.marker"].status is Status.PASS
        assert app.board.results["env.risky"].status is Status.FAIL  # not re-run
        await pilot.press("R")
        await settle(app, pilot)
        assert app.board.results["env.risky"].status is Status.PASS


async def test_filter_narrows_rows_and_escape_clears(app) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash")
        box = app.focused
        assert isinstance(box, Input)
        await pilot.pause()
        footer = app.screen.query_one("Footer")
        assert box.display and box.region.height == 1
        assert box.region.y < footer.region.y, "the filter must be visible above the footer"
        await pilot.press(*"risky")
        table = app.screen.query_one("#table-environment", DataTable)
        assert table.row_count == 1
        await pilot.press("enter", "escape")
        assert table.row_count == 3


async def test_help_opens_and_closes(app) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_lists_every_binding_as_a_command(app) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)):
        titles = {cmd.title for cmd in app.get_system_commands(app.screen)}
        for expected in (
            "pane: show Environment",
            "pane: show Rollback",
            "checks: re-run all",
            "checks: re-run selected",
            "checks: fix selected",
            "checks: filter",
            "app: help",
            "fix: Create risky",
        ):
            assert expected in titles


async def test_filter_survives_a_pane_switch(app) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("4", "1", "slash", *"risky")
        await pilot.pause()
        assert isinstance(app.focused, Input) and app.focused.value == "risky"
        assert not app.board.running  # the "r" in "risky" was typed, not a re-run


async def test_ui_stays_responsive_while_a_check_hangs(
    make_context: MakeContext, tmp_path: Path
) -> None:
    hang, cancelled = asyncio.Event(), asyncio.Event()
    app = make_app(make_context(), build_registry(tmp_path, hang=hang, cancelled=cancelled))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("4", "3", "1")
        assert app.screen.query_one(TabbedContent).active == "environment"
        assert "health.hung" in app.board.running
        assert app.board.results["env.good"].status is Status.PASS
        await pilot.press("q")
    assert not hang.is_set()
    assert "health.hung" not in app.board.results  # it never finished...
    assert cancelled.is_set()  # ...because quitting cancelled it


async def test_rows_are_worst_first(app) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#table-environment", DataTable)
        keys = [row.key.value for row in table.ordered_rows]
        assert keys == ["env.marker", "env.risky", "env.good"]


async def test_a_result_that_keeps_the_order_updates_its_row_in_place(app) -> None:  # type: ignore[no-untyped-def]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#table-environment", DataTable)
        rebuilt = []
        real_clear = table.clear
        table.clear = lambda *args, **kwargs: rebuilt.append(1) or real_clear(*args, **kwargs)
        await pilot.press("R")  # every check again: same statuses, same order
        await settle(app, pilot)
        assert rebuilt == [], "the table was laid out again for results that moved nothing"
        assert table.row_count == 3
