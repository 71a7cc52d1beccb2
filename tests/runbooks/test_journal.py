"""Opening a runbook reads the journal: a new release or rollback, the unfinished one resumed
from where it stopped (a cut-off step re-planned, a done step never repeated), and a rollback
that undoes only what the release before it did."""

from __future__ import annotations

import pytest

from checks import audit
from checks.context import CheckContext
from checks.runbooks import (
    Runbook,
    RunbookError,
    StepEnded,
    StepState,
    journal,
    open_release,
    open_rollback,
)
from tests.runbooks.conftest import App

RUN = "a1b2c3d4e5f6"
RELEASE_STEPS = (
    "gate",
    "env-backup",
    "db-backup",
    "code",
    "deps",
    "env",
    "migrations",
    "restart",
    "verify",
)


def write(
    ctx: CheckContext, step: str, outcome: str, kind: str = "release", attempt: int = 1, **kw: str
) -> None:
    run = journal.RunbookRun(kw.get("run_id", RUN), kind, kw.get("release", "v1.4.0 -> v1.5.0"))
    message = kw.get("message", f"{step or 'runbook'} {outcome}")
    fail_level = kw.get("fail_level", "")
    attempt = attempt if step else 0
    journal.write(ctx, run, outcome, message, step=step, attempt=attempt, fail_level=fail_level)


def killed_at_code(ctx: CheckContext) -> None:
    """The journal of a release whose process died while it checked out v1.5.0."""
    write(ctx, "", "started")
    for step in ("gate", "env-backup", "db-backup"):
        write(ctx, step, "started")
        write(ctx, step, "ok")
    write(ctx, "code", "started")


def stopped_at_gate(ctx: CheckContext, fail_level: str = "") -> None:
    """The journal of a release whose gate failed: it changed nothing."""
    write(ctx, "", "started", fail_level=fail_level)
    write(ctx, "gate", "started")
    write(ctx, "gate", "failed")
    write(ctx, "", "failed")


def states(runbook: Runbook) -> dict[str, str]:
    return {s.step.id: s.state.value for s in runbook.statuses}


async def test_a_new_release_goes_from_head_to_the_tag(repo: App) -> None:
    runbook = await open_release(repo.context(), "v1.5.0")
    assert runbook.title == "Release v1.4.0 -> v1.5.0"
    assert runbook.resumed_note == "" and len(runbook.run_id) == 12
    assert tuple(s.step.id for s in runbook.statuses) == RELEASE_STEPS
    assert set(states(runbook).values()) == {"pending"}
    dangerous = [s.step.id for s in runbook.statuses if s.step.dangerous]
    assert dangerous == ["code", "deps", "env", "migrations", "restart"]
    assert runbook.status("code").step.params == {"tag": "v1.5.0"}


async def test_a_tag_that_is_not_a_release_is_refused_plainly(repo: App) -> None:
    ctx = repo.context()
    known = r"no release tag v9\.9\.9 .*; known: v1\.3\.0, v1\.4\.0, v1\.5\.0"
    with pytest.raises(RunbookError, match=known):
        await open_release(ctx, "v9.9.9")
    with pytest.raises(RunbookError, match="'main' is not a release tag"):
        await open_release(ctx, "main")
    with pytest.raises(RunbookError, match=r"v1\.3\.0 is older than the deployed v1\.4\.0: "):
        await open_release(ctx, "v1.3.0")


async def test_a_release_cut_off_mid_step_resumes_there_and_repeats_no_done_step(
    repo: App,
) -> None:
    ctx = repo.context()
    killed_at_code(ctx)
    repo.git("checkout", "--quiet", "--detach", "v1.5.0")  # the checkout had happened
    with pytest.raises(RunbookError, match=r"unfinished .*--resume"):
        await open_release(ctx, "v1.5.0", resume=False)
    runbook = await open_release(ctx, "v1.5.0", resume=True)
    assert runbook.run_id == RUN and runbook.title == "Release v1.4.0 -> v1.5.0"
    assert list(states(runbook).values())[:5] == ["done", "done", "done", "cut off", "pending"]
    note = runbook.resumed_note
    assert note.startswith("Resumed: step 'code' (Check out v1.5.0) was cut off at ")
    assert "git status" in note  # what to check by hand
    assert runbook.next_status() is runbook.status("code")
    events = [e async for e in runbook.run_next(ctx, confirmed=True)]
    ended = events[-1]
    assert isinstance(ended, StepEnded) and ended.state is StepState.DONE
    assert ended.message.startswith("already done: ")  # re-planned against the world now
    records = audit.read(ctx.config.audit_path)
    assert not any(r.action == "env.snapshot-backup" for r in records)
    mine = [(r.run_id, r.outcome) for r in records if r.runbook == RUN and r.action[0] == "r"]
    assert mine[-4:] == [
        (RUN, "started"),
        (f"{RUN}/code/1", "cut-off"),  # the attempt that was cut off gets its end
        (f"{RUN}/code/2", "started"),
        (f"{RUN}/code/2", "already-done"),
    ]
    assert not audit.unfinished(records)


