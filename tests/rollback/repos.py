"""For the Rollback pane's tests: the demo app with its three releases (a real git repository,
venv and wheelhouse, as the sandbox makes them, without its servers), contexts over it, and git
commands with a fixed identity for the commits a test adds."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from checks import catalog
from checks.context import CheckContext
from checks.settings import ToolboxConfig
from toolbox_tui.sandbox.app_alembic import copy_alembic
from toolbox_tui.sandbox.app_repo import set_up_releases
from toolbox_tui.sandbox.demo import Demo, write_demo

catalog.load()

# Nobody's git config takes part, and a test's commits carry a fixed author and date.
GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_AUTHOR_DATE": "2025-11-20T12:00:00Z",
    "GIT_COMMITTER_DATE": "2025-11-20T12:00:00Z",
}


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """``git ARGS`` in ``cwd``; its stdout, stripped."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=check
    )
    return done.stdout.strip()


def release_app(app_dir: Path) -> Demo:
    """The demo deployment in ``app_dir``: env file, venv and releases v1.3.0..v1.5.0, HEAD at
    v1.4.0."""
    demo = write_demo(app_dir)
    copy_alembic(demo.app_dir)
    set_up_releases(demo.app_dir, demo.venv)
    return demo


def context(app_dir: Path, **params: str) -> CheckContext:
    """A context over the app in ``app_dir`` (the demo's layout), with action ``params``."""
    config = ToolboxConfig(
        env_file=app_dir / ".env",
        app_dir=app_dir,
        app_venv=app_dir / "venv",
        alembic_ini=app_dir / "alembic.ini",
        audit_log=app_dir / "toolbox-audit.log",
    )
    return CheckContext.create(config).with_params(**params)
