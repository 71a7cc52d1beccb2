"""Connecting to the app's PostgreSQL (``DATABASE_URL``), with every failure explained.

Checks and actions of several panes share this: a refused connection, a timeout, a wrong
password, an unknown database or a server that insists on TLS each become a
:class:`DatabaseUnavailable` whose message says which, and what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from checks.context import CheckContext
from checks.core import CheckFailed
from checks.offloop import import_off_loop
from checks.urls import ParsedURL, URLError, parse_url

if TYPE_CHECKING:
    # asyncpg costs ~40 ms to import: the first connection loads it, not the checks that only
    # read DATABASE_URL, nor registering them.
    import asyncpg

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
    # repr=False: a crash report that prints locals must not print the password.
    password: str = field(repr=False)
    database: str

    @property
    def dsn(self) -> str:
        """A URL that asyncpg and SQLAlchemy both read back to these fields (no driver suffix).

        Every part is percent-encoded; a socket directory goes in the query, where both
        expect it, and an IPv6 address in brackets.
        """
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        database = quote(self.database, safe="")
        if self.is_socket:
            query = urlencode({"host": self.host, "port": self.port})
            return f"postgresql://{auth}@/{database}?{query}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{auth}@{host}:{self.port}/{database}"

    @property
    def is_socket(self) -> bool:
        """A host that is a directory holding the server's Unix socket, as libpq reads it."""
        return self.host.startswith("/")

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
    """DATABASE_URL read as the app's SQLAlchemy reads it (see :mod:`checks.urls`).

    The server may also be named in the query, as SQLAlchemy's PostgreSQL dialects allow:
    ``?host=/var/run/postgresql`` (a socket directory) or ``?host=db:5433``. Query values
    win over the URL's own, as they do when SQLAlchemy hands them to the driver.
    """
    try:
        parsed = parse_url(url.strip())
    except URLError as exc:
        raise DatabaseUnavailable(f"DATABASE_URL cannot be parsed: {exc}.", _FORMAT) from None
    if parsed.backend not in ("postgresql", "postgres"):
        raise DatabaseUnavailable(
            f"DATABASE_URL is a {parsed.backend} URL, not PostgreSQL.",
            "Point it at the PostgreSQL server: postgresql://user:pw@host:5432/db",
        )
    host, port = _server(parsed)
    user = parsed.username or ""
    passwords = parsed.query_values("password")
    return DatabaseTarget(
        host=host,
        port=port,
        user=user,
        password=passwords[-1] if passwords else parsed.password or "",
        # libpq's default: the database named like the user.
        database=parsed.database or user,
    )


_FORMAT = "Fix its format: postgresql://user:pw@host:5432/db, special characters percent-encoded."
# SQLAlchemy's test for a "host:port" query value: a host name is letters, digits, - and .
_HOST_PORT = re.compile(r"([a-zA-Z0-9\-\.]*)(?::(\d*))?")


def _server(parsed: ParsedURL) -> tuple[str, int]:
    """Host and port, from the query when it names them, else from the URL itself."""
    hosts = [h for value in parsed.query_values("host") for h in value.split(",")]
    ports = [p for value in parsed.query_values("port") for p in value.split(",")]
    if len(hosts) > 1 or len(ports) > 1:
        raise DatabaseUnavailable(
            "DATABASE_URL names several servers (a multi-host URL); toolbox-tui checks one.",
            "Point DATABASE_URL at the primary for the release, e.g. ?host=db1:5432.",
        )
    host, port_text = parsed.host, ports[0] if ports else None
    if hosts:
        host = hosts[0]
        match = _HOST_PORT.fullmatch(host)
        if match and ":" in host and not ports:
            host, port_text = match.group(1), match.group(2) or None
    if host is not None and "@" in host:
        raise DatabaseUnavailable(
            "DATABASE_URL's host contains '@': the password holds an unencoded @.",
            "Write @ in the password as %40.",
        )
    port = parsed.port if port_text is None else _int_or_none(port_text)
    if port is None and port_text is not None:
        raise DatabaseUnavailable("DATABASE_URL's port is not a number.", _FORMAT)
    port = port or 5432
    if not 0 < port < 65536:
        raise DatabaseUnavailable("DATABASE_URL's port is not between 1 and 65535.", _FORMAT)
    return host or "localhost", port


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 5 else None


def redacted_location(t: DatabaseTarget) -> str:
    """``host:port/db`` — what a message may show of the URL."""
    host = f"[{t.host}]" if ":" in t.host else t.host
    return f"{host}:{t.port}/{t.database}"


async def open_connection(
    t: DatabaseTarget,
    timeout: float = CONNECT_TIMEOUT,
    server_settings: dict[str, str] | None = None,
) -> asyncpg.Connection:
    await import_off_loop("asyncpg")
    import asyncpg

    where = redacted_location(t)
    try:
        return await asyncio.wait_for(
            asyncpg.connect(t.dsn, timeout=timeout, server_settings=server_settings),
            timeout + 1,
        )
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
