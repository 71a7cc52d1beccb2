"""The runbook engine on a real app: steps run in order through the runner, journal their
start and end, count an action with nothing to do as done, stop on a failure, wait for a
confirmation, refuse under read-only and while another runbook runs, and wind down when
interrupted."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import pytest

from checks import audit
from checks.context import CheckContext
from checks.core import registry
from checks.runbooks import Runbook, RunbookError, Step, StepEnded, StepLog, StepStarted, StepState
from checks.runbooks import journal as journal_mod
from checks.runbooks.lock import lock_path
from checks.runbooks.model import MOVED_ON
from checks.runbooks.opening import new_runbook
from checks.runbooks.steps import bind, release_steps
from tests.checks.db_helpers import fetchval, slow_revision
from tests.checks.test_migration_actions import wait_until_running
from tests.runbooks.conftest import App
from toolbox_tui.sandbox.app_alembic import add_revision

ENV_BACKUP = Step("env-backup", "Snapshot the env file", "env.snapshot-backup")
DB_BACKUP = Step("db-backup", "Back up the database", "db.backup")


def code_to(tag: str) -> Step:
    return Step("code", f"Check out {tag}", "code.checkout", {"tag": tag})


def release(ctx: CheckContext, *steps: Step, fail_level: str = "fail") -> Runbook:
    """A new runbook of ``steps`` (each bound to its action: dangerous as it says), opened on
    the journal as it is now."""
    seen = journal_mod.records_in(journal_mod.read_runs(ctx))
    return new_runbook("release", "v1.4.0 -> v1.5.0", steps, {}, fail_level, seen)


async def run_all(runbook: Runbook, ctx: CheckContext) -> list[object]:
    """Run steps (confirmed) until the runbook is finished or a step does not end done."""
    events: list[object] = []
    while not runbook.finished():
        events += [e async for e in runbook.run_next(ctx, confirmed=True)]
        last = events[-1]
        assert isinstance(last, StepEnded)
        if last.state is not StepState.DONE:
            break
    return events


def journal(ctx: CheckContext) -> list[tuple[str, str, str]]:
    return [
        (r.action, r.step, r.outcome)
        for r in audit.read(ctx.config.audit_path)
        if r.action.startswith("runbook.")
    ]


async def test_steps_run_in_order_and_the_journal_records_each(app: App) -> None:
    ctx = app.context()
    runbook = release(ctx, ENV_BACKUP, DB_BACKUP, code_to("v1.5.0"))
    assert runbook.status("code").step.dangerous  # as its action says
    events = await run_all(runbook, ctx)
    assert [s.state for s in runbook.statuses] == [StepState.DONE] * 3
    assert all(s.seconds > 0 for s in runbook.statuses)
    assert app.head_tag() == "v1.5.0"
    assert (app.dir / ".env.backup").read_text() == (app.dir / ".env").read_text()
    started = [e.step_id for e in events if isinstance(e, StepStarted)]
    assert started == ["env-backup", "db-backup", "code"]
    code_lines = [e.line for e in events if isinstance(e, StepLog) and e.step_id == "code"]
    assert any("git checkout --detach v1.5.0" in line for line in code_lines)  # its preview
    assert journal(ctx) == [
        ("runbook.release", "", "started"),
        ("runbook.release", "env-backup", "started"),
        ("runbook.release", "env-backup", "ok"),
        ("runbook.release", "db-backup", "started"),
        ("runbook.release", "db-backup", "ok"),
        ("runbook.release", "code", "started"),
        ("runbook.release", "code", "ok"),
        ("runbook.release", "", "ok"),
    ]
    records = audit.read(ctx.config.audit_path)
    # The actions' own records name the runbook and step they ran for.
    [checkout] = [r for r in audit.endings(records) if r.action == "code.checkout"]
    assert (checkout.runbook, checkout.step, checkout.release) == (
        runbook.run_id,
        "code",
        "v1.4.0 -> v1.5.0",
    )
    assert not audit.unfinished(records)


async def test_a_step_with_nothing_to_do_is_done_not_failed(repo: App) -> None:
    ctx = repo.context()
    runbook = release(ctx, code_to("v1.4.0"))
    [*_, ended] = await run_all(runbook, ctx)
    assert isinstance(ended, StepEnded) and ended.state is StepState.DONE
    assert ended.message.startswith("already done: ")
    assert ("runbook.release", "code", "already-done") in journal(ctx)
    assert runbook.finished()


async def test_a_refused_plan_fails_the_step_and_stops_the_runbook(repo: App) -> None:
    ctx = repo.context()
    requirements = repo.dir / "requirements.txt"
    requirements.write_text("toolboxai-sdk==9.9.9\n")  # a dirty tree
    runbook = release(ctx, code_to("v1.5.0"), ENV_BACKUP)
    await run_all(runbook, ctx)
    code = runbook.status("code")
    assert code.state is StepState.FAILED and "requirements.txt" in code.message
    assert runbook.stopped() and runbook.next_status() is code
    assert runbook.status("env-backup").state is StepState.PENDING
    assert repo.head_tag() == "v1.4.0"
    assert journal(ctx)[-2:] == [
        ("runbook.release", "code", "failed"),
        ("runbook.release", "", "failed"),
    ]
    # Fixed by hand, the failed step runs again, re-planned, and the runbook goes on.
    repo.git("checkout", "--", "requirements.txt")
    await run_all(runbook, ctx)
    assert runbook.finished() and repo.head_tag() == "v1.5.0"
    assert journal(ctx)[-1] == ("runbook.release", "", "ok")


async def test_a_dangerous_step_waits_for_confirmation_and_nothing_is_journaled(
    repo: App,
) -> None:
    ctx = repo.context()
    runbook = release(ctx, code_to("v1.5.0"))
    events = [e async for e in runbook.run_next(ctx, confirmed=False)]
    assert events == [StepEnded("code", StepState.PENDING, "needs confirmation")]
    assert runbook.status("code").state is StepState.PENDING
    assert repo.head_tag() == "v1.4.0"
    assert journal(ctx) == []
    preview = await runbook.preview(ctx)
    assert "git checkout --detach v1.5.0" in preview.text


async def test_read_only_runs_nothing_and_writes_nothing(repo: App) -> None:
    ctx = repo.context(read_only=True)
    runbook = release(ctx, ENV_BACKUP)
    [ended] = [e async for e in runbook.run_next(ctx, confirmed=True)]
    assert ended.state is StepState.PENDING and "read-only" in ended.message
    assert not ctx.config.audit_path.exists()
    assert not (repo.dir / ".env.backup").exists()


async def test_one_runbook_at_a_time(repo: App) -> None:
    ctx = repo.context()
    lock = lock_path(ctx.config.audit_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "os.write(fd, str(os.getpid()).encode())\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        runbook = release(ctx, ENV_BACKUP)
        [ended] = [e async for e in runbook.run_next(ctx, confirmed=True)]
        assert ended.state is StepState.PENDING
        assert f"Another runbook is running (pid {holder.pid})" in ended.message
        assert journal(ctx) == []
    finally:
        holder.kill()
        holder.wait()
    # Its holder gone, the lock is free.
    [*_, ended] = [e async for e in runbook.run_next(ctx, confirmed=True)]
    assert ended.state is StepState.DONE


def test_an_unknown_action_is_named_with_its_step() -> None:
    with pytest.raises(RunbookError, match=r"step 'warp' \(Warp\) runs the action warp\.drive"):
        bind([Step("warp", "Warp", "warp.drive")], registry, "release")
    with pytest.raises(RunbookError, match=r"no\.such-check"):
        bind([Step("gate", "Gate", checks=("environment", "no.such-check"))], registry, "release")


async def test_a_gate_stops_on_a_failing_check_unless_it_is_waived(repo: App) -> None:
    ctx = repo.context()
    gate = Step("gate", "Gate", checks=("env.file-permissions", "env.secret-key"))
    runbook = release(ctx, gate)
    (repo.dir / ".env").chmod(0o644)
    events = await run_all(runbook, ctx)
    status = runbook.status("gate")
    assert status.state is StepState.FAILED
    assert status.message == "1 of 3 checks stop the release: env.file-permissions."
    lines = [e.line for e in events if isinstance(e, StepLog)]
    assert any(line.startswith("STOPS  fail  env.file-permissions") for line in lines)
    (repo.dir / "toolbox-waivers.toml").write_text(
        '[[waiver]]\ncheck = "env.file-permissions"\nreason = "the host has one user"\n'
        'by = "alice"\nexpires = 2099-12-31\n'
    )
    events = await run_all(runbook, ctx)
    assert status.state is StepState.DONE, status.message
    lines = [e.line for e in events if isinstance(e, StepLog)]
    assert any(line.startswith("waived fail  env.file-permissions") for line in lines)
    assert status.message.endswith("(none stops it: 1 waived).")


async def test_a_gate_leaves_to_the_release_what_its_own_steps_make_pass(repo: App) -> None:
    """No .env.backup yet: env.backup-present fails, but the release's env-backup step is
    what writes it, so the gate shows it and goes on; the release's gate says so."""
    ctx = repo.context()
    (repo.dir / ".env.backup").unlink(missing_ok=True)
    [release_gate] = [s for s in release_steps("v1.5.0") if s.id == "gate"]
    assert release_gate.left_to["env.backup-present"] == "env-backup"
    gate = Step(
        "gate",
        "Gate",
        checks=("env.backup-present",),
        left_to={"env.backup-present": "env-backup"},
    )
    runbook = release(ctx, gate)
    events = await run_all(runbook, ctx)
    assert runbook.status("gate").state is StepState.DONE, runbook.status("gate").message
    assert runbook.status("gate").message == (
        "2 checks: 1 fail, 1 pass (none stops it: 1 left to a later step)."
    )
    lines = [e.line for e in events if isinstance(e, StepLog)]
    assert "Left to the steps that make them pass: env.backup-present (env-backup)." in lines
    assert any(
        line.startswith("later  fail  env.backup-present: the env-backup step makes it pass")
        for line in lines
    )
    # Without that leave, the same failure stops the gate.
    runbook = release(ctx, Step("gate", "Gate", checks=("env.backup-present",)))
    await run_all(runbook, ctx)
    assert runbook.status("gate").state is StepState.FAILED


