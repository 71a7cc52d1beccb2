"""Release and rollback runbooks end to end on the sandbox, as a deploy script runs them:
``release --to v1.5.0 --yes`` takes the database, the code, the dependencies and the env to
the new release; ``rollback --yes`` brings them all back; the audit log holds every step.
And the faults: a failing downgrade, a runbook killed mid-step, a dirty work tree.

One sandbox for the module; each test starts from release v1.4.0 and leaves it there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from checks import audit
from tests.checks.db_helpers import fetchval
from toolbox_tui.sandbox.demo import STAGED_SETTING, ready_the_release
from toolbox_tui.sandbox.stack import Sandbox

TOOL = [sys.executable, "-m", "toolbox_tui.cli"]
HEAD_OF = {"v1.4.0": "0002_roblox_email_queue", "v1.5.0": "0003_roblox_env_region"}
RELEASE_STEPS = ("gate", "env-backup", "db-backup", "code", "deps", "env", "migrations")
ROLLBACK_REST = ("code", "deps", "env", "restart", "verify")
STAGED, STAGED_VALUE = STAGED_SETTING


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("release") / "app") as sandbox:
        prepare(sandbox.app_dir)
        yield sandbox


def prepare(app_dir: Path) -> None:
    """What the demo readies for v1.5.0 (the staged env file, two waivers), and what a person
    fixes first in the demo with ``f``: the env file made private and backed up."""
    ready_the_release(app_dir, date.today())
    env = app_dir / ".env"
    env.chmod(0o600)
    (app_dir / ".env.backup").write_text(env.read_text())
    (app_dir / ".env.backup").chmod(0o600)


def environment(sandbox: Sandbox) -> dict[str, str]:
    """The sandbox's settings as TOOLBOX_* variables. PIP_* variables stay: the release's
    requirements.txt names its wheelhouse, which holds where the shell sets PIP_FIND_LINKS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
    for name, value in sandbox.config_overrides().items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f"TOOLBOX_{name.upper()}"] = str(value)
    return env


def tool(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TOOL, *args],
        cwd=sandbox.app_dir,
        env=environment(sandbox),
        capture_output=True,
        text=True,
        timeout=180,
    )


