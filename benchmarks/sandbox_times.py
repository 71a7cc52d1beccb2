"""Start and stop times of the sandbox's real PostgreSQL and Redis servers.

Each sample starts a fresh server (PostgreSQL's includes ``initdb``), waits until it answers,
and stops it; we report the wall-clock median of a few samples for each step.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from toolbox_tui.sandbox.postgres import PostgresServer
from toolbox_tui.sandbox.redis import RedisServer

SAMPLES = 3

Server = PostgresServer | RedisServer


def _times(make: Callable[[], Server]) -> tuple[float, float]:
    starts: list[float] = []
    stops: list[float] = []
    for _ in range(SAMPLES):
        server = make()
        t0 = time.perf_counter()
        server.start()
        t1 = time.perf_counter()
        server.stop()
        t2 = time.perf_counter()
        starts.append(t1 - t0)
        stops.append(t2 - t1)
    return statistics.median(starts), statistics.median(stops)


def main() -> None:
    print(f"sandbox servers (median of {SAMPLES}, wall clock):")
    for name, make in (("PostgreSQL", PostgresServer), ("Redis", RedisServer)):
        start, stop = _times(make)
        print(f"  {name:<10} start {start * 1000:6.0f} ms | stop {stop * 1000:5.0f} ms")


if __name__ == "__main__":
    main()
