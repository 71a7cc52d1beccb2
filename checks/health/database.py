"""Health pane, database: connection usage, query latency, size and replication lag."""

from __future__ import annotations

import asyncio
import contextlib
import time

from checks.checklist import MONITORING
from checks.context import CheckContext
from checks.core import Outcome, check, passed, warned
from checks.health import PANE
from checks.postgres import DatabaseTarget, connection, open_connection, target

CONNECTION_ALERT = 0.8  # the checklist: "Connection pool usage (alert at 80%)"
LATENCY_TARGET_MS = 100.0  # the checklist: "Query performance (p95 < 100ms)"
LATENCY_SAMPLES = 20
ROUND_TRIP_CEILING_S = 2.0
LAG_ALERT_SECONDS = 30.0
DISK_NOT_CHECKED = "disk usage of the database volume (alert at 75%)"


@check(
    id="db.connection-usage",
    pane=PANE,
    title="DB connections in use",
    needs=["db.reachable"],
    checklist=(MONITORING, "Database"),
    partial=DISK_NOT_CHECKED,
)
async def connection_usage(ctx: CheckContext) -> Outcome:
    async with connection(ctx) as conn:
        used = await conn.fetchval("SELECT count(*) FROM pg_stat_activity")
        limit = int(await conn.fetchval("SHOW max_connections"))
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    share = used / limit
    facts = {"in use": used, "max_connections": limit, "database size": size}
    message = f"{used} of {limit} connections in use ({share:.0%}); database size {size}."
    if share >= CONNECTION_ALERT:
        return warned(
            message,
            "Near the limit new connections fail: check the app's pool sizes and idle sessions.",
            **facts,
        )
    return passed(message, **facts)


@check(
    id="db.query-latency",
    pane=PANE,
    title="DB round-trip p95",
    needs=["db.reachable"],
    checklist=(MONITORING, "Database"),
    partial=DISK_NOT_CHECKED,
)
async def query_latency(ctx: CheckContext) -> Outcome:
    # Timed on a thread with its own event loop and connection: on the shared loop, forty
    # other checks and the dashboard would be timed too (a false WARN on a busy loop).
    samples = await asyncio.to_thread(asyncio.run, _sample_round_trips(target(ctx)))
    import statistics  # ~6 ms (fractions, decimal): paid by this check, not by registering it

    p95 = statistics.quantiles(samples, n=20)[-1]
    facts = {"p95 ms": f"{p95:.2f}", "median ms": f"{statistics.median(samples):.2f}"}
    message = f"SELECT 1 p95 {p95:.1f} ms over {LATENCY_SAMPLES} round trips."
    if p95 >= LATENCY_TARGET_MS:
        return warned(
            message + f" The target is < {LATENCY_TARGET_MS:g} ms.",
            "The network path or the server is slow: look at the server's load and the link.",
            **facts,
        )
    return passed(message, **facts)


async def _sample_round_trips(t: DatabaseTarget) -> list[float]:
    conn = await open_connection(t)
    try:
        samples: list[float] = []
        for _ in range(LATENCY_SAMPLES):
            start = time.perf_counter()
            try:
                await conn.fetchval("SELECT 1", timeout=ROUND_TRIP_CEILING_S)
            except TimeoutError:
                # Bounded, so a hung server cannot keep this thread (and the exit) waiting.
                samples.extend([ROUND_TRIP_CEILING_S * 1000] * (LATENCY_SAMPLES - len(samples)))
                break
            samples.append((time.perf_counter() - start) * 1000)
        return samples
    finally:
        with contextlib.suppress(Exception):
            await conn.close(timeout=2)


@check(
    id="db.replication-lag",
    pane=PANE,
    title="Replica lag",
    needs=["db.reachable"],
    checklist=(MONITORING, "Database"),
    partial=DISK_NOT_CHECKED,
)
async def replication_lag(ctx: CheckContext) -> Outcome:
    async with connection(ctx) as conn:
        rows = await conn.fetch(
            "SELECT application_name, client_addr::text AS addr, "
            "EXTRACT(EPOCH FROM replay_lag) AS lag FROM pg_stat_replication"
        )
    if not rows:
        return passed("No replica is attached; nothing lags.")
    lags = {f"{r['application_name'] or r['addr']}": float(r["lag"] or 0.0) for r in rows}
    worst_name, worst = max(lags.items(), key=lambda item: item[1])
    facts = {name: f"{lag:.1f} s" for name, lag in lags.items()}
    if worst > LAG_ALERT_SECONDS:
        return warned(
            f"Replica {worst_name} is {worst:.0f} s behind.",
            "Reads from it are stale: check its disk and network before the release.",
            **facts,
        )
    return passed(f"{len(rows)} replica(s), worst lag {worst:.1f} s.", **facts)
