"""The filter says when it matches nothing and takes letters typed fast behind "/"; the summary
bar and the quit dialog show a running fix readably at 60 and 80 columns."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
from rich.style import Style
from rich.text import Text
from textual import events
from textual.widgets import Input, Static

from checks.core import Status
from tests.conftest import MakeContext
from tests.tui.conftest import settle, wait_for_screen
from tests.tui.test_fix_lifecycle import slow_fix_registry, start_the_slow_fix
from tests.tui.test_narrow_screens import NARROW, assert_whole, footer_keys
from toolbox_tui.app import ToolboxApp, make_app
from toolbox_tui.board import RunningAction
from toolbox_tui.screens.confirm import ConfirmActionScreen
from toolbox_tui.screens.quit_while_fixing import QuitWhileFixingScreen
from toolbox_tui.widgets.check_table import CheckTable
from toolbox_tui.widgets.pane_view import PaneView
from toolbox_tui.widgets.summary_bar import Summary, elapsed_text, fix_progress, summary_text


async def test_a_filter_that_matches_nothing_says_so_and_esc_brings_the_rows_back(
    app: ToolboxApp,
) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "esc" not in footer_keys(app)  # nothing to clear yet
        await pilot.press("slash", *"zzz", "enter")
        await pilot.pause()
        view = app.screen.query_one("#view-environment", PaneView)
        note = view.query_one("#no-match", Static)
        assert str(note.render()) == "No check matches 'zzz'; esc clears."
        assert note.region.height > 0 and not view.query_one(CheckTable).display
        assert "esc" in footer_keys(app)
        await pilot.press("escape")
        await pilot.pause()
        assert view.query_one(CheckTable).row_count == 3 and note.region.height == 0
        assert "esc" not in footer_keys(app)


async def test_the_no_match_note_shows_the_text_as_typed(app: ToolboxApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"[b]x")
        await pilot.pause()
        note = app.screen.query_one("#view-environment #no-match", Static)
        assert str(note.render()) == "No check matches '[b]x'; esc clears."


async def test_letters_typed_fast_after_the_slash_go_into_the_filter(app: ToolboxApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        # All at once, as a fast typist or a paste over SSH delivers them: every key is
        # queued before the first one is handled.
        for key in ("slash", "f", "i", "x"):
            app.post_message(events.Key(key, "/" if key == "slash" else key))
        for _ in range(5):
            await pilot.pause()
        box = app.screen.query_one("#filter", Input)
        assert box.value == "fix" and app.focused is box
        assert not isinstance(app.screen, ConfirmActionScreen)


async def test_in_the_filter_a_slash_is_just_a_character(app: ToolboxApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", "a", "slash", "b")
        await pilot.pause()
        assert app.screen.query_one("#filter", Input).value == "a/b"


def test_a_narrow_summary_keeps_read_only_and_the_counts_and_drops_the_name() -> None:
    counts = {Status.FAIL: 12, Status.WARN: 3, Status.SKIP: 5, Status.PASS: 34}
    summary = Summary(counts, running=3, total=60, read_only=True)
    wide = summary_text(summary, 80).plain
    assert wide.startswith("toolbox-tui  READ-ONLY  12 fail 3 warn 5 skip 34 pass")
    narrow = summary_text(summary, 58).plain
    assert narrow.startswith(" READ-ONLY  12 fail") and "toolbox-tui" not in narrow
    assert narrow.endswith("running 3") and len(narrow) <= 58


def test_the_summary_says_how_many_of_its_counts_are_waived() -> None:
    summary = Summary({Status.FAIL: 8, Status.PASS: 78}, total=86, waived=2)
    assert summary_text(summary, 80).plain == "toolbox-tui  8 fail 78 pass; 2 waived"
    assert "waived" not in summary_text(Summary({Status.FAIL: 8}, total=8), 80).plain


def test_without_colour_the_summary_and_progress_carry_no_colour() -> None:
    summary = Summary({Status.FAIL: 1, Status.SKIP: 1}, running=1, total=3, waived=1)
    fixing = RunningAction("db.upgrade", "Upgrade", True, time.monotonic(), "db.x", "line")
    for text in (summary_text(summary, 80, colour=False), fix_progress(fixing, colour=False)):
        for span in text.spans:
            style = Style.parse(span.style) if isinstance(span.style, str) else span.style
            assert style.color is None and style.bgcolor is None, f"{text.plain!r}: {style}"


def test_elapsed_time_stays_readable_for_a_long_fix() -> None:
    assert [elapsed_text(s) for s in (0.4, 59.9, 65, 3599, 3725)] == [
        "0s",
        "59s",
        "1m05s",
        "59m59s",
        "1h02m",
    ]


@pytest.mark.parametrize("width", [60, 80])
async def test_a_running_fix_reads_on_one_line_at_60_and_80_columns(
    make_context: MakeContext, tmp_path: Path, width: int
) -> None:
    release, started = asyncio.Event(), asyncio.Event()
    app = make_app(make_context(), slow_fix_registry(tmp_path, release, started))
    async with app.run_test(size=(width, 20)) as pilot:
        await start_the_slow_fix(app, pilot, started)
        assert app.board.action is not None
        app.board.action.started = time.monotonic() - 65  # as if it had run a while
        app.board.action.last_line = "applying the first half " + "of a long step " * 8
        app.dashboard.refresh_summary()
        await pilot.pause()
        bar = app.screen.query_one("SummaryBar")
        shown = bar.render()
        assert isinstance(shown, Text) and bar.region.height == 1
        assert shown.plain[0] in "|/-\\"
        # 1m05s, or a little more on a slow machine: the clock runs on while it draws.
        assert re.search(r"fixing env\.slow-fix 1m0\ds", shown.plain), shown.plain
        assert shown.no_wrap and shown.overflow == "ellipsis"  # cut with "…", never wrapped
        release.set()
        await settle(app, pilot)


async def test_the_quit_dialog_fits_60x20_and_its_time_runs_on(
    make_context: MakeContext, tmp_path: Path
) -> None:
    release, started = asyncio.Event(), asyncio.Event()
    app = make_app(make_context(), slow_fix_registry(tmp_path, release, started))
    async with app.run_test(size=NARROW) as pilot:
        await start_the_slow_fix(app, pilot, started)
        await pilot.press("q")
        await wait_for_screen(pilot, QuitWhileFixingScreen)
        await pilot.pause()
        for static in app.screen.query(Static):
            assert_whole(static)
        running = app.screen.query_one("#running", Static)
        assert app.board.action is not None
        app.board.action.started = time.monotonic() - 120
        deadline = time.monotonic() + 5
        while "2m0" not in str(running.render()):
            assert time.monotonic() < deadline, "the running time never moved on"
            await pilot.pause(0.05)
        await pilot.press("escape")
        release.set()
        await settle(app, pilot)
