"""Snapshots of the screens a release engineer sees, from a seeded demo deployment.

The demo's secrets come from a fixed seed, the clock is fixed, and each check's duration is
set to 12 ms, so every pixel is deterministic. Each test's docstring says what a person
should see; read the SVGs in ``__snapshots__`` when one changes.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from checks import catalog
from checks.context import CheckContext
from checks.core import CheckSpec
from checks.events import Event, Finished
from checks.redact import Redactor
from checks.runner import run_checks
from checks.settings import DeploymentEnv, ToolboxConfig
from tests.conftest import FIXED_NOW
from tests.tui.conftest import settle, wait_for_screen
from toolbox_tui.app import ToolboxApp, make_app
from toolbox_tui.sandbox.demo import set_env_values, write_demo
from toolbox_tui.screens.confirm import ConfirmActionScreen

NARROW = (60, 20)
SMALL = (80, 24)
LARGE = (120, 40)
FIXED_FERNET_KEY = base64.urlsafe_b64encode(bytes(range(32)))


async def fixed_durations(specs: Sequence[CheckSpec], ctx: CheckContext) -> AsyncIterator[Event]:
    async for event in run_checks(specs, ctx):
        if isinstance(event, Finished):
            event = Finished(dataclasses.replace(event.result, duration_ms=12.0))
        yield event


@pytest.fixture
def demo_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ToolboxApp:
    return build_demo_app(tmp_path, monkeypatch)


def build_demo_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ToolboxApp:
    # A key rotation's preview names the new key by its last characters: a fixed key keeps
    # that line the same from run to run.
    monkeypatch.setattr(Fernet, "generate_key", classmethod(lambda cls: FIXED_FERNET_KEY))
    # Port 1 on loopback: refused at once, the same way on every machine (no DNS involved).
    demo = write_demo(
        tmp_path,
        now=FIXED_NOW,
        seed=2026,
        database_url="postgresql://toolboxai:demo-db-password@127.0.0.1:1/toolboxai_prod",
        redis_url="redis://:demo-redis-password@127.0.0.1:1/0",
    )
    # Every service of the Integrations pane there too.
    set_env_values(
        demo.env_file,
        {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": "1",
            "VAULT_ADDR": "https://127.0.0.1:1",
            "SUPABASE_URL": "https://127.0.0.1:1",
        },
    )
    # Relative paths, so no temporary directory name reaches a screen.
    monkeypatch.chdir(tmp_path)
    config = ToolboxConfig(
        env_file=Path(".env"),
        app_dir=Path("."),
        app_venv=Path("venv"),
        sendgrid_api_url="http://127.0.0.1:1",
        pusher_api_url="http://127.0.0.1:1",
        stripe_api_url="http://127.0.0.1:1",
        virustotal_api_url="http://127.0.0.1:1",
    )
    env = DeploymentEnv.load(config.env_file)
    ctx = CheckContext(env, config, Redactor(env.secret_values()), clock=lambda: FIXED_NOW)
    return make_app(ctx, catalog.load(), runner=fixed_durations)


async def finished(pilot) -> None:  # type: ignore[no-untyped-def]
    await settle(pilot.app, pilot)


def test_dashboard_80x24(snap_compare, demo_app: ToolboxApp) -> None:  # type: ignore[no-untyped-def]
    """The Environment pane at 80x24: summary counts on top, the six panes as tabs (the
    Environment tab red, as it has failures), a row per check with a status word (PASS,
    FAIL, WARN), and the footer keys. Messages are cut with an ellipsis, never wrapped."""
    assert snap_compare(demo_app, terminal_size=SMALL, run_before=finished)


def test_dashboard_120x40(snap_compare, demo_app: ToolboxApp) -> None:  # type: ignore[no-untyped-def]
    """The same at 120x40: every environment check on one screen, longer messages."""
    assert snap_compare(demo_app, terminal_size=LARGE, run_before=finished)


def test_dashboard_60x20(snap_compare, demo_app: ToolboxApp) -> None:  # type: ignore[no-untyped-def]
    """At 60x20: all six tabs, the active one named in full and the others cut with "…";
    the footer shows whole keys only (1-6 and R left out, as the tabs show the numbers)."""
    assert snap_compare(demo_app, terminal_size=NARROW, run_before=finished)


def test_dashboard_no_color(  # type: ignore[no-untyped-def]
    snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With NO_COLOR, in greys: FAIL a light block of reverse video (in the table, the
    summary bar and the Environment tab), WARN bold, PASS and SKIP plain; nothing grey on
    grey."""
    monkeypatch.setenv("NO_COLOR", "1")  # Textual reads it when the app is built
    app = build_demo_app(tmp_path, monkeypatch)
    assert snap_compare(app, terminal_size=SMALL, run_before=finished)


