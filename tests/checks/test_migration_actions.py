"""Backup, upgrade and rehearsal run for real against PostgreSQL."""

from __future__ import annotations

import subprocess
from pathlib import Path

from checks.core import Status, registry
from checks.migrations import pg_tools
from checks.runner import ActionDone, Log, run_action
from tests.checks.db_helpers import (
    ALEMBIC_INI,
    broken_revision,
    db_context,
    fetchval,
    irreversible_revision,
    migrate,
    run_check,
)
from tests.conftest import MakeContext
from toolbox_tui.sandbox.app_alembic import add_revision, copy_alembic


async def act(ctx, action_id: str) -> tuple[ActionDone, list[str]]:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    done = None
    async for event in run_action(registry.actions[action_id], ctx, confirmed=True):
        if isinstance(event, Log):
            lines.append(event.line)
        elif isinstance(event, ActionDone):
            done = event
    assert done is not None
    return done, lines


async def test_backup_restores_with_pg_restore(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "head")
    ctx = db_context(make_context, database)
    done, lines = await act(ctx, "db.backup")
    assert done.outcome == "ok", done.message
    [dump] = ctx.session.backups
    assert dump.parent == tmp_path / "backups" and dump.stat().st_mode & 0o777 == 0o600
    listing = subprocess.run(
        [pg_tools.find("pg_restore"), "--list", str(dump)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "TABLE public email_queue" in listing.stdout
    assert any("bytes in" in line for line in lines)


async def test_backup_of_unreachable_database_fails_clearly(make_context: MakeContext) -> None:
    from toolbox_tui.sandbox.ports import free_port

    ctx = db_context(make_context, f"postgresql://a:b@127.0.0.1:{free_port()}/db")
    done, _ = await act(ctx, "db.backup")
    assert done.outcome == "failed" and "pg_dump failed" in done.message
    assert not ctx.session.backups


async def test_upgrade_refuses_without_a_backup(make_context: MakeContext, database: str) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "0001_baseline")
    done, _ = await act(db_context(make_context, database), "db.upgrade")
    assert done.outcome == "failed" and "No backup from this session" in done.message


async def test_upgrade_reaches_head_and_streams_alembic(
    make_context: MakeContext, database: str
) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "0001_baseline")
    ctx = db_context(make_context, database)
    assert (await act(ctx, "db.backup"))[0].outcome == "ok"
    done, lines = await act(ctx, "db.upgrade")
    assert done.outcome == "ok", done.message
    assert any("Running upgrade 0001_baseline -> 0002_roblox_email_queue" in line for line in lines)
    assert any("CREATE TABLE email_queue" in line for line in lines)  # the preview's SQL
    assert (await run_check(ctx, "db.revision-state")).status is Status.PASS


async def scratch_databases(url: str) -> int:
    return int(
        str(
            await fetchval(
                url, "SELECT count(*) FROM pg_database WHERE datname LIKE 'toolbox_rehearsal_%'"
            )
        )
    )


async def test_rehearsal_passes_and_leaves_no_scratch_database(
    make_context: MakeContext, database: str
) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "0001_baseline")
    ctx = db_context(make_context, database)
    done, _ = await act(ctx, "db.rehearse")
    assert done.outcome == "ok", done.message
    assert "upgrade" in done.message and "schema restored" in done.message
    assert await scratch_databases(database) == 0
    # The real database was only read.
    assert await fetchval(database, "SELECT version_num FROM alembic_version") == "0001_baseline"


async def test_rehearsal_fails_on_a_downgrade_that_does_not_reverse(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    ini = copy_alembic(tmp_path / "app")
    add_revision(ini.parent, "0009_one_way", irreversible_revision())
    await migrate(ini, database, "upgrade", "0002_roblox_email_queue")
    ctx = db_context(make_context, database, alembic_ini=ini)
    done, _ = await act(ctx, "db.rehearse")
    assert done.outcome == "failed"
    assert "does not restore the schema" in done.message and "legacy_flag" in done.message
    assert await scratch_databases(database) == 0


async def test_rehearsal_names_the_failing_statement(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    ini = copy_alembic(tmp_path / "app")
    add_revision(ini.parent, "0009_broken", broken_revision())
    await migrate(ini, database, "upgrade", "0002_roblox_email_queue")
    done, _ = await act(db_context(make_context, database, alembic_ini=ini), "db.rehearse")
    assert done.outcome == "failed"
    assert "ALTER TABLE no_such_table ADD COLUMN x integer" in done.message
    assert await scratch_databases(database) == 0
