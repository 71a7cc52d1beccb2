"""Runs checks concurrently and actions one at a time, as a stream of events.

Every event passes through the context's redactor here — the one boundary — before a
front end sees it. A check that raises becomes ``error`` with a readable message, one
that overruns its timeout becomes ``error`` saying so, and one whose ``needs`` did not
pass is skipped with the reason. Closing the stream cancels whatever is still running.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from checks import audit
from checks.context import CheckContext
from checks.core import (
    Action,
    ActionFailed,
    CheckFailed,
    CheckResult,
    CheckSpec,
    Outcome,
    Status,
)


@dataclass(frozen=True)
class Started:
    check_id: str


@dataclass(frozen=True)
class Log:
    """A line of a check's or an action's live log; ``source`` is its id."""

    source: str
    line: str


@dataclass(frozen=True)
class Finished:
    result: CheckResult


@dataclass(frozen=True)
class ActionDone:
    action_id: str
    outcome: str  # "ok", "failed", "refused", "dry-run", "cancelled"
    message: str

    @property
    def ok(self) -> bool:
        return self.outcome in ("ok", "dry-run")


Event = Started | Log | Finished | ActionDone


async def run_checks(specs: Sequence[CheckSpec], ctx: CheckContext) -> AsyncIterator[Event]:
    """Run ``specs`` concurrently, yielding events as they happen (already redacted)."""
    queue: asyncio.Queue[Event] = asyncio.Queue()

    def emit(event: Event) -> None:
        queue.put_nowait(ctx.redactor.value(event))

    loop = asyncio.get_running_loop()
    results: dict[str, asyncio.Future[Status]] = {s.id: loop.create_future() for s in specs}
    tasks = [asyncio.create_task(_run_one(spec, ctx, emit, results)) for spec in specs]
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


async def _run_one(
    spec: CheckSpec,
    ctx: CheckContext,
    emit: Callable[[Event], None],
    results: dict[str, asyncio.Future[Status]],
) -> None:
    status = Status.ERROR
    try:
        unmet = await _unmet_needs(spec, results)
        if unmet:
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
        emit(Finished(result))
    finally:
        future = results[spec.id]
        if not future.done():
            future.set_result(status)


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
    start = time.perf_counter()
    try:
        outcome = await asyncio.wait_for(spec.func(bound), timeout)
        if not isinstance(outcome, Outcome):
            raise TypeError(f"check returned {type(outcome).__name__}, not an Outcome")
    except CheckFailed as exc:
        outcome = Outcome(Status.FAIL, str(exc), hint=exc.hint)
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
    duration_ms = (time.perf_counter() - start) * 1000
    return CheckResult.from_outcome(spec, outcome, duration_ms)


async def preview_action(action: Action, ctx: CheckContext) -> str:
    """What ``action`` would change, redacted; a preview that crashes says so instead."""
    try:
        text = await action.preview(ctx)
    except Exception as exc:
        text = f"(the preview could not be built: {type(exc).__name__}: {exc})"
    return ctx.redactor.text(text)


async def run_action(
    action: Action,
    ctx: CheckContext,
    *,
    confirmed: bool,
    dry_run: bool = False,
    preview: str | None = None,
) -> AsyncIterator[Event]:
    """Preview, then (unless refused) run ``action``.

    ``preview`` is the text from :func:`preview_action` when the caller already showed it
    (building some previews costs a subprocess); otherwise it is built here.

    Refused when the tool is read-only, when a dangerous action was not confirmed, or when
    the audit log cannot be written. Every attempt that could have changed something is
    audited — done, failed, refused for want of confirmation, or cut off half-way.
    """
    if preview is None:
        preview = await preview_action(action, ctx)
    for line in preview.splitlines():
        yield Log(action.id, line)

    refusal = _refusal(action, ctx, confirmed=confirmed, dry_run=dry_run)
    if refusal is not None:
        if refusal.message == UNCONFIRMED:
            _record(action, ctx, refusal)  # someone tried it: worth a line in the log
        yield refusal
        return

    done = ActionDone(
        action.id, "cancelled", "Interrupted before it finished: check its effect by hand."
    )
    lines: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(action.run(ctx.bound(lines.put_nowait)))
    try:
        while not task.done() or not lines.empty():
            getter = asyncio.ensure_future(lines.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                yield ctx.redactor.value(Log(action.id, getter.result()))
            else:
                getter.cancel()
        try:
            done = ActionDone(action.id, "ok", task.result())
        except ActionFailed as exc:
            done = ActionDone(action.id, "failed", str(exc))
        except CheckFailed as exc:
            done = ActionDone(action.id, "failed", f"{exc} {exc.hint}".strip())
        except Exception as exc:
            done = ActionDone(action.id, "failed", f"{type(exc).__name__}: {exc}")
        done = ctx.redactor.value(done)
    finally:
        task.cancel()
        # Also when the consumer went away mid-run (quit, a second fix): the record stays.
        _record(action, ctx, done)
    yield done


def _refusal(
    action: Action, ctx: CheckContext, *, confirmed: bool, dry_run: bool
) -> ActionDone | None:
    """Why ``action`` must not run now, or None. Checked in this order, so a dry run still
    previews under --read-only, and read-only writes nothing, not even the audit log."""
    if dry_run:
        return ActionDone(action.id, "dry-run", "Dry run: nothing was changed.")
    if ctx.config.read_only:
        return ActionDone(action.id, "refused", "Refused: toolbox-tui is in read-only mode.")
    if problem := _audit_problem(ctx):
        return ActionDone(action.id, "refused", problem)
    if action.dangerous and not confirmed:
        return ActionDone(action.id, "refused", UNCONFIRMED)
    return None


UNCONFIRMED = "Refused: this action is dangerous and was not confirmed."


def _audit_problem(ctx: CheckContext) -> str:
    """Why the audit log cannot be written (then nothing may run), or ''."""
    path = ctx.config.audit_path
    try:
        audit.ensure_writable(path)
    except OSError as exc:
        return (
            f"Refused: the audit log {path} cannot be written ({exc.strerror or exc}); "
            "set TOOLBOX_AUDIT_LOG to a writable path."
        )
    return ""


def _record(action: Action, ctx: CheckContext, done: ActionDone) -> None:
    record = audit.AuditRecord(
        at=ctx.clock().isoformat(timespec="seconds"),
        action=action.id,
        outcome=done.outcome,
        message=done.message,
        dangerous=action.dangerous,
        env_file=str(ctx.config.env_file),
    )
    audit.append(ctx.config.audit_path, record)
