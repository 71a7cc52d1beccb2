"""Runs a runbook's next step: an action through the runner (preview, refusals, audit), or a
gate / verify step's checks; journals its start and end (see :mod:`checks.runbooks.journal`).

The rules are those of :mod:`checks.runbooks.model`. Interrupted (the task is cancelled: a
signal, the dashboard quitting), the running action winds down as ``fix`` does, the journal
records the step and the runbook as cancelled, and the cancellation goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from typing import TypeVar, cast

from checks import audit, catalog
from checks.context import CheckContext
from checks.core import CheckResult, Plan, Status
from checks.core import plan as make_plan
from checks.events import ActionDone, Event, Finished, Log
from checks.runbooks import journal, steps
from checks.runbooks.lock import runbook_lock
from checks.runbooks.model import (
    MOVED_ON,
    NEEDS_CONFIRMATION,
    Runbook,
    RunbookError,
    RunbookEvent,
    Step,
    StepEnded,
    StepLog,
    StepStarted,
    StepState,
    StepStatus,
)
from checks.runner import build_plan, run_action, run_checks
from checks.verdicts import at_level, blocks

T = TypeVar("T")


def fresh(ctx: CheckContext) -> CheckContext:
    """``ctx`` with the env file as it is now: an earlier step may have changed it."""
    try:
        return ctx.reloaded()
    except (OSError, ValueError):
        return ctx  # the step's own plan says what is wrong with the file


async def preview(runbook: Runbook, ctx: CheckContext) -> Plan:
    status = runbook.next_status()
    if status is None:
        return make_plan(f"{runbook.title}: every step is done.")
    step = status.step
    if step.action_id is None:
        return make_plan(*_gate_lines(runbook, step))
    registry = catalog.load()
    return await build_plan(registry.actions[step.action_id], _step_context(fresh(ctx), step))


def _gate_lines(runbook: Runbook, step: Step) -> list[str]:
    stops = "A failure or an error" if runbook.fail_level == "fail" else "A warning or worse"
    lines = [
        f"Run the checks of {', '.join(step.checks)}.",
        f"{stops} that is not waived stops the {runbook.kind} here.",
    ]
    if step.left_to:
        later = ", ".join(f"{check} ({then})" for check, then in step.left_to.items())
        lines.append(f"Left to the steps that make them pass: {later}.")
    if step.retry_for:
        lines.append(f"Until they pass, they run again for up to {step.retry_for:g} s.")
    return lines


def _step_context(ctx: CheckContext, step: Step) -> CheckContext:
    return ctx.with_params(**step.params) if step.params else ctx


async def run_next(
    runbook: Runbook, ctx: CheckContext, *, confirmed: bool, plan: Plan | None = None
) -> AsyncIterator[RunbookEvent]:
    status = runbook.next_status()
    if status is None:
        return
    step = status.step
    if step.dangerous and not confirmed:
        yield _end(status, StepState.PENDING, NEEDS_CONFIRMATION)
        return
    if ctx.config.read_only:
        # Read-only writes nothing, not even the journal.
        yield _end(status, StepState.PENDING, "Refused: toolbox-tui is in read-only mode.")
        return
    try:
        with runbook_lock(ctx.config.audit_path):
            attempt = await asyncio.to_thread(_journal_start, runbook, ctx, step)
            # Closed here if the consumer stops reading: the step winds down and journals
            # that, in this task, before the lock is let go.
            running = _run_step(runbook, status, fresh(ctx), plan, attempt)
            async with contextlib.aclosing(running):
                async for event in running:
                    yield event
    except RunbookError as exc:
        yield _end(status, StepState.PENDING, str(exc))


def _journal_start(runbook: Runbook, ctx: CheckContext, step: Step) -> int:
    """Under the lock: the runbook's ``started`` (first step this process runs) and the
    step's, on disk; the step's attempt number. RunbookError (nothing written) when the
    journal moved on since the runbook was read: another process ran a runbook meanwhile,
    and what this one believes pending may be done. Blocking: runs in a thread."""
    try:
        runs = journal.read_runs(ctx)
        if journal.records_in(runs) != runbook.journal_seen:
            raise RunbookError(MOVED_ON)
        mine = next((run for run in runs if run.run_id == runbook.run_id), None)
        if not runbook.journaled:
            how = "Resumed" if mine is not None else "Started"
            message = f"{how} at step '{step.id}' (fail level {runbook.fail_level})."
            _write(runbook, ctx, "", audit.STARTED, message, fail_level=runbook.fail_level)
            for skipped in runbook.statuses:
                if skipped.state is StepState.SKIPPED and mine is None:
                    _write(runbook, ctx, skipped.step.id, "skipped", skipped.message)
            runbook.journaled = True
        attempt = (mine.attempts.get(step.id, 0) if mine is not None else 0) + 1
        last = mine.steps.get(step.id) if mine is not None else None
        if last is not None and last.outcome == audit.STARTED:
            # The attempt that was cut off ends here: the person resuming was told what to
            # check by hand, and this attempt is planned against the world as it is now.
            cut_off = f"Cut off at {last.at}; attempt {attempt} runs it again."
            _write(runbook, ctx, step.id, journal.CUT_OFF, cut_off, attempt=attempt - 1)
        _write(runbook, ctx, step.id, audit.STARTED, "Started.", attempt=attempt)
        return attempt
    except OSError as exc:  # (one that cannot be read: read_runs said so)
        raise RunbookError(
            f"Refused: the audit log {ctx.config.audit_path} cannot be written "
            f"({exc.strerror or exc}); a runbook journals every step there."
        ) from None


def _write(
    runbook: Runbook,
    ctx: CheckContext,
    step_id: str,
    outcome: str,
    message: str,
    *,
    attempt: int = 0,
    fail_level: str = "",
    quiet: bool = False,
) -> None:
    """One journal record (blocking: in a thread). ``quiet``: a step's or the runbook's
    end, which has happened whether or not its record can be written (the next run then
    finds the step cut off and re-plans it, which is safe): an OSError is dropped."""
    step = next((s.step for s in runbook.statuses if s.step.id == step_id), None)
    try:
        journal.write(
            ctx,
            runbook,
            outcome,
            message,
            step=step_id,
            attempt=attempt,
            dangerous=step is not None and step.dangerous,
            fail_level=fail_level,
        )
    except OSError:
        if not quiet:
            raise
        return
    runbook.journal_seen += 1


async def _write_end(
    runbook: Runbook, ctx: CheckContext, step_id: str, outcome: str, message: str, attempt: int = 0
) -> None:
    """A step's or the runbook's end, written off the event loop (fsync), quietly."""
    await asyncio.to_thread(
        _write, runbook, ctx, step_id, outcome, message, attempt=attempt, quiet=True
    )


async def _run_step(
    runbook: Runbook, status: StepStatus, ctx: CheckContext, plan: Plan | None, attempt: int
) -> AsyncGenerator[RunbookEvent, None]:
    step = status.step
    status.state, status.message = StepState.RUNNING, ""
    began = time.perf_counter()
    ended: list[tuple[StepState, str, str]] = []  # (state, outcome for the journal, message)
    if step.action_id is None:
        events = _run_checks(runbook, step, ctx, ended)
    else:
        events = _run_action(runbook, step, ctx, plan, confirmed=True, ended=ended)
    try:
        # Inside the try: a consumer that stops reading right after this event still gets
        # the step's end journaled.
        yield StepStarted(step.id)
        async for event in events:
            yield event
    except Exception as exc:  # a bug must not leave the step "running" with no journal end
        ended.append((StepState.FAILED, "failed", f"The step crashed: {type(exc).__name__}: {exc}"))
    except BaseException:
        # Cancelled (a signal, the dashboard quitting), or the consumer went away: the action
        # winds down (its own record says what it changed), then the journal says so.
        await events.aclose()
        message = ended[-1][2] if ended else "Interrupted."
        await _finish(runbook, ctx, status, began, attempt, StepState.PENDING, "cancelled", message)
        await _write_end(runbook, ctx, "", "cancelled", f"Interrupted at step '{step.id}'.")
        raise
    state, outcome, message = ended[-1]
    await _finish(runbook, ctx, status, began, attempt, state, outcome, message)
    if state is StepState.FAILED:
        await _write_end(runbook, ctx, "", "failed", f"Stopped at step '{step.id}': {message}")
    elif runbook.finished():
        await _write_end(runbook, ctx, "", "ok", f"{runbook.title}: every step is done.")
    yield StepEnded(step.id, state, status.message)


async def _finish(
    runbook: Runbook,
    ctx: CheckContext,
    status: StepStatus,
    began: float,
    attempt: int,
    state: StepState,
    outcome: str,
    message: str,
) -> None:
    status.state, status.message = state, ctx.redactor.text(message)
    status.seconds = time.perf_counter() - began
    await _write_end(runbook, ctx, status.step.id, outcome, status.message, attempt)


async def _run_action(
    runbook: Runbook,
    step: Step,
    ctx: CheckContext,
    plan: Plan | None,
    *,
    confirmed: bool,
    ended: list[tuple[StepState, str, str]],
) -> AsyncGenerator[RunbookEvent, None]:
    assert step.action_id is not None
    action = catalog.load().actions[step.action_id]
    ctx = _step_context(ctx, step)
    tags = {"runbook": runbook.run_id, "step": step.id, "release": runbook.release}
    if plan is None:
        plan = await build_plan(action, ctx)
    if plan.already_done:
        for line in ctx.redactor.text(plan.text).splitlines():
            yield StepLog(step.id, line)
        ended.append((StepState.DONE, journal.ALREADY_DONE, f"already done: {plan.refusal}"))
        return
    ends: list[ActionDone] = []
    events = cast(
        AsyncGenerator[Event, None],
        run_action(action, ctx, confirmed=confirmed, plan=plan, on_end=ends.append),
    )
    try:
        while True:
            # Tagged around each step of the runner only: its audit records (written inside
            # these calls, even when interrupted) then name this runbook and step.
            with audit.tagged(**tags):
                event = await _next(events)
            if event is None:
                break
            if isinstance(event, Log):
                yield StepLog(step.id, event.line)
    except (asyncio.CancelledError, GeneratorExit):
        with audit.tagged(**tags):
            await events.aclose()  # the action winds down and records how far it got
        if ends:
            ended.append((StepState.PENDING, "cancelled", ends[-1].message))
        raise
    finally:
        with audit.tagged(**tags):
            await events.aclose()
    done = ends[-1]
    if done.ok:
        ended.append((StepState.DONE, "ok", done.message))
    else:
        ended.append((StepState.FAILED, "failed", done.message))


async def _next(events: AsyncIterator[T]) -> T | None:
    try:
        return await anext(events)
    except StopAsyncIteration:
        return None


async def _run_checks(
    runbook: Runbook, step: Step, ctx: CheckContext, ended: list[tuple[StepState, str, str]]
) -> AsyncGenerator[RunbookEvent, None]:
    """The step's checks, run again while some stop the runbook and ``step.retry_for``
    seconds have not passed (services just restarted may take a moment to listen)."""
    registry = catalog.load()
    specs = registry.select(**steps.check_selection(step, registry))
    for line in _gate_lines(runbook, step):
        yield StepLog(step.id, line)
    deadline = time.monotonic() + step.retry_for
    while True:
        results: list[CheckResult] = []
        checks = cast(AsyncGenerator[Event, None], run_checks(specs, ctx))
        async with contextlib.aclosing(checks):  # stopped early, the checks are cancelled now
            async for event in checks:
                if isinstance(event, Finished):
                    results.append(event.result)
                    if line := _result_line(event.result, runbook.fail_level, step):
                        yield StepLog(step.id, line)
        stops = [r for r in results if _stops(r, runbook.fail_level, step)]
        if not stops or time.monotonic() + RETRY_PAUSE > deadline:
            break
        yield StepLog(
            step.id,
            f"Not there yet ({_names(stops)}); checking again in {RETRY_PAUSE:g} s, "
            f"for up to {step.retry_for:g} s in all.",
        )
        await asyncio.sleep(RETRY_PAUSE)
    if stops:
        message = f"{len(stops)} of {len(results)} checks stop the {runbook.kind}: {_names(stops)}."
        ended.append((StepState.FAILED, "failed", message))
    else:
        ended.append((StepState.DONE, "ok", _passed_message(results, runbook.fail_level, step)))


RETRY_PAUSE = 2.0
"""Seconds between two runs of a step's checks (see ``Step.retry_for``)."""


