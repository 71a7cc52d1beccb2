"""Runs checks concurrently and actions one at a time, as a stream of events.

Every event passes through the context's redactor here — the one boundary — before a
front end sees it. A check that raises becomes ``error`` with a readable message, one
that overruns its timeout becomes ``error`` saying so, and one whose ``needs`` did not
pass is skipped with the reason, as is, in read-only mode, one that writes to the app.
Closing the stream cancels whatever is still running.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace

from checks.context import CheckContext
from checks.core import (
    Action,
    ActionFailed,
    ActionRefused,
    CheckFailed,
    CheckResult,
    CheckSkipped,
    CheckSpec,
    Outcome,
    Plan,
    Status,
    refused_plan,
)
from checks.events import ActionDone, Event, Finished, Log, Started
from checks.memo import RunMemo
from checks.waivers import waive


async def run_checks(specs: Sequence[CheckSpec], ctx: CheckContext) -> AsyncIterator[Event]:
    """Run ``specs`` concurrently, yielding events as they happen (already redacted)."""
    memo = RunMemo()
    ctx = replace(ctx, memo=memo)
    queue: asyncio.Queue[Event] = asyncio.Queue()

    def emit(event: Event) -> None:
        queue.put_nowait(ctx.redactor.value(event))

    loop = asyncio.get_running_loop()
    results: dict[str, asyncio.Future[Status]] = {s.id: loop.create_future() for s in specs}
    # Tasks start in the order they are made: the checks that wait for nothing first, so that
    # slow starts (reading the migration scripts, connecting) are not queued behind the
    # thirty quick checks that wait for the env file anyway.
    ready_first = sorted(specs, key=lambda spec: bool(spec.needs))
    tasks = [asyncio.create_task(_run_one(spec, ctx, emit, results)) for spec in ready_first]
    remaining = len(specs)
    try:
        while remaining:
            event = await queue.get()
            if isinstance(event, Finished):
                remaining -= 1
            yield event
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        memo.close()


async def _run_one(
    spec: CheckSpec,
    ctx: CheckContext,
    emit: Callable[[Event], None],
    results: dict[str, asyncio.Future[Status]],
) -> None:
    status = Status.ERROR
    try:
        # The one place read-only mode holds back a check, as _refusal does an action; its
        # needs are not waited for: it will not run whatever they say.
        held_back = spec.writes and ctx.config.read_only
        unmet = "" if held_back else await _unmet_needs(spec, results)
        if held_back:
            result = CheckResult.from_outcome(spec, READ_ONLY_SKIP, 0.0)
        elif unmet:
            outcome = Outcome(
                Status.SKIP,
                f"Skipped: needs {unmet}.",
                hint="Fix that check first; this one runs once it passes.",
            )
            result = CheckResult.from_outcome(spec, outcome, 0.0)
        else:
            emit(Started(spec.id))
            result = await _timed(spec, ctx.bound(lambda line: emit(Log(spec.id, line))), ctx)
        status = result.status
        # The one place waivers apply: the status stays, the result says who accepted it.
        emit(Finished(await waive(result, ctx)))
    finally:
        future = results[spec.id]
        if not future.done():
            future.set_result(status)


READ_ONLY_SKIP = Outcome(
    Status.SKIP,
    "Skipped: --read-only: toolbox-tui is in read-only mode (TOOLBOX_READ_ONLY), and this "
    "check writes to the app (it changes something in the deployment to prove it works: a "
    "test record, a token, failed logins); run it without --read-only.",
    hint="Read-only mode only looks. Run toolbox-tui without --read-only (and with "
    "TOOLBOX_READ_ONLY unset) to run this check.",
)
"""What a check that ``writes`` gives in read-only mode, instead of running."""


async def _unmet_needs(spec: CheckSpec, results: dict[str, asyncio.Future[Status]]) -> str:
    unmet = []
    for need in spec.needs:
        future = results.get(need)
        if future is None:
            continue  # not selected: nothing to wait for
        status = await asyncio.shield(future)
        if not status.satisfies_needs:
            unmet.append(f"{need} ({status.value})")
    return ", ".join(unmet)


async def _timed(spec: CheckSpec, bound: CheckContext, ctx: CheckContext) -> CheckResult:
    timeout = ctx.config.check_timeout or spec.timeout
    began: list[float] = []
    ended: list[float] = []

    async def call() -> Outcome:
        # The clock runs while the check itself runs, inside its own task: not while it is
        # queued behind the forty others started with it, nor while this task waits its turn
        # to resume afterwards. Each row shows its own time.
        began.append(time.perf_counter())
        try:
            return await spec.func(bound)
        finally:
            ended.append(time.perf_counter())

    queued = time.perf_counter()
    try:
        outcome = await asyncio.wait_for(call(), timeout)
        if not isinstance(outcome, Outcome):
            raise TypeError(f"check returned {type(outcome).__name__}, not an Outcome")
    except CheckFailed as exc:
        outcome = Outcome(Status.FAIL, str(exc), hint=exc.hint)
    except CheckSkipped as exc:
        outcome = Outcome(
            Status.SKIP,
            f"Skipped: {exc.reason}.",
            hint=exc.hint or "Fix that first; this check runs after.",
        )
    except TimeoutError:
        outcome = Outcome(
            Status.ERROR,
            f"Timed out after {timeout:g} s; the check could not decide.",
            hint="Is the service hung or unreachable? Raise TOOLBOX_CHECK_TIMEOUT if it is "
            "just slow.",
        )
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # we are being cancelled (quit, a new run): let it through
        # A library cancelled its own work and let it escape: still a broken check.
        outcome = Outcome(
            Status.ERROR,
            "The check was cancelled from inside (a library gave up on its own).",
            hint="This is a bug in the check; re-run it, and report it if it repeats.",
        )
    except Exception as exc:  # a broken check must look different from a failed one
        # Redact the whole text before splitting it: a multi-line secret is only
        # recognisable whole.
        text = ctx.redactor.text("".join(traceback.format_exception(exc)))
        for part in text.splitlines():
            bound.log(part)
        outcome = Outcome(
            Status.ERROR,
            f"The check crashed: {type(exc).__name__}: {exc}",
            hint="This is a bug in the check or an unexpected answer; the log has details.",
        )
    finish = ended[0] if ended else time.perf_counter()  # a timeout ends it from outside
    duration_ms = (finish - (began[0] if began else queued)) * 1000
    return CheckResult.from_outcome(spec, outcome, duration_ms)


async def build_plan(action: Action, ctx: CheckContext) -> Plan:
    """``action``'s plan; one that cannot be built becomes a plan that refuses, saying why."""
    try:
        return await action.plan(ctx)
    except CheckFailed as exc:
        return refused_plan(f"Refused: {exc} {exc.hint}".strip())
    except ActionFailed as exc:
        return refused_plan(f"Refused: {exc}")
    except Exception as exc:
        return refused_plan(f"Refused: the plan could not be built: {type(exc).__name__}: {exc}")