async def test_a_verify_step_checks_again_while_the_services_settle(repo: App) -> None:
    ctx = repo.context()
    env = repo.dir / ".env"
    env.chmod(0o644)
    verify = Step("verify", "Verify", checks=("env.file-permissions",), retry_for=30)
    runbook = release(ctx, verify)
    lines = []
    async for event in runbook.run_next(ctx, confirmed=True):
        if isinstance(event, StepLog):
            lines.append(event.line)
            if event.line.startswith("Not there yet"):
                env.chmod(0o600)  # fixed while it waits: its next run passes
    assert runbook.status("verify").state is StepState.DONE
    assert "Until they pass, they run again for up to 30 s." in lines
    assert (
        "Not there yet (env.file-permissions); checking again in 2 s, for up to 30 s in all."
        in lines
    )
    # Past its time, it fails with what still stops it.
    env.chmod(0o644)
    runbook = release(ctx, Step("verify", "Verify", checks=("env.file-permissions",), retry_for=1))
    await run_all(runbook, ctx)
    assert runbook.status("verify").message == (
        "1 of 2 checks stop the release: env.file-permissions."
    )


async def test_a_warning_stops_a_gate_only_at_fail_level_warn(repo: App) -> None:
    ctx = repo.context()
    gate = Step("gate", "Gate", checks=("env.key-rotation",))
    runbook = release(ctx, gate, fail_level="warn")
    await run_all(runbook, ctx)
    assert runbook.status("gate").state is StepState.FAILED
    assert runbook.status("gate").message.endswith("stop the release: env.key-rotation.")
    # The fail level is journaled with the runbook's start: a resumed run keeps it.
    [started] = [r for r in audit.read(ctx.config.audit_path) if r.action == "runbook.release"][:1]
    assert (started.step, started.outcome, started.fail_level) == ("", "started", "warn")
    runbook = release(ctx, gate)
    await run_all(runbook, ctx)
    assert runbook.status("gate").state is StepState.DONE


