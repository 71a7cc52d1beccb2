"""Actions are refused when read-only or unconfirmed, and every attempt is audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks import audit
from checks.core import Action, ActionFailed, ActionRefused, plan, refused_plan
from checks.events import ActionDone, Log
from checks.runner import run_action
from tests.conftest import MakeContext


def make_action(target: Path, dangerous: bool, fail: bool = False) -> Action:
    async def make_plan(ctx):  # type: ignore[no-untyped-def]
        return plan(f"write 'done' to {target.name}", target=target)

    async def run(ctx, planned):  # type: ignore[no-untyped-def]
        ctx.log("writing")
        if fail:
            raise ActionFailed("the disk said no")
        planned.payload["target"].write_text("done")
        ctx.changed(f"wrote {target.name}")
        return f"wrote {target.name}"

    return Action("t.write-file", "Write a file", "w", dangerous, "health", make_plan, run)


async def run(action: Action, ctx, **kwargs) -> list:  # type: ignore[no-untyped-def]
    return [e async for e in run_action(action, ctx, **kwargs)]


async def test_safe_action_runs_logs_and_is_audited(
    make_context: MakeContext, tmp_path: Path
) -> None:
    target = tmp_path / "out.txt"
    ctx = make_context()
    events = await run(make_action(target, dangerous=False), ctx, confirmed=False)
    logged = [e.line for e in events if isinstance(e, Log)]
    assert logged == ["write 'done' to out.txt", "writing", "wrote out.txt"]
    assert isinstance(events[-1], ActionDone) and events[-1].outcome == "ok"
    assert target.read_text() == "done"
    [record] = audit.endings(audit.read(ctx.config.audit_path))
    assert (record.action, record.outcome, record.dangerous) == ("t.write-file", "ok", False)


async def test_dangerous_action_needs_confirmation(
    make_context: MakeContext, tmp_path: Path
) -> None:
    target = tmp_path / "out.txt"
    ctx = make_context()
    events = await run(make_action(target, dangerous=True), ctx, confirmed=False)
    assert events[-1].outcome == "refused" and "not confirmed" in events[-1].message
    assert not target.exists()
    assert audit.endings(audit.read(ctx.config.audit_path))[0].outcome == "refused"


async def test_read_only_refuses_even_confirmed(make_context: MakeContext, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    ctx = make_context(read_only=True)
    events = await run(make_action(target, dangerous=True), ctx, confirmed=True)
    assert events[-1].outcome == "refused" and "read-only" in events[-1].message
    assert not target.exists()


async def test_dry_run_previews_only(make_context: MakeContext, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    ctx = make_context()
    events = await run(make_action(target, dangerous=True), ctx, confirmed=True, dry_run=True)
    assert events[0].line.startswith("write 'done'")
    assert events[-1].outcome == "dry-run" and not target.exists()


async def test_failure_is_reported_and_audited(make_context: MakeContext, tmp_path: Path) -> None:
    ctx = make_context()
    events = await run(make_action(tmp_path / "x", False, fail=True), ctx, confirmed=True)
    assert events[-1].outcome == "failed" and events[-1].message == "the disk said no"
    assert audit.endings(audit.read(ctx.config.audit_path))[0].outcome == "failed"


async def test_unwritable_audit_log_refuses_to_act(
    make_context: MakeContext, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    ctx = make_context(audit_log=blocker / "audit.log")
    target = tmp_path / "out.txt"
    events = await run(make_action(target, dangerous=False), ctx, confirmed=True)
    assert events[-1].outcome == "refused" and "audit log" in events[-1].message
    assert not target.exists()


async def test_read_only_writes_nothing_not_even_the_audit_log(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(read_only=True, audit_log=tmp_path / "sub" / "audit.log")
    events = await run(make_action(tmp_path / "x", dangerous=False), ctx, confirmed=True)
    assert events[-1].outcome == "refused"
    assert not (tmp_path / "sub").exists()


async def test_dry_run_is_allowed_under_read_only(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(read_only=True)
    events = await run(make_action(tmp_path / "x", True), ctx, confirmed=False, dry_run=True)
    assert events[-1].outcome == "dry-run"


async def test_an_action_cut_off_half_way_is_still_audited(
    make_context: MakeContext, tmp_path: Path
) -> None:
    import asyncio

    started = asyncio.Event()

    async def make_plan(ctx):  # type: ignore[no-untyped-def]
        return plan("wait forever")

    async def run_forever(ctx, planned):  # type: ignore[no-untyped-def]
        ctx.log("started")
        started.set()
        await asyncio.Event().wait()
        return "never"

    ctx = make_context()
    stream = run_action(
        Action("t.forever", "Forever", "", False, "health", make_plan, run_forever),
        ctx,
        confirmed=True,
    )
    async for event in stream:
        if isinstance(event, Log) and event.line == "started":
            break
    await stream.aclose()
    [record] = audit.endings(audit.read(ctx.config.audit_path))
    assert record.outcome == "cancelled"


async def test_a_run_leaves_a_started_line_then_its_end_with_the_plan_digest(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context()
    await run(make_action(tmp_path / "out.txt", dangerous=False), ctx, confirmed=True)
    started, ended = audit.read(ctx.config.audit_path)
    assert (started.outcome, ended.outcome) == ("started", "ok")
    assert started.run_id and started.run_id == ended.run_id
    assert started.plan and started.plan == ended.plan
    assert ended.changes == ["wrote out.txt"]
    assert audit.unfinished(audit.read(ctx.config.audit_path)) == []


async def test_a_refusing_plan_is_refused_and_audited_as_refused(
    make_context: MakeContext, tmp_path: Path
) -> None:
    async def make_plan(ctx):  # type: ignore[no-untyped-def]
        return refused_plan("Refused: no verified backup.", "alembic upgrade heads")

    async def never(ctx, planned):  # type: ignore[no-untyped-def]
        raise AssertionError("a refused plan must not run")

    ctx = make_context()
    gated = Action("t.gated", "Gated", "", True, "health", make_plan, never)
    events = await run(gated, ctx, confirmed=True)
    assert [e.line for e in events if isinstance(e, Log)][-1] == "Refused: no verified backup."
    assert (events[-1].outcome, events[-1].message) == ("refused", "Refused: no verified backup.")
    [record] = audit.read(ctx.config.audit_path)
    assert (record.outcome, record.message) == ("refused", "Refused: no verified backup.")


async def test_a_world_that_changed_since_the_plan_is_a_refusal(
    make_context: MakeContext, tmp_path: Path
) -> None:
    async def make_plan(ctx):  # type: ignore[no-untyped-def]
        return plan("write, if the file is still absent")

    async def moved_on(ctx, planned):  # type: ignore[no-untyped-def]
        raise ActionRefused("Refused: the file appeared since the preview.")

    ctx = make_context()
    events = await run(
        Action("t.w", "W", "", False, "health", make_plan, moved_on), ctx, confirmed=True
    )
    assert events[-1].outcome == "refused"
    assert [r.outcome for r in audit.read(ctx.config.audit_path)] == ["started", "refused"]


async def test_an_interrupted_action_records_what_it_had_changed(
    make_context: MakeContext, tmp_path: Path
) -> None:
    import asyncio

    halfway = asyncio.Event()

    async def make_plan(ctx):  # type: ignore[no-untyped-def]
        return plan("two steps")

    async def two_steps(ctx, planned):  # type: ignore[no-untyped-def]
        ctx.changed("did the first step")
        halfway.set()
        await asyncio.Event().wait()
        return "never"

    ends = []
    ctx = make_context()
    stream = run_action(
        Action("t.two", "Two", "", False, "health", make_plan, two_steps),
        ctx,
        confirmed=True,
        on_end=ends.append,
    )
    async for _ in stream:
        if halfway.is_set():
            break
    await stream.aclose()
    [done] = ends
    assert done.outcome == "cancelled"
    assert done.message == "Interrupted: it had already did the first step."
    [record] = audit.endings(audit.read(ctx.config.audit_path))
    assert record.changes == ["did the first step"]


def test_a_started_line_without_an_end_is_unfinished(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    base = {"at": "2026-11-28T12:00:00+00:00", "message": "", "dangerous": True, "env_file": ".env"}
    for run_id, outcome in (("a", "started"), ("a", "ok"), ("b", "started")):
        audit.append(
            log, audit.AuditRecord(action="db.upgrade", outcome=outcome, run_id=run_id, **base)
        )
    log.open("a").write("{torn line\n")  # a torn write is skipped, not a crash
    [left] = audit.unfinished(audit.read(log))
    assert left.run_id == "b"


def test_the_audit_log_refuses_a_symlink_or_a_device(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    link = tmp_path / "audit.log"
    link.symlink_to(target)
    with pytest.raises(OSError):
        audit.ensure_writable(link)
    with pytest.raises(OSError):
        audit.ensure_writable(Path("/dev/null"))
    assert target.read_text() == ""


# -- reading it back --------------------------------------------------------------------------


def _one_record(log: Path, action: str = "db.upgrade") -> None:
    audit.append(
        log,
        audit.AuditRecord(
            at="2026-11-28T12:00:00+00:00",
            action=action,
            outcome="ok",
            message="",
            dangerous=False,
            env_file=".env",
        ),
    )


def test_lines_that_are_not_records_are_counted_and_skipped(tmp_path: Path) -> None:
    import json

    log = tmp_path / "audit.log"
    _one_record(log, "first")
    good = json.loads(log.read_text())
    with log.open("a") as out:
        out.write("[1]\n")  # a hand edit: JSON, but not an object
        out.write('"just text"\n')
        out.write("{torn\n")
        out.write("\n")  # a blank line is nothing, not a bad record
        out.write(json.dumps({**good, "run_id": [1]}) + "\n")  # unhashable where a str goes
        out.write(json.dumps({**good, "pid": True}) + "\n")
        out.write(json.dumps({**good, "changes": "not a list"}) + "\n")
        out.write(json.dumps({k: v for k, v in good.items() if k != "action"}) + "\n")
    _one_record(log, "last")
    found = audit.read_log(log)
    assert [r.action for r in found.records] == ["first", "last"]
    assert found.skipped == 7
    assert audit.unfinished(found.records) == []  # and nothing downstream trips over them


def test_no_log_yet_is_no_records(tmp_path: Path) -> None:
    assert audit.read_log(tmp_path / "audit.log") == audit.AuditLog([], 0)


def test_reading_a_fifo_in_the_logs_place_is_refused_without_hanging(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "audit.log"
    os.mkfifo(fifo)
    # A plain read would block here for ever: nothing ever writes to the FIFO.
    with pytest.raises(audit.AuditLogUnreadable, match="it is a FIFO, not a regular file"):
        audit.read(fifo)


def test_reading_a_symlink_or_a_directory_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.log"
    _one_record(real)
    link = tmp_path / "audit.log"
    link.symlink_to(real)
    with pytest.raises(audit.AuditLogUnreadable, match="a symbolic link"):
        audit.read(link)
    with pytest.raises(audit.AuditLogUnreadable, match="a directory"):
        audit.read(tmp_path)


def test_a_log_over_the_size_limit_is_refused_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "audit.log"
    _one_record(log)
    monkeypatch.setattr(audit, "MAX_READ_BYTES", log.stat().st_size - 1)
    with pytest.raises(audit.AuditLogUnreadable, match="archive it"):
        audit.read(log)
    monkeypatch.setattr(audit, "MAX_READ_BYTES", log.stat().st_size)
    assert len(audit.read(log)) == 1


async def test_an_audit_log_that_is_a_fifo_fails_the_unfinished_fixes_check_plainly(
    make_context: MakeContext, tmp_path: Path
) -> None:
    import os

    from checks import catalog
    from tests.checks.db_helpers import run_check

    catalog.load(["rollback"])
    fifo = tmp_path / "audit.log"
    os.mkfifo(fifo)
    result = await run_check(make_context("", audit_log=fifo), "audit.unfinished-fixes")
    assert result.status.value == "fail", result.message
    assert "cannot be read" in result.message and "FIFO" in result.message
    assert "TOOLBOX_AUDIT_LOG" in result.hint
