"""Snapshots of the Health and Security panes against the sandbox's reference app, with a
mix of results: the sandbox is started with three scenarios (a slow API, a stopped
service, no HSTS), so each pane shows failures among its passes, warnings and sign-offs.

Numbers that vary from run to run (ports, timings, dates) are normalised by
:mod:`tests.snapshots.steady`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from checks import catalog
from checks.context import CheckContext
from checks.settings import ToolboxConfig
from tests.conftest import FIXED_NOW
from tests.snapshots.steady import SteadyApp, steady_runner
from tests.tui.conftest import settle
from toolbox_tui.app import ToolboxApp
from toolbox_tui.sandbox.stack import Sandbox

BREAKS = ("slow-api", "service-down", "missing-hsts")


@pytest.fixture
def app_on_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ToolboxApp]:
    with Sandbox(tmp_path, BREAKS, now=FIXED_NOW, seed=2026) as sandbox:
        monkeypatch.chdir(tmp_path)
        config = ToolboxConfig(**sandbox.config_overrides())  # type: ignore[arg-type]
        ctx = CheckContext.create(config, clock=lambda: FIXED_NOW)
        yield SteadyApp(ctx, catalog.load(), runner=steady_runner)


def on_pane(key: str):  # type: ignore[no-untyped-def]
    async def show(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot.app, pilot)
        await pilot.press(key)

    return show


def test_health_pane(snap_compare, app_on_reference: ToolboxApp) -> None:  # type: ignore[no-untyped-def]
    """The Health pane: "API response time p95" FAIL (about 400 ms against the 200 ms target)
    and "services running" FAIL naming toolboxai-celery-beat on top; then the health
    endpoints, the certificate, the http redirect, disk, logs, the database's vital signs
    and both smoke tests passing."""
    assert snap_compare(app_on_reference, terminal_size=(80, 24), run_before=on_pane("4"))


def test_security_pane(snap_compare, app_on_reference: ToolboxApp) -> None:  # type: ignore[no-untyped-def]
    """The Security pane: HSTS FAIL on top, the key scan WARN (the sandbox's app directory
    is no git repository), the five manual reviews waiting for a sign-off (MANUAL), and
    headers, cookies, CORS, rate limit, webhook signatures, token revocation and the
    encryption round trip passing."""
    assert snap_compare(app_on_reference, terminal_size=(80, 24), run_before=on_pane("5"))
