"""Actions are refused when read-only or unconfirmed, and every attempt is audited."""

from __future__ import annotations

from pathlib import Path

from checks import audit
from checks.core import Action, ActionFailed
from checks.runner import ActionDone, Log, run_action
from tests.conftest import MakeContext


def make_action(target: Path, dangerous: bool, fail: bool = False) -> Action:
    async def preview(ctx):  # type: ignore[no-untyped-def]
        return f"write 'done' to {target.name}"

    async def run(ctx):  # type: ignore[no-untyped-def]
        ctx.log("writing")
        if fail:
            raise ActionFailed("the disk said no")
        target.write_text("done")
        return f"wrote {target.name}"

    return Action("t.write-file", "Write a file", "w", dangerous, "health", preview, run)


async def run(action: Action, ctx, **kwargs) -> list:  # type: ignore[no-untyped-def]
    return [e async for e in run_action(action, ctx, **kwargs)]


async def test_safe_action_runs_logs_and_is_audited(
    make_context: MakeContext, tmp_path: Path
) -> None:
    target = tmp_path / "out.txt"
    ctx = make_context()
    events = await run(make_action(target, dangerous=False), ctx, confirmed=False)
    assert [e.line for e in events if isinstance(e, Log)] == ["write 'done' to out.txt", "writing"]
    assert isinstance(events[-1], ActionDone) and events[-1].outcome == "ok"
    assert target.read_text() == "done"
    [record] = audit.read(ctx.config.audit_path)
    assert (record.action, record.outcome, record.dangerous) == ("t.write-file", "ok", False)


async def test_dangerous_action_needs_confirmation(
    make_context: MakeContext, tmp_path: Path
) -> None:
    target = tmp_path / "out.txt"
    ctx = make_context()
    events = await run(make_action(target, dangerous=True), ctx, confirmed=False)
    assert events[-1].outcome == "refused" and "not confirmed" in events[-1].message
    assert not target.exists()
    assert audit.read(ctx.config.audit_path)[0].outcome == "refused"


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
    assert audit.read(ctx.config.audit_path)[0].outcome == "failed"


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

    async def preview(ctx):  # type: ignore[no-untyped-def]
        return "wait forever"

    async def run_forever(ctx):  # type: ignore[no-untyped-def]
        ctx.log("started")
        started.set()
        await asyncio.Event().wait()
        return "never"

    ctx = make_context()
    stream = run_action(
        Action("t.forever", "Forever", "", False, "health", preview, run_forever),
        ctx,
        confirmed=True,
    )
    async for event in stream:
        if isinstance(event, Log) and event.line == "started":
            break
    await stream.aclose()
    [record] = audit.read(ctx.config.audit_path)
    assert record.outcome == "cancelled"
