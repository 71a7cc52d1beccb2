"""Fixtures shared by every test directory."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from checks.context import CheckContext
from checks.redact import Redactor
from checks.settings import DeploymentEnv, ToolboxConfig

pytest_plugins = ["tests.sandbox_fixtures"]


@pytest.fixture(autouse=True)
def _no_toolbox_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """ToolboxConfig reads TOOLBOX_* variables: the developer's own (a sourced `sandbox up`
    export, say) must not reach any test."""
    for name in list(os.environ):
        if name.startswith("TOOLBOX_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _nothing_stays_frozen() -> Iterator[None]:
    """The command line freezes the objects it has made (gc.freeze) before a run; in this
    process that would keep every earlier test's garbage for good. Tests that pause the
    collector, as the command's entry point does, leave it running too."""
    yield
    _unfreeze()  # the real one, even where the test replaced gc's for its own checks
    gc.enable()


_unfreeze = gc.unfreeze


FIXED_NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)

MakeContext = Callable[..., CheckContext]


@pytest.fixture
def make_context(tmp_path: Path) -> MakeContext:
    """A context over an env file written from ``env_text`` in a fresh directory."""

    def make(env_text: str = "", mode: int = 0o600, **config: object) -> CheckContext:
        env_file = tmp_path / ".env"
        env_file.write_text(env_text, encoding="utf-8")
        env_file.chmod(mode)
        settings = ToolboxConfig(
            **{"env_file": env_file, "app_dir": tmp_path, **config}  # type: ignore[arg-type]
        )
        env = DeploymentEnv.load(settings.env_file)
        return CheckContext(env, settings, Redactor(env.secret_values()), clock=lambda: FIXED_NOW)

    return make
