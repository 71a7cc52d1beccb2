"""200 synthetic checks with 50-200 ms latencies: wall time against the slowest and the sum.

A concurrent runner should finish close to the slowest check, far below the sum.
"""

from __future__ import annotations

import asyncio
import random
import time
import tracemalloc
from pathlib import Path

from checks.context import CheckContext
from checks.core import Registry, passed
from checks.runner import run_checks
from checks.settings import DeploymentEnv, ToolboxConfig

N_CHECKS = 200


def synthetic_registry(seed: int = 7) -> tuple[Registry, list[float]]:
    rng = random.Random(seed)
    registry = Registry()
    latencies = [rng.uniform(0.05, 0.2) for _ in range(N_CHECKS)]
    for i, latency in enumerate(latencies):

        @registry.check(id=f"bench.check-{i}", pane="health", title=f"check {i}")
        async def check(ctx, latency=latency):  # type: ignore[no-untyped-def]
            ctx.log("waiting")
            await asyncio.sleep(latency)
            return passed("ok")

    return registry, latencies


async def _run(registry: Registry) -> int:
    ctx = CheckContext(DeploymentEnv(Path(".env")), ToolboxConfig())
    events = 0
    async for _ in run_checks(registry.select(), ctx):
        events += 1
    return events


def main() -> None:
    registry, latencies = synthetic_registry()
    tracemalloc.start()
    start = time.perf_counter()
    events = asyncio.run(_run(registry))
    wall = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    slowest, total = max(latencies), sum(latencies)
    print(f"runner: {N_CHECKS} checks, {events} events")
    print(
        f"  wall {wall * 1000:.0f} ms | slowest check {slowest * 1000:.0f} ms "
        f"(x{wall / slowest:.2f}) | sum {total * 1000:.0f} ms (x{wall / total:.3f})"
    )
    print(f"  peak traced memory {peak / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
