"""At 60x20 every screen shows whole things: all six tabs, footer keys never cut or run under
the palette key, the confirmation's title, preview and prompt, the quit dialog, the help."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Input, Static, Tab
from textual.widgets._footer import FooterKey

from checks.core import PANES, Action, Pane, Registry, failed, plan, refused_plan
from tests.conftest import MakeContext
from tests.tui.conftest import settle, wait_for_screen
from toolbox_tui.app import ToolboxApp, make_app
from toolbox_tui.screens.confirm import ConfirmActionScreen
from toolbox_tui.screens.dashboard import DashboardScreen, fit_tab_titles
from toolbox_tui.screens.detail import CheckDetailScreen
from toolbox_tui.screens.help import HelpScreen

NARROW = (60, 20)
SCREEN = Region(0, 0, *NARROW)


def assert_whole(widget: Widget, within: Region = SCREEN) -> None:
    region = widget.region
    assert region.height > 0 and region.width > 0, f"{widget} is not shown"
    assert within.contains_region(region), f"{widget} at {region} is cut by {within}"


def footer_keys(app: ToolboxApp) -> dict[str, FooterKey]:
    """The footer's keys as shown, by key display; each is checked to be whole."""
    footer = app.screen.query_one("Footer")
    keys = [k for k in footer.query(FooterKey) if k.display]
    palette = [k for k in keys if k.has_class("-command-palette")]
    for key in keys:
        assert_whole(key, footer.region)
        if palette and key not in palette:
            assert key.region.right <= palette[0].region.x, f"{key.key_display} runs under ^p"
    return {key.key_display: key for key in keys}


def test_tab_titles_fit_the_width_and_the_active_one_stays_whole() -> None:
    assert fit_tab_titles(PANES, "environment", 80) == {p.id: p.title for p in PANES}
    titles = fit_tab_titles(PANES, "migrations", 60)
    assert titles["migrations"] == "Migrations"
    width = sum(len(p.key) + 1 + len(titles[p.id]) + 2 for p in PANES)
    assert width <= 60
    assert all(t.endswith("…") for pid, t in titles.items() if pid != "migrations")
    assert set(fit_tab_titles(PANES, "health", 30).values()) == {"Health", ""}


@given(width=st.integers(min_value=0, max_value=200), active=st.sampled_from(PANES))
def test_tab_titles_fit_any_width_they_can(width: int, active: Pane) -> None:
    titles = fit_tab_titles(PANES, active.id, width)
    assert titles[active.id] == active.title
    cells = sum(len(p.key) + 1 + len(titles[p.id]) + 2 for p in PANES)
    # Only the keys and the active title are never given up.
    assert cells <= max(width, sum(len(p.key) + 3 for p in PANES) + len(active.title))
    for pane in PANES:
        title = titles[pane.id]
        assert title in ("", pane.title) or (
            title.endswith("…") and pane.title.startswith(title[:-1])
        )


async def test_the_dashboard_at_60x20_shows_all_six_tabs_and_whole_footer_keys(
    app: ToolboxApp,
) -> None:
    async with app.run_test(size=NARROW) as pilot:
        await settle(app, pilot)
        for tab in app.screen.query(Tab):
            assert_whole(tab)
        keys = footer_keys(app)
        # Help and Quit stay; what the tabs already show (1-6) goes first.
        assert {"?", "q", "f", "/"} <= set(keys) and "1-6" not in keys
        await pilot.press("6")
        assert app.screen.query_one("TabbedContent").active == "rollback"  # type: ignore[attr-defined]
        for tab in app.screen.query(Tab):
            assert_whole(tab)


async def test_at_80_columns_the_footer_leaves_nothing_out(app: ToolboxApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        keys = footer_keys(app)
        assert {"⏎", "1-6", "r", "R", "f", "/", "?", "q", "^p"} <= set(keys)


async def test_the_detail_footer_fits_and_has_no_filter_key(app: ToolboxApp) -> None:
    async with app.run_test(size=NARROW) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await wait_for_screen(pilot, CheckDetailScreen)
        await pilot.pause()
        keys = footer_keys(app)
        assert "/" not in keys and {"esc", "f", "?", "q"} <= set(keys)
        # "/" on the detail goes back to the dashboard's filter, ready to type into.
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen) and isinstance(app.focused, Input)


def long_plan_registry(tmp_path: Path, refusal: str | None = None) -> Registry:
    """A dangerous fix whose preview is far taller than a 60x20 screen."""
    registry = Registry()

    @registry.check(id="env.tall", pane="environment", title="Tall plan")
    async def tall(ctx):  # type: ignore[no-untyped-def]
        return failed("needs the tall fix", actions=["env.tall-fix"])

    lines = [f"step {n}: change part {n} of the deployment" for n in range(40)]

    async def make_plan(ctx):  # type: ignore[no-untyped-def]
        return refused_plan(refusal, *lines) if refusal else plan(*lines)

    async def run(ctx, planned):  # type: ignore[no-untyped-def]
        (tmp_path / "tall-done").write_text("ok")
        ctx.changed("wrote tall-done")
        return "done"

    title = "Rewrite every part of the deployment in one long step"
    registry.add_action(Action("env.tall-fix", title, "", True, "environment", make_plan, run))
    return registry


