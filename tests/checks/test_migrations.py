"""Migrations pane against a real PostgreSQL: each check passes, and fails for its reason."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from checks.core import Status, registry
from checks.events import ActionDone, Finished, Log
from checks.runner import run_action, run_checks
from checks.urls import parse_url
from tests.checks.db_helpers import (
    ALEMBIC_INI,
    db_context,
    execute,
    irreversible_revision,
    migrate,
    risky_revision,
    run_check,
)
from tests.conftest import MakeContext
from toolbox_tui.sandbox.app_alembic import add_revision, add_second_head, copy_alembic
from toolbox_tui.sandbox.ports import free_port


@pytest.fixture
def app_ini(tmp_path: Path) -> Path:
    """A private copy of the release's alembic directory, free to break."""
    return copy_alembic(tmp_path / "app")


async def test_reachable(make_context: MakeContext, database: str) -> None:
    result = await run_check(db_context(make_context, database), "db.reachable")
    assert result.status is Status.PASS
    assert "Connected to PostgreSQL" in result.message and "server version" in result.evidence


async def test_unreachable_port_is_refused(make_context: MakeContext) -> None:
    url = f"postgresql://app:pw@127.0.0.1:{free_port()}/prod"
    result = await run_check(db_context(make_context, url), "db.reachable")
    assert result.status is Status.FAIL and "refused the connection" in result.message


async def test_wrong_password(make_context: MakeContext, database: str) -> None:
    wrong = database.replace("postgres:", "postgres:wrong-", 1)
    result = await run_check(db_context(make_context, wrong), "db.reachable")
    assert result.status is Status.FAIL and "rejected the password" in result.message
    assert "wrong-" not in result.message


async def test_unknown_database(make_context: MakeContext, database: str) -> None:
    url = database.rsplit("/", 1)[0] + "/no_such_db"
    result = await run_check(db_context(make_context, url), "db.reachable")
    assert result.status is Status.FAIL and "'no_such_db' does not exist" in result.message


async def test_hung_server_times_out(make_context: MakeContext) -> None:
    # Accepts the TCP connection and never says a word, like a wedged proxy.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        ctx = db_context(make_context, f"postgresql://a:b@127.0.0.1:{port}/db", check_timeout=1)
        result = await run_check(ctx, "db.reachable")
    finally:
        server.close()
    assert result.status is Status.ERROR and "Timed out after 1 s" in result.message


async def test_pending_migrations_are_listed(make_context: MakeContext, database: str) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "0001_baseline")
    result = await run_check(db_context(make_context, database), "db.revision-state")
    assert result.status is Status.FAIL
    assert "1 pending migration(s): 0002_roblox_email_queue" in result.message
    assert result.actions == ("db.backup", "db.rehearse", "db.upgrade")


async def test_at_head_passes(make_context: MakeContext, database: str) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "head")
    ctx = db_context(make_context, database)
    for check_id in ("db.revision-state", "db.required-tables", "db.email-queue", "db.reversible"):
        result = await run_check(ctx, check_id)
        assert result.status is Status.PASS, (check_id, result.message)


async def test_database_newer_than_code(make_context: MakeContext, database: str) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "head")
    await execute(database, "UPDATE alembic_version SET version_num = '0042_future'")
    result = await run_check(db_context(make_context, database), "db.revision-state")
    assert result.status is Status.FAIL
    assert "0042_future, which these scripts do not know" in result.message


async def test_multiple_heads_named(
    make_context: MakeContext, database: str, app_ini: Path
) -> None:
    add_second_head(app_ini.parent)
    ctx = db_context(make_context, database, alembic_ini=app_ini)
    result = await run_check(ctx, "db.single-head")
    assert result.status is Status.FAIL
    assert "2 heads: 0002_roblox_email_queue, 0003_user_nickname" in result.message
    state = await run_check(ctx, "db.revision-state")
    assert state.status is Status.SKIP  # one failure, not a cascade


async def test_single_head(make_context: MakeContext, database: str) -> None:
    result = await run_check(db_context(make_context, database), "db.single-head")
    assert result.status is Status.PASS and "0002_roblox_email_queue" in result.message


