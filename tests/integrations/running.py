"""Running the Integrations pane's checks and fixes through the real runner, for its tests:
each check's result with its log lines, a fix's log and how it ended, and a FAIL assertion
that names what was said."""

from __future__ import annotations

from dataclasses import dataclass

from checks.context import CheckContext
from checks.core import CheckResult, Plan, Status, registry
from checks.events import ActionDone, Finished, Log
from checks.runner import run_action, run_checks


@dataclass(frozen=True)
class Ran:
    result: CheckResult
    logs: list[str]


async def run(ctx: CheckContext, *check_ids: str) -> dict[str, Ran]:
    """The checks (and those they need) through the real runner: each one's result and log."""
    results: dict[str, CheckResult] = {}
    logs: dict[str, list[str]] = {}
    async for event in run_checks(registry.select(ids=check_ids), ctx):
        if isinstance(event, Finished):
            results[event.result.id] = event.result
        elif isinstance(event, Log):
            logs.setdefault(event.source, []).append(event.line)
    return {i: Ran(results[i], logs.get(i, [])) for i in results}


async def check(ctx: CheckContext, check_id: str) -> CheckResult:
    return (await run(ctx, check_id))[check_id].result


async def fix(
    ctx: CheckContext, action_id: str, plan: Plan | None = None
) -> tuple[list[str], ActionDone]:
    """Action ``action_id``, confirmed, through the real runner (with ``plan``, the one
    previewed before): its log lines (the plan first) and how it ended."""
    lines: list[str] = []
    done: ActionDone | None = None
    async for event in run_action(registry.actions[action_id], ctx, confirmed=True, plan=plan):
        if isinstance(event, Log):
            lines.append(event.line)
        elif isinstance(event, ActionDone):
            done = event
    assert done is not None
    return lines, done


def assert_fails(result: CheckResult, *phrases: str) -> None:
    assert result.status is Status.FAIL, (result.status, result.message, result.hint)
    said = f"{result.message} {result.hint}"
    for phrase in phrases:
        assert phrase in said, (phrase, said)
