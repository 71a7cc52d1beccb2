"""The Migrations and Health panes on the sandbox: each pane's wall time against its slowest
check and the sum of its checks (median of a few runs)."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from checks import catalog
from checks.context import CheckContext
from checks.runner import Finished, run_checks
from checks.settings import ToolboxConfig
from toolbox_tui.sandbox.stack import Sandbox

RUNS = 5
PANES = ("migrations", "health")


async def _run_pane(ctx: CheckContext, pane: str) -> tuple[float, float, float]:
    durations = []
    start = time.perf_counter()
    async for event in run_checks(catalog.load().select(panes=[pane]), ctx):
        if isinstance(event, Finished):
            durations.append(event.result.duration_ms)
    return (time.perf_counter() - start) * 1000, max(durations), sum(durations)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Sandbox(Path(tmp) / "app") as sandbox:
        ctx = CheckContext.create(ToolboxConfig(**sandbox.config_overrides()))  # type: ignore[arg-type]
        for pane in PANES:
            runs = [asyncio.run(_run_pane(ctx, pane)) for _ in range(RUNS)]
            wall, slowest, total = (statistics.median(r[i] for r in runs) for i in range(3))
            print(
                f"{pane} pane (median of {RUNS}): wall {wall:.0f} ms | slowest check "
                f"{slowest:.0f} ms (x{wall / slowest:.2f}) | sum {total:.0f} ms "
                f"(x{wall / total:.2f})"
            )


if __name__ == "__main__":
    main()
