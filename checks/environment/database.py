"""Connection URLs for PostgreSQL and Redis: right scheme, a host, a password.

Provides checks ``env.database-url`` and ``env.redis-url``. Messages show the scheme and
host, never the URL itself: it carries the password. Both URLs are read as SQLAlchemy reads
them (:mod:`checks.urls`); REDIS_URL must also read the same to redis-py, which uses urllib.
"""

from __future__ import annotations

from checks.checklist import ENVIRONMENT
from checks.context import CheckContext
from checks.core import Outcome, check
from checks.environment.values import ENV_FILE_CHECK, PANE
from checks.findings import Findings, parse_int, require_url
from checks.postgres import DatabaseUnavailable, parse_database_url
from checks.urls import ParsedURL, reused_public_part, urllib_agrees

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
    parsed = require_url(ctx.env, "DATABASE_URL", findings, host_in_query=True)
    evidence: dict[str, object] = {}
    if parsed is not None:
        if parsed.scheme.lower() not in POSTGRES_SCHEMES:
            findings.fail(
                f"DATABASE_URL uses {parsed.scheme!r}, not PostgreSQL",
                f"Start it with one of: {', '.join(s + '://' for s in POSTGRES_SCHEMES)}.",
            )
        else:
            try:
                # The server as the checks will reach it, ?host=... included.
                target = parse_database_url(parsed.text)
                evidence = {"host": target.host, "port": target.port}
            except DatabaseUnavailable as exc:
                findings.fail(str(exc).rstrip("."), exc.hint)
        evidence["database"] = parsed.database or ""
        if not parsed.database:
            findings.fail(
                "DATABASE_URL names no database",
                "End it with /<database>, e.g. .../toolboxai_prod.",
            )
        if not parsed.passwords():
            findings.fail(
                "DATABASE_URL has no password",
                "Use postgresql://<user>:<password>@<host>:5432/<database>.",
            )
        _password_not_public(findings, "DATABASE_URL", parsed)
    return findings.outcome("DATABASE_URL is a PostgreSQL URL with a password.", **evidence)


def _password_not_public(findings: Findings, name: str, parsed: ParsedURL) -> None:
    """Fail a password that equals a part of its URL every message shows (user, host,
    database): it cannot be masked, and is guessed by anyone who reads the URL's shape."""
    part = reused_public_part(parsed)
    if part is not None:
        findings.fail(
            f"{name}'s password equals its {part}",
            f"Give {name} a random password (openssl rand -hex 24) and set it on the server.",
        )


@check(
    id="env.redis-url",
    pane=PANE,
    title="REDIS_URL points at Redis with a password",
    needs=(ENV_FILE_CHECK,),
    checklist=(ENVIRONMENT, "Database"),
)
async def redis_url(ctx: CheckContext) -> Outcome:
    findings = Findings()
    parsed = require_url(ctx.env, "REDIS_URL", findings)
    evidence: dict[str, object] = {}
    if parsed is not None:
        evidence = {"host": parsed.host, "port": parsed.port or 6379}
        if parsed.scheme.lower() not in REDIS_SCHEMES:
            findings.fail(
                f"REDIS_URL uses {parsed.scheme!r}, not redis:// or rediss://",
                "Start it with redis:// (or rediss:// for TLS).",
            )
        if not parsed.passwords():
            findings.fail(
                "REDIS_URL has no password",
                "Use redis://:<password>@<host>:6379/0; an open Redis is anyone's.",
            )
        elif not urllib_agrees(parsed):
            # redis-py splits with urllib, which ends the host at the first / ? or #.
            findings.fail(
                "REDIS_URL's password must be percent-encoded: redis-py would read another "
                "host, port or password from it",
                "In the password write / as %2F, ? as %3F, # as %23 and @ as %40.",
            )
        _password_not_public(findings, "REDIS_URL", parsed)
        # No path means database 0, as redis-py reads it.
        index = parsed.database or ""
        db = parse_int(index) if index else 0
        if db is None or db < 0:
            findings.fail(
                "REDIS_URL's database index is not a number",
                "End it with /0 (or another database number).",
            )
        evidence["db"] = db
    return findings.outcome("REDIS_URL is a Redis URL with a password.", **evidence)