def test_failing_check_detail(snap_compare, demo_app: ToolboxApp) -> None:  # type: ignore[no-untyped-def]
    """The detail of the failing file-permissions check: FAIL, its message with the mode,
    what to do, evidence, the fix to press f for, and the log below."""

    async def open_detail(pilot) -> None:  # type: ignore[no-untyped-def]
        await finished(pilot)
        await pilot.press("slash", *"permissions", "enter", "enter")
        await pilot.pause()

    assert snap_compare(demo_app, terminal_size=SMALL, run_before=open_detail)


async def open_confirm(pilot) -> None:  # type: ignore[no-untyped-def]
    await finished(pilot)
    await pilot.press("slash", *"rotation", "enter", "f")
    # The preview is built in a worker that then waits on the dialog: wait for it to show.
    await wait_for_screen(pilot, ConfirmActionScreen)
    for _ in range(3):
        await pilot.pause()  # the preview is fitted to the rows left once the dialog is laid out


def test_dangerous_confirmation(snap_compare, demo_app: ToolboxApp) -> None:  # type: ignore[no-untyped-def]
    """The typed confirmation for rotating the Fernet key: a red DANGEROUS block, the preview
    of what changes (no key values), and the prompt to type the action id."""
    assert snap_compare(demo_app, terminal_size=SMALL, run_before=open_confirm)


def test_dangerous_confirmation_60x20(snap_compare, demo_app: ToolboxApp) -> None:  # type: ignore[no-untyped-def]
    """The same at 60x20: the title line with its DANGEROUS badge on top, the preview in the
    rows that are left (scrollable, "↑↓ PgUp PgDn: more" on its border when it does not all
    show), the prompt and the box to type the id in, all on screen."""
    assert snap_compare(demo_app, terminal_size=NARROW, run_before=open_confirm)


def test_security_pane_without_a_target(snap_compare, demo_app: ToolboxApp) -> None:  # type: ignore[no-untyped-def]
    """The Security pane with no TOOLBOX_TARGET_URL: the checks of the running app SKIP
    saying so, the manual reviews wait for a sign-off (MANUAL), the key scan warns that the
    demo is no git repository, and the encryption round trip passes."""

    async def security(pilot) -> None:  # type: ignore[no-untyped-def]
        await finished(pilot)
        await pilot.press("5")

    assert snap_compare(demo_app, terminal_size=SMALL, run_before=security)


def test_integrations_unreachable(snap_compare, demo_app: ToolboxApp) -> None:  # type: ignore[no-untyped-def]
    """The Integrations pane when no service answers: the SMTP relay, SendGrid's API,
    Stripe, Supabase Storage, Pusher and Vault each FAIL saying the connection was refused at
    127.0.0.1:1, the checks that need them are skipped, naming the check they wait for, as is
    VirusTotal (unreachable: not judged); the rotation workflow passes."""

    async def integrations(pilot) -> None:  # type: ignore[no-untyped-def]
        await finished(pilot)
        await pilot.press("3")

    assert snap_compare(demo_app, terminal_size=SMALL, run_before=integrations)


def test_help(snap_compare, demo_app: ToolboxApp) -> None:  # type: ignore[no-untyped-def]
    """The help screen fits 80x24: keys, statuses, how actions are confirmed."""

    async def help_screen(pilot) -> None:  # type: ignore[no-untyped-def]
        await finished(pilot)
        await pilot.press("question_mark")

    assert snap_compare(demo_app, terminal_size=SMALL, run_before=help_screen)
