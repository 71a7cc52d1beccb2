"""Rollback pane, the database: the downgrades back to the previous release rehearsed on a
scratch copy, a verified backup of the database as this release left it, and the downgrade.

Provides checks ``rollback.downgrades`` and ``rollback.database-backup`` and action
``db.downgrade`` (the checklist's ``alembic downgrade -1``, or down to a revision named with
the ``to`` parameter). The downgrade is built like ``db.upgrade`` from
:mod:`checks.migrations.db_state`: the plan records the database and its revision, the run
holds the database lock and refuses if either moved, a verified backup is required, and a
downgrade that fails or is interrupted says where it left the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from datetime import timedelta

from checks.checklist import ROLLBACK
from checks.context import CheckContext
from checks.core import (
    ActionFailed,
    CheckFailed,
    CheckSkipped,
    Outcome,
    Plan,
    action,
    check,
    failed,
    nothing_to_do,
    passed,
    plan,
    refused_plan,
)
from checks.migrations import alembic_cli, scripts
from checks.migrations.backups import count_toc_entries
from checks.migrations.db_lock import database_lock
from checks.migrations.db_state import (
    DOWNGRADE,
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
    usable_backup,
)
from checks.migrations.rehearsal import (
    StepFailed,
    scratch_copy,
    scratch_name,
    steps,
)
from checks.migrations.state import loaded_scripts
from checks.postgres import DatabaseUnavailable

PANE = "rollback"
DOWNGRADE_ID = "db.downgrade"
BACKUP_ACTION = "db.backup"
PREVIOUS_RELEASE = "rollback.previous-release"
DEFAULT_TARGET = "-1"
"""db.downgrade's ``to`` when none is given: one revision down, as the checklist says."""
BASE = "base"
_RELATIVE = re.compile(r"^-(?P<steps>[1-9]\d*)$")


# -- where a downgrade goes ---------------------------------------------------------------------


@dataclass(frozen=True)
class Downgrade:
    """A downgrade from the database's one revision to ``target``."""

    target: str
    """What alembic is told to downgrade to: a revision id, or ``base``."""
    undone: tuple[scripts.Revision, ...]
    """The revisions it reverses, newest first."""

    @property
    def goal(self) -> frozenset[str]:
        """The revisions the database records once it is done."""
        return frozenset() if self.target == BASE else frozenset({self.target})

    @property
    def labels(self) -> str:
        return "; ".join(r.label for r in self.undone)


class BadTarget(ValueError):
    """The ``to`` of a downgrade cannot be used; the message says why, for a person."""


def resolve(found: scripts.Scripts, current: frozenset[str], to: str) -> Downgrade:
    """Where ``to`` (``-1``, ``-N``, ``base``, a revision id or its unique start) leads a
    database at ``current``; BadTarget when it leads nowhere a downgrade can go."""
    if len(current) > 1:
        raise BadTarget(
            f"the database is on several branches ({revisions_text(current)}); downgrade "
            "them one at a time by hand (alembic downgrade BRANCH@-1)"
        )
    if unknown := found.unknown(current):
        raise BadTarget(
            f"the database is at {revisions_text(unknown)}, which these scripts do not know: "
            "downgrade with the scripts of the release that made it, before checking out "
            "an older one"
        )
    if not current:
        return Downgrade(BASE, ())  # alembic never ran there: nothing to undo
    start = next(iter(current))
    wanted = to.strip() or DEFAULT_TARGET
    if match := _RELATIVE.match(wanted):
        goal = _steps_down(found, start, int(match["steps"]))
    elif wanted == BASE:
        goal = BASE
    else:
        goal = _revision_named(found, wanted)
        if goal not in found.applied(current):
            raise BadTarget(
                f"{goal} is not below the database's revision {start}: a downgrade only goes "
                "down (db.upgrade goes up)"
            )
    kept = () if goal == BASE else (goal,)
    return Downgrade(goal, tuple(found.undone(current, kept)))