def _names(results: list[CheckResult]) -> str:
    return ", ".join(r.id for r in results[:6]) + (", ..." if len(results) > 6 else "")


def _stops(result: CheckResult, fail_level: str, step: Step) -> bool:
    return blocks(result, fail_level) and result.id not in step.left_to


def _result_line(result: CheckResult, fail_level: str, step: Step) -> str:
    """A line for a result a person should see: what stops the runbook, what is waived or
    left to a later step, and warnings; passes are counted, not listed."""
    if result.waived and result.status.rank >= Status.WARN.rank:
        return f"waived {result.status.value:<5} {result.id}: {result.message} ({result.waiver})"
    if blocks(result, fail_level) and result.id in step.left_to:
        then = step.left_to[result.id]
        return f"later  {result.status.value:<5} {result.id}: the {then} step makes it pass"
    if _stops(result, fail_level, step):
        return f"STOPS  {result.status.value:<5} {result.id}: {result.message}"
    if result.status is Status.WARN:
        return f"       warn  {result.id}: {result.message}"
    return ""


def _passed_message(results: list[CheckResult], fail_level: str, step: Step) -> str:
    """``88 checks: 3 fail, 5 manual, 80 pass (none stops it: 2 waived, 1 left to a later
    step).``: the failures that did not stop the step say why at once."""
    waived = sum(1 for r in results if r.waived and at_level(r, fail_level))
    later = sum(1 for r in results if blocks(r, fail_level) and r.id in step.left_to)
    why = [f"{waived} waived"] * bool(waived) + [f"{later} left to a later step"] * bool(later)
    note = f" (none stops it: {', '.join(why)})" if why else ""
    return f"{len(results)} checks: {_counts(results)}{note}."


def _counts(results: Iterable[CheckResult]) -> str:
    tally: dict[str, int] = {}
    for result in results:
        tally[result.status.value] = tally.get(result.status.value, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(tally.items())) or "none"


def _end(status: StepStatus, state: StepState, message: str) -> StepEnded:
    status.state, status.message = state, message
    return StepEnded(status.step.id, state, message)
