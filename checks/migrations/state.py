"""Migrations pane: the database reachable, its revision against the scripts, and the
pending migrations reviewed (one head, reversible, no risky DDL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from checks.checklist import MIGRATIONS, VERIFY
from checks.context import CheckContext
from checks.core import CheckSkipped, Outcome, check, failed, passed, warned
from checks.migrations import alembic_cli, lint, scripts
from checks.postgres import connection, redacted_location, target

PANE = "migrations"
FIX_UPGRADE = ("db.backup", "db.rehearse", "db.upgrade")
# The checklist asks a person to review the generated migration; the checks help, not replace.
READ_BY_A_PERSON = "a person's reading of the generated migration"

if TYPE_CHECKING:
    import asyncpg


async def current_revisions(conn: asyncpg.Connection) -> set[str]:
    """The revisions recorded in the database; empty when alembic never ran there."""
    exists = await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
    if not exists:
        return set()
    rows = await conn.fetch("SELECT version_num FROM alembic_version")
    return {row["version_num"] for row in rows}


async def existing_tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
    )
    return {row["table_name"] for row in rows}


T = TypeVar("T")


async def loaded_scripts(ctx: CheckContext) -> scripts.Scripts:
    """The app's scripts (read once per run, shared); the check is skipped (db.single-head
    fails, saying why) when they cannot be read or have several heads."""
    try:
        found = await scripts.load(ctx)
    except scripts.ScriptsUnavailable:
        raise CheckSkipped(
            "the migration scripts cannot be read (db.single-head says why)"
        ) from None
    if len(found.heads) > 1:
        raise CheckSkipped("the scripts have several heads (db.single-head)")
    return found


async def scripts_and(
    ctx: CheckContext, query: Callable[[asyncpg.Connection], Awaitable[T]]
) -> tuple[scripts.Scripts, T]:
    """:func:`loaded_scripts` and ``query`` on the database, side by side: a check needs not
    wait for db.single-head, and the run's critical path is the reading of the scripts, not
    that plus every query after it."""

    async def database() -> T:
        async with connection(ctx) as conn:
            return await query(conn)

    return await asyncio.gather(loaded_scripts(ctx), database())


@check(
    id="db.reachable",
    pane=PANE,
    title="Database reachable",
    timeout=10,
    checklist=(VERIFY, "Database connection"),
    partial="what the app itself says (/api/v1/health/db, see api.db-health)",
)
async def database_reachable(ctx: CheckContext) -> Outcome:
    where = redacted_location(target(ctx))
    ctx.log(f"connecting to {where}")
    start = time.perf_counter()
    async with connection(ctx) as conn:
        connected_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        await conn.fetchval("SELECT 1")
        round_trip_ms = (time.perf_counter() - start) * 1000
        version = await conn.fetchval("SHOW server_version")
    return passed(
        f"Connected to PostgreSQL {version} at {where}; SELECT 1 took {round_trip_ms:.1f} ms.",
        server_version=version,
        connect_ms=f"{connected_ms:.1f}",
        round_trip_ms=f"{round_trip_ms:.1f}",
    )


@check(
    id="db.single-head",
    pane=PANE,
    title="One migration head",
    checklist=(MIGRATIONS, "Review the generated migration"),
    partial=READ_BY_A_PERSON,
)
async def single_head(ctx: CheckContext) -> Outcome:
    found = await scripts.load(ctx)
    if len(found.heads) > 1:
        return failed(
            f"The scripts have {len(found.heads)} heads: {', '.join(sorted(found.heads))}.",
            "Two branches of migrations were merged without a merge revision: run "
            "`alembic merge heads -m 'merge'`, review it, and commit it.",
            heads=", ".join(sorted(found.heads)),
        )
    if not found.heads:
        return failed("The script directory has no revisions.", "Is this the right alembic.ini?")
    return passed(f"One head: {found.heads[0]}.", head=found.heads[0])


@check(
    id="db.revision-state",
    pane=PANE,
    title="Database at the scripts' head",
    needs=["db.reachable"],
    checklist=(MIGRATIONS, "alembic upgrade head"),
)
async def revision_state(ctx: CheckContext) -> Outcome:
    found, current = await scripts_and(ctx, current_revisions)
    unknown = found.unknown(current)
    if unknown:
        return failed(
            f"The database is at {', '.join(sorted(unknown))}, which these scripts do not know: "
            "the code is older than the schema.",
            "Deploy the release whose migrations made this schema, or check that "
            "TOOLBOX_ALEMBIC_INI points at the release being deployed.",
            database=", ".join(sorted(current)),
            heads=", ".join(found.heads),
        )
    pending = found.pending(current)
    for revision in pending:
        ctx.log(f"pending: {revision.label}")
    if pending:
        return failed(
            f"{len(pending)} pending migration(s): " + "; ".join(r.label for r in pending) + ".",
            "Back up (db.backup), rehearse (db.rehearse), then upgrade (db.upgrade).",
            actions=FIX_UPGRADE,
            database=", ".join(sorted(current)) or "(empty: no alembic_version)",
            heads=", ".join(found.heads),
        )
    return passed(
        f"The database is at head {', '.join(sorted(current))}.",
        database=", ".join(sorted(current)),
    )


@check(
    id="db.reversible",
    pane=PANE,
    title="Pending migrations reversible",
    needs=["db.reachable"],
    checklist=(MIGRATIONS, "Review the generated migration"),
    partial=READ_BY_A_PERSON,
)
async def reversible(ctx: CheckContext) -> Outcome:
    found, current = await scripts_and(ctx, current_revisions)
    pending = found.pending(current)
    if not pending:
        return passed("No pending migrations to review.")
    irreversible = [r for r in pending if scripts.downgrade_is_empty(r.path)]
    if irreversible:
        return failed(
            "No downgrade() in: " + "; ".join(f"{r.label} ({r.path.name})" for r in irreversible),
            "The rollback plan runs `alembic downgrade -1`: write a real downgrade() for each.",
        )
    return passed(f"All {len(pending)} pending migration(s) have a downgrade().")


@check(
    id="db.migration-lint",
    pane=PANE,
    title="Pending DDL is safe to run live",
    timeout=30,
    needs=["db.reachable"],
    checklist=(MIGRATIONS, "Review the generated migration"),
    partial=READ_BY_A_PERSON,
)
async def migration_lint(ctx: CheckContext) -> Outcome:
    t = target(ctx)

    async def database_facts(conn: asyncpg.Connection) -> tuple[set[str], set[str]]:
        return await current_revisions(conn), await existing_tables(conn)

    found, (current, tables) = await scripts_and(ctx, database_facts)
    if found.unknown(current):
        raise CheckSkipped("the database is at a revision these scripts do not know")
    pending = found.pending(current)
    if not pending:
        # Nothing to render: no alembic process, which costs a second of CPU.
        return passed("Nothing is pending: there is no DDL to review.")
    try:
        span = alembic_cli.upgrade_range(current)
    except ValueError:
        return warned(
            "The database is on several branches; the offline SQL cannot be rendered.",
            "Merge the heads first.",
        )
    result = await alembic_cli.alembic(
        ctx.config.alembic_ini_path,
        ctx.config.venv_path,
        t,
        ["upgrade", span, "--sql"],
        capture_stdout=True,
    )
    if not result.ok:
        return failed(
            "alembic could not render the pending migrations as SQL: "
            + alembic_cli.failing_statement(result.stderr_lines),
            "Run `alembic upgrade current:head --sql` by hand to see the full error.",
        )
    findings = lint.lint(result.stdout, tables)
    for finding in findings:
        ctx.log(f"{finding.summary()}: {finding.statement}")
        ctx.log(f"  safer: {finding.advice}")
    if findings:
        first = findings[0]
        return warned(
            f"{len(findings)} risky statement(s): " + "; ".join(f.summary() for f in findings),
            f"{first.advice} (The log lists every statement.)",
            **{f"{i + 1}. {f.summary()}": f.statement[:200] for i, f in enumerate(findings)},
        )
    return passed(f"The pending SQL ({span}) has no risky DDL on existing tables.")
