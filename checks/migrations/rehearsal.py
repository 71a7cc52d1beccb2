"""Rehearsing an upgrade: the schema copied into a scratch database, the pending migrations
applied, reversed and applied again, each step timed, and the scratch database dropped.

A migration that fails, or a downgrade that does not restore the schema it started from,
fails the rehearsal with the statement or the difference that shows it. The pieces
(:func:`scratch_copy`, :func:`steps`) also rehearse a rollback.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from checks.context import CheckContext
from checks.core import ActionFailed
from checks.migrations import alembic_cli
from checks.migrations.state import current_revisions
from checks.postgres import DatabaseTarget, DatabaseUnavailable, open_connection
from checks.subprocesses import run

if TYPE_CHECKING:
    from asyncpg import Connection


async def _dump_schema(pg_dump: str, t: DatabaseTarget, *, for_comparison: bool) -> str:
    argv = [pg_dump, "--schema-only", "--no-owner", "--no-privileges", "--no-password"]
    if for_comparison:
        # alembic keeps its table after a downgrade to base; it is not the app's schema.
        argv.append("--exclude-table=alembic_version")
    result = await run(
        argv,
        env=t.libpq_env(),
        capture_stdout=True,
    )
    if not result.ok:
        raise ActionFailed("pg_dump --schema-only failed: " + " ".join(result.stderr_lines[-1:]))
    return result.stdout


def _comparable(schema: str) -> list[str]:
    """The DDL lines of a dump, without comments and session settings that always differ.

    Trailing commas go too: a column added last moves the comma onto the line before it,
    which would otherwise show as a second, spurious change.
    """
    return [
        line.rstrip().rstrip(",")
        for line in schema.splitlines()
        if line.strip()
        and not line.startswith(("--", "SET ", "SELECT pg_catalog.set_config", "\\"))
    ]


async def _load(psql: str, t: DatabaseTarget, sql: str) -> None:
    result = await run(
        [psql, "--no-password", "--quiet", "--set=ON_ERROR_STOP=1", "--file=-"],
        env=t.libpq_env(),
        stdin=sql.encode("utf-8"),
        capture_stdout=True,
    )
    if not result.ok:
        raise ActionFailed("Copying the schema failed: " + " ".join(result.stderr_lines[-2:]))


async def _version_rows(pg_dump: str, t: DatabaseTarget) -> str:
    result = await run(
        [pg_dump, "--data-only", "--table=alembic_version", "--inserts", "--no-password"],
        env=t.libpq_env(),
        capture_stdout=True,
    )
    return result.stdout if result.ok else ""


SCRATCH_PREFIX = "toolbox_rehearsal_"


def scratch_name() -> str:
    """A fresh name for a scratch database, recognisable as ours if one is ever left over."""
    return f"{SCRATCH_PREFIX}{secrets.token_hex(4)}"


class StepFailed(ActionFailed):
    """An alembic step on the scratch copy failed; says which step, revision and statement."""

    def __init__(self, step: str, revision: str, statement: str) -> None:
        super().__init__(f"Rehearsal failed during {step}: {statement}")
        self.step = step
        self.revision = revision
        self.statement = statement


async def steps(
    ctx: CheckContext,
    copy: ScratchCopy,
    named: Sequence[tuple[str, list[str]]],
    after: Sequence[asyncio.Future[None]] = (),
) -> list[float]:
    """``alembic ARGS`` for each ``(name, ARGS)`` of ``named`` on the scratch copy, in one
    process (:func:`~checks.migrations.alembic_cli.alembic_steps`), each logged and timed;
    StepFailed naming the one that failed. Each step's seconds.

    The process starts at once: it imports alembic while the copy is still being made, and
    runs the steps once the copy is made and ``after`` (the caller's go-ahead) is done."""
    began: list[float] = []

    def log(line: str) -> None:
        if not line.startswith(alembic_cli.STEP_MARK):
            ctx.log(line)
            return
        began.append(time.perf_counter())
        if len(began) > 1:
            _took(ctx, named[len(began) - 2][0], began[-1] - began[-2])
        name, args = named[len(began) - 1]
        ctx.log(f"── {name}: alembic {' '.join(args)}")

    result = await alembic_cli.alembic_steps(
        ctx.config.alembic_ini_path,
        ctx.config.venv_path,
        copy.target,
        [args for _, args in named],
        log=log,
        after=(copy.making, *after),
    )
    ended = time.perf_counter()
    if not result.ok:
        # What the failing step printed: the lines after its mark (all of them when alembic
        # could not even start).
        marks = [
            i
            for i, line in enumerate(result.stderr_lines)
            if line.startswith(alembic_cli.STEP_MARK)
        ]
        said = result.stderr_lines[marks[-1] + 1 :] if marks else result.stderr_lines
        raise StepFailed(
            named[max(len(began) - 1, 0)][0],
            alembic_cli.failing_revision(said),
            alembic_cli.failing_statement(said),
        )
    if len(began) < len(named):  # the app's code ended the process, "successfully"
        raise StepFailed(
            named[max(len(began) - 1, 0)][0],
            alembic_cli.failing_revision(result.stderr_lines),
            "alembic's process ended during this step, before the next one ran: does env.py "
            "or a migration call sys.exit()?",
        )
    _took(ctx, named[-1][0], ended - began[-1])
    return [end - start for start, end in zip(began, [*began[1:], ended], strict=True)]


def _took(ctx: CheckContext, name: str, seconds: float) -> None:
    ctx.log(f"   {name} took {seconds:.2f} s")


@dataclass(frozen=True)
class ScratchCopy:
    """A scratch database given the schema and the alembic revision of the real one."""

    target: DatabaseTarget
    start_at: str
    """The revision the copy starts at (``base`` when alembic never ran there)."""
    making: asyncio.Task[None]
    """The copy being made: CREATE DATABASE beside the schema's dump, then the load."""

    async def made(self) -> None:
        """Wait for the copy to be complete; ActionFailed when it could not be made."""
        await asyncio.shield(self.making)


@contextlib.asynccontextmanager
async def scratch_copy(
    ctx: CheckContext, t: DatabaseTarget, scratch_name: str, pg_dump: str, psql: str
) -> AsyncIterator[ScratchCopy]:
    """A new database ``scratch_name`` beside ``t`` with ``t``'s schema: dropped afterwards
    whatever happens in between. The real database is only read.

    The copy is made in the background (:attr:`ScratchCopy.making`): the body starts at
    once, so that alembic's process can start while it is made. :meth:`ScratchCopy.made`
    waits for it and raises what went wrong; a body that never needed the copy is not
    told."""
    try:
        admin = await open_connection(t)
    except DatabaseUnavailable as exc:
        raise ActionFailed(f"{exc} {exc.hint}") from None
    scratch = t.with_database(scratch_name)
    create_sent = asyncio.Event()
    try:
        current = await current_revisions(admin)
        if len(current) > 1:
            raise ActionFailed("The database is on several branches; merge the heads first.")
        making = asyncio.create_task(_make_copy(ctx, admin, t, scratch, pg_dump, psql, create_sent))
        try:
            yield ScratchCopy(scratch, next(iter(current), "base"), making)
        finally:
            making.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await making
            # Once CREATE DATABASE was sent, whether it committed is not known here: a
            # cancellation may have come too late to stop it. asyncpg settles the cancel
            # before the next statement, so the DROP never overlaps the CREATE.
            if create_sent.is_set():
                ctx.log(f"dropping scratch database {scratch.database}")
                with contextlib.suppress(Exception):
                    await admin.execute(
                        f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'
                    )
    finally:
        with contextlib.suppress(Exception):
            await admin.close(timeout=2)


async def _make_copy(
    ctx: CheckContext,
    admin: Connection,
    t: DatabaseTarget,
    scratch: DatabaseTarget,
    pg_dump: str,
    psql: str,
    create_sent: asyncio.Event,
) -> None:
    """Create ``scratch`` and load ``t``'s schema and alembic revision into it; the two dumps
    of ``t`` run while the server creates the database."""
    ctx.log(f"creating scratch database {scratch.database}")
    ctx.log("copying the schema (pg_dump --schema-only | psql)")
    schema = asyncio.ensure_future(_dump_schema(pg_dump, t, for_comparison=False))
    versions = asyncio.ensure_future(_version_rows(pg_dump, t))
    try:
        create_sent.set()
        try:
            await admin.execute(f'CREATE DATABASE "{scratch.database}"')
        except Exception as exc:
            raise ActionFailed(
                f"Cannot create a scratch database ({type(exc).__name__}: {exc}); the "
                "DATABASE_URL user needs CREATEDB for a rehearsal."
            ) from None
        copy = await schema + "\n" + await versions
    finally:
        # Whatever ended this (a failure, a cancellation): no pg_dump outlives it.
        for dump in (schema, versions):
            dump.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await dump
    await _load(psql, scratch, copy)


async def _require_schema(
    ctx: CheckContext, pg_dump: str, target: DatabaseTarget, original: str, failure: str
) -> None:
    """ActionFailed starting with ``failure`` when ``target``'s schema now differs from
    ``original``; the log has the whole difference."""
    now = await _dump_schema(pg_dump, target, for_comparison=True)
    difference = list(
        difflib.unified_diff(_comparable(original), _comparable(now), lineterm="", n=0)
    )
    if difference:
        for line in difference[:40]:
            ctx.log(line)
        changed = [
            line for line in difference if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ][:2]
        raise ActionFailed(
            f"{failure}: " + " | ".join(changed) + " (the log has the whole difference)."
        )


async def rehearse(
    ctx: CheckContext, t: DatabaseTarget, scratch_name: str, pg_dump: str, psql: str
) -> str:
    """Rehearse the pending upgrade of ``t`` in a new database ``scratch_name``, dropped after."""
    async with scratch_copy(ctx, t, scratch_name, pg_dump, psql) as copy:
        # Dumped here, not by scratch_copy: only a rehearsal compares schemas afterwards.
        await copy.made()
        original = await _dump_schema(pg_dump, copy.target, for_comparison=True)
        up, down = await steps(
            ctx,
            copy,
            [("upgrade", ["upgrade", "heads"]), ("downgrade", ["downgrade", copy.start_at])],
        )
        await _require_schema(
            ctx,
            pg_dump,
            copy.target,
            original,
            "The downgrade does not restore the schema it started from",
        )
        (again,) = await steps(ctx, copy, [("upgrade again", ["upgrade", "heads"])])
    return (
        f"Rehearsal passed: upgrade {up:.1f} s, downgrade {down:.1f} s (schema restored), "
        f"upgrade again {again:.1f} s."
    )