async def test_a_runbook_opened_twice_never_repeats_a_step_the_other_ran(repo: App) -> None:
    """Two dashboards (or a dashboard and the command line) opened the same runbook: once
    one has run a step, the other refuses to run anything until it is opened again."""
    ctx = repo.context()
    first = release(ctx, ENV_BACKUP, code_to("v1.5.0"))
    second = new_runbook(
        "release", first.release, (ENV_BACKUP, code_to("v1.5.0")), {}, "fail", first.journal_seen
    )
    second.run_id = first.run_id
    await run_all(first, ctx)
    assert first.finished() and repo.head_tag() == "v1.5.0"
    before = journal(ctx)
    events = [e async for e in second.run_next(ctx, confirmed=True)]
    assert events == [StepEnded("env-backup", StepState.PENDING, MOVED_ON)]
    assert journal(ctx) == before  # nothing journaled, nothing run
    # A runbook opened before another run started is stale too.
    third = release(ctx, ENV_BACKUP)
    later = release(ctx, ENV_BACKUP)
    await run_all(later, ctx)
    [ended] = [e async for e in third.run_next(ctx, confirmed=True)]
    assert ended == StepEnded("env-backup", StepState.PENDING, MOVED_ON)


async def test_a_runbook_paused_between_steps_is_no_unfinished_fix(repo: App) -> None:
    ctx = repo.context()
    runbook = release(ctx, ENV_BACKUP, code_to("v1.5.0"))
    [_ async for _ in runbook.run_next(ctx, confirmed=True)]
    records = audit.read(ctx.config.audit_path)
    assert ("runbook.release", "", "started") in journal(ctx)  # and no end yet
    assert audit.unfinished(records) == []


