"""Runs the benchmarks (all, or those named) and prints their figures, then a table of them.

    python -m benchmarks                      # everything, as ``make bench`` does
    python -m benchmarks first_frame keypress

Goals are printed, never enforced. A benchmark that could not measure (a program that never
drew its first frame, no PostgreSQL for the sandbox) says why; the others still run, and the
exit status is 1 so that a broken harness does not pass for a quiet one.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from benchmarks import (
    bytecode,
    check_wall_time,
    env_file_size,
    first_frame,
    keypress,
    keys_during_run,
    runner_scaling,
    sandbox_times,
)
from benchmarks.figures import Figure, table

BENCHMARKS: dict[str, Callable[[], list[Figure] | None]] = {
    "first_frame": first_frame.main,
    "keypress": keypress.main,
    "keys_during_run": keys_during_run.main,
    "check_wall_time": check_wall_time.main,
    "env_file_size": env_file_size.main,
    "runner_scaling": runner_scaling.main,
    "sandbox_times": sandbox_times.main,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="default: all of them")
    names = parser.parse_args(argv).names or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"no benchmark {', '.join(unknown)}; there are {', '.join(BENCHMARKS)}")
    figures: list[Figure] = []
    failed: list[str] = []
    bytecode.compile_ours()
    began = time.perf_counter()
    for name in names:
        print(f"== {name}", flush=True)
        try:
            figures += BENCHMARKS[name]() or []
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed.append(name)
            print(f"{name}: not measured: {type(exc).__name__}: {exc}", flush=True)
    print(f"\n== summary ({time.perf_counter() - began:.0f} s)")
    print(table(figures) if figures else "no figures")
    if failed:
        print(f"not measured: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
