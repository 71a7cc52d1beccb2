"""Connection URLs for PostgreSQL and Redis: right scheme, a host, a password.

Provides checks ``env.database-url`` and ``env.redis-url``. Messages show the scheme and
host, never the URL itself: it carries the password.
"""

from __future__ import annotations

from checks.checklist import ENVIRONMENT
from checks.context import CheckContext
from checks.core import Outcome, check
from checks.environment.values import ENV_FILE_CHECK, PANE, Findings, parse_int, require_url

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
REDIS_SCHEMES = ("redis", "rediss")


@check(
    id="env.database-url",
    pane=PANE,
    title="DATABASE_URL points at PostgreSQL with a password",
    needs=(ENV_FILE_CHECK,),
    checklist=(ENVIRONMENT, "Database"),
)
async def database_url(ctx: CheckContext) -> Outcome:
    findings = Findings()
    parts = require_url(ctx.env, "DATABASE_URL", findings)
    evidence: dict[str, object] = {}
    if parts is not None:
        evidence = {"host": parts.hostname, "port": parts.port or 5432}
        if parts.scheme.lower() not in POSTGRES_SCHEMES:
            findings.fail(
                f"DATABASE_URL uses {parts.scheme or 'no scheme'!r}, not PostgreSQL",
                f"Start it with one of: {', '.join(s + '://' for s in POSTGRES_SCHEMES)}.",
            )
        database = parts.path.lstrip("/")
        evidence["database"] = database
        if not database:
            findings.fail(
                "DATABASE_URL names no database",
                "End it with /<database>, e.g. .../toolboxai_prod.",
            )
        if not parts.password:
            findings.fail(
                "DATABASE_URL has no password",
                "Use postgresql://<user>:<password>@<host>:5432/<database>.",
            )
    return findings.outcome("DATABASE_URL is a PostgreSQL URL with a password.", **evidence)


@check(
    id="env.redis-url",
    pane=PANE,
    title="REDIS_URL points at Redis with a password",
    needs=(ENV_FILE_CHECK,),
    checklist=(ENVIRONMENT, "Database"),
)
async def redis_url(ctx: CheckContext) -> Outcome:
    findings = Findings()
    parts = require_url(ctx.env, "REDIS_URL", findings)
    evidence: dict[str, object] = {}
    if parts is not None:
        evidence = {"host": parts.hostname, "port": parts.port or 6379}
        if parts.scheme.lower() not in REDIS_SCHEMES:
            findings.fail(
                f"REDIS_URL uses {parts.scheme or 'no scheme'!r}, not redis:// or rediss://",
                "Start it with redis:// (or rediss:// for TLS).",
            )
        if not parts.password:
            findings.fail(
                "REDIS_URL has no password",
                "Use redis://:<password>@<host>:6379/0; an open Redis is anyone's.",
            )
        # No path means database 0, as redis-py reads it.
        index = parts.path.lstrip("/")
        db = parse_int(index) if index else 0
        if db is None or db < 0:
            findings.fail(
                "REDIS_URL's database index is not a number",
                "End it with /0 (or another database number).",
            )
        evidence["db"] = db
    return findings.outcome("REDIS_URL is a Redis URL with a password.", **evidence)
