"""For the tests of the Security pane's local checks: one check called directly, so that what
it says is seen before the runner's redaction (a key found in code is unknown to the redactor
anyway), and everything a person could see of it. Through the runner, tests use
``tests.integrations.running.run``."""

from __future__ import annotations

from checks import catalog
from checks.context import CheckContext
from checks.core import CheckResult, Outcome, registry

catalog.load(["security"])


async def run_direct(ctx: CheckContext, check_id: str) -> tuple[Outcome, list[str]]:
    """The check's own outcome and log lines, unredacted."""
    lines: list[str] = []
    outcome = await registry.checks[check_id].func(ctx.bound(lines.append))
    return outcome, lines


def everything_said(outcome: Outcome | CheckResult, lines: list[str]) -> str:
    """Message, hint, evidence (keys and values) and log lines, as one text."""
    evidence = [f"{key}: {value}" for key, value in outcome.evidence.items()]
    return "\n".join([outcome.message, outcome.hint, *evidence, *lines])
