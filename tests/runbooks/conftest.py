"""An app to run runbooks on, without the sandbox's servers: the demo's env file and venv, the
git checkout of releases v1.3.0, v1.4.0 (HEAD) and v1.5.0, and (``app``) a real database at
v1.4.0's schema on the session's PostgreSQL."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from checks.config import ToolboxConfig
from checks.context import CheckContext
from toolbox_tui.sandbox.app_alembic import copy_alembic
from toolbox_tui.sandbox.app_repo import set_up_releases
from toolbox_tui.sandbox.demo import write_demo
from toolbox_tui.sandbox.stack import migrate


@dataclass(frozen=True)
class App:
    dir: Path
    database_url: str
    config: ToolboxConfig

    def context(self, **config: object) -> CheckContext:
        return CheckContext.create(self.config.model_copy(update=config))

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.dir, capture_output=True, text=True, check=True
        ).stdout.strip()

    def head_tag(self) -> str:
        return self.git("describe", "--tags", "--exact-match", "HEAD")


def make_app(app_dir: Path, database_url: str | None) -> App:
    demo = write_demo(app_dir, database_url=database_url)
    ini = copy_alembic(app_dir)
    set_up_releases(app_dir, demo.venv)
    if database_url is not None:
        migrate(ini, database_url)
    (app_dir / ".env").chmod(0o600)
    config = ToolboxConfig(**demo.config_overrides())  # type: ignore[arg-type]
    return App(app_dir, database_url or "", config)


@pytest.fixture
def app(tmp_path: Path, database: str) -> App:
    """The app, its database at v1.4.0's head."""
    return make_app(tmp_path / "app", database)


@pytest.fixture
def repo(tmp_path: Path) -> App:
    """The app without a database: for what reads only the journal and the repository."""
    return make_app(tmp_path / "app", None)
