"""What a run of checks or an action reports as it goes: :data:`Event`.

The engine (:mod:`checks.runner`) yields them, already redacted; the front ends read them.
They live apart from the engine so that a front end can know them without importing it
(the dashboard draws its first frame before the engine and the settings are loaded).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checks.core import CheckResult


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
    outcome: str  # "ok", "failed", "refused", "dry-run", "cancelled" ("started" in the audit)
    message: str
    changes: tuple[str, ...] = ()
    """What the action changed, in order; an interrupted action's record lists them."""
    audited: bool = field(default=False, compare=False)
    """A refusal worth an audit line: someone tried to run it (not dry-run or read-only)."""

    @property
    def ok(self) -> bool:
        return self.outcome in ("ok", "dry-run")


Event = Started | Log | Finished | ActionDone
