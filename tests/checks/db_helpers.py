"""Building contexts over the sandbox's real PostgreSQL and Redis, and revisions to test with."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from checks.core import CheckResult, registry
from checks.events import Finished, Log
from checks.migrations.alembic_cli import alembic
from checks.postgres import parse_database_url
from checks.runner import run_checks
from tests.conftest import MakeContext

ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = ROOT / "alembic.ini"


def db_context(make_context: MakeContext, database_url: str, **config: object):  # type: ignore[no-untyped-def]
    env = f"DATABASE_URL={database_url}\n"
    if "redis_url" in config:
        env += f"REDIS_URL={config.pop('redis_url')}\n"
    config.setdefault("alembic_ini", ALEMBIC_INI)
    return make_context(env, **config)


async def run_check(ctx, check_id: str, log: list[str] | None = None) -> CheckResult:  # type: ignore[no-untyped-def]
    """One check through the real runner (with the checks it needs); its log lines go to
    ``log`` when given."""
    results = {}
    async for event in run_checks(registry.select(ids=[check_id]), ctx):
        if isinstance(event, Finished):
            results[event.result.id] = event.result
        elif log is not None and isinstance(event, Log) and event.source == check_id:
            log.append(event.line)
    return results[check_id]


async def execute(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def fetchval(url: str, query: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


def risky_revision(down: str = "0002_roblox_email_queue") -> str:
    return f'''"""Risky changes to users.

Revision ID: 0009_risky
Revises: {down}
"""

import sqlalchemy as sa

from alembic import op

revision = "0009_risky"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("age", sa.Integer, nullable=False))
    op.create_index("ix_users_display_name", "users", ["display_name"])


def downgrade() -> None:
    op.drop_index("ix_users_display_name", table_name="users")
    op.drop_column("users", "age")
'''


def irreversible_revision() -> str:
    return '''"""Add a column and forget its downgrade.

Revision ID: 0009_one_way
Revises: 0002_roblox_email_queue
"""

import sqlalchemy as sa

from alembic import op

revision = "0009_one_way"
down_revision = "0002_roblox_email_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("legacy_flag", sa.Boolean, nullable=True))


def downgrade() -> None:
    pass
'''


def broken_revision() -> str:
    return '''"""A migration whose SQL fails.

Revision ID: 0009_broken
Revises: 0002_roblox_email_queue
"""

from alembic import op

revision = "0009_broken"
down_revision = "0002_roblox_email_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE no_such_table ADD COLUMN x integer")


def downgrade() -> None:
    op.execute("SELECT 1")
'''


async def migrate(ini: Path, database_url: str, *args: str) -> None:
    """Run alembic for a test's set-up; fails the test loudly if alembic fails."""
    result = await alembic(ini, ini.parent / "venv", parse_database_url(database_url), list(args))
    assert result.ok, "\n".join(result.stderr_lines)


def slow_revision(seconds: int = 60, *, slow: str = "upgrade") -> str:
    """A migration that creates a table, then waits in its ``slow`` direction ("upgrade" or
    "downgrade"): long enough to interrupt it mid-way. Its revision id: ``0009_slow``, or
    ``0009_slow_down`` for a slow downgrade."""
    revision = "0009_slow" if slow == "upgrade" else "0009_slow_down"
    wait = {slow: f'\n    op.execute("SELECT pg_sleep({seconds})")'}
    return f'''"""A slow migration.

Revision ID: {revision}
Revises: 0002_roblox_email_queue
"""

from alembic import op

revision = "{revision}"
down_revision = "0002_roblox_email_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE slow_marker (id integer)"){wait.get("upgrade", "")}


def downgrade() -> None:
    op.execute("DROP TABLE slow_marker"){wait.get("downgrade", "")}
'''