def _steps_down(found: scripts.Scripts, start: str, steps: int) -> str:
    revision = start
    for taken in range(steps):
        if revision == BASE:
            raise BadTarget(
                f"there are only {taken} revision(s) below {start}; to=base undoes them all"
            )
        below = found.revisions[revision].down_revisions
        if len(below) > 1:
            raise BadTarget(
                f"{revision} merges {', '.join(below)}: name the revision to go down to "
                "(to=REVISION)"
            )
        revision = below[0] if below else BASE
    return revision


def _revision_named(found: scripts.Scripts, wanted: str) -> str:
    if "," in wanted:
        raise BadTarget(
            f"{wanted!r} names several revisions; a downgrade goes to one (to=REVISION)"
        )
    if wanted in found.revisions:
        return wanted
    matches = [rev for rev in found.revisions if rev.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise BadTarget(f"{wanted!r} could be any of {', '.join(sorted(matches))}")
    raise BadTarget(f"no revision {wanted!r} in the migration scripts")


# -- rollback.downgrades ---------------------------------------------------------------------


@check(
    id="rollback.downgrades",
    pane=PANE,
    title="Downgrades since the previous release work",
    timeout=60,
    # It asks git and the database itself rather than waiting for rollback.previous-release
    # and db.reachable: its scratch copy, the slow part, then starts at once. Either failing
    # skips it, naming that check.
    checklist=(ROLLBACK, "Database rollback"),
    # It creates (and drops) a scratch database on the server: read-only mode only looks.
    writes=True,
)
async def downgrades(ctx: CheckContext) -> Outcome:
    previous, heads, state = await _previous_release_and_database(ctx)
    target = next(iter(heads), BASE)
    if len(heads) > 1 or len(state.revisions) > 1 or heads == state.revisions:
        # Nothing to undo, or no single downgrade: the scripts alone decide, with no copy.
        decided = await _decided(ctx, previous, target, heads, state)
        if isinstance(decided, Outcome):
            return decided
    try:
        return await _rehearsed(ctx, previous, target, heads, state)
    except ActionFailed as exc:
        return failed(f"The rehearsal failed: {exc}", "The log has the details.")


async def _rehearsed(
    ctx: CheckContext, previous: str, target: str, heads: frozenset[str], state: DatabaseState
) -> Outcome:
    """Downgrade a scratch copy of the schema to ``target`` and upgrade it again; the copy
    is dropped whatever happens.

    The copy and alembic's start-up take most of the time: both begin while the scripts are
    read, and the copy is dropped unused if the scripts leave nothing to rehearse.

    A downgrade that leaves something behind shows when the upgrade trips on it. Comparing
    whole schemas as well would cost a second copy on every run: PostgreSQL prints some
    constraints differently once they went through a dump and a load, so tables the upgrade
    made afresh only compare with copied ones after the same journey."""
    pg_dump, psql = tool("pg_dump"), tool("psql")
    async with scratch_copy(ctx, state.target, scratch_name(), pg_dump, psql) as copy:
        go: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        named = [
            ("downgrade", ["downgrade", target]),
            ("upgrade again", ["upgrade", copy.start_at]),
        ]
        rehearsal = asyncio.create_task(steps(ctx, copy, named, after=(go,)))
        try:
            decided = await _decided(ctx, previous, target, heads, state)
            if isinstance(decided, Outcome):
                return decided
            for revision in decided.undone:
                ctx.log(f"applied since {previous}: {revision.label}")
            go.set_result(None)
            try:
                seconds, _ = await rehearsal
            except StepFailed as exc:
                return _failed_step(exc, previous, decided)
        finally:
            rehearsal.cancel()  # the scripts said no: alembic's process ends unused
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await rehearsal
    return passed(
        f"{len(decided.undone)} downgrade(s) back to {previous} work: {decided.labels} "
        f"({seconds:.1f} s on a scratch copy; the upgrade runs again on top).",
        previous_release=previous,
        downgrade_to=decided.target,
        undone=decided.labels,
    )


async def _previous_release_and_database(
    ctx: CheckContext,
) -> tuple[str, frozenset[str], DatabaseState]:
    """The previous release, its migration heads, and the database's state, asked of git and
    the database side by side; CheckSkipped naming the check that says why one is missing
    (the previous release's first, when both are)."""
    from checks.rollback.releases import migration_heads_at, previous_release_of

    async def release() -> tuple[str, frozenset[str]]:
        try:
            _, previous = await previous_release_of(ctx)
        except CheckFailed as exc:
            raise CheckSkipped(
                f"the previous release is unknown ({PREVIOUS_RELEASE}): {str(exc).rstrip('.')}",
                exc.hint,
            ) from None
        if previous is None:
            raise CheckSkipped(f"there is no previous release to roll back to ({PREVIOUS_RELEASE})")
        return previous, await migration_heads_at(ctx, previous)

    async def database() -> DatabaseState:
        try:
            return await database_state(ctx)
        except DatabaseUnavailable as exc:
            raise CheckSkipped(
                f"the database cannot be reached (db.reachable): {str(exc).rstrip('.')}", exc.hint
            ) from None

    released, reached = await asyncio.gather(release(), database(), return_exceptions=True)
    if isinstance(released, BaseException):
        raise released
    if isinstance(reached, BaseException):
        raise reached
    previous, heads = released
    return previous, heads, reached


async def _decided(
    ctx: CheckContext, previous: str, target: str, heads: frozenset[str], state: DatabaseState
) -> Outcome | Downgrade:
    """What the deployed scripts say of a rollback to ``previous`` (whose migration heads are
    ``heads``, ``target`` the one to go down to): the downgrade to rehearse, or the outcome
    when there is none."""
    found = await loaded_scripts(ctx)
    if foreign := found.unknown(heads):
        return failed(
            f"{previous}'s migration head {revisions_text(foreign)} is not in the deployed "
            "scripts: there is no downgrade path back to it.",
            "The deployed migrations do not descend from the previous release's: restore the "
            "previous release's backup instead of downgrading.",
        )
    if len(heads) > 1:
        return failed(
            f"{previous} has {len(heads)} migration heads ({revisions_text(heads)}): a "
            "downgrade goes to one revision.",
            "Downgrade branch by branch by hand (alembic downgrade BRANCH@REVISION).",
        )
    known = not found.unknown(state.revisions)
    if known and not found.undone(state.revisions, heads):
        return passed(
            f"Nothing to undo: no migration since {previous} is applied ({state.at}).",
            previous_release=previous,
            database=state.at,
        )
    try:
        return resolve(found, state.revisions, target)
    except BadTarget as exc:
        return failed(f"No downgrade to {previous}: {exc}.", "Read `alembic history`.")


def _failed_step(exc: StepFailed, previous: str, down: Downgrade) -> Outcome:
    revision = exc.revision or "a revision"
    if exc.step == "downgrade":
        message = f"The downgrade of {revision} fails: {exc.statement}"
        hint = f"Fix {revision}'s downgrade(): the rollback to {previous} stops there."
    else:
        message = f"After the downgrade, upgrading {revision} again fails: {exc.statement}"
        hint = (
            f"A downgrade since {previous} leaves something behind that {revision}'s upgrade "
            "trips on: compare each downgrade() with its upgrade()."
        )
    return failed(
        message,
        hint,
        failing_revision=revision,
        statement=exc.statement,
        previous_release=previous,
        undone=down.labels,
    )


# -- rollback.database-backup -------------------------------------------------------------------


@check(
    id="rollback.database-backup",
    pane=PANE,
    title="Verified backup of this release",
    timeout=30,
    needs=["db.reachable"],
    checklist=(ROLLBACK, "Database rollback"),
    partial="`alembic downgrade -1` itself",
)
async def database_backup(ctx: CheckContext) -> Outcome:
    state = await database_state(ctx)
    found = usable_backup(ctx, state, max_age=None)
    if found is None:
        return failed(
            f"No verified backup of {state.where} at {state.at} in {ctx.config.backup_path}: "
            "a rollback that goes wrong has nothing to restore.",
            "Back up now (db.backup): it writes a pg_dump with a manifest for this revision.",
            [BACKUP_ACTION],
        )
    m = found.manifest
    try:
        entries = await count_toc_entries(tool("pg_restore"), found.dump)
    except ActionFailed as exc:
        raise CheckFailed(f"{exc}.", "Back up again (db.backup).") from None
    if entries != m.toc_entries:
        return failed(
            f"{found.dump.name} now reads back {entries} entries, not the {m.toc_entries} "
            "written: it changed since it was taken.",
            "Back up again (db.backup), and find out what changed the dump.",
            [BACKUP_ACTION],
        )
    age = _age(ctx.clock() - m.taken)
    return passed(
        f"Verified backup, taken {age} ago: {found.dump.name} ({state.where} at {state.at}, "
        f"{entries} entries read back now).",
        backup=found.dump,
        taken_at=m.taken_at,
        size=f"{m.size:,} bytes",
        sha256=m.sha256,
    )


def _age(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // (24 * 60)} days"


# -- db.downgrade -------------------------------------------------------------------------------


async def _plan_downgrade(ctx: CheckContext) -> Plan:
    to = ctx.params.get("to", DEFAULT_TARGET)
    state = await database_state(ctx)
    found = await scripts.load(ctx)
    try:
        down = resolve(found, state.revisions, to)
    except BadTarget as exc:
        return refused_plan(f"Refused: cannot downgrade to {to!r}: {exc}.")
    if not down.undone:
        return nothing_to_do(
            f"Nothing to downgrade: {state.where} is already at {revisions_text(down.goal)}."
        )
    lines = [
        f"alembic downgrade {down.target} on {state.where}, from {state.at} to "
        f"{revisions_text(down.goal)}: undoes {down.labels}.",
        "It runs this SQL:",
        "",
        await offline_sql(
            ctx,
            state,
            ["downgrade", alembic_cli.downgrade_range(set(state.revisions), down.target)],
        ),
        "",
    ]
    backup = required_backup(ctx, state)
    if backup.refusal is not None:
        return refused_plan(backup.refusal, *lines)
    return plan(
        *lines,
        backup.line,
        state=state,
        down=down,
        heads=tuple(found.heads),
        backup=backup.dump,
    )


@action(
    id=DOWNGRADE_ID,
    title="Downgrade the database (alembic downgrade -1)",
    pane=PANE,
    key="m",
    dangerous=True,
    plan=_plan_downgrade,
    description="alembic downgrade to the revision `to` (default -1: one down), after a "
    "verified backup of this revision; then reads alembic current back.",
)
async def downgrade(ctx: CheckContext, planned: Plan) -> str:
    state: DatabaseState = planned.payload["state"]
    down: Downgrade = planned.payload["down"]
    async with database_lock(state.target, DOWNGRADE_ID):
        await require_unchanged(ctx, state)
        await require_same_scripts(ctx, planned.payload["heads"])
        require_backup_still_there(planned.payload["backup"])
        seconds = await run_alembic(ctx, state, ["downgrade", down.target], down.goal, DOWNGRADE)
        # What alembic says it did is not the proof: read alembic current back.
        now = await database_state(ctx)
        if now.revisions != down.goal:
            ctx.changed(f"moved {state.where} from {state.at} to {now.at}")
            raise ActionFailed(
                f"alembic finished, but the database is at {now.at}, not "
                f"{revisions_text(down.goal)}: check it with `alembic current`."
            )
        ctx.changed(f"downgraded {state.where} from {state.at} to {now.at}")
    return f"Downgraded to {now.at} in {seconds:.1f} s (alembic current)."
