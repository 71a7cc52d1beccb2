"""The programs the benchmarks start, and what each one's first frame looks like.

The dashboard and the CLI are started the way a person starts them, through the installed
``toolbox-tui`` script, on a deployment given by command-line flags; the anchors are the
Textual apps beside this module, run as plain scripts so they import nothing of ours.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from benchmarks.bare_app import TEXT as BARE_TEXT
from benchmarks.screen import Screen
from checks.core import PANES

HERE = Path(__file__).resolve().parent
# The first pane's tab (no-break space read as a space) and the tables' first column header.
DASHBOARD_MARKS = (f"{PANES[0].key} {PANES[0].title}", "Status")


def toolbox_tui() -> list[str]:
    """The installed console script, as a person runs it; the module if there is none."""
    script = Path(sys.executable).with_name("toolbox-tui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "toolbox_tui.cli"]


def deployment_env(overrides: Mapping[str, object]) -> list[str]:
    """``env TOOLBOX_ENV_FILE=... TOOLBOX_APP_DIR=...`` for a demo's or sandbox's
    ``config_overrides()``: every setting has its variable (not every one has a flag)."""
    return ["env", *(f"TOOLBOX_{name.upper()}={_text(value)}" for name, value in overrides.items())]


def _text(value: object) -> str:
    # The sandbox's API token is a SecretStr, whose str() is asterisks. Its value then shows
    # in the benchmark's process list: a throwaway token, valid only against the sandbox's
    # loopback app and only while the benchmark runs.
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value)


def dashboard(overrides: Mapping[str, object]) -> list[str]:
    return [*deployment_env(overrides), *toolbox_tui()]


def check(overrides: Mapping[str, object], *options: str) -> list[str]:
    return [*deployment_env(overrides), *toolbox_tui(), "check", *options]


def bare_app() -> list[str]:
    return [sys.executable, str(HERE / "bare_app.py")]


def widgets_app() -> list[str]:
    return [sys.executable, str(HERE / "widgets_app.py"), *(pane.title for pane in PANES)]


def import_textual() -> list[str]:
    return [sys.executable, "-c", "import textual.app"]


def shows_dashboard(screen: Screen) -> bool:
    """The dashboard's (and the widgets app's) first frame: the tab bar and a table header."""
    return all(screen.shows(mark) for mark in DASHBOARD_MARKS)


def shows_bare(screen: Screen) -> bool:
    return screen.shows(BARE_TEXT)
