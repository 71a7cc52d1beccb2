"""Migrations pane: after the upgrade, the checklist's tables exist and the email queue drains."""

from __future__ import annotations

from checks.checklist import MIGRATIONS, MONITORING
from checks.context import CheckContext
from checks.core import Outcome, check, failed, passed, warned
from checks.migrations.state import PANE, existing_tables
from checks.postgres import connection

# The checklist's "New Tables Added" section.
REQUIRED_TABLES = (
    "roblox_environments",
    "roblox_sessions",
    "environment_shares",
    "environment_templates",
    "email_queue",
)
QUEUE_ALERT_DEPTH = 1000  # the checklist: "Queue depth (alert if >1000)"


@check(
    id="db.required-tables",
    pane=PANE,
    title="Release tables exist",
    needs=["db.revision-state"],
    checklist=(MIGRATIONS, "Verify tables created"),
)
async def required_tables(ctx: CheckContext) -> Outcome:
    async with connection(ctx) as conn:
        tables = await existing_tables(conn)
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if missing:
        return failed(
            f"Missing table(s): {', '.join(missing)}.",
            "The database is at head but lacks them: a migration was edited after it ran, or "
            "the tables were dropped by hand. Compare the schema with the release's migrations.",
        )
    return passed(f"All {len(REQUIRED_TABLES)} release tables exist.")


@check(
    id="db.email-queue",
    pane=PANE,
    title="Email queue depth",
    needs=["db.required-tables"],
    checklist=(MONITORING, "Email delivery"),
    partial="the send failures per hour (the alert above 10 an hour)",
)
async def email_queue_depth(ctx: CheckContext) -> Outcome:
    async with connection(ctx) as conn:
        depth = await conn.fetchval(
            "SELECT count(*) FROM email_queue WHERE status IN ('pending', 'sending')"
        )
        failed_count = await conn.fetchval(
            "SELECT count(*) FROM email_queue WHERE status = 'failed'"
        )
    if depth > QUEUE_ALERT_DEPTH:
        return warned(
            f"{depth} emails waiting (alert above {QUEUE_ALERT_DEPTH}).",
            "The email workers are behind or stopped: check the celery workers and SendGrid.",
            waiting=depth,
            failed=failed_count,
        )
    return passed(
        f"{depth} emails waiting, {failed_count} failed.", waiting=depth, failed=failed_count
    )
