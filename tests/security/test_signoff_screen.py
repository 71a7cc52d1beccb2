"""Signing off from the dashboard with the keyboard alone, at 80x24: s on a manual check opens
the dialog, a note and Enter record it in the audit log and the check turns PASS; an empty note
is refused in place, Esc records nothing, and s elsewhere says why it does nothing."""

from __future__ import annotations

from checks import audit
from checks.core import Registry, Status, passed, registry
from tests.conftest import MakeContext
from tests.tui.conftest import settle, wait_for_screen
from toolbox_tui.app import ToolboxApp, make_app
from toolbox_tui.screens.dashboard import DashboardScreen
from toolbox_tui.screens.signoff import SignoffScreen

MANUAL = "sec.xss"


def security_registry() -> Registry:
    """The real manual check, and an automatic one beside it in the Security pane."""
    fresh = Registry()
    fresh.add_check(registry.checks[MANUAL])

    @fresh.check(id="sec.automatic", pane="security", title="Decides by itself")
    async def automatic(ctx):  # type: ignore[no-untyped-def]
        return passed("fine")

    return fresh


def app_for(make_context: MakeContext, **config: object) -> ToolboxApp:
    return make_app(make_context("APP_ENV=production\n", **config), security_registry())


async def open_dialog(app: ToolboxApp, pilot, status: Status = Status.MANUAL) -> None:  # type: ignore[no-untyped-def]
    await settle(app, pilot)
    await pilot.press("5")  # the Security pane; worst first, so the manual check is on top
    await pilot.pause()
    assert app.selected_check() == MANUAL
    assert app.board.results[MANUAL].status is status
    await pilot.press("s")
    await wait_for_screen(pilot, SignoffScreen)


def prompt(app: ToolboxApp) -> str:
    return str(app.screen.query_one("#prompt").render())


async def test_sign_off_with_the_keyboard(make_context: MakeContext) -> None:
    app = app_for(make_context)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dialog(app, pilot)
        # Everything of the dialog is on the 80x24 screen, the note box has the focus.
        for widget_id in ("#title", "#covers", "#who", "#note", "#prompt"):
            region = app.screen.query_one(widget_id).region
            assert region.height >= 1 and region.bottom <= 24 and region.right <= 80, widget_id
        assert app.screen.focused is app.screen.query_one("#note")
        await pilot.press(*"Templates", "space", *"reviewed,", "space", *"SEC-12", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        result = app.board.results[MANUAL]
        assert result.status is Status.PASS, result.message
        assert result.message.startswith("Signed off by ")
        assert "Templates reviewed, SEC-12 (until " in result.message
        [record] = audit.read(app.ctx.config.audit_path)
        assert (record.action, record.outcome, record.message) == (
            MANUAL,
            "signed-off",
            "Templates reviewed, SEC-12",
        )
        assert any(n.title == MANUAL for n in app._notifications)


async def test_an_empty_note_is_refused_in_place(make_context: MakeContext) -> None:
    app = app_for(make_context)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dialog(app, pilot)
        await pilot.press("space", "enter")
        await pilot.pause()
        assert isinstance(app.screen, SignoffScreen)
        assert "a note is required" in prompt(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert app.board.results[MANUAL].status is Status.MANUAL
        assert not app.ctx.config.audit_path.exists()


async def test_escape_records_nothing(make_context: MakeContext) -> None:
    app = app_for(make_context)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dialog(app, pilot)
        await pilot.press(*"half-typed", "escape")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert not app.ctx.config.audit_path.exists()


async def test_an_unwritable_audit_log_keeps_the_dialog_open(
    make_context: MakeContext, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path / "audit-is-a-directory"
    directory.mkdir()
    app = app_for(make_context, audit_log=directory)
    async with app.run_test(size=(80, 24)) as pilot:
        # The check itself warns that the log cannot be read (so no sign-off can be seen).
        await open_dialog(app, pilot, Status.WARN)
        await pilot.press(*"done", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, SignoffScreen)
        assert "Not recorded:" in prompt(app) and "cannot be written" in prompt(app)


async def test_s_on_an_automatic_check_explains(make_context: MakeContext) -> None:
    app = app_for(make_context)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("5", "down")
        await pilot.pause()
        assert app.selected_check() == "sec.automatic"
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        assert any("is not a manual check" in n.message for n in app._notifications)


async def test_read_only_refuses_to_sign_off(make_context: MakeContext) -> None:
    app = app_for(make_context, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("5", "s")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        assert any("read-only mode" in n.message for n in app._notifications)
        assert not app.ctx.config.audit_path.exists()
