"""What a runbook is, as a front end sees it: its steps, their states, and the events a
running step yields.

A :class:`Runbook` is a list of :class:`Step`\\s with a :class:`StepStatus` each. A front end
shows :meth:`Runbook.preview` (the next step's plan, or the checks a gate runs), then runs
the step with :meth:`Runbook.run_next` and shows the events it yields, until
:meth:`Runbook.finished`. The rules a front end relies on:

- Steps run in order, one at a time; :meth:`Runbook.next_status` is the first step that is
  not done or skipped (a failed or cut-off step is next again: running it re-plans it).
- A dangerous step run without ``confirmed=True`` does not run: the engine yields only
  ``StepEnded(step_id, StepState.PENDING, "needs confirmation")`` and the step stays pending.
  So it is when nothing may run now (read-only mode, another process runs a runbook, the
  audit log cannot be written): ``StepEnded(step_id, PENDING, <why>)``, nothing journaled.
- A step whose plan says the world is already as it would leave it is done
  ("already done: ..."), not failed; any other refusal fails the step.
- A failed step stops the runbook: :meth:`Runbook.stopped` is true until it is run again.
- Every event is already redacted.

Opening a runbook (``open_release``, ``open_rollback``: :mod:`checks.runbooks.opening`)
reads the journal in the audit log: an unfinished runbook of that kind is resumed
(``resumed_note`` says from where), and a rollback only undoes what the release before it
did. A step refuses to start when the journal moved on since (another process ran a runbook
meanwhile): ``StepEnded(step_id, PENDING, MOVED_ON)``; the runbook must be opened again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from checks.context import CheckContext
    from checks.core import Plan

    # For type checkers; at run time __getattr__ (at the end) finds them.
    from checks.runbooks.opening import open_release, open_rollback  # noqa: F401


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    CUT_OFF = "cut off"
    """It started and the process died before it ended: its effect is unknown."""


@dataclass(frozen=True)
class Step:
    """One step: an action to run with ``params``, or (``action_id`` None) a gate or verify
    step that runs the ``checks`` named (check ids, or pane ids for a whole pane)."""

    id: str
    title: str
    action_id: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    checks: tuple[str, ...] = ()
    dangerous: bool = False
    check_by_hand: str = ""
    """What a person should look at when this step was cut off (its effect is unknown)."""
    retry_for: float = 0.0
    """A check step: for how many seconds its checks are run again while some stop the
    runbook (services just restarted take a moment to answer)."""
    left_to: Mapping[str, str] = field(default_factory=dict)
    """A check step: check id -> the later step that makes it pass (the release's own env
    snapshot, its own database backup). Such a check is run and shown, but does not stop the
    runbook: requiring it first would ask for the very step that comes next."""


@dataclass
class StepStatus:
    step: Step
    state: StepState
    message: str = ""
    seconds: float = 0.0
    """Wall time of the step's last run in this process (0 when it did not run here)."""


@dataclass(frozen=True)
class StepStarted:
    step_id: str


@dataclass(frozen=True)
class StepLog:
    step_id: str
    line: str


@dataclass(frozen=True)
class StepEnded:
    step_id: str
    state: StepState
    message: str


RunbookEvent = StepStarted | StepLog | StepEnded

NEEDS_CONFIRMATION = "needs confirmation"
MOVED_ON = (
    "The journal moved on since this runbook was opened (another toolbox-tui ran it); "
    "open it again."
)


class RunbookError(Exception):
    """A runbook cannot be opened or run (another one holds the lock, the journal cannot be
    read, a definition names an unknown action); the message is for a person."""


@dataclass
class Runbook:
    """One release or rollback: its steps and how far it got (see the module docstring)."""

    kind: str  # "release" | "rollback"
    title: str  # "Release v1.4.0 -> v1.5.0"
    statuses: list[StepStatus]
    resumed_note: str = ""
    release: str = ""
    """The move it makes, "v1.4.0 -> v1.5.0": journal records carry it."""
    run_id: str = ""
    """Its id in the journal (kept when it is resumed)."""
    fail_level: str = "fail"
    """Gate and verify steps fail on a check at this level or worse ("warn" or "fail"; see
    :func:`checks.verdicts.blocks`); journaled, and kept when it is resumed."""
    journaled: bool = False
    """This process has written its runbook-level ``started`` record."""
    journal_seen: int = 0
    """How many runbook records the journal held when this was opened, plus those written
    through it since: another count means another process ran a runbook meanwhile, and this
    one's statuses are stale."""

    def status(self, step_id: str) -> StepStatus:
        return next(s for s in self.statuses if s.step.id == step_id)

    def next_status(self) -> StepStatus | None:
        """The step that runs next, or None when every step is done or skipped."""
        return next(
            (s for s in self.statuses if s.state not in (StepState.DONE, StepState.SKIPPED)),
            None,
        )

    def finished(self) -> bool:
        return self.next_status() is None

    def stopped(self) -> bool:
        """A step failed: the runbook goes no further until that step is run again."""
        return any(s.state is StepState.FAILED for s in self.statuses)

    async def preview(self, ctx: CheckContext) -> Plan:
        """The next step's plan as its action builds it now (a gate: the checks it runs)."""
        from checks.runbooks import engine

        return await engine.preview(self, ctx)

    def run_next(
        self, ctx: CheckContext, *, confirmed: bool, plan: Plan | None = None
    ) -> AsyncIterator[RunbookEvent]:
        """Run the next step (``plan``: the one already shown and confirmed), yielding its
        events; the journal records its start and end."""
        from checks.runbooks import engine

        return engine.run_next(self, ctx, confirmed=confirmed, plan=plan)


def __getattr__(name: str) -> object:
    """``open_release`` and ``open_rollback`` live in :mod:`checks.runbooks.opening` (which
    imports this module); they are found here too, where a front end looks for them."""
    if name in ("open_release", "open_rollback"):
        from checks.runbooks import opening

        return getattr(opening, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