def shown(plan: Plan, ctx: CheckContext) -> str:
    """The plan as a person sees it (redacted): what the preview shows and the audit digests."""
    return ctx.redactor.text(plan.text)


WIND_DOWN_SECONDS = 30.0
"""How long an interrupted action may take to stop cleanly (a subprocess rolls back, a write
already under way completes) before its record is written without knowing the end."""


async def run_action(
    action: Action,
    ctx: CheckContext,
    *,
    confirmed: bool,
    dry_run: bool = False,
    plan: Plan | None = None,
    on_end: Callable[[ActionDone], None] | None = None,
) -> AsyncIterator[Event]:
    """Show ``action``'s plan, then (unless refused) run exactly that plan.

    ``plan`` is the one the caller already showed and had confirmed; otherwise it is built
    here. ``on_end`` receives the final ActionDone even when the consumer is cancelled
    part-way (it then never sees the last event).

    Refused when dry-running, when the tool is read-only, when the plan itself refuses (say,
    no backup), when the audit log cannot be written, or when a dangerous action was not
    confirmed. Every attempt that could have changed something is audited: a ``started`` line
    before it runs (so even a kill -9 leaves a trace) and its end: done, failed, refused,
    or interrupted, with the changes it had made by then.
    """

    def end(done: ActionDone) -> ActionDone:
        if on_end is not None:
            on_end(done)
        return done

    if plan is None:
        plan = await build_plan(action, ctx)
    text = shown(plan, ctx)
    for line in text.splitlines():
        yield Log(action.id, line)
    digest = plan.digest(text)

    refusal = _refusal(action, ctx, plan, confirmed=confirmed, dry_run=dry_run)
    if refusal is not None:
        if refusal.audited:
            _record(action, ctx, refusal, digest=digest)  # someone tried it: worth a line
        yield end(refusal)
        return

    run_id = uuid.uuid4().hex[:12]
    try:
        _record(action, ctx, ActionDone(action.id, "started", "Started."), digest, run_id)
    except OSError as exc:
        yield end(ActionDone(action.id, "refused", _audit_refusal(ctx, exc)))
        return

    changes: list[str] = []
    lines: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(action.run(ctx.bound(lines.put_nowait, changes.append), plan))
    done: ActionDone | None = None
    try:
        while not task.done() or not lines.empty():
            getter = asyncio.ensure_future(lines.get())
            try:
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                getter.cancel()
            if getter.done() and not getter.cancelled():
                yield ctx.redactor.value(Log(action.id, getter.result()))
        done = _ended(action, task, changes)
    finally:
        if done is None:
            # Interrupted (Ctrl-C, SIGTERM, quit) or the consumer went away: let the action
            # stop cleanly, so that its record says what it had changed by then.
            done = await _wind_down(action, task, changes)
        done = ctx.redactor.value(done)
        _record(action, ctx, done, digest, run_id, changes)
        end(done)
    yield done


