"""Migrations pane actions: back up with pg_dump, upgrade to head, and rehearse the upgrade
on a scratch copy of the schema."""

from __future__ import annotations

import time
from pathlib import Path

from checks.context import CheckContext
from checks.core import ActionFailed, action
from checks.migrations import alembic_cli, pg_tools, scripts
from checks.migrations.rehearsal import rehearse
from checks.migrations.state import PANE, current_revisions
from checks.postgres import (
    DatabaseTarget,
    DatabaseUnavailable,
    connection,
    redacted_location,
    target,
)
from checks.subprocesses import run


def _target(ctx: CheckContext) -> DatabaseTarget:
    try:
        return target(ctx)
    except DatabaseUnavailable as exc:
        raise ActionFailed(f"{exc} {exc.hint}") from None


def _tool(program: str) -> str:
    try:
        return pg_tools.find(program)
    except pg_tools.ToolMissing as exc:
        raise ActionFailed(str(exc)) from None


def backup_file(ctx: CheckContext, t: DatabaseTarget) -> Path:
    """``BACKUP_DIR/DB-TIME.dump``; a second backup within the same second gets ``-2``."""
    stamp = ctx.clock().strftime("%Y%m%dT%H%M%SZ")
    candidate = ctx.config.backup_path / f"{t.database}-{stamp}.dump"
    n = 1
    while candidate.exists():
        n += 1
        candidate = ctx.config.backup_path / f"{t.database}-{stamp}-{n}.dump"
    return candidate


async def _preview_backup(ctx: CheckContext) -> str:
    try:
        t = target(ctx)
    except DatabaseUnavailable as exc:
        return f"Cannot back up: {exc}"
    return (
        f"pg_dump --format=custom of {redacted_location(t)}\n"
        f"into {backup_file(ctx, t)}\n"
        "(read-only for the database; restore with pg_restore)."
    )


@action(
    id="db.backup",
    title="Back up the database (pg_dump)",
    pane=PANE,
    key="b",
    preview=_preview_backup,
)
async def backup(ctx: CheckContext) -> str:
    t = _target(ctx)
    destination = backup_file(ctx, t)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ActionFailed(f"Cannot create {destination.parent}: {exc.strerror}") from None
    ctx.log(f"pg_dump {redacted_location(t)} -> {destination}")
    start = time.perf_counter()
    result = await run(
        [_tool("pg_dump"), "--format=custom", "--no-password", f"--file={destination}"],
        env=t.libpq_env(),
        log=ctx.log,
    )
    seconds = time.perf_counter() - start
    if not result.ok:
        destination.unlink(missing_ok=True)
        reason = result.stderr_lines[-1] if result.stderr_lines else f"exit {result.returncode}"
        raise ActionFailed(f"pg_dump failed: {reason}")
    destination.chmod(0o600)  # a dump holds every row, secrets included
    size = destination.stat().st_size
    ctx.session.backups.append(destination)
    ctx.log(f"{size:,} bytes in {seconds:.2f} s")
    return f"Backed up to {destination} ({size:,} bytes, {seconds:.1f} s)."


async def _pending_sql(ctx: CheckContext) -> str:
    t = target(ctx)
    async with connection(ctx) as conn:
        current = await current_revisions(conn)
    result = await alembic_cli.alembic(
        ctx.config.alembic_ini_path,
        ctx.config.venv_path,
        t,
        ["upgrade", alembic_cli.upgrade_range(current), "--sql"],
        capture_stdout=True,
    )
    if not result.ok:
        return "alembic could not render the SQL: " + alembic_cli.failing_statement(
            result.stderr_lines
        )
    return result.stdout


async def _preview_upgrade(ctx: CheckContext) -> str:
    try:
        sql = await _pending_sql(ctx)
    except (DatabaseUnavailable, ValueError) as exc:
        return f"Cannot preview: {exc}"
    backup_note = (
        "A backup from this session exists."
        if ctx.session.backups
        else "No backup from this session yet: run db.backup first."
    )
    return f"alembic upgrade heads, running this SQL:\n\n{sql.strip()}\n\n{backup_note}"


@action(
    id="db.upgrade",
    title="Upgrade the database (alembic upgrade head)",
    pane=PANE,
    key="u",
    dangerous=True,
    preview=_preview_upgrade,
)
async def upgrade(ctx: CheckContext) -> str:
    if ctx.config.require_backup and not ctx.session.backups:
        raise ActionFailed(
            "No backup from this session: run db.backup first "
            "(or set TOOLBOX_REQUIRE_BACKUP=false if you have one elsewhere)."
        )
    t = _target(ctx)
    ctx.log(f"alembic upgrade heads on {redacted_location(t)}")
    start = time.perf_counter()
    result = await alembic_cli.alembic(
        ctx.config.alembic_ini_path, ctx.config.venv_path, t, ["upgrade", "heads"], log=ctx.log
    )
    if not result.ok:
        raise ActionFailed(
            "The upgrade failed at: "
            + alembic_cli.failing_statement(result.stderr_lines)
            + " — restore from the backup if the database was left half-way."
        )
    return f"Upgraded to head in {time.perf_counter() - start:.1f} s."


async def _preview_rehearsal(ctx: CheckContext) -> str:
    try:
        found = await scripts.load(ctx.config.alembic_ini_path)
        where = redacted_location(target(ctx))
    except (DatabaseUnavailable, scripts.ScriptsUnavailable) as exc:
        return f"Cannot rehearse: {exc}"
    return (
        f"1. create a scratch database beside {where}\n"
        "2. copy the schema into it (pg_dump --schema-only | psql)\n"
        f"3. alembic upgrade heads ({', '.join(found.heads)}), downgrade, upgrade again\n"
        "4. compare the schema after the downgrade with the original\n"
        "5. drop the scratch database\n"
        "The real database is only read."
    )


@action(
    id="db.rehearse",
    title="Rehearse the upgrade on a scratch copy",
    pane=PANE,
    key="h",
    preview=_preview_rehearsal,
)
async def rehearse_upgrade(ctx: CheckContext) -> str:
    t = _target(ctx)
    return await rehearse(ctx, t, _tool("pg_dump"), _tool("psql"))
