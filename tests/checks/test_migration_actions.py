"""Backup, upgrade and rehearsal run for real against PostgreSQL."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from checks import audit
from checks.core import Status, registry
from checks.events import ActionDone, Log
from checks.migrations import db_lock, pg_tools
from checks.migrations.backups import manifest_path, read_manifest
from checks.runner import build_plan, run_action
from tests.checks.db_helpers import (
    ALEMBIC_INI,
    broken_revision,
    db_context,
    fetchval,
    irreversible_revision,
    migrate,
    run_check,
    slow_revision,
)
from tests.conftest import FIXED_NOW, MakeContext
from tests.integrations.running import fix
from toolbox_tui.sandbox.app_alembic import add_revision, copy_alembic


async def wait_until_running(url: str, fragment: str, seconds: float = 20.0) -> None:
    import asyncio

    query = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1"
    deadline = asyncio.get_running_loop().time() + seconds
    conn = await asyncpg.connect(url)
    try:
        while not await conn.fetchval(query, f"%{fragment}%"):
            assert asyncio.get_running_loop().time() < deadline, f"{fragment} never ran"
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


def backups_in(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.dump"))


async def test_backup_is_verified_and_described_by_a_manifest(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "head")
    ctx = db_context(make_context, database)
    lines, done = await fix(ctx, "db.backup")
    assert done.outcome == "ok", done.message
    [dump] = backups_in(tmp_path / "backups")
    assert dump.stat().st_mode & 0o777 == 0o600
    listing = subprocess.run(
        [pg_tools.find("pg_restore"), "--list", str(dump)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "TABLE public email_queue" in listing.stdout
    manifest = read_manifest(dump)
    assert manifest is not None and manifest.revisions == ["0002_roblox_email_queue"]
    assert manifest.size == dump.stat().st_size and manifest.toc_entries > 10
    assert manifest_path(dump).stat().st_mode & 0o777 == 0o600
    assert any("bytes in" in line for line in lines)
    assert done.changes and "verified backup" in done.changes[0]


async def test_the_backup_written_is_the_one_the_preview_named(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "head")
    ticks = iter(range(1000))
    # Every reading of the clock is a second later: a plan rebuilt at run time would differ.
    ctx = replace(
        db_context(make_context, database),
        clock=lambda: FIXED_NOW + timedelta(seconds=next(ticks)),
    )
    lines, done = await fix(ctx, "db.backup")
    assert done.outcome == "ok", done.message
    [dump] = backups_in(tmp_path / "backups")
    assert any(str(dump) in line for line in lines[:3]), lines[:3]


async def test_backup_of_unreachable_database_is_refused_clearly(
    make_context: MakeContext, tmp_path: Path
) -> None:
    from toolbox_tui.sandbox.ports import free_port

    ctx = db_context(make_context, f"postgresql://a:b@127.0.0.1:{free_port()}/db")
    _, done = await fix(ctx, "db.backup")
    assert done.outcome == "refused" and "refused the connection" in done.message
    assert backups_in(tmp_path / "backups") == []


async def test_upgrade_without_a_verified_backup_is_refused_and_audited_so(
    make_context: MakeContext, database: str
) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "0001_baseline")
    ctx = db_context(make_context, database)
    _, done = await fix(ctx, "db.upgrade")
    assert done.outcome == "refused" and "no verified backup" in done.message
    [record] = audit.read(ctx.config.audit_path)
    assert (record.action, record.outcome) == ("db.upgrade", "refused")
    assert await fetchval(database, "SELECT version_num FROM alembic_version") == "0001_baseline"


async def test_upgrade_reaches_head_and_streams_alembic(
    make_context: MakeContext, database: str
) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "0001_baseline")
    ctx = db_context(make_context, database)
    assert (await fix(ctx, "db.backup"))[1].outcome == "ok"
    lines, done = await fix(ctx, "db.upgrade")
    assert done.outcome == "ok", done.message
    assert any("Running upgrade 0001_baseline -> 0002_roblox_email_queue" in line for line in lines)
    assert any("CREATE TABLE email_queue" in line for line in lines)  # the preview's SQL
    assert any(line.startswith("Backup: ") for line in lines)
    assert (await run_check(ctx, "db.revision-state")).status is Status.PASS


async def test_a_backup_of_another_revision_or_database_or_too_old_is_not_accepted(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "0001_baseline")
    ctx = db_context(make_context, database)
    assert (await fix(ctx, "db.backup"))[1].outcome == "ok"
    [dump] = backups_in(tmp_path / "backups")

    later = replace(ctx, clock=lambda: FIXED_NOW + timedelta(minutes=241))
    assert "no verified backup" in (await fix(later, "db.upgrade"))[1].message

    manifest_file = manifest_path(dump)
    original = manifest_file.read_text()
    manifest_file.write_text(original.replace('"database_oid": ', '"database_oid": 1'))
    assert "no verified backup" in (await fix(ctx, "db.upgrade"))[1].message

    manifest_file.write_text(original)
    with dump.open("ab") as handle:
        handle.write(b"tampered")  # not the size the manifest recorded
    assert "no verified backup" in (await fix(ctx, "db.upgrade"))[1].message
    assert await fetchval(database, "SELECT version_num FROM alembic_version") == "0001_baseline"


async def test_the_upgrade_refuses_when_the_database_moved_on_since_the_preview(
    make_context: MakeContext, database: str
) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "0001_baseline")
    ctx = db_context(make_context, database)
    assert (await fix(ctx, "db.backup"))[1].outcome == "ok"
    upgrade = registry.actions["db.upgrade"]
    planned = await build_plan(upgrade, ctx)
    assert planned.refusal is None
    await migrate(ALEMBIC_INI, database, "upgrade", "head")  # someone else upgraded meanwhile
    done = None
    async for event in run_action(upgrade, ctx, confirmed=True, plan=planned):
        done = event
    assert isinstance(done, ActionDone) and done.outcome == "refused"
    assert "moved from 0001_baseline to 0002_roblox_email_queue" in done.message


async def test_a_second_database_action_is_refused_naming_the_holder(
    make_context: MakeContext, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_lock, "WAIT_SECONDS", 0.3)
    await migrate(ALEMBIC_INI, database, "upgrade", "head")
    holder = await asyncpg.connect(
        database, server_settings={"application_name": "toolbox-tui db.upgrade ops@web1 pid 42"}
    )
    try:
        assert await holder.fetchval("SELECT pg_try_advisory_lock($1)", db_lock.LOCK_KEY)
        _, done = await fix(db_context(make_context, database), "db.backup")
    finally:
        await holder.close()
    assert done.outcome == "refused"
    assert "toolbox-tui db.upgrade ops@web1 pid 42" in done.message


async def test_a_failing_upgrade_names_its_revision_and_statement_and_where_it_stopped(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    ini = copy_alembic(tmp_path / "app")
    add_revision(ini.parent, "0009_broken", broken_revision())
    await migrate(ini, database, "upgrade", "0002_roblox_email_queue")
    ctx = db_context(make_context, database, alembic_ini=ini, require_backup=False)
    _, done = await fix(ctx, "db.upgrade")
    assert done.outcome == "failed"
    assert done.message.startswith(
        "The upgrade failed at 0009_broken: ALTER TABLE no_such_table ADD COLUMN x integer — "
    ), done.message
    assert "0002_roblox_email_queue" in done.message  # where it stopped, read back
    version = await fetchval(database, "SELECT version_num FROM alembic_version")
    assert version == "0002_roblox_email_queue"


async def test_an_interrupted_upgrade_rolls_back_and_says_so(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    ini = copy_alembic(tmp_path / "app")
    add_revision(ini.parent, "0009_slow", slow_revision())
    await migrate(ini, database, "upgrade", "0002_roblox_email_queue")
    ctx = db_context(make_context, database, alembic_ini=ini, require_backup=False)
    ends: list[ActionDone] = []
    stream = run_action(registry.actions["db.upgrade"], ctx, confirmed=True, on_end=ends.append)
    async for event in stream:
        # alembic's own log line, not the preview's SQL comment of the same words
        if isinstance(event, Log) and "INFO" in event.line and "-> 0009_slow" in event.line:
            break
    # Interrupt only once the migration sleeps: its CREATE TABLE has run by then, uncommitted.
    await wait_until_running(database, "pg_sleep")
    await stream.aclose()  # the person pressed Ctrl-C
    [done] = ends
    assert done.outcome == "cancelled"
    assert "rolled back" in done.message and "0002_roblox_email_queue" in done.message
    version = await fetchval(database, "SELECT version_num FROM alembic_version")
    assert version == "0002_roblox_email_queue"
    assert await fetchval(database, "SELECT to_regclass('slow_marker')::text") is None
    [record] = audit.endings(audit.read(ctx.config.audit_path))
    assert record.outcome == "cancelled" and record.changes == []


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
    _, done = await fix(ctx, "db.rehearse")
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
    _, done = await fix(ctx, "db.rehearse")
    assert done.outcome == "failed"
    assert "does not restore the schema" in done.message and "legacy_flag" in done.message
    assert await scratch_databases(database) == 0


async def test_rehearsal_names_the_failing_statement(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    ini = copy_alembic(tmp_path / "app")
    add_revision(ini.parent, "0009_broken", broken_revision())
    await migrate(ini, database, "upgrade", "0002_roblox_email_queue")
    _, done = await fix(db_context(make_context, database, alembic_ini=ini), "db.rehearse")
    assert done.outcome == "failed"
    assert "ALTER TABLE no_such_table ADD COLUMN x integer" in done.message
    assert await scratch_databases(database) == 0
