"""Which check results stop something: ``toolbox-tui check``'s exit code and a runbook's gate
and verify steps apply this one rule.

A failure or an error stops (an error could not decide, so it counts as a failure); at fail
level "warn" a warning stops too; a waived result (:mod:`checks.waivers`) never stops.
"""

from __future__ import annotations

from checks.core import CheckResult, Status

FAIL_LEVELS = ("warn", "fail")

_STOPPING: dict[str, frozenset[Status]] = {
    "fail": frozenset({Status.FAIL, Status.ERROR}),
    "warn": frozenset({Status.FAIL, Status.ERROR, Status.WARN}),
}


def at_level(result: CheckResult, fail_level: str = "fail") -> bool:
    """``result``'s status is at or above ``fail_level`` ("warn" or "fail"), waived or not."""
    return result.status in _STOPPING[fail_level]


def blocks(result: CheckResult, fail_level: str = "fail") -> bool:
    """``result`` stops a run at ``fail_level``: at or above that level and not waived."""
    return at_level(result, fail_level) and not result.waived
