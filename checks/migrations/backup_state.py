"""Migrations pane: before an upgrade, a verified backup of the database at its revision."""

from __future__ import annotations

from datetime import timedelta

from checks.checklist import ROLLBACK
from checks.context import CheckContext
from checks.core import Outcome, check, passed, warned
from checks.migrations.db_state import state_on, usable_backup
from checks.migrations.state import PANE, scripts_and
from checks.postgres import target


@check(
    id="db.backup-verified",
    pane=PANE,
    title="Verified backup before upgrade",
    needs=["db.reachable"],
    checklist=(ROLLBACK, "Database rollback"),
    partial="`alembic downgrade -1` itself",
)
async def backup_verified(ctx: CheckContext) -> Outcome:
    t = target(ctx)
    found, state = await scripts_and(ctx, lambda conn: state_on(conn, t))
    minutes = ctx.config.backup_max_age_minutes
    usable = usable_backup(ctx, state, timedelta(minutes=minutes))
    if usable is not None:
        m = usable.manifest
        return passed(
            f"{usable.dump.name}: {state.where} at {state.at}, taken {m.taken_at}, "
            f"{m.toc_entries} entries read back.",
            backup=usable.dump,
            size=f"{m.size:,} bytes",
            sha256=m.sha256,
        )
    if not found.pending(set(state.revisions)):
        return passed(f"Nothing is pending at {state.at}: no backup is needed for an upgrade.")
    # A warning, not a failure: nothing is broken yet, and the upgrade itself refuses to run
    # without a backup; this says so before anyone tries.
    return warned(
        f"No verified backup of {state.where} at {state.at} from the last {minutes} minutes "
        f"in {ctx.config.backup_path}: db.upgrade will refuse until there is one.",
        "Back up before the upgrade (db.backup).",
        actions=["db.backup"],
    )
