"""Health pane, database: connection usage, query latency, size and replication lag."""

from __future__ import annotations

import statistics
import time

from checks.checklist import MONITORING
from checks.context import CheckContext
from checks.core import Outcome, check, passed, warned
from checks.postgres import connection

PANE = "health"
CONNECTION_ALERT = 0.8  # the checklist: "Connection pool usage (alert at 80%)"
LATENCY_TARGET_MS = 100.0  # the checklist: "Query performance (p95 < 100ms)"
LATENCY_SAMPLES = 20
LAG_ALERT_SECONDS = 30.0


@check(
    id="db.connection-usage",
    pane=PANE,
    title="DB connections in use",
    needs=["db.reachable"],
    checklist=(MONITORING, "Database"),
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
)
async def query_latency(ctx: CheckContext) -> Outcome:
    async with connection(ctx) as conn:
        samples = []
        for _ in range(LATENCY_SAMPLES):
            start = time.perf_counter()
            await conn.fetchval("SELECT 1")
            samples.append((time.perf_counter() - start) * 1000)
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


@check(
    id="db.replication-lag",
    pane=PANE,
    title="Replica lag",
    needs=["db.reachable"],
    checklist=(MONITORING, "Database"),
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