async def until(pilot, condition: Callable[[], bool], what: str) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until ``condition`` holds (the preview is fitted, then labelled, only
    after the dialog has been laid out)."""
    for _ in range(100):
        if condition():
            return
        await pilot.pause()
    raise AssertionError(f"never: {what}")


async def open_confirmation(app: ToolboxApp, pilot) -> ConfirmActionScreen:  # type: ignore[no-untyped-def]
    await settle(app, pilot)
    await pilot.press("f")
    await wait_for_screen(pilot, ConfirmActionScreen)
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ConfirmActionScreen)
    return screen


async def test_the_dangerous_confirmation_fits_60x20_and_its_preview_scrolls(
    make_context: MakeContext, tmp_path: Path
) -> None:
    app = make_app(make_context(), long_plan_registry(tmp_path))
    async with app.run_test(size=NARROW) as pilot:
        screen = await open_confirmation(app, pilot)
        preview = screen.query_one("#preview", VerticalScroll)
        await until(pilot, lambda: "PgDn" in str(preview.border_subtitle), "scroll hint")
        title = screen.query_one("#title", Static)
        assert_whole(title)
        assert title.region.height == 1
        assert str(title.render()).startswith(" DANGEROUS ")
        assert_whole(preview)
        assert preview.region.height >= 5, "the preview must keep the rows that are left"
        assert_whole(screen.query_one("#prompt"))
        assert_whole(screen.query_one("#typed"))
        # The answer box has the focus, and the page keys still scroll the preview.
        await pilot.press("pagedown")
        await pilot.pause()
        assert preview.scroll_y > 0
        await pilot.press(*"env.tall-fix", "enter")
        await settle(app, pilot)
    assert (tmp_path / "tall-done").exists()


async def test_a_short_preview_leaves_no_empty_box(app: ToolboxApp) -> None:
    async with app.run_test(size=NARROW) as pilot:
        screen = await open_confirmation(app, pilot)  # env.create-marker: one line
        preview = screen.query_one("#preview", VerticalScroll)
        await until(pilot, lambda: preview.region.height == 3, "the line and its border only")
        assert not preview.border_subtitle


async def test_a_refusal_is_quoted_in_the_prompt(make_context: MakeContext, tmp_path: Path) -> None:
    refusal = "Refused: no verified backup from the last 60 minutes."
    app = make_app(make_context(), long_plan_registry(tmp_path, refusal))
    async with app.run_test(size=NARROW) as pilot:
        screen = await open_confirmation(app, pilot)
        prompt = screen.query_one("#prompt")
        assert_whole(prompt)
        assert "cannot run now: no verified backup from the last 60 minutes" in str(
            prompt.render()
        ).replace("\n", " ")
        preview = screen.query_one("#preview", VerticalScroll)
        # Scrolled to the end, where the reason is.
        await until(pilot, lambda: preview.scroll_y == preview.max_scroll_y > 0, "at the end")


async def test_a_refusal_naming_a_secret_is_quoted_masked(
    make_context: MakeContext, tmp_path: Path
) -> None:
    secret = "s3cr3t-Value-0123456789-abcdefghij"
    refusal = f"Refused: the vault rejected {secret}."
    app = make_app(make_context(f"VAULT_TOKEN={secret}\n"), long_plan_registry(tmp_path, refusal))
    async with app.run_test(size=NARROW) as pilot:
        screen = await open_confirmation(app, pilot)
        prompt = str(screen.query_one("#prompt").render())
        assert secret not in prompt and secret not in screen.preview
        assert "the vault rejected ••••ghij" in prompt.replace("\n", " ")


async def test_the_help_fits_60_columns_and_scrolls(app: ToolboxApp) -> None:
    async with app.run_test(size=NARROW) as pilot:
        await pilot.press("question_mark")
        await wait_for_screen(pilot, HelpScreen)
        box = app.screen.query_one(VerticalScroll)
        assert_whole(box)
        await pilot.press("pagedown")
        await pilot.pause()
        assert box.scroll_y > 0, "the rest of the help must be reachable by keys"


@pytest.mark.parametrize("size", [NARROW, (80, 24)])
async def test_the_help_scrolls_only_where_it_must(app: ToolboxApp, size: tuple[int, int]) -> None:
    async with app.run_test(size=size) as pilot:
        await pilot.press("question_mark")
        await wait_for_screen(pilot, HelpScreen)
        await pilot.pause()
        box = app.screen.query_one(VerticalScroll)
        assert_whole(box, Region(0, 0, *size))
        assert (box.max_scroll_y == 0) == (size == (80, 24))
