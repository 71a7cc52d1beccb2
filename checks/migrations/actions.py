"""Migrations pane actions: back up (pg_dump, verified, with a manifest), upgrade to head, and
rehearse the upgrade on a scratch copy of the schema.

Each plan records which database it saw and at which revision; each run holds the database's
toolbox-tui lock and refuses if the database is no longer the one, at the revision, that the
preview showed. The upgrade runs only with a verified backup of that database at that revision
(see :mod:`checks.migrations.backups`), and an interrupted upgrade says where it left the
database.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from checks.context import CheckContext
from checks.core import (
    ActionFailed,
    ActionRefused,
    Plan,
    action,
    nothing_to_do,
    plan,
    refused_plan,
)
from checks.migrations import alembic_cli, pg_tools, scripts
from checks.migrations.backups import (
    DatabaseIdentity,
    Manifest,
    UsableBackup,
    count_toc_entries,
    find_usable_backup,
    identify,
    manifest_path,
    sha256_of,
    write_manifest,
)
from checks.migrations.db_lock import database_lock
from checks.migrations.rehearsal import rehearse
from checks.migrations.state import PANE, current_revisions
from checks.postgres import DatabaseTarget, DatabaseUnavailable, connection, target
from checks.subprocesses import run

if TYPE_CHECKING:
    import asyncpg


def _tool(program: str) -> str:
    try:
        return pg_tools.find(program)
    except pg_tools.ToolMissing as exc:
        raise ActionFailed(str(exc)) from None


@dataclass(frozen=True)
class DatabaseState:
    """The database an action was planned against, and where its migrations stood."""

    target: DatabaseTarget
    identity: DatabaseIdentity
    revisions: frozenset[str]

    @property
    def where(self) -> str:
        return self.identity.location

    @property
    def at(self) -> str:
        return revisions_text(self.revisions)


def revisions_text(revisions: Iterable[str]) -> str:
    return ", ".join(sorted(revisions)) or "base (no migrations applied)"


async def database_state(ctx: CheckContext) -> DatabaseState:
    async with connection(ctx) as conn:
        return await state_on(conn, target(ctx))


async def state_on(conn: asyncpg.Connection, t: DatabaseTarget) -> DatabaseState:
    """Which database ``conn`` is on (``t``), and where its migrations stand."""
    return DatabaseState(t, await identify(conn, t), frozenset(await current_revisions(conn)))


async def require_unchanged(ctx: CheckContext, planned: DatabaseState) -> DatabaseState:
    """The database as it is now; ActionRefused if it is not the planned one at the planned
    revision (called while holding the database lock, so it cannot move on afterwards)."""
    now = await database_state(ctx)
    if not now.identity.same_as(planned.identity):
        raise ActionRefused(
            f"Refused: DATABASE_URL now leads to another database than the preview showed "
            f"({now.where}); nothing was done. Preview again."
        )
    if now.revisions != planned.revisions:
        raise ActionRefused(
            f"Refused: the database moved from {planned.at} to {now.at} since the preview; "
            "nothing was done. Preview again."
        )
    return now


# -- db.backup ---------------------------------------------------------------------------------


def backup_file(ctx: CheckContext, database: str, moment: datetime) -> Path:
    """``BACKUP_DIR/DB-TIME.dump``; a second backup within the same second gets ``-2``.

    The database's name is reduced to letters, digits, ``_`` and ``-``: it comes from
    DATABASE_URL, and a name like ``../../etc/x`` must not lead the dump out of BACKUP_DIR.
    """
    stamp = moment.strftime("%Y%m%dT%H%M%SZ")
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", database).strip("_") or "database"
    candidate = ctx.config.backup_path / f"{name}-{stamp}.dump"
    n = 1
    while candidate.exists():
        n += 1
        candidate = ctx.config.backup_path / f"{name}-{stamp}-{n}.dump"
    return candidate


async def _plan_backup(ctx: CheckContext) -> Plan:
    state = await database_state(ctx)
    taken_at = ctx.clock()
    destination = backup_file(ctx, state.identity.database, taken_at)
    return plan(
        f"pg_dump --format=custom of {state.where}, at revision {state.at},",
        f"into {destination},",
        f"then pg_restore --list to verify it, and its manifest {manifest_path(destination).name}.",
        "The database is only read; restore with pg_restore.",
        state=state,
        destination=destination,
        taken_at=taken_at,
    )


@action(
    id="db.backup",
    title="Back up the database (pg_dump)",
    pane=PANE,
    key="b",
    plan=_plan_backup,
    description="A verified pg_dump with a manifest; db.upgrade accepts it for this revision.",
)
async def backup(ctx: CheckContext, planned: Plan) -> str:
    state: DatabaseState = planned.payload["state"]
    destination: Path = planned.payload["destination"]
    pg_dump, pg_restore = _tool("pg_dump"), _tool("pg_restore")
    async with database_lock(state.target, "db.backup"):
        await require_unchanged(ctx, state)
        if destination.exists():
            raise ActionRefused(f"Refused: {destination} appeared since the preview.")
        try:
            destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ActionFailed(f"Cannot create {destination.parent}: {exc.strerror}") from None
        try:
            return await _dump_and_verify(ctx, state, destination, planned, pg_dump, pg_restore)
        except BaseException:
            # A dump without its manifest is never trusted; it still holds every row.
            destination.unlink(missing_ok=True)
            raise


async def _dump_and_verify(
    ctx: CheckContext,
    state: DatabaseState,
    destination: Path,
    planned: Plan,
    pg_dump: str,
    pg_restore: str,
) -> str:
    ctx.log(f"pg_dump {state.where} -> {destination}")
    start = time.perf_counter()
    result = await run(
        [pg_dump, "--format=custom", "--no-password", f"--file={destination}"],
        env=state.target.libpq_env(),
        log=ctx.log,
    )
    if not result.ok:
        reason = result.stderr_lines[-1] if result.stderr_lines else f"exit {result.returncode}"
        raise ActionFailed(f"pg_dump failed: {reason}")
    seconds = time.perf_counter() - start
    destination.chmod(0o600)  # a dump holds every row, secrets included
    entries = await count_toc_entries(pg_restore, destination)
    ctx.log(f"pg_restore --list reads {entries} entries back")
    size = destination.stat().st_size
    manifest = Manifest(
        dump=destination.name,
        server=state.identity.server,
        database=state.identity.database,
        database_oid=state.identity.oid,
        location=state.where,
        revisions=sorted(state.revisions),
        taken_at=planned.payload["taken_at"].isoformat(timespec="seconds"),
        size=size,
        sha256=await asyncio.to_thread(sha256_of, destination),
        toc_entries=entries,
    )
    await asyncio.to_thread(write_manifest, destination, manifest)
    ctx.changed(f"wrote the verified backup {destination.name} ({size:,} bytes) and its manifest")
    ctx.log(f"{size:,} bytes in {seconds:.2f} s")
    return f"Backed up to {destination} ({size:,} bytes, {entries} entries, {seconds:.1f} s)."


# -- db.upgrade --------------------------------------------------------------------------------


async def _pending_sql(ctx: CheckContext, state: DatabaseState) -> str:
    result = await alembic_cli.alembic(
        ctx.config.alembic_ini_path,
        ctx.config.venv_path,
        state.target,
        ["upgrade", alembic_cli.upgrade_range(set(state.revisions)), "--sql"],
        capture_stdout=True,
    )
    if not result.ok:
        raise ActionFailed(
            "alembic could not render the SQL: "
            + alembic_cli.failing_statement(result.stderr_lines)
        )
    return result.stdout.strip()


def _backup_line(found: UsableBackup) -> str:
    m = found.manifest
    return (
        f"Backup: {found.dump} (taken {m.taken_at}, {m.size:,} bytes, "
        f"{m.toc_entries} entries verified)."
    )


async def _plan_upgrade(ctx: CheckContext) -> Plan:
    state = await database_state(ctx)
    found = await scripts.load(ctx)
    if unknown := found.unknown(set(state.revisions)):
        return refused_plan(
            f"Refused: the database is at {revisions_text(unknown)}, which these scripts do "
            "not know; deploy the release whose migrations made this schema."
        )
    pending = found.pending(set(state.revisions))
    if not pending:
        return nothing_to_do(f"Nothing to upgrade: {state.where} is already at {state.at}.")
    try:
        sql = await _pending_sql(ctx, state)
    except ValueError as exc:
        return refused_plan(f"Refused: {exc}; merge the heads first.")
    lines = [
        f"alembic upgrade heads on {state.where}, from {state.at} to "
        f"{revisions_text(found.heads)}: " + "; ".join(r.label for r in pending) + ".",
        "It runs this SQL:",
        "",
        sql,
        "",
    ]
    max_age = timedelta(minutes=ctx.config.backup_max_age_minutes)
    usable = find_usable_backup(
        ctx.config.backup_path, state.identity, set(state.revisions), ctx.clock(), max_age
    )
    if usable is not None:
        lines.append(_backup_line(usable))
    elif ctx.config.require_backup:
        return refused_plan(
            f"Refused: no verified backup of {state.where} at revision {state.at} from the "
            f"last {ctx.config.backup_max_age_minutes} minutes in {ctx.config.backup_path}. "
            "Run db.backup first (or --no-backup-required if you have one elsewhere).",
            *lines,
        )
    else:
        lines.append("No backup is required (TOOLBOX_REQUIRE_BACKUP=false).")
    return plan(
        *lines,
        state=state,
        heads=tuple(found.heads),
        backup=usable.dump if usable else None,
    )


@action(
    id="db.upgrade",
    title="Upgrade the database (alembic upgrade head)",
    pane=PANE,
    key="u",
    dangerous=True,
    plan=_plan_upgrade,
    description="alembic upgrade heads, after a verified backup of this revision.",
)
async def upgrade(ctx: CheckContext, planned: Plan) -> str:
    state: DatabaseState = planned.payload["state"]
    heads: tuple[str, ...] = planned.payload["heads"]
    backup_dump: Path | None = planned.payload["backup"]
    async with database_lock(state.target, "db.upgrade"):
        await require_unchanged(ctx, state)
        found = await scripts.load(ctx)
        if tuple(found.heads) != heads:
            raise ActionRefused(
                "Refused: the migration scripts changed since the preview "
                f"(heads {revisions_text(heads)} -> {revisions_text(found.heads)}); "
                "nothing was run. Preview again."
            )
        if backup_dump is not None and not backup_dump.is_file():
            raise ActionRefused(f"Refused: the backup {backup_dump} is gone since the preview.")
        ctx.log(f"alembic upgrade heads on {state.where}")
        start = time.perf_counter()
        try:
            result = await alembic_cli.alembic(
                ctx.config.alembic_ini_path,
                ctx.config.venv_path,
                state.target,
                ["upgrade", "heads"],
                log=ctx.log,
            )
        except asyncio.CancelledError:
            # alembic was interrupted and has exited; say where that left the database.
            raise ActionFailed(await _where_it_stopped(ctx, state, heads)) from None
        if not result.ok:
            raise ActionFailed(
                "The upgrade failed at: "
                + alembic_cli.failing_statement(result.stderr_lines)
                + " — "
                + await _where_it_stopped(ctx, state, heads)
            )
        ctx.changed(f"upgraded {state.where} from {state.at} to {revisions_text(heads)}")
    return f"Upgraded to head in {time.perf_counter() - start:.1f} s."


async def _where_it_stopped(ctx: CheckContext, before: DatabaseState, heads: Iterable[str]) -> str:
    """Where an upgrade that did not finish left the database, in a sentence; the change is
    recorded when there was one."""
    try:
        now = await database_state(ctx)
    except DatabaseUnavailable as exc:
        return f"the database cannot be asked where it is now ({exc}); run `alembic current`."
    if now.revisions == before.revisions:
        return f"it was rolled back: the database is still at {before.at}; nothing changed."
    if now.revisions == frozenset(heads):
        ctx.changed(f"upgraded {before.where} from {before.at} to {now.at}")
        return f"the upgrade had already committed: the database is at {now.at}."
    ctx.changed(f"moved {before.where} from {before.at} to {now.at}")
    return (
        f"the database is now at {now.at}, part of the way: check it, and restore the backup "
        "if the release cannot go on from there."
    )


# -- db.rehearse -------------------------------------------------------------------------------


async def _plan_rehearsal(ctx: CheckContext) -> Plan:
    state = await database_state(ctx)
    found = await scripts.load(ctx)
    scratch = f"toolbox_rehearsal_{secrets.token_hex(4)}"
    return plan(
        f"1. create the scratch database {scratch} beside {state.where}",
        "2. copy the schema into it (pg_dump --schema-only | psql)",
        f"3. alembic upgrade heads ({revisions_text(found.heads)}), downgrade to {state.at}, "
        "upgrade again",
        "4. compare the schema after the downgrade with the original",
        f"5. drop {scratch}",
        "The real database is only read.",
        state=state,
        scratch=scratch,
    )


@action(
    id="db.rehearse",
    title="Rehearse the upgrade on a scratch copy",
    pane=PANE,
    key="h",
    plan=_plan_rehearsal,
    description="Upgrade, downgrade and upgrade again a scratch copy of the schema, timed.",
)
async def rehearse_upgrade(ctx: CheckContext, planned: Plan) -> str:
    state: DatabaseState = planned.payload["state"]
    pg_dump, psql = _tool("pg_dump"), _tool("psql")
    async with database_lock(state.target, "db.rehearse"):
        await require_unchanged(ctx, state)
        return await rehearse(ctx, state.target, planned.payload["scratch"], pg_dump, psql)
