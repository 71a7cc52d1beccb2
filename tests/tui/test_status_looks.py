"""Status words read in 16 colours and without colour: checked on what the terminal is sent,
after Textual's own colour conversions, in the table, the summary bar and the tabs."""

from __future__ import annotations

import pytest
from rich.style import Style

from checks.core import Status
from tests.conftest import MakeContext
from tests.tui.conftest import settle
from tests.tui.rendering import (
    BLACK,
    BLUE,
    CYAN,
    GREEN,
    MAGENTA,
    RED,
    WHITE,
    YELLOW,
    ansi16,
    contrast,
    every_status_registry,
    every_status_runner,
    segments,
    style_of,
)
from toolbox_tui.app import ToolboxApp, make_app
from toolbox_tui.widgets.check_table import CheckTable
from toolbox_tui.widgets.status import BUSY_LOOK, RUNNING_LOOK, STATUS_LOOKS

WORDS = {status: status.value.upper() for status in Status}


def every_status_app(make_context: MakeContext) -> ToolboxApp:
    return make_app(make_context(), every_status_registry(), runner=every_status_runner)


def status_looks(app: ToolboxApp) -> dict[Status, Style]:
    """Each status word's style in the table, with the cursor row out of the way (it is
    drawn in its own colours; see the cursor test)."""
    app.screen.query_one("#table-environment", CheckTable).cursor_type = "none"
    return {status: style_of(app, WORDS[status]) for status in Status}


def hue(style: Style) -> int | None:
    """The hue the word is drawn in: its background when it is a block, else its text."""
    return ansi16(style.bgcolor) if _is_block(style) else ansi16(style.color)


def _is_block(style: Style) -> bool:
    return bool(style.reverse) or ansi16(style.bgcolor) not in (None, BLACK)


async def test_in_16_colours_each_status_keeps_its_own_hue(make_context: MakeContext) -> None:
    app = every_status_app(make_context)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        looks = status_looks(app)
    fail = looks[Status.FAIL]
    # FAIL: a red block with black text, whatever the row's background.
    assert ansi16(fail.bgcolor) == RED and ansi16(fail.color) == BLACK and fail.bold
    # WARN yellow, never red: the defect was Textual's yellow landing on bright red.
    assert hue(looks[Status.WARN]) == YELLOW and looks[Status.WARN].bold
    assert hue(looks[Status.ERROR]) == MAGENTA and looks[Status.ERROR].bold
    assert hue(looks[Status.MANUAL]) == CYAN
    assert hue(looks[Status.PASS]) == GREEN
    # SKIP: light grey (ANSI white), quieter than the bright white text, never black.
    assert hue(looks[Status.SKIP]) == WHITE and not looks[Status.SKIP].bold
    for status in (Status.WARN, Status.ERROR, Status.PASS, Status.SKIP, Status.MANUAL):
        assert not _is_block(looks[status]), f"only FAIL is a block, not {status}"


async def test_the_summary_bar_and_the_tab_use_the_same_hues(make_context: MakeContext) -> None:
    app = every_status_app(make_context)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        fail_count = style_of(app, "1 fail")
        warn_count = style_of(app, "1 warn")
        tab = style_of(app, "Environment")  # its pane's worst status is FAIL
    assert ansi16(fail_count.bgcolor) == RED and ansi16(fail_count.color) == BLACK
    assert ansi16(warn_count.color) == YELLOW
    assert ansi16(tab.bgcolor) == RED and ansi16(tab.color) == BLACK


def test_the_running_and_busy_looks_land_on_blue_and_no_look_is_dim() -> None:
    assert ansi16(Style.parse(RUNNING_LOOK.coloured).color) == BLUE
    busy = Style.parse(BUSY_LOOK.coloured)
    assert ansi16(busy.bgcolor) == BLUE and ansi16(busy.color) == WHITE
    for status, look in STATUS_LOOKS.items():
        assert "dim" not in look.coloured.split(), f"{status}: dim is grey on grey here"
        assert Style.parse(look.plain).color is None, f"{status}: the plain look has a colour"


async def test_the_focused_row_is_white_on_blue_in_16_colours(make_context: MakeContext) -> None:
    app = every_status_app(make_context)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        cursor = style_of(app, "fail check")  # the worst row is on top, under the cursor
    assert ansi16(cursor.bgcolor) == BLUE, "the theme's cursor blue turns cyan in 16 colours"
    assert contrast(cursor) >= 4.5


async def test_without_colour_every_status_word_reads(
    make_context: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # read when the app is built
    app = every_status_app(make_context)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        looks = status_looks(app)
        summary_fail = style_of(app, "1 fail")
        tab = style_of(app, "Environment")
    assert app.no_color
    for status, style in looks.items():
        # Textual draws NO_COLOR in greys: a word must not be grey on a similar grey.
        assert contrast(style) >= 4.5, f"{WORDS[status]} is grey on grey"
    assert looks[Status.FAIL].reverse and looks[Status.FAIL].bold
    for status in (Status.WARN, Status.ERROR, Status.MANUAL):
        assert looks[status].bold
    for style in (summary_fail, tab):
        assert style.reverse and contrast(style) >= 4.5


async def test_no_color_turns_every_colour_grey(
    make_context: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The premise of the plain looks: under NO_COLOR nothing on screen has a hue."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = every_status_app(make_context)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for segment in segments(app):
            for color in (segment.style.color, segment.style.bgcolor):  # type: ignore[union-attr]
                if color is not None and not color.is_default:
                    r, g, b = color.get_truecolor()
                    assert r == g == b, f"{segment.text!r} is drawn in colour"