async def test_missing_alembic_ini(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    ctx = db_context(make_context, database, alembic_ini=tmp_path / "nope.ini")
    result = await run_check(ctx, "db.single-head")
    assert result.status is Status.FAIL and "No alembic.ini" in result.message


async def test_irreversible_pending_migration(
    make_context: MakeContext, database: str, app_ini: Path
) -> None:
    add_revision(app_ini.parent, "0009_one_way", irreversible_revision())
    await migrate(app_ini, database, "upgrade", "0002_roblox_email_queue")
    result = await run_check(
        db_context(make_context, database, alembic_ini=app_ini), "db.reversible"
    )
    assert result.status is Status.FAIL
    assert "No downgrade() in: 0009_one_way" in result.message


async def test_risky_ddl_is_warned_with_statement(
    make_context: MakeContext, database: str, app_ini: Path
) -> None:
    add_revision(app_ini.parent, "0009_risky", risky_revision())
    await migrate(app_ini, database, "upgrade", "0002_roblox_email_queue")
    ctx = db_context(make_context, database, alembic_ini=app_ini)
    result = await run_check(ctx, "db.migration-lint")
    assert result.status is Status.WARN
    assert "NOT NULL column without a default on users" in result.message
    assert "CREATE INDEX without CONCURRENTLY on users" in result.message
    assert any("ADD COLUMN age INTEGER NOT NULL" in v for v in result.evidence.values())


async def test_release_ddl_on_new_tables_is_safe(make_context: MakeContext, database: str) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "0001_baseline")
    result = await run_check(db_context(make_context, database), "db.migration-lint")
    assert result.status is Status.PASS, result.message


async def test_missing_table_after_upgrade(make_context: MakeContext, database: str) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "head")
    await execute(database, "DROP TABLE email_queue")
    result = await run_check(db_context(make_context, database), "db.required-tables")
    assert result.status is Status.FAIL and "Missing table(s): email_queue" in result.message


async def test_email_queue_backlog_warns(make_context: MakeContext, database: str) -> None:
    await migrate(ALEMBIC_INI, database, "upgrade", "head")
    await execute(
        database,
        "INSERT INTO email_queue (to_email, subject, template_name) "
        "SELECT 'u' || n || '@example.com', 'hi', 'notification' FROM generate_series(1, 1001) n",
    )
    result = await run_check(db_context(make_context, database), "db.email-queue")
    assert result.status is Status.WARN and "1001 emails waiting" in result.message


# What SQLAlchemy (so the app) accepts unencoded in a password, and urllib reads as a path,
# a query, a fragment and a port.
ODD_PASSWORD = "/Zq8?xK2#pL9:vB4"


@pytest.fixture
async def odd_password_url(database: str) -> AsyncIterator[str]:
    """``database`` reached as a new role whose password is ODD_PASSWORD, written raw."""
    role = f"odd_{uuid.uuid4().hex[:8]}"
    await execute(database, f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{ODD_PASSWORD}'")
    where = parse_url(database)
    yield f"postgresql://{role}:{ODD_PASSWORD}@{where.host}:{where.port}/{where.database}"
    # The migration made it the owner of the tables; the database goes with the test anyway.
    await execute(database, f"DROP OWNED BY {role}", f"DROP ROLE {role}")


async def test_a_raw_slash_password_reaches_the_database_and_never_shows(
    make_context: MakeContext, odd_password_url: str, tmp_path: Path
) -> None:
    database = parse_url(odd_password_url).database
    # alembic gets the URL re-encoded: the app's SQLAlchemy must read the same password.
    await migrate(ALEMBIC_INI, odd_password_url, "upgrade", "head")
    ctx = db_context(make_context, odd_password_url)
    reached = await run_check(ctx, "db.reachable")
    assert reached.status is Status.PASS, reached.message
    seen: list[str] = [repr(reached)]
    async for event in run_action(registry.actions["db.backup"], ctx, confirmed=True):
        seen.append(repr(event))
        if isinstance(event, ActionDone):
            assert event.outcome == "ok", event.message
        elif isinstance(event, Log) and event.line.startswith("pg_dump"):
            assert f"/{database}" in event.line
    [dump] = sorted((tmp_path / "backups").glob("*.dump"))
    assert dump.name.startswith(f"{database}-")  # named after the database, not the password
    seen.append(ctx.config.audit_path.read_text(encoding="utf-8"))
    for text in seen:
        assert "Zq8" not in text and "pL9" not in text


async def test_the_scripts_are_read_once_per_run_and_lint_spawns_nothing_with_nothing_pending(
    make_context: MakeContext, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from checks.migrations import alembic_cli, scripts

    await migrate(ALEMBIC_INI, database, "upgrade", "head")
    reads = []
    real_load = scripts.load_blocking

    def counted(ini):  # type: ignore[no-untyped-def]
        reads.append(ini)
        return real_load(ini)

    async def no_subprocess(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("nothing is pending: alembic must not be run")

    monkeypatch.setattr(scripts, "load_blocking", counted)
    monkeypatch.setattr(alembic_cli, "alembic", no_subprocess)
    ctx = db_context(make_context, database)
    results = {}
    async for event in run_checks(registry.select(panes=["migrations"]), ctx):
        if isinstance(event, Finished):
            results[event.result.id] = event.result
    assert results["db.migration-lint"].status is Status.PASS
    assert "Nothing is pending" in results["db.migration-lint"].message
    assert len(reads) == 1, "five checks, one reading of the scripts"
    # A new run reads them afresh: a script added in between is seen.
    async for _ in run_checks(registry.select(ids=["db.single-head"]), ctx):
        pass
    assert len(reads) == 2
