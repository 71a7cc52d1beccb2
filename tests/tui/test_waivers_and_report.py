"""The dashboard and waivers: a waived row shows, greyed and marked "waived", its detail says
who waived it; ``p`` writes the release report to APP_DIR and says where."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from checks.core import Status
from tests.conftest import MakeContext
from tests.tui.conftest import build_registry, settle
from tests.tui.rendering import segments
from toolbox_tui.app import ToolboxApp, make_app
from toolbox_tui.screens.detail import CheckDetailScreen
from toolbox_tui.widgets.check_table import CheckTable
from toolbox_tui.widgets.status import QUIET_LOOK, STATUS_LOOKS
from toolbox_tui.widgets.summary_bar import SummaryBar, summary_text

RED_BLOCK = STATUS_LOOKS[Status.FAIL].coloured.split(" on ")[1]  # "#ff5555"
WAIVER = """\
[[waiver]]
check = "env.marker"
reason = "The marker comes with the next release"
by = "alice"
expires = 2026-12-31
"""


def waived_app(make_context: MakeContext, tmp_path: Path, **config: object) -> ToolboxApp:
    (tmp_path / "toolbox-waivers.toml").write_text(WAIVER)
    return make_app(make_context("APP_ENV=production\n", **config), build_registry(tmp_path))


async def test_a_waived_row_is_greyed_and_marked_never_hidden(
    make_context: MakeContext, tmp_path: Path
) -> None:
    app = waived_app(make_context, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#table-environment", CheckTable)
        table.cursor_type = "none"  # the cursor row is drawn in its own colours
        await pilot.pause()
        assert table.row_count == 3
        waived = table.get_row("env.marker")
        assert waived[0].plain == "FAIL"  # the status stays
        assert waived[-1].plain.startswith("waived · marker is missing")
        assert not table.get_row("env.risky")[-1].plain.startswith("waived")
        # On the screen: one FAIL in its alarm block, the waived one quiet grey.
        fails = [s.style for s in segments(app) if s.text.strip() == "FAIL"]
        assert len(fails) == 2
        alarm = [f for f in fails if f.bgcolor is not None and f.bgcolor.name == RED_BLOCK]
        quiet = [f for f in fails if f.color is not None and f.color.name == QUIET_LOOK.coloured]
        assert len(alarm) == 1 and len(quiet) == 1 and not quiet[0].reverse
        # The bar on top counts both failures, and says one of them is accepted.
        bar = app.screen.query_one(SummaryBar)
        assert summary_text(bar.summary, 80).plain.startswith("toolbox-tui  2 fail")
        assert "; 1 waived" in "".join(s.text for s in segments(app))


async def test_without_colour_the_word_waived_still_tells_it(
    make_context: MakeContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # read when the app is built
    app = waived_app(make_context, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#table-environment", CheckTable)
        table.cursor_type = "none"
        await pilot.pause()
        assert table.get_row("env.marker")[-1].plain.startswith("waived · ")
        # The failure that counts is the reverse block; the waived one is plain text.
        fails = [s.style for s in segments(app) if s.text.strip() == "FAIL"]
        assert sorted(bool(style.reverse) for style in fails) == [False, True]


async def test_the_detail_says_who_waived_it_until_when(
    make_context: MakeContext, tmp_path: Path
) -> None:
    app = waived_app(make_context, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")  # the top row: env.marker, a failure, waived
        assert isinstance(app.screen, CheckDetailScreen) and app.screen.check_id == "env.marker"
        body = str(app.screen.query_one("#body").render())
        assert "Waived by alice until 2026-12-31: The marker comes with the next release" in body


async def test_p_writes_the_report_to_the_app_dir_and_says_where(
    make_context: MakeContext, tmp_path: Path
) -> None:
    app = waived_app(make_context, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        # The context's clock is fixed: 2026-11-28 12:00 UTC.
        path = tmp_path / "toolbox-report-20261128T120000Z.md"
        assert any(f"Report written to {path}" in str(n.message) for n in app._notifications)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "| FAIL (waived) | `env.marker` |" in text
    assert "| WARN | `health.api` | p95 latency 240 ms |" in text


async def test_p_says_so_when_something_unexpected_stops_the_report(
    make_context: MakeContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolbox_tui import release_report

    def broken(*args: object) -> str:
        raise RuntimeError("a bug in the report")

    monkeypatch.setattr(release_report, "to_markdown", broken)
    app = waived_app(make_context, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        said = [str(n.message) for n in app._notifications]
        assert "No report written: RuntimeError: a bug in the report" in said
    assert list(tmp_path.glob("toolbox-report-*")) == []


async def test_p_writes_nothing_in_read_only_mode(
    make_context: MakeContext, tmp_path: Path
) -> None:
    app = waived_app(make_context, tmp_path, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        assert any("writes nothing" in str(n.message) for n in app._notifications)
    assert list(tmp_path.glob("toolbox-report-*")) == []