async def test_each_attempt_at_a_step_has_its_own_run_id(repo: App) -> None:
    """A step that failed and is run again: if the second attempt is killed, its start has
    no end of its own, and the audit log says so."""
    ctx = repo.context()
    (repo.dir / "requirements.txt").write_text("toolboxai-sdk==9.9.9\n")  # a dirty tree
    runbook = release(ctx, code_to("v1.5.0"))
    await run_all(runbook, ctx)
    repo.git("checkout", "--", "requirements.txt")
    await run_all(runbook, ctx)
    records = audit.read(ctx.config.audit_path)
    code = [(r.run_id, r.outcome) for r in records if r.action == "runbook.release" and r.step]
    run = runbook.run_id
    assert code == [
        (f"{run}/code/1", "started"),
        (f"{run}/code/1", "failed"),
        (f"{run}/code/2", "started"),
        (f"{run}/code/2", "ok"),
    ]
    # The same, killed outright during its second attempt.
    killed = [r for r in records if r.run_id != f"{run}/code/2" or r.outcome == "started"]
    [cut_off] = audit.unfinished(killed)
    assert cut_off.run_id == f"{run}/code/2"


async def test_a_consumer_gone_right_after_the_start_leaves_the_step_ended(repo: App) -> None:
    ctx = repo.context()
    runbook = release(ctx, ENV_BACKUP)
    events = runbook.run_next(ctx, confirmed=True)
    assert await anext(events) == StepStarted("env-backup")
    await events.aclose()  # type: ignore[attr-defined]
    assert journal(ctx)[-2:] == [
        ("runbook.release", "env-backup", "cancelled"),
        ("runbook.release", "", "cancelled"),
    ]
    assert not audit.unfinished(audit.read(ctx.config.audit_path))
    assert runbook.status("env-backup").state is StepState.PENDING


@pytest.mark.parametrize("how", ["cancelled", "abandoned"])
async def test_an_interrupted_step_winds_down_and_the_journal_says_so(app: App, how: str) -> None:
    """Cancelled: a signal or the dashboard quitting; abandoned: the consumer stops reading."""
    add_revision(app.dir, "0009_slow", slow_revision())
    ctx = app.context(require_backup=False)
    migrations = Step("migrations", "Upgrade the database", "db.upgrade")
    runbook = release(ctx, migrations)
    events = runbook.run_next(ctx, confirmed=True)
    if how == "cancelled":

        async def consume() -> None:
            async for _ in events:
                pass

        task = asyncio.create_task(consume())
        await wait_until_running(app.database_url, "pg_sleep")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        async for event in events:
            # The run's log line (the preview's says "... from X to Y"): alembic is starting.
            line = event.line if isinstance(event, StepLog) else ""
            if re.fullmatch(r"alembic upgrade heads on \S+", line):
                break
        await wait_until_running(app.database_url, "pg_sleep")
        await events.aclose()  # type: ignore[attr-defined]
    status = runbook.status("migrations")
    assert status.state is StepState.PENDING and "rolled back" in status.message
    assert journal(ctx)[-2:] == [
        ("runbook.release", "migrations", "cancelled"),
        ("runbook.release", "", "cancelled"),
    ]
    assert await fetchval(app.database_url, "SELECT version_num FROM alembic_version") == (
        "0002_roblox_email_queue"
    )
    assert not audit.unfinished(audit.read(ctx.config.audit_path))
