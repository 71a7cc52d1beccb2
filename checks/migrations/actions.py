"""Migrations pane actions: back up (pg_dump, verified, with a manifest), upgrade to head, and
rehearse the upgrade on a scratch copy of the schema.

Each plan records which database it saw and at which revision; each run holds the database's
toolbox-tui lock and refuses if the database is no longer the one, at the revision, that the
preview showed. The upgrade runs only with a verified backup of that database at that revision
(see :mod:`checks.migrations.backups`), and an interrupted upgrade says where it left the
database. What the upgrade shares with the Rollback pane's downgrade is in
:mod:`checks.migrations.db_state`.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime
from pathlib import Path

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
from checks.migrations import alembic_cli, scripts
from checks.migrations.backups import (
    Manifest,
    count_toc_entries,
    manifest_path,
    sha256_of,
    write_manifest,
)
from checks.migrations.db_lock import database_lock
from checks.migrations.db_state import (
    DatabaseState,
    database_state,
    offline_sql,
    require_backup_still_there,
    require_same_scripts,
    require_unchanged,
    required_backup,
    revisions_text,
    run_alembic,
    tool,
)
from checks.migrations.rehearsal import rehearse, scratch_name
from checks.migrations.state import PANE
from checks.subprocesses import run

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
    pg_dump, pg_restore = tool("pg_dump"), tool("pg_restore")
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
        sql = await offline_sql(
            ctx, state, ["upgrade", alembic_cli.upgrade_range(set(state.revisions))]
        )
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
    backup = required_backup(ctx, state)
    if backup.refusal is not None:
        return refused_plan(backup.refusal, *lines)
    return plan(*lines, backup.line, state=state, heads=tuple(found.heads), backup=backup.dump)


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
        await require_same_scripts(ctx, heads)
        require_backup_still_there(backup_dump)
        seconds = await run_alembic(ctx, state, ["upgrade", "heads"], heads)
        ctx.changed(f"upgraded {state.where} from {state.at} to {revisions_text(heads)}")
    return f"Upgraded to head in {seconds:.1f} s."


# -- db.rehearse -------------------------------------------------------------------------------


async def _plan_rehearsal(ctx: CheckContext) -> Plan:
    state = await database_state(ctx)
    found = await scripts.load(ctx)
    scratch = scratch_name()
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
    pg_dump, psql = tool("pg_dump"), tool("psql")
    async with database_lock(state.target, "db.rehearse"):
        await require_unchanged(ctx, state)
        return await rehearse(ctx, state.target, planned.payload["scratch"], pg_dump, psql)
