"""Connecting to the app's PostgreSQL (``DATABASE_URL``), with every failure explained.

Checks and actions of several panes share this: a refused connection, a timeout, a wrong
password, an unknown database or a server that insists on TLS each become a
:class:`DatabaseUnavailable` whose message says which, and what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import asyncpg

from checks.context import CheckContext
from checks.core import CheckFailed

CONNECT_TIMEOUT = 5.0


class DatabaseUnavailable(CheckFailed):
    """The database could not be reached; ``str()`` is for a person, ``hint`` says what to do.

    A check that lets it escape fails with that message (see :class:`CheckFailed`).
    """


@dataclass(frozen=True)
class DatabaseTarget:
    """Where DATABASE_URL points, split the way libpq's environment variables want it."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def dsn(self) -> str:
        """A URL asyncpg accepts (no SQLAlchemy driver suffix)."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(self.database, safe='')}"

    def with_database(self, database: str) -> DatabaseTarget:
        return DatabaseTarget(self.host, self.port, self.user, self.password, database)

    def libpq_env(self) -> dict[str, str]:
        """Environment for pg_dump/psql: credentials never go on a command line (ps shows it)."""
        env = dict(os.environ)
        env.update(
            PGHOST=self.host,
            PGPORT=str(self.port),
            PGUSER=self.user,
            PGPASSWORD=self.password,
            PGDATABASE=self.database,
        )
        return env


def target(ctx: CheckContext) -> DatabaseTarget:
    """DATABASE_URL parsed; raises DatabaseUnavailable when it is missing or not PostgreSQL."""
    url = ctx.env.get("DATABASE_URL")
    if url is None:
        raise DatabaseUnavailable(
            "DATABASE_URL is not set.", "Set it in the env file (see .env.example)."
        )
    return parse_database_url(url)


def parse_database_url(url: str) -> DatabaseTarget:
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError:
        raise DatabaseUnavailable(
            "DATABASE_URL cannot be parsed.", "Fix its format: postgresql://user:pw@host:5432/db"
        ) from None
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise DatabaseUnavailable(
            f"DATABASE_URL is a {scheme or 'schemeless'} URL, not PostgreSQL.",
            "Point it at the PostgreSQL server: postgresql://user:pw@host:5432/db",
        )
    return DatabaseTarget(
        host=parts.hostname or "localhost",
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=unquote(parts.path.lstrip("/")) or unquote(parts.username or ""),
    )


def redacted_location(t: DatabaseTarget) -> str:
    """``host:port/db`` — what a message may show of the URL."""
    return f"{t.host}:{t.port}/{t.database}"


async def open_connection(
    t: DatabaseTarget, timeout: float = CONNECT_TIMEOUT
) -> asyncpg.Connection:
    where = redacted_location(t)
    try:
        return await asyncio.wait_for(asyncpg.connect(t.dsn, timeout=timeout), timeout + 1)
    except TimeoutError:
        raise DatabaseUnavailable(
            f"Connecting to {where} timed out after {timeout:g} s.",
            "The host is unreachable or hung: check the host, firewall and that PostgreSQL "
            "is accepting connections.",
        ) from None
    except ConnectionRefusedError:
        raise DatabaseUnavailable(
            f"{where} refused the connection: nothing listens on port {t.port}.",
            "Start PostgreSQL, or fix the host/port in DATABASE_URL.",
        ) from None
    except asyncpg.InvalidPasswordError:
        raise DatabaseUnavailable(
            f"PostgreSQL at {where} rejected the password for user {t.user!r}.",
            "Fix the password in DATABASE_URL (rotated credentials?).",
        ) from None
    except asyncpg.InvalidCatalogNameError:
        raise DatabaseUnavailable(
            f"The database {t.database!r} does not exist on {t.host}:{t.port}.",
            "Create it, or fix the database name in DATABASE_URL.",
        ) from None
    except asyncpg.InvalidAuthorizationSpecificationError as exc:
        if "SSL" in str(exc) or "encryption" in str(exc):
            raise DatabaseUnavailable(
                f"{where} requires TLS for this connection.",
                "Add ?sslmode=require to DATABASE_URL.",
            ) from None
        raise DatabaseUnavailable(
            f"{where} refused user {t.user!r}: {exc}", "Check pg_hba.conf and the user name."
        ) from None
    except (OSError, ssl.SSLError) as exc:
        raise DatabaseUnavailable(
            f"Cannot reach {where}: {exc.strerror or exc}.",
            "Check the host name and the network path to the database.",
        ) from None
    except asyncpg.PostgresError as exc:
        raise DatabaseUnavailable(
            f"PostgreSQL at {where} refused the connection: {exc}", "See the server's log."
        ) from None


@asynccontextmanager
async def connection(
    ctx: CheckContext, database: str | None = None
) -> AsyncIterator[asyncpg.Connection]:
    t = target(ctx)
    conn = await open_connection(t.with_database(database) if database else t)
    try:
        yield conn
    finally:
        # A server that died mid-check must not turn a clear result into a close error.
        with contextlib.suppress(Exception):
            await conn.close(timeout=2)