async def test_an_unfinished_release_blocks_another_target_and_a_new_release(repo: App) -> None:
    ctx = repo.context()
    killed_at_code(ctx)
    with pytest.raises(RunbookError, match=r"release v1\.4\.0 -> v1\.5\.0 is unfinished"):
        await open_release(ctx, "v1.3.0")
    write(ctx, "", "started", kind="rollback", run_id="r0", release="v1.5.0 -> v1.4.0")
    write(ctx, "db-backup", "started", kind="rollback", run_id="r0", release="v1.5.0 -> v1.4.0")
    with pytest.raises(RunbookError, match=r"A rollback .* is unfinished"):
        await open_release(ctx, "v1.5.0")


async def test_a_release_stopped_at_the_gate_changed_nothing_and_a_new_one_starts(
    repo: App,
) -> None:
    ctx = repo.context()
    stopped_at_gate(ctx)
    runbook = await open_release(ctx, "v1.5.0", resume=False)
    assert runbook.run_id != RUN and runbook.resumed_note == ""
    resumed = await open_release(ctx, "v1.5.0", resume=True)
    assert resumed.run_id == RUN and resumed.status("gate").state is StepState.FAILED
    assert "step 'gate' failed" in resumed.resumed_note


async def test_nothing_to_resume_is_said(repo: App) -> None:
    with pytest.raises(RunbookError, match="no unfinished release to resume"):
        await open_release(repo.context(), "v1.5.0", resume=True)
    with pytest.raises(RunbookError, match="no unfinished rollback to resume"):
        await open_rollback(repo.context(), resume=True)


async def test_a_rollback_without_a_release_in_the_journal_takes_every_step(repo: App) -> None:
    runbook = await open_rollback(repo.context())
    assert runbook.title == "Rollback v1.4.0 -> v1.3.0"
    assert [s.step.id for s in runbook.statuses] == [
        "db-backup",
        "migrations",
        "code",
        "deps",
        "env",
        "restart",
        "verify",
    ]
    assert set(states(runbook).values()) == {"pending"}
    # v1.3.0 had the baseline only: the downgrade goes there.
    assert runbook.status("migrations").step.params == {"to": "0001_baseline"}
    assert runbook.status("code").step.params == {"tag": "v1.3.0"}


async def test_a_rollback_undoes_only_what_the_release_got_to(repo: App) -> None:
    ctx = repo.context()
    killed_at_code(ctx)
    repo.git("checkout", "--quiet", "--detach", "v1.5.0")
    runbook = await open_rollback(ctx)
    # Back to where the release came from, not to the release before v1.5.0's parent.
    assert runbook.title == "Rollback v1.5.0 -> v1.4.0"
    assert states(runbook) == {
        "db-backup": "skipped",
        "migrations": "skipped",
        "code": "pending",
        "deps": "skipped",
        "env": "skipped",
        "restart": "pending",
        "verify": "pending",
    }
    assert runbook.status("deps").message == "skipped: the release did not get to this step"
    assert runbook.status("migrations").step.params == {"to": "0002_roblox_email_queue"}
    [*_, ended] = [e async for e in runbook.run_next(ctx, confirmed=True)]
    assert ended.state is StepState.DONE and repo.head_tag() == "v1.4.0"
    records = [r for r in audit.read(ctx.config.audit_path) if r.runbook == runbook.run_id]
    skipped = [r.step for r in records if r.outcome == "skipped"]
    assert skipped == ["db-backup", "migrations", "deps", "env"]


async def test_an_unfinished_rollback_resumes_with_the_same_skips(repo: App) -> None:
    ctx = repo.context()
    killed_at_code(ctx)
    repo.git("checkout", "--quiet", "--detach", "v1.5.0")
    first = await open_rollback(ctx)
    [_ async for _ in first.run_next(ctx, confirmed=True)]  # code: done
    resumed = await open_rollback(ctx, resume=True)
    assert resumed.run_id == first.run_id
    assert resumed.resumed_note == "Resumed: from step 'restart' (Restart the services)."
    assert states(resumed)["code"] == "done" and states(resumed)["deps"] == "skipped"
    with pytest.raises(RunbookError, match=r"rollback v1\.5\.0 -> v1\.4\.0 is unfinished"):
        await open_rollback(ctx, "v1.3.0")


