"""Release and rollback runbooks: ordered, gated, resumable sequences of actions and checks.

:mod:`checks.runbooks.model` is what a front end uses (steps, their states, the events a
running step yields, :class:`~checks.runbooks.model.Runbook`); :mod:`checks.runbooks.opening`
opens one (new or resumed) from the journal; :mod:`checks.runbooks.steps`
says which steps a release and a rollback take; :mod:`checks.runbooks.journal` reads and
writes their progress in the audit log; :mod:`checks.runbooks.engine` runs one step.
"""

from checks.runbooks.model import (
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
from checks.runbooks.opening import open_release, open_rollback

__all__ = [
    "Runbook",
    "RunbookError",
    "RunbookEvent",
    "Step",
    "StepEnded",
    "StepLog",
    "StepStarted",
    "StepState",
    "StepStatus",
    "open_release",
    "open_rollback",
]
