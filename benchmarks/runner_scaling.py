"""200 synthetic checks with 50-200 ms latencies: wall time against the slowest and the sum.

A concurrent runner should finish close to the slowest check, far below the sum. The wall
time is the median of a few runs, with their range; memory is traced in one more run.
"""

from __future__ import annotations

import asyncio
import random
import time
import tracemalloc
from pathlib import Path

from benchmarks.figures import Spread, range_text
from checks.context import CheckContext
from checks.core import Outcome, Registry, passed
from checks.runner import run_checks
from checks.settings import DeploymentEnv, ToolboxConfig

N_CHECKS = 200
RUNS = 5


def synthetic_registry(seed: int = 7) -> tuple[Registry, list[float]]:
    rng = random.Random(seed)
    registry = Registry()
    latencies = [rng.uniform(0.05, 0.2) for _ in range(N_CHECKS)]
    for i, latency in enumerate(latencies):

        @registry.check(id=f"bench.check-{i}", pane="health", title=f"check {i}")
        async def check(ctx: CheckContext, latency: float = latency) -> Outcome:
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


def main(runs: int = RUNS) -> None:
    registry, latencies = synthetic_registry()
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        events = asyncio.run(_run(registry))
        walls.append(time.perf_counter() - start)
    # Memory from a run of its own: tracing slows the runner down.
    tracemalloc.start()
    asyncio.run(_run(registry))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    wall = Spread.of(walls)
    slowest, total = max(latencies) * 1000, sum(latencies) * 1000
    print(f"runner: {N_CHECKS} checks, {events} events, {runs} runs")
    print(
        f"  wall {wall.text()} | slowest check {slowest:.0f} ms "
        f"(x{wall.median / slowest:.2f}, range {range_text([w / slowest for w in wall.samples])})"
        f" | sum {total:.0f} ms (x{wall.median / total:.3f})"
    )
    print(f"  peak traced memory {peak / 1024:.0f} KiB", flush=True)


if __name__ == "__main__":
    main()