def _ended(action: Action, task: asyncio.Task[str], changes: list[str]) -> ActionDone:
    try:
        return ActionDone(action.id, "ok", task.result(), tuple(changes))
    except ActionRefused as exc:
        return ActionDone(action.id, "refused", str(exc), tuple(changes))
    except ActionFailed as exc:
        return ActionDone(action.id, "failed", str(exc), tuple(changes))
    except CheckFailed as exc:
        return ActionDone(action.id, "failed", f"{exc} {exc.hint}".strip(), tuple(changes))
    except asyncio.CancelledError:
        return _interrupted(action, changes)
    except Exception as exc:
        return ActionDone(action.id, "failed", f"{type(exc).__name__}: {exc}", tuple(changes))


async def _wind_down(action: Action, task: asyncio.Task[str], changes: list[str]) -> ActionDone:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait({task}, timeout=WIND_DOWN_SECONDS)
    if not task.done():
        return ActionDone(
            action.id,
            "cancelled",
            f"Interrupted, and it did not stop within {WIND_DOWN_SECONDS:g} s: "
            + _changes_sentence(changes)
            + " Check its effect by hand.",
            tuple(changes),
        )
    if task.cancelled():
        return _interrupted(action, changes)
    done = _ended(action, task, changes)
    # It ended on its own terms while stopping (e.g. "rolled back: still at revision X"):
    # still an interruption, said in its own words.
    return ActionDone(action.id, "cancelled", f"Interrupted: {done.message}", done.changes)


def _interrupted(action: Action, changes: list[str]) -> ActionDone:
    return ActionDone(
        action.id, "cancelled", "Interrupted: " + _changes_sentence(changes), tuple(changes)
    )


def _changes_sentence(changes: Sequence[str]) -> str:
    if not changes:
        return "nothing had been changed."
    return "it had already " + "; ".join(changes) + "."


def _refusal(
    action: Action, ctx: CheckContext, plan: Plan, *, confirmed: bool, dry_run: bool
) -> ActionDone | None:
    """Why ``action`` must not run now, or None. Checked in this order, so a dry run still
    previews under --read-only, and read-only writes nothing, not even the audit log."""
    if dry_run:
        return ActionDone(action.id, "dry-run", "Dry run: nothing was changed.")
    if ctx.config.read_only:
        return ActionDone(action.id, "refused", "Refused: toolbox-tui is in read-only mode.")
    if problem := _audit_problem(ctx):
        return ActionDone(action.id, "refused", problem)
    if plan.refusal is not None:
        return ActionDone(action.id, "refused", plan.refusal, audited=True)
    if action.dangerous and not confirmed:
        return ActionDone(action.id, "refused", UNCONFIRMED, audited=True)
    return None


UNCONFIRMED = "Refused: this action is dangerous and was not confirmed."


def _audit_problem(ctx: CheckContext) -> str:
    """Why the audit log cannot be written (then nothing may run), or ''."""
    # The audit log is imported with the first action: a run of checks writes none.
    from checks import audit

    try:
        audit.ensure_writable(ctx.config.audit_path)
    except OSError as exc:
        return _audit_refusal(ctx, exc)
    return ""


def _audit_refusal(ctx: CheckContext, exc: OSError) -> str:
    return (
        f"Refused: the audit log {ctx.config.audit_path} cannot be written "
        f"({exc.strerror or exc}); set TOOLBOX_AUDIT_LOG to a writable path."
    )


def _record(
    action: Action,
    ctx: CheckContext,
    done: ActionDone,
    digest: str,
    run_id: str = "",
    changes: Sequence[str] = (),
) -> None:
    from checks import audit

    record = audit.AuditRecord(
        at=ctx.clock().isoformat(timespec="seconds"),
        action=action.id,
        outcome=done.outcome,
        message=done.message,
        dangerous=action.dangerous,
        env_file=str(ctx.config.env_file),
        run_id=run_id,
        plan=digest,
        changes=[ctx.redactor.text(change) for change in changes],
    )
    audit.append(ctx.config.audit_path, record)
