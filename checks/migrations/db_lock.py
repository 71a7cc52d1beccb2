"""One database action at a time per database, across processes and hosts.

A PostgreSQL advisory lock, taken on a connection of its own that names the holder in
``application_name``: a second backup, upgrade or rehearsal of the same database waits a
little and then refuses, saying who holds it. The server drops the lock when that connection
ends, so a killed process never leaves it behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import socket
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from checks.core import ActionRefused
from checks.postgres import DatabaseTarget, open_connection

LOCK_KEY = 0x746F6F6C  # "tool": one key for every toolbox-tui database action
WAIT_SECONDS = 5.0
_POLL_SECONDS = 0.1

if TYPE_CHECKING:
    import asyncpg


def holder_name(action_id: str) -> str:
    """What the lock's connection calls itself: the action, who runs it, where, which pid."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    # application_name is cut at 63 bytes by the server.
    return f"toolbox-tui {action_id} {user}@{socket.gethostname()} pid {os.getpid()}"[:63]


@contextlib.asynccontextmanager
async def database_lock(
    target: DatabaseTarget, action_id: str, wait: float | None = None
) -> AsyncIterator[None]:
    """Hold the database's toolbox-tui lock for the block; ActionRefused naming the holder if
    another action keeps it for longer than ``wait`` seconds (default WAIT_SECONDS)."""
    wait = WAIT_SECONDS if wait is None else wait
    conn = await open_connection(
        target, server_settings={"application_name": holder_name(action_id)}
    )
    try:
        deadline = time.monotonic() + wait
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
            if time.monotonic() > deadline:
                raise ActionRefused(
                    f"Refused: another database action holds {target.database}: "
                    f"{await _holder(conn)}. Wait for it to finish; nothing was changed."
                )
            await asyncio.sleep(_POLL_SECONDS)
        yield
    finally:
        # Closing the connection releases the lock; no explicit unlock to forget.
        with contextlib.suppress(Exception):
            await conn.close(timeout=2)


async def _holder(conn: asyncpg.Connection) -> str:
    row = await conn.fetchrow(
        "SELECT a.application_name, a.backend_start FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = $1 "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        LOCK_KEY,
    )
    if row is None:
        return "another session"
    since = row["backend_start"].strftime("%H:%M:%S") if row["backend_start"] else "?"
    return f"{row['application_name'] or 'another session'} (since {since})"