async def test_no_git_checkout_and_an_unreadable_journal_are_said_plainly(repo: App) -> None:
    ctx = repo.context(app_dir=repo.dir / "alembic")  # a directory inside: still the repo
    assert (await open_rollback(ctx)).title == "Rollback v1.4.0 -> v1.3.0"
    nowhere = repo.context(app_dir=repo.dir.parent, audit_log=repo.dir / "toolbox-audit.log")
    with pytest.raises(RunbookError, match="is not a git checkout"):
        await open_release(nowhere, "v1.5.0")
    unreadable = repo.context(audit_log=repo.dir / "alembic")  # a directory
    with pytest.raises(RunbookError, match=r"audit log .* cannot be read"):
        await open_release(unreadable, "v1.5.0")


async def test_an_interrupted_step_is_said_and_runs_again(repo: App) -> None:
    ctx = repo.context()
    killed_at_code(ctx)
    write(ctx, "code", "cancelled", message="Interrupted: nothing had been changed.")
    write(ctx, "", "cancelled")
    with pytest.raises(RunbookError, match=r"unfinished \(its step 'code' was interrupted at "):
        await open_release(ctx, "v1.5.0", resume=False)
    runbook = await open_release(ctx, "v1.5.0")
    assert runbook.resumed_note == (
        "Resumed: step 'code' was interrupted: Interrupted: nothing had been changed. "
        "It runs again."
    )
    assert runbook.next_status() is runbook.status("code")


async def test_a_run_whose_every_step_ended_is_finished_without_its_own_end(repo: App) -> None:
    """The process died after its last step's end and before the runbook's: it is done, and
    the journal says so once it is opened."""
    ctx = repo.context()
    write(ctx, "", "started")
    for step in RELEASE_STEPS:
        write(ctx, step, "started")
        write(ctx, step, "ok")
    with pytest.raises(RunbookError, match="no unfinished release to resume"):
        await open_release(ctx, "v1.5.0", resume=True)
    records = [r for r in audit.read(ctx.config.audit_path) if r.runbook == RUN]
    assert (records[-1].step, records[-1].outcome) == ("", "ok")
    assert "every step is done" in records[-1].message
    runbook = await open_release(ctx, "v1.5.0")  # a new one, nothing to resume
    assert runbook.run_id != RUN and runbook.resumed_note == ""
    # Read-only, it writes nothing and still reads as finished.
    write(ctx, "", "started", run_id="r2")
    for step in RELEASE_STEPS:
        write(ctx, step, "ok", run_id="r2")
    before = len(audit.read(ctx.config.audit_path))
    fresh = await open_release(repo.context(read_only=True), "v1.5.0")
    assert fresh.run_id not in (RUN, "r2") and fresh.resumed_note == ""
    assert len(audit.read(ctx.config.audit_path)) == before


async def test_a_release_that_changed_nothing_has_nothing_to_roll_back(repo: App) -> None:
    ctx = repo.context()
    stopped_at_gate(ctx)
    nothing = (
        r"The release v1\.4\.0 -> v1\.5\.0 changed nothing \(it stopped at the gate\): "
        "nothing to roll back"
    )
    with pytest.raises(RunbookError, match=nothing):
        await open_rollback(ctx)
    with pytest.raises(RunbookError, match=nothing):
        await open_rollback(ctx, "v1.4.0")
    # Named, an older release is a rollback of the deployed one: every step.
    runbook = await open_rollback(ctx, "v1.3.0")
    assert runbook.title == "Rollback v1.4.0 -> v1.3.0"
    assert set(states(runbook).values()) == {"pending"}


async def test_releasing_the_deployed_tag_is_refused(repo: App) -> None:
    with pytest.raises(RunbookError, match=r"^v1\.4\.0 is already deployed"):
        await open_release(repo.context(), "v1.4.0")
    assert not repo.config.audit_path.exists()


async def test_a_resumed_release_keeps_its_fail_level(repo: App) -> None:
    ctx = repo.context()
    stopped_at_gate(ctx, fail_level="warn")
    assert (await open_release(ctx, "v1.5.0", resume=True)).fail_level == "warn"
    named = await open_release(ctx, "v1.5.0", fail_level="fail", resume=True)
    assert named.fail_level == "fail"  # named again, it wins
    assert (await open_release(ctx, "v1.5.0", resume=False)).fail_level == "fail"  # a new one
