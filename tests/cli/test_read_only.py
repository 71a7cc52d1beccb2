"""Looking writes nothing: a whole read-only run leaves the app directory, the temporary area
and the home directory exactly as they were, and works on an app directory this user cannot
write."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolbox_tui.sandbox.stack import Sandbox

TOOL = [sys.executable, "-m", "toolbox_tui.cli"]


@pytest.fixture(params=["url-from-env", "url-in-ini"])
def app_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """The sandbox's app; in the second form its alembic.ini names a database itself, which
    makes the tool hand alembic a private copy of the ini pointing at DATABASE_URL."""
    with Sandbox(tmp_path / "app", ["pending-migration"]) as sandbox:
        if request.param == "url-in-ini":
            ini = sandbox.app_dir / "alembic.ini"
            text = ini.read_text().replace(
                "sqlalchemy.url =", "sqlalchemy.url = postgresql://nobody@db.invalid/stale"
            )
            ini.write_text(text)
        for cache in list(sandbox.app_dir.rglob("__pycache__")):
            shutil.rmtree(cache)  # so that writing one would show
        yield sandbox.app_dir


def tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``root`` with its mode, size and modification time."""
    found = {}
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        found[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return found


def run_check(
    app_dir: Path, tmp: Path, read_only_mount: bool = False, home: Path | None = None
) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLBOX_", "XDG_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the tool must not rely on the caller's
    env["TMPDIR"] = str(tmp)
    if home is not None:
        env["HOME"] = str(home)
    argv = [*TOOL, "check", "--read-only", "--format", "json"]
    if read_only_mount:
        # Root may write anywhere: a private read-only bind mount makes the app directory
        # really unwritable for this one run.
        mount = f"mount --bind {app_dir} {app_dir} && mount -o remount,bind,ro {app_dir}"
        argv = ["unshare", "-m", "sh", "-c", f'{mount} && exec "$@"', "sh", *argv]
    done = subprocess.run(argv, cwd=app_dir, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 3), done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def statuses(report: dict[str, object]) -> dict[str, str]:
    return {r["id"]: r["status"] for r in report["results"]}  # type: ignore[attr-defined,index]


def test_a_read_only_run_writes_nothing_in_the_app_directory_temp_or_home(
    app_dir: Path, tmp_path: Path
) -> None:
    tmp, home = tmp_path / "tmp", tmp_path / "home"
    tmp.mkdir()
    (tmp / "unrelated").write_text("someone else's")
    home.mkdir()  # where an SDK would keep its own files (Stripe's telemetry id, say)
    app_before, tmp_before, home_before = tree(app_dir), tree(tmp), tree(home)
    report = run_check(app_dir, tmp, home=home)
    # The run did look at the migrations (the scripts were imported, alembic ran).
    assert statuses(report)["db.revision-state"] == "fail"
    assert statuses(report)["db.migration-lint"] == "pass"
    assert tree(app_dir) == app_before  # not even a file made and removed again
    # A private copy of the ini may come and go in the temporary area; nothing may stay.
    assert tree(tmp).keys() == tmp_before.keys()
    assert tree(home) == home_before


def test_an_app_directory_this_user_cannot_write_still_gets_checked(
    app_dir: Path, tmp_path: Path
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    if os.geteuid() != 0:
        for path in [app_dir, *app_dir.rglob("*")]:
            if path.is_dir():
                path.chmod(0o555)
    report = run_check(app_dir, tmp, read_only_mount=os.geteuid() == 0)
    results = statuses(report)
    assert results["db.migration-lint"] == "pass", report
    assert results["db.revision-state"] == "fail"
    errors = [(r["id"], r["message"]) for r in report["results"] if r["status"] == "error"]  # type: ignore[attr-defined,index]
    assert errors == [], report
