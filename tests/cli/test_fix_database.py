"""Headless database fixes as a deploy script runs them: a backup from one process unlocks the
upgrade in another; several actions in one command; SIGTERM and kill -9 mid-upgrade."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks import audit
from tests.checks.db_helpers import fetchval, slow_revision
from tests.checks.test_migration_actions import wait_until_running
from tests.sandbox.procs import Proc, descendants, wait_until
from toolbox_tui.sandbox.app_alembic import add_revision
from toolbox_tui.sandbox.stack import Sandbox

TOOL = [sys.executable, "-m", "toolbox_tui.cli"]


@pytest.fixture
def app_dir(tmp_path: Path) -> Iterator[Path]:
    """A sandbox whose database is one migration behind the scripts."""
    with Sandbox(tmp_path / "app", ["pending-migration"]) as sandbox:
        yield sandbox.app_dir


def database_url(app_dir: Path) -> str:
    for line in (app_dir / ".env").read_text().splitlines():
        if line.startswith("DATABASE_URL="):
            return line.split("=", 1)[1]
    raise AssertionError("no DATABASE_URL")


def tool(app_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TOOL, *args], cwd=app_dir, env=_env(), capture_output=True, text=True, timeout=120
    )


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}


async def revision(app_dir: Path) -> object:
    return await fetchval(database_url(app_dir), "SELECT version_num FROM alembic_version")


async def test_a_backup_from_one_process_lets_another_upgrade(app_dir: Path) -> None:
    refused = tool(app_dir, "fix", "db.upgrade", "--yes")
    assert refused.returncode == 3 and "no verified backup" in refused.stdout
    assert tool(app_dir, "fix", "db.backup").returncode == 0
    upgraded = tool(app_dir, "fix", "db.upgrade", "--yes")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert await revision(app_dir) == "0002_roblox_email_queue"
    outcomes = [
        (r.action, r.outcome) for r in audit.endings(audit.read(app_dir / "toolbox-audit.log"))
    ]
    assert outcomes == [("db.upgrade", "refused"), ("db.backup", "ok"), ("db.upgrade", "ok")]


async def test_several_actions_run_in_order_and_stop_at_the_first_failure(app_dir: Path) -> None:
    stopped = tool(app_dir, "fix", "db.upgrade", "db.backup", "--yes")
    assert stopped.returncode == 3
    assert "not run: db.backup" in stopped.stderr
    both = tool(app_dir, "fix", "db.backup", "db.upgrade", "--yes")
    assert both.returncode == 0, both.stdout + both.stderr
    assert "== db.backup" in both.stdout and "== db.upgrade" in both.stdout
    assert await revision(app_dir) == "0002_roblox_email_queue"


async def _start_slow_upgrade(app_dir: Path) -> subprocess.Popen[str]:
    add_revision(app_dir, "0009_slow", slow_revision())
    fix = subprocess.Popen(
        [*TOOL, "fix", "db.upgrade", "--yes", "--no-backup-required"],
        cwd=app_dir,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    await wait_until_running(database_url(app_dir), "pg_sleep")
    return fix


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
async def test_a_signal_mid_upgrade_rolls_back_and_the_last_line_says_so(
    app_dir: Path, signum: signal.Signals
) -> None:
    fix = await _start_slow_upgrade(app_dir)
    children = [Proc.of(pid) for pid in descendants(fix.pid)]
    assert children, "alembic should be running"
    fix.send_signal(signum)
    out, err = fix.communicate(timeout=60)
    assert fix.returncode == 130, out + err
    assert "rolled back" in out.strip().splitlines()[-1]
    wait_until(lambda: not any(p.alive for p in children), 20, "alembic exited")
    assert await revision(app_dir) == "0001_baseline"
    [record] = audit.endings(audit.read(app_dir / "toolbox-audit.log"))
    assert record.outcome == "cancelled" and "rolled back" in record.message


async def test_kill_9_mid_upgrade_kills_alembic_and_the_next_run_reports_it(
    app_dir: Path,
) -> None:
    fix = await _start_slow_upgrade(app_dir)
    children = [Proc.of(pid) for pid in descendants(fix.pid)]
    fix.kill()
    fix.communicate(timeout=30)
    # alembic died with its parent, and its transaction with it
    wait_until(lambda: not any(p.alive for p in children), 20, "alembic exited")
    assert await revision(app_dir) == "0001_baseline"
    [started] = audit.unfinished(audit.read(app_dir / "toolbox-audit.log"))
    assert started.action == "db.upgrade"

    later = tool(app_dir, "fix", "env.snapshot-backup")
    assert "db.upgrade started at" in later.stderr and "never recorded its end" in later.stderr
    gate = tool(app_dir, "check", "--only", "audit.unfinished-fixes")
    assert gate.returncode == 3 and "killed mid-action" in gate.stdout
    assert tool(app_dir, "fix", "audit.acknowledge").returncode == 0
    assert tool(app_dir, "check", "--only", "audit.unfinished-fixes").returncode == 0
