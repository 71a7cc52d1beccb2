"""Fixes that never finished: a ``started`` audit record with no end means the process was
killed mid-action (kill -9, a power cut), and nobody knows what it left behind until a person
looks. Provides check ``audit.unfinished-fixes`` and action ``audit.acknowledge``.
"""

from __future__ import annotations

import asyncio

from checks import audit
from checks.context import CheckContext
from checks.core import (
    ActionFailed,
    CheckFailed,
    Outcome,
    Plan,
    action,
    check,
    failed,
    passed,
    plan,
)

PANE = "rollback"
ACKNOWLEDGE = "audit.acknowledge"


def _describe(record: audit.AuditRecord) -> str:
    return f"{record.action} at {record.at} by {record.user}@{record.host} (pid {record.pid})"


async def _unfinished(ctx: CheckContext) -> list[audit.AuditRecord]:
    return audit.unfinished(await asyncio.to_thread(audit.read, ctx.config.audit_path))


@check(id="audit.unfinished-fixes", pane=PANE, title="Earlier fixes all finished")
async def unfinished_fixes(ctx: CheckContext) -> Outcome:
    try:
        records = await _unfinished(ctx)
    except OSError as exc:  # a FIFO, a directory, a file we may not read
        raise CheckFailed(
            f"The audit log {ctx.config.audit_path} cannot be read: {exc}",
            "Point TOOLBOX_AUDIT_LOG (--audit-log) at a regular file this user can read.",
        ) from None
    if not records:
        return passed(f"Every fix in {ctx.config.audit_path.name} recorded how it ended.")
    return failed(
        f"{len(records)} fix(es) started and never recorded an end: "
        + "; ".join(_describe(r) for r in records)
        + ". That process was killed mid-action.",
        "Find out what it left behind (alembic current, the env file, the backups), then "
        "acknowledge it (f) so the audit log says someone did.",
        [ACKNOWLEDGE],
        **{r.run_id: _describe(r) for r in records},
    )


async def _plan_acknowledge(ctx: CheckContext) -> Plan:
    records = await _unfinished(ctx)
    if not records:
        return plan("No unfinished fix to acknowledge.", run_ids=[])
    return plan(
        "Record in the audit log that a person has checked what these left behind:",
        *(f"  {_describe(r)}" for r in records),
        run_ids=[r.run_id for r in records],
    )


@action(
    id=ACKNOWLEDGE,
    title="Acknowledge unfinished fixes",
    pane=PANE,
    key="a",
    plan=_plan_acknowledge,
    description="Record that a person checked what killed fixes left behind.",
)
async def acknowledge(ctx: CheckContext, planned: Plan) -> str:
    run_ids: list[str] = planned.payload["run_ids"]
    pending = {r.run_id: r for r in await _unfinished(ctx)}
    for run_id in run_ids:
        record = pending.get(run_id)
        if record is None:
            continue  # acknowledged by someone else meanwhile
        try:
            audit.append(
                ctx.config.audit_path,
                audit.AuditRecord(
                    at=ctx.clock().isoformat(timespec="seconds"),
                    action=record.action,
                    outcome=audit.ACKNOWLEDGED,
                    message="A person checked what this interrupted run left behind.",
                    dangerous=record.dangerous,
                    env_file=record.env_file,
                    run_id=run_id,
                ),
            )
        except OSError as exc:
            raise ActionFailed(f"Cannot write the audit log: {exc.strerror or exc}.") from None
        ctx.changed(f"acknowledged {_describe(record)}")
    return f"{len(run_ids)} unfinished fix(es) acknowledged." if run_ids else "Nothing to do."
