"""A runbook's journal: its records in the audit log, written as it goes, read back to resume.

A runbook run writes, all with its id in ``runbook`` and its move in ``release``:

- runbook-level records (``step`` empty, ``run_id`` the runbook's id): ``started`` each time
  a process starts running it (with the ``fail_level`` it runs at), then ``ok`` (every step
  done), ``failed`` (a step failed) or ``cancelled`` (interrupted);
- step records: ``started`` before the step does anything, then its end: ``ok``,
  ``already-done``, ``failed``, ``skipped`` or ``cancelled``. Each attempt at a step has its
  own ``run_id``, ``RUNBOOK/STEP/N`` (N counts from 1; a skip is attempt 0), so that
  :func:`checks.audit.unfinished` finds any attempt that was cut off. A cut-off attempt gets
  its end, ``cut-off``, when the step is run again (the person resuming was told what to
  check by hand).

Each is fsynced before the step goes on. Read back, a step whose last record is ``started``
was cut off: the process died mid-step, and what it did is unknown. A run whose every step
ended done or skipped is finished, even if its runbook-level ``ok`` was never written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from checks import audit
from checks.context import CheckContext
from checks.runbooks import steps as definitions
from checks.runbooks.model import RunbookError, StepState

ACTION_PREFIX = "runbook."
ALREADY_DONE = "already-done"
CUT_OFF = "cut-off"

STATE_OF_OUTCOME = {
    audit.STARTED: StepState.CUT_OFF,
    CUT_OFF: StepState.CUT_OFF,
    "ok": StepState.DONE,
    ALREADY_DONE: StepState.DONE,
    "skipped": StepState.SKIPPED,
    "failed": StepState.FAILED,
    # Interrupted, and it stopped cleanly (its action's record says what it had changed):
    # nothing is unknown, it simply runs again.
    "cancelled": StepState.PENDING,
}


@dataclass
class RunbookRun:
    """One runbook run as the journal tells it."""

    run_id: str
    kind: str
    release: str
    outcome: str = ""
    """Its last runbook-level outcome: "started" (running, or cut off), "ok", "failed",
    "cancelled"."""
    steps: dict[str, audit.AuditRecord] = field(default_factory=dict)
    """Each step's last record."""
    last: audit.AuditRecord | None = None
    """Its last step record: where it stopped."""
    attempts: dict[str, int] = field(default_factory=dict)
    """How many times each step started."""
    fail_level: str = ""
    """The fail level its last runbook-level ``started`` record names ("" if none)."""
    records: int = 0
    """How many journal records it has."""

    @property
    def complete(self) -> bool:
        """Every step of its kind ended done or skipped."""
        return all(
            self.state(step_id)[0] in (StepState.DONE, StepState.SKIPPED)
            for step_id in definitions.step_ids(self.kind)
        )

    @property
    def finished(self) -> bool:
        """It said so, or every step ended done or skipped (the process died before it
        could say so)."""
        return self.outcome == "ok" or self.complete

    @property
    def changed_something(self) -> bool:
        """A step past the gate started: the deployment may differ from where it began."""
        return any(step != "gate" and self.started(step) for step in self.steps)

    @property
    def target(self) -> str:
        """Where it goes: "v1.5.0" of "v1.4.0 -> v1.5.0"."""
        return self.release.rpartition(" -> ")[2]

    @property
    def origin(self) -> str:
        """Where it came from: "v1.4.0" of "v1.4.0 -> v1.5.0"."""
        return self.release.partition(" -> ")[0]

    def state(self, step_id: str) -> tuple[StepState, audit.AuditRecord | None]:
        record = self.steps.get(step_id)
        if record is None:
            return StepState.PENDING, None
        return STATE_OF_OUTCOME.get(record.outcome, StepState.PENDING), record

    def started(self, step_id: str) -> bool:
        """The step got as far as starting (whatever became of it)."""
        return step_id in self.steps and self.steps[step_id].outcome != "skipped"


def read_runs(ctx: CheckContext) -> list[RunbookRun]:
    """Every runbook run in the audit log, in the order they began (blocking file I/O: call
    it in a thread from an event loop)."""
    try:
        records = audit.read(ctx.config.audit_path)
    except OSError as exc:
        raise RunbookError(
            f"The audit log {ctx.config.audit_path} cannot be read ({exc}); a runbook keeps "
            "its journal there and cannot go on without it."
        ) from None
    return runs_of(records)


def runs_of(records: list[audit.AuditRecord]) -> list[RunbookRun]:
    runs: dict[str, RunbookRun] = {}
    for record in records:
        if not record.runbook or not record.action.startswith(ACTION_PREFIX):
            continue  # not a journal record (an action a step ran is tagged too)
        run = runs.get(record.runbook)
        if run is None:
            kind = record.action.removeprefix(ACTION_PREFIX)
            run = runs[record.runbook] = RunbookRun(record.runbook, kind, record.release)
        run.records += 1
        if record.step:
            run.steps[record.step] = run.last = record
            if record.outcome == audit.STARTED:
                run.attempts[record.step] = run.attempts.get(record.step, 0) + 1
        else:
            run.outcome = record.outcome
            if record.outcome == audit.STARTED and record.fail_level:
                run.fail_level = record.fail_level
    return list(runs.values())


def records_in(runs: list[RunbookRun]) -> int:
    """How many journal records ``runs`` hold: any other count later means another process
    wrote some meanwhile."""
    return sum(run.records for run in runs)


class Journaled(Protocol):
    """What a record names of its runbook run (a :class:`~checks.runbooks.model.Runbook`
    or a :class:`RunbookRun`)."""

    @property
    def kind(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def release(self) -> str: ...


def write(
    ctx: CheckContext,
    run: Journaled,
    outcome: str,
    message: str,
    *,
    step: str = "",
    attempt: int = 0,
    dangerous: bool = False,
    fail_level: str = "",
) -> None:
    """Append one journal record of ``run``, on disk when this returns; OSError when it
    cannot be. ``attempt``: which attempt at ``step`` it belongs to (its ``run_id``).
    Blocking file I/O: call it in a thread from an event loop."""
    record = audit.AuditRecord(
        at=ctx.clock().isoformat(timespec="seconds"),
        action=ACTION_PREFIX + run.kind,
        outcome=outcome,
        message=ctx.redactor.text(message),
        dangerous=dangerous,
        env_file=str(ctx.config.env_file),
        run_id=f"{run.run_id}/{step}/{attempt}" if step else run.run_id,
        runbook=run.run_id,
        step=step,
        release=run.release,
        fail_level=fail_level,
    )
    audit.append(ctx.config.audit_path, record, sync=True)