def succeeds(sandbox: Sandbox, *args: str) -> str:
    done = tool(sandbox, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def database_url(sandbox: Sandbox) -> str:
    for line in (sandbox.app_dir / ".env").read_text().splitlines():
        if line.startswith("DATABASE_URL="):
            return line.split("=", 1)[1]
    raise AssertionError("no DATABASE_URL")


def git(sandbox: Sandbox, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=sandbox.app_dir, capture_output=True, text=True, check=True
    ).stdout.strip()


def sdk_version(sandbox: Sandbox) -> str:
    python = sandbox.app_dir / "venv" / "bin" / "python"
    done = subprocess.run(
        [python, "-c", "import toolboxai_sdk; print(toolboxai_sdk.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def env_value(sandbox: Sandbox, name: str) -> str:
    for line in (sandbox.app_dir / ".env").read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1]
    raise AssertionError(f"no {name}")


async def assert_at(sandbox: Sandbox, tag: str, env: str) -> None:
    """Database, code, dependencies and env all at release ``tag``."""
    revision = await fetchval(database_url(sandbox), "SELECT version_num FROM alembic_version")
    assert revision == HEAD_OF[tag]
    assert git(sandbox, "rev-parse", "HEAD") == git(sandbox, "rev-parse", f"{tag}^{{commit}}")
    assert sdk_version(sandbox) == tag.removeprefix("v")
    assert env_value(sandbox, STAGED) == env


def journal(sandbox: Sandbox, kind: str) -> list[audit.AuditRecord]:
    records = audit.read(sandbox.app_dir / "toolbox-audit.log")
    return [r for r in records if r.action == f"runbook.{kind}"]


def last_run(sandbox: Sandbox, kind: str) -> list[audit.AuditRecord]:
    records = journal(sandbox, kind)
    return [r for r in records if r.runbook == records[-1].runbook]


def step_times(out: str) -> str:
    """The summary's per-step lines: ``  code        done         0.12 s``."""
    lines = out.splitlines()
    return "\n".join(lines[lines.index("Steps:") + 1 :])


async def test_release_and_rollback_through_a_failing_downgrade_and_a_kill(
    sandbox: Sandbox,
) -> None:
    original = env_value(sandbox, STAGED)
    await assert_at(sandbox, "v1.4.0", original)
    out = succeeds(sandbox, "release", "--to", "v1.5.0", "--yes")
    print(step_times(out))
    await assert_at(sandbox, "v1.5.0", STAGED_VALUE)
    assert "Release v1.4.0 -> v1.5.0: done in " in out
    for step in (*RELEASE_STEPS, "restart", "verify"):
        assert f"== {step}: " in out
        assert re.search(rf"^  {step} +done +\d+\.\d\d s$", out, re.MULTILINE), step
    run = last_run(sandbox, "release")
    ended = {r.step: r.outcome for r in run if r.outcome != "started"}
    assert set(ended) == {"", *RELEASE_STEPS, "restart", "verify"}
    assert set(ended.values()) <= {"ok", "already-done"}
    # The actions the steps ran carry the runbook's id: the journal holds every step.
    records = audit.read(sandbox.app_dir / "toolbox-audit.log")
    tagged = {r.action for r in records if r.runbook == run[0].runbook and r.outcome == "ok"}
    assert {"code.checkout", "deps.install", "env.apply-staged", "db.upgrade"} <= tagged

    # A view on the new column: v1.5.0's downgrade cannot drop it.
    url = database_url(sandbox)
    await fetchval(url, "CREATE VIEW env_regions AS SELECT region FROM roblox_environments")
    failed = tool(sandbox, "rollback", "--yes")
    assert failed.returncode == 3, failed.stdout + failed.stderr
    assert "stopped at step 'migrations' (failed)" in failed.stdout
    assert "env_regions" in failed.stdout  # the statement that failed says why
    await assert_at(sandbox, "v1.5.0", STAGED_VALUE)  # nothing else was undone: a known state

    # Fixed, the rollback goes on from its failed step; killed outright during that step,
    # it goes on again from there.
    await fetchval(url, "DROP VIEW env_regions")
    kill_during(sandbox, "rollback", "migrations", "rollback", "--resume", "--yes")
    out = succeeds(sandbox, "rollback", "--resume", "--yes")
    print(step_times(out))
    assert "Resumed: step 'migrations' (Downgrade the schema to v1.4.0) was cut off " in (out)
    assert "alembic current" in out  # what to check by hand
    assert "== db-backup: " not in out  # done before: never repeated
    await assert_at(sandbox, "v1.4.0", original)
    rollback = last_run(sandbox, "rollback")
    starts = [r.step for r in rollback if r.outcome == "started" and r.step]
    assert starts == ["db-backup", "migrations", "migrations", "migrations", *ROLLBACK_REST]
    assert [r.outcome for r in rollback if not r.step] == [
        "started",
        "failed",
        "started",
        "started",
        "ok",
    ]


def kill_during(sandbox: Sandbox, kind: str, step: str, *args: str) -> None:
    """Run toolbox-tui with ``args`` and SIGKILL it as soon as the journal says ``step`` of
    the ``kind`` runbook started."""
    log = sandbox.app_dir / "toolbox-audit.log"
    before = len(audit.read(log))
    runner = subprocess.Popen(
        [*TOOL, *args],
        cwd=sandbox.app_dir,
        env=environment(sandbox),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    try:
        while not any(
            r.step == step and r.action == f"runbook.{kind}" for r in audit.read(log)[before:]
        ):
            assert runner.poll() is None, f"it ended before step {step}"
            assert time.monotonic() < deadline, f"it never got to step {step}"
            time.sleep(0.02)
    finally:
        runner.kill()  # SIGKILL: no wind-down, no last record
        runner.wait(timeout=30)


async def test_a_dirty_tree_stops_the_release_before_the_code_moves(sandbox: Sandbox) -> None:
    requirements = sandbox.app_dir / "requirements.txt"
    kept = requirements.read_text()
    requirements.write_text(kept + "requests==2.32.3\n")
    try:
        stopped = tool(sandbox, "release", "--to", "v1.5.0", "--yes")
    finally:
        requirements.write_text(kept)
    assert stopped.returncode == 3, stopped.stdout + stopped.stderr
    assert "stopped at step 'code' (failed)" in stopped.stdout
    assert "requirements.txt" in stopped.stdout
    original = env_value(sandbox, STAGED)
    await assert_at(sandbox, "v1.4.0", original)
    # The rollback undoes only what that release got to: nothing but the code's step.
    out = succeeds(sandbox, "rollback", "--yes")
    assert re.search(r"^  migrations +skipped$", out, re.MULTILINE)
    assert re.search(r"^  code +done", out, re.MULTILINE)
    await assert_at(sandbox, "v1.4.0", original)
