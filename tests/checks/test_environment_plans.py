"""Env fixes run the plan their preview showed, or refuse; an interrupted fix is recorded as
what it did; two fixes at once never lose an update."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from fake_deployment import NOW, Deployment

from checks import audit, envfile
from checks.core import registry
from checks.environment.encryption import format_timestamp
from checks.events import ActionDone, Log
from checks.runner import build_plan, run_action, shown
from checks.settings import DeploymentEnv


async def run_planned(deployment: Deployment, action_id: str, planned, ctx=None) -> ActionDone:  # type: ignore[no-untyped-def]
    ends: list[ActionDone] = []
    action = registry.actions[action_id]
    async for _ in run_action(
        action, ctx or deployment.context(), confirmed=True, plan=planned, on_end=ends.append
    ):
        pass
    return ends[-1]


async def test_rotation_writes_exactly_the_key_and_time_its_preview_showed(
    deployment: Deployment,
) -> None:
    ticks = iter(range(100))
    ctx = deployment.context()
    # Each reading of the clock is a minute later: a plan rebuilt at run time would differ.
    ctx = type(ctx)(
        ctx.env, ctx.config, ctx.redactor, clock=lambda: NOW + timedelta(minutes=next(ticks))
    )
    rotate = registry.actions["env.rotate-fernet-key"]
    planned = await build_plan(rotate, ctx)
    preview = shown(planned, ctx)
    done = await run_planned(deployment, "env.rotate-fernet-key", planned, ctx)
    assert done.outcome == "ok", done.message
    written = DeploymentEnv.load(deployment.env_file).values
    assert f"LAST_KEY_ROTATION: {written['LAST_KEY_ROTATION']}." in preview
    assert written["LAST_KEY_ROTATION"] == format_timestamp(NOW)
    assert f"••••{written['DATA_ENCRYPTION_KEY'][-4:]})" in preview
    started, ended = audit.read(deployment.config.audit_path)
    assert started.plan == ended.plan == planned.digest(preview)


async def test_a_fix_refuses_when_the_env_file_changed_after_its_preview(
    deployment: Deployment,
) -> None:
    ctx = deployment.context()
    planned = await build_plan(registry.actions["env.generate-secret-key"], ctx)
    deployment.write(LOG_LEVEL="WARNING")  # a person edits the file meanwhile
    before = deployment.env_file.read_bytes()
    done = await run_planned(deployment, "env.generate-secret-key", planned, ctx)
    assert done.outcome == "refused"
    assert "changed since the preview" in done.message
    assert deployment.env_file.read_bytes() == before
    assert deployment.timestamped_backups() == []


def _hold_the_write(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Make the env write wait inside its thread until released: a slow disk."""
    entered, release = threading.Event(), threading.Event()
    real = envfile.set_values

    def slow_set_values(*args, **kwargs):  # type: ignore[no-untyped-def]
        entered.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(envfile, "set_values", slow_set_values)
    return entered, release


async def test_ctrl_c_during_the_write_lets_it_finish_and_audits_that_it_happened(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = _hold_the_write(monkeypatch)
    ends: list[ActionDone] = []
    ctx = deployment.context()

    async def fix() -> None:
        action = registry.actions["env.rotate-fernet-key"]
        async for _ in run_action(action, ctx, confirmed=True, on_end=ends.append):
            pass

    task = asyncio.create_task(fix())
    await asyncio.to_thread(entered.wait, 10)
    task.cancel()  # Ctrl-C while the write is under way
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    [done] = ends
    assert done.outcome == "cancelled"
    assert "it had already wrote DATA_ENCRYPTION_KEY" in done.message
    rotated = DeploymentEnv.load(deployment.env_file).values
    assert rotated["DATA_ENCRYPTION_KEY_OLD_1"] == deployment.values["DATA_ENCRYPTION_KEY"]
    [record] = audit.endings(audit.read(deployment.config.audit_path))
    assert record.outcome == "cancelled" and record.changes[0].startswith("wrote DATA_")


async def test_ctrl_c_before_the_write_changes_nothing_and_says_so(
    deployment: Deployment,
) -> None:
    ends: list[ActionDone] = []
    before = deployment.env_file.read_bytes()
    other = envfile.lock_env_file(deployment.env_file, wait=1)
    other.__enter__()  # another fix holds the file: this one waits for the lock
    ctx = deployment.context()

    async def fix() -> None:
        action = registry.actions["env.rotate-fernet-key"]
        async for event in run_action(action, ctx, confirmed=True, on_end=ends.append):
            if isinstance(event, Log) and event.line.startswith("Writing"):
                task.cancel()

    task = asyncio.create_task(fix())
    with pytest.raises(asyncio.CancelledError):
        await task
    other.__exit__(None, None, None)
    [done] = ends
    assert done.outcome in ("cancelled", "refused")
    assert deployment.env_file.read_bytes() == before
    assert done.changes == ()


def test_two_fixes_at_once_never_lose_an_update(deployment: Deployment) -> None:
    # A 30k-line file makes each read-modify-write long enough to overlap.
    filler = "".join(f"FILLER_{i}=value-{i}\n" for i in range(30_000))
    deployment.env_file.write_text(deployment.env_file.read_text() + filler)
    before = DeploymentEnv.load(deployment.env_file).values
    common = [
        sys.executable,
        "-m",
        "toolbox_tui.cli",
        "fix",
        "--yes",
        f"--env-file={deployment.env_file}",
        f"--app-dir={deployment.root}",
    ]
    fixes = [
        subprocess.Popen([*common, action], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for action in ("env.rotate-fernet-key", "env.generate-secret-key")
    ]
    outputs = [fix.communicate(timeout=120)[0].decode() for fix in fixes]
    codes = [fix.returncode for fix in fixes]
    after = DeploymentEnv.load(deployment.env_file).values
    rotated = after["DATA_ENCRYPTION_KEY"] != before["DATA_ENCRYPTION_KEY"]
    regenerated = after["SECRET_KEY"] != before["SECRET_KEY"]
    # Each fix either happened and is in the file, or was refused and said why.
    assert (codes[0] == 0) == rotated, outputs[0]
    assert (codes[1] == 0) == regenerated, outputs[1]
    for code, output in zip(codes, outputs, strict=True):
        assert code == 0 or "Refused" in output, output
    assert after["FILLER_29999"] == "value-29999"


def test_a_read_only_env_file_is_not_rewritten_unless_allowed(
    deployment: Deployment, tmp_path: Path
) -> None:
    deployment.env_file.chmod(0o400)
    before = deployment.env_file.read_bytes()
    events = asyncio.run(_collect(deployment, "env.generate-secret-key"))
    assert events[-1].outcome == "failed" and "read-only" in events[-1].message
    assert deployment.env_file.read_bytes() == before
    allowed = deployment.context(allow_read_only_env=True)
    events = asyncio.run(_collect(deployment, "env.generate-secret-key", allowed))
    assert events[-1].outcome == "ok", events[-1].message
    assert deployment.env_file.read_bytes() != before


async def _collect(deployment: Deployment, action_id: str, ctx=None) -> list:  # type: ignore[no-untyped-def]
    action = registry.actions[action_id]
    return [e async for e in run_action(action, ctx or deployment.context(), confirmed=True)]
