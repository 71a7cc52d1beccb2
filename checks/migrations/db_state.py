"""What every action that changes the database shares: the database it was planned against,
the re-check under the lock that it is still that one, the verified backup it requires, and
where an alembic run that did not finish left the database.

``db.upgrade`` (Migrations pane) and ``db.downgrade`` (Rollback pane) are built from these, so
both refuse, require a backup, show their SQL and report an interruption in the same words.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from checks.context import CheckContext
from checks.core import ActionFailed, ActionRefused
from checks.migrations import alembic_cli, pg_tools, scripts
from checks.migrations.backups import DatabaseIdentity, UsableBackup, find_usable_backup, identify
from checks.migrations.state import current_revisions
from checks.postgres import DatabaseTarget, DatabaseUnavailable, connection, target

if TYPE_CHECKING:
    import asyncpg


def tool(program: str) -> str:
    """``program`` (pg_dump, psql...) or ActionFailed saying how to install it."""
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


async def offline_sql(ctx: CheckContext, state: DatabaseState, args: Sequence[str]) -> str:
    """The SQL of ``alembic ARGS --sql`` (``["upgrade", "A:heads"]``) for ``state``'s
    database, rendered offline for a preview; ActionFailed when alembic cannot render it."""
    result = await alembic_cli.alembic(
        ctx.config.alembic_ini_path,
        ctx.config.venv_path,
        state.target,
        [*args, "--sql"],
        capture_stdout=True,
    )
    if not result.ok:
        raise ActionFailed(
            "alembic could not render the SQL: "
            + alembic_cli.failing_statement(result.stderr_lines)
        )
    return result.stdout.strip()


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


async def require_same_scripts(ctx: CheckContext, heads: Iterable[str]) -> scripts.Scripts:
    """The app's scripts now; ActionRefused if their heads are not those of the preview."""
    found = await scripts.load(ctx)
    if tuple(found.heads) != tuple(heads):
        raise ActionRefused(
            "Refused: the migration scripts changed since the preview "
            f"(heads {revisions_text(heads)} -> {revisions_text(found.heads)}); "
            "nothing was run. Preview again."
        )
    return found


# -- the verified backup a change of the database requires -------------------------------------


def usable_backup(
    ctx: CheckContext, state: DatabaseState, max_age: timedelta | None
) -> UsableBackup | None:
    """The newest verified backup of ``state``'s database at its revision in BACKUP_DIR, no
    older than ``max_age`` (None: of any age)."""
    return find_usable_backup(
        ctx.config.backup_path, state.identity, set(state.revisions), ctx.clock(), max_age
    )


def backup_line(found: UsableBackup) -> str:
    m = found.manifest
    return (
        f"Backup: {found.dump} (taken {m.taken_at}, {m.size:,} bytes, "
        f"{m.toc_entries} entries verified)."
    )


@dataclass(frozen=True)
class BackupRequirement:
    """What a plan says about the backup it relies on, or why it must refuse without one."""

    line: str
    dump: Path | None
    refusal: str | None = None


def required_backup(ctx: CheckContext, state: DatabaseState) -> BackupRequirement:
    """The recent verified backup of ``state`` (TOOLBOX_BACKUP_MAX_AGE_MINUTES) that
    TOOLBOX_REQUIRE_BACKUP asks for before the database is changed."""
    minutes = ctx.config.backup_max_age_minutes
    found = usable_backup(ctx, state, timedelta(minutes=minutes))
    if found is not None:
        return BackupRequirement(backup_line(found), found.dump)
    if ctx.config.require_backup:
        return BackupRequirement(
            "",
            None,
            f"Refused: no verified backup of {state.where} at revision {state.at} from the "
            f"last {minutes} minutes in {ctx.config.backup_path}. "
            "Run db.backup first (or --no-backup-required if you have one elsewhere).",
        )
    return BackupRequirement("No backup is required (TOOLBOX_REQUIRE_BACKUP=false).", None)


def require_backup_still_there(dump: Path | None) -> None:
    if dump is not None and not dump.is_file():
        raise ActionRefused(f"Refused: the backup {dump} is gone since the preview.")


# -- after an alembic run that did not finish -----------------------------------------------------


@dataclass(frozen=True)
class Move:
    """The words for one direction of a migration: ``upgrade`` / ``upgraded``, and what
    cannot go on when it stopped part of the way."""

    noun: str
    past: str
    going_on: str


UPGRADE = Move("upgrade", "upgraded", "the release")
DOWNGRADE = Move("downgrade", "downgraded", "the rollback")


async def run_alembic(
    ctx: CheckContext,
    state: DatabaseState,
    args: list[str],
    goal: Iterable[str],
    move: Move = UPGRADE,
) -> float:
    """``alembic ARGS`` (towards the revisions ``goal``) on ``state``'s database, its output
    logged; the seconds it took. ActionFailed when it fails, naming the revision and the
    statement it stopped at, or when it is interrupted; either way saying where that left
    the database (:func:`where_it_stopped`)."""
    ctx.log(f"alembic {' '.join(args)} on {state.where}")
    start = time.perf_counter()
    try:
        result = await alembic_cli.alembic(
            ctx.config.alembic_ini_path, ctx.config.venv_path, state.target, args, log=ctx.log
        )
    except asyncio.CancelledError:
        # alembic was interrupted and has exited; say where that left the database.
        raise ActionFailed(await where_it_stopped(ctx, state, goal, move)) from None
    if not result.ok:
        at = alembic_cli.failing_revision(result.stderr_lines)
        raise ActionFailed(
            f"The {move.noun} failed{f' at {at}' if at else ''}: "
            + alembic_cli.failing_statement(result.stderr_lines)
            + " — "
            + await where_it_stopped(ctx, state, goal, move)
        )
    return time.perf_counter() - start


async def where_it_stopped(
    ctx: CheckContext, before: DatabaseState, goal: Iterable[str], move: Move = UPGRADE
) -> str:
    """Where an alembic run towards ``goal`` that did not finish left the database, in a
    sentence read afresh from the database; the change is recorded when there was one."""
    try:
        now = await database_state(ctx)
    except DatabaseUnavailable as exc:
        return f"the database cannot be asked where it is now ({exc}); run `alembic current`."
    if now.revisions == before.revisions:
        return f"it was rolled back: the database is still at {before.at}; nothing changed."
    if now.revisions == frozenset(goal):
        ctx.changed(f"{move.past} {before.where} from {before.at} to {now.at}")
        return f"the {move.noun} had already committed: the database is at {now.at}."
    ctx.changed(f"moved {before.where} from {before.at} to {now.at}")
    return (
        f"the database is now at {now.at}, part of the way: check it, and restore the backup "
        f"if {move.going_on} cannot go on from there."
    )
