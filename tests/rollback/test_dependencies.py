"""deps.install with real pip against the demo app's venv and its local wheelhouse (pip.conf:
no-index): the preview is pip's dry run, the run installs exactly that and says what changed,
and a run refuses when requirements.txt or the venv moved since the preview."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from checks.core import registry
from checks.environment.dependencies import installed_versions, site_packages_dirs
from checks.rollback.dependencies import pip_argv
from checks.runner import build_plan
from tests.integrations.running import fix
from tests.rollback.repos import context, git, release_app
from toolbox_tui.sandbox.app_repo import install_wheel, wheel_name, wheelhouse_path

INSTALL = "deps.install"


@pytest.fixture(autouse=True)
def _pip_told_to_look_elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """PIP_* variables outrank every pip.conf, as on hosts whose shell sets PIP_FIND_LINKS:
    the release's requirements.txt names its wheelhouse itself, so pip still finds it."""
    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("PIP_FIND_LINKS", str(elsewhere))


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return release_app(tmp_path / "app").app_dir


def sdk_version(app: Path) -> str | None:
    return installed_versions(site_packages_dirs(app / "venv")).get("toolboxai-sdk")  # type: ignore[call-overload]


async def test_nothing_to_install_when_the_venv_matches_the_release(app: Path) -> None:
    plan = await build_plan(registry.actions[INSTALL], context(app))
    assert plan.already_done, plan.text
    assert "Nothing to install" in plan.text


async def test_install_after_a_checkout_upgrades_the_sdk_and_says_so(app: Path) -> None:
    git(app, "checkout", "-q", "--detach", "v1.5.0")
    ctx = context(app)
    plan = await build_plan(registry.actions[INSTALL], ctx)
    assert plan.refusal is None, plan.text
    assert "  would install toolboxai-sdk 1.5.0 (now 1.4.0)" in plan.lines
    assert "--python" in plan.text  # the demo venv has no pip of its own: ours, pointed at it

    _, done = await fix(ctx, INSTALL, plan)

    assert done.outcome == "ok", done.message
    assert done.changes == ("toolboxai-sdk 1.4.0 -> 1.5.0",)
    assert sdk_version(app) == "1.5.0"
    site = site_packages_dirs(app / "venv")[0]
    # pip uninstalled 1.4.0 by its RECORD: nothing of it is left.
    assert not (site / "toolboxai_sdk-1.4.0.dist-info").exists()
    assert '"1.5.0"' in (site / "toolboxai_sdk" / "__init__.py").read_text()


async def test_install_refuses_when_requirements_changed_since_the_preview(app: Path) -> None:
    git(app, "checkout", "-q", "--detach", "v1.5.0")
    ctx = context(app)
    plan = await build_plan(registry.actions[INSTALL], ctx)
    (app / "requirements.txt").write_text("toolboxai-sdk==1.3.0\n")
    _, done = await fix(ctx, INSTALL, plan)
    assert done.outcome == "refused", done.message
    assert "requirements.txt changed since the preview" in done.message
    assert sdk_version(app) == "1.4.0"


async def test_install_refuses_when_the_venv_changed_since_the_preview(app: Path) -> None:
    git(app, "checkout", "-q", "--detach", "v1.5.0")
    ctx = context(app)
    plan = await build_plan(registry.actions[INSTALL], ctx)
    # Someone else went back to 1.3.0 meanwhile.
    shutil.rmtree(site_packages_dirs(app / "venv")[0] / "toolboxai_sdk-1.4.0.dist-info")
    install_wheel(wheelhouse_path(app) / wheel_name("1.3.0"), app / "venv")
    _, done = await fix(ctx, INSTALL, plan)
    assert done.outcome == "refused", done.message
    assert "toolboxai-sdk changed in" in done.message
    assert sdk_version(app) == "1.3.0"


async def test_a_version_pip_cannot_find_is_refused_with_pips_reason(app: Path) -> None:
    (app / "requirements.txt").write_text("toolboxai-sdk==9.9.9\n")
    plan = await build_plan(registry.actions[INSTALL], context(app))
    assert plan.refusal is not None and not plan.already_done
    assert "pip cannot resolve" in plan.refusal
    assert "toolboxai-sdk==9.9.9" in plan.refusal


async def test_no_requirements_file_is_refused(app: Path) -> None:
    (app / "requirements.txt").unlink()
    plan = await build_plan(registry.actions[INSTALL], context(app))
    assert plan.refusal is not None and "There is no" in plan.refusal


async def test_a_fifo_in_place_of_requirements_is_refused_without_waiting_on_it(
    app: Path,
) -> None:
    requirements = app / "requirements.txt"
    requirements.unlink()
    os.mkfifo(requirements)  # no writer: reading it would wait for ever
    try:
        plan = await asyncio.wait_for(build_plan(registry.actions[INSTALL], context(app)), 30)
    except TimeoutError:
        # A writer end lets the blocked reader's thread finish, so the suite can end.
        os.close(os.open(requirements, os.O_WRONLY | os.O_NONBLOCK))
        raise AssertionError(f"reading {requirements} blocked for 30 s") from None
    assert plan.refusal is not None
    assert f"{requirements} is not a regular file" in plan.refusal


async def test_a_venv_without_python_is_refused(app: Path) -> None:
    (app / "venv" / "bin" / "python").unlink()
    plan = await build_plan(registry.actions[INSTALL], context(app))
    assert plan.refusal is not None and "is not a virtualenv" in plan.refusal


def test_pip_is_the_venvs_own_when_it_has_one(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    assert pip_argv(venv, {"pip": "24.0"}) == [str(venv / "bin/python"), "-m", "pip"]
    ours = pip_argv(venv, {})
    assert ours[1:] == ["-m", "pip", "--python", str(venv / "bin/python")]
