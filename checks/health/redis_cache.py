"""Health pane, Redis: reachable with the password from REDIS_URL, its version and memory
policy (the app queues Celery tasks there, so evicting keys would lose work)."""

from __future__ import annotations

import contextlib

from checks.checklist import ENVIRONMENT
from checks.context import CheckContext
from checks.core import Outcome, check, failed, passed, warned
from checks.health import PANE
from checks.offloop import import_off_loop
from checks.urls import URLError, parse_url, urllib_agrees

CONNECT_TIMEOUT = 5.0
# Policies that may evict any key, queued tasks included.
EVICTING_POLICIES = {"allkeys-lru", "allkeys-lfu", "allkeys-random"}


def _where(url: str) -> str:
    """``host:port/db`` as the app reads REDIS_URL (:mod:`checks.urls`): never the password,
    even one that holds a / or ? and so fools urllib into reading part of it as the host."""
    try:
        return parse_url(url.strip()).location(default_port=6379)
    except URLError:
        return "the host in REDIS_URL"


@check(
    id="redis.reachable",
    pane=PANE,
    title="Redis reachable",
    checklist=(ENVIRONMENT, "Database"),
    partial="DATABASE_URL (env.database-url)",
)
async def redis_reachable(ctx: CheckContext) -> Outcome:
    url = ctx.env.get("REDIS_URL")
    if url is None:
        return failed("REDIS_URL is not set.", "Set it in the env file (see .env.example).")
    where = _where(url)
    try:
        readable = urllib_agrees(parse_url(url.strip()))
    except URLError:
        readable = False
    if not readable:
        # redis-py reads URLs with urllib: it would connect somewhere else, or with another
        # password, than the URL says. Refuse rather than report on the wrong server.
        return failed(
            "REDIS_URL cannot be read the same way by redis-py: its password must be "
            "percent-encoded.",
            "In the password write / as %2F, ? as %3F, # as %23 and @ as %40.",
        )
    # redis-py costs 60-80 ms to import: only a run of this check pays for it.
    await import_off_loop("redis.asyncio")
    import redis.asyncio as redis_asyncio
    from redis import exceptions as redis_errors

    try:
        client = redis_asyncio.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
        )
    except ValueError:
        return failed("REDIS_URL cannot be parsed.", "Use redis://:password@host:6379/0")
    try:
        ctx.log(f"connecting to {where}")
        await client.ping()
        server = await client.info("server")
        memory = await client.info("memory")
    except redis_errors.AuthenticationError:
        return failed(
            f"Redis at {where} rejected the credentials (or wants a password REDIS_URL lacks).",
            "Fix the password in REDIS_URL.",
        )
    except (TimeoutError, redis_errors.TimeoutError):
        return failed(
            f"Redis at {where} did not answer within {CONNECT_TIMEOUT:g} s.",
            "Check the host, the firewall and that redis-server is running.",
        )
    except redis_errors.ConnectionError as exc:
        return failed(
            f"Cannot connect to Redis at {where}: {exc}",
            "Start redis-server, or fix the host/port in REDIS_URL.",
        )
    except redis_errors.ResponseError as exc:
        return failed(f"Redis at {where} answered with an error: {exc}", "See the Redis log.")
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()
    version = server.get("redis_version", "?")
    policy = memory.get("maxmemory_policy", "?")
    facts = {
        "version": version,
        "maxmemory policy": policy,
        "used memory": memory.get("used_memory_human", "?"),
    }
    if policy in EVICTING_POLICIES:
        return warned(
            f"Redis {version} at {where} may evict any key ({policy}): queued tasks can vanish.",
            "Use noeviction (or a volatile-* policy) for the instance that holds Celery's queue.",
            **facts,
        )
    return passed(f"Redis {version} at {where}, memory policy {policy}.", **facts)
