"""Start and stop times of the sandbox's real PostgreSQL and Redis servers.

Each sample starts a fresh server (PostgreSQL's includes ``initdb``), waits until it answers,
and stops it; we report the wall-clock median of a few samples for each step, and their
range.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.figures import Spread
from toolbox_tui.sandbox.postgres import PostgresServer
from toolbox_tui.sandbox.redis import RedisServer

SAMPLES = 3

Server = PostgresServer | RedisServer


def _times(make: Callable[[], Server]) -> tuple[Spread, Spread]:
    starts: list[float] = []
    stops: list[float] = []
    for _ in range(SAMPLES):
        server = make()
        t0 = time.perf_counter()
        try:
            server.start()
            t1 = time.perf_counter()
        finally:
            server.stop()
        t2 = time.perf_counter()
        starts.append(t1 - t0)
        stops.append(t2 - t1)
    return Spread.of(starts), Spread.of(stops)


def main() -> None:
    print(f"sandbox servers (median [range] of {SAMPLES}, wall clock):")
    for name, make in (("PostgreSQL", PostgresServer), ("Redis", RedisServer)):
        start, stop = _times(make)
        print(f"  {name:<10} start {start.text():>18} | stop {stop.text():>14}", flush=True)


if __name__ == "__main__":
    main()
