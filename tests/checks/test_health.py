"""Health pane against the real PostgreSQL and Redis: passes, and fails for its reason."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest

from checks.core import Status
from tests.checks.db_helpers import db_context, fetchval, run_check
from tests.conftest import MakeContext
from toolbox_tui.sandbox.ports import free_port


async def test_connection_usage_passes(make_context: MakeContext, database: str) -> None:
    result = await run_check(db_context(make_context, database), "db.connection-usage")
    assert result.status is Status.PASS and "connections in use" in result.message


async def test_connection_usage_warns_near_the_limit(
    make_context: MakeContext, database: str
) -> None:
    limit = int(str(await fetchval(database, "SHOW max_connections")))
    in_use = int(str(await fetchval(database, "SELECT count(*) FROM pg_stat_activity")))
    extra = max(int(limit * 0.82) - in_use, 0)
    held = [await asyncpg.connect(database) for _ in range(extra)]
    try:
        result = await run_check(db_context(make_context, database), "db.connection-usage")
    finally:
        await asyncio.gather(*(conn.close() for conn in held))
    assert result.status is Status.WARN and f"of {limit} connections" in result.message


@contextlib.asynccontextmanager
async def slow_proxy(port: int, delay: float) -> AsyncIterator[int]:
    """A TCP proxy to 127.0.0.1:``port`` that holds every chunk for ``delay`` seconds."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                await asyncio.sleep(delay)  # the slow link under test, not a wait
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_query_latency_passes(make_context: MakeContext, database: str) -> None:
    result = await run_check(db_context(make_context, database), "db.query-latency")
    assert result.status is Status.PASS and "p95" in result.message


async def test_query_latency_warns_on_a_slow_link(
    make_context: MakeContext, database: str, postgres_server
) -> None:  # type: ignore[no-untyped-def]
    async with slow_proxy(postgres_server.port, delay=0.06) as port:
        slow = database.replace(f":{postgres_server.port}/", f":{port}/")
        result = await run_check(
            db_context(make_context, slow, check_timeout=30), "db.query-latency"
        )
    assert result.status is Status.WARN and "target is < 100 ms" in result.message


async def test_no_replica_means_no_lag(make_context: MakeContext, database: str) -> None:
    result = await run_check(db_context(make_context, database), "db.replication-lag")
    assert result.status is Status.PASS and "No replica" in result.message


async def test_database_checks_skip_when_it_is_down(make_context: MakeContext) -> None:
    url = f"postgresql://app:pw@127.0.0.1:{free_port()}/prod"
    result = await run_check(db_context(make_context, url), "db.query-latency")
    assert result.status is Status.SKIP and "db.reachable (fail)" in result.message


def redis_ctx(make_context: MakeContext, redis_url: str):  # type: ignore[no-untyped-def]
    return make_context(f"REDIS_URL={redis_url}\n")


async def test_redis_reachable(make_context: MakeContext, redis_server) -> None:  # type: ignore[no-untyped-def]
    result = await run_check(redis_ctx(make_context, redis_server.url()), "redis.reachable")
    assert result.status is Status.PASS and "memory policy" in result.message


async def test_redis_wrong_password(make_context: MakeContext, redis_server) -> None:  # type: ignore[no-untyped-def]
    url = f"redis://:not-the-password@127.0.0.1:{redis_server.port}/0"
    result = await run_check(redis_ctx(make_context, url), "redis.reachable")
    assert result.status is Status.FAIL and "rejected the credentials" in result.message


async def test_redis_without_password(make_context: MakeContext, redis_server) -> None:  # type: ignore[no-untyped-def]
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    result = await run_check(redis_ctx(make_context, url), "redis.reachable")
    assert result.status is Status.FAIL and "rejected the credentials" in result.message


async def test_redis_url_that_redis_py_would_misread_is_refused(
    make_context: MakeContext, redis_server
) -> None:  # type: ignore[no-untyped-def]
    # An unencoded / in the password: urllib (and so redis-py) would take part of it as the
    # host; connecting would report on some other server, or leak the password as a host name.
    url = f"redis://:pa/ss@127.0.0.1:{redis_server.port}/0"
    result = await run_check(redis_ctx(make_context, url), "redis.reachable")
    assert result.status is Status.FAIL and "percent-encoded" in result.message
    assert "pa/ss" not in result.message


async def test_redis_refused(make_context: MakeContext) -> None:
    url = f"redis://:pw@127.0.0.1:{free_port()}/0"
    result = await run_check(redis_ctx(make_context, url), "redis.reachable")
    assert result.status is Status.FAIL and "Cannot connect to Redis" in result.message


@pytest.fixture
async def evicting_redis(redis_server) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.from_url(redis_server.url())
    await client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        yield redis_server.url()
    finally:
        await client.config_set("maxmemory-policy", "noeviction")
        await client.aclose()


async def test_redis_evicting_policy_warns(make_context: MakeContext, evicting_redis: str) -> None:
    result = await run_check(redis_ctx(make_context, evicting_redis), "redis.reachable")
    assert result.status is Status.WARN and "allkeys-lru" in result.message
