"""``toolbox-tui check`` as a whole process, in a pty, the way CI and a person run it.

* ``check --pane environment`` on a demo deployment against ``python -c "import textual.app"``
  (the CLI never imports Textual: the whole run should cost less than that import alone);
  the two alternate, ratio of the medians.
* The whole ``check`` (every pane) against a sandbox's real PostgreSQL and Redis, with its
  JSON report: the process's wall time, and the report's own ``duration_ms``, each against
  the slowest check's ``duration_ms`` in the same report (a concurrent run should take
  little more than its slowest check); ratios per run, their median and range.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

from benchmarks import targets
from benchmarks.figures import Figure, Spread, compared, range_text, show
from benchmarks.pty_process import run_to_exit
from toolbox_tui.reporters import EXIT_FAILED, EXIT_OK, EXIT_WARNINGS
from toolbox_tui.sandbox.demo import write_demo
from toolbox_tui.sandbox.stack import Sandbox

PAIRS = 21  # as the first frame's rounds: with 8, runs of the same code read x0.98 to x1.10
FULL_RUNS = 5
# A run that reports its results exits with one of these (the demo fails checks on purpose).
REPORTED = (EXIT_OK, EXIT_FAILED, EXIT_WARNINGS)


def environment_pane(pairs: int = PAIRS) -> Figure:
    with tempfile.TemporaryDirectory() as tmp:
        demo = write_demo(Path(tmp) / "app")
        check = targets.check(demo.config_overrides(), "--pane", "environment")
        anchor = targets.import_textual()
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(pairs):
            ours.append(run_to_exit(check, REPORTED))
            theirs.append(run_to_exit(anchor))
    return compared(
        "check --pane environment, whole process, vs import textual.app",
        1.0,
        ("check", Spread.of(ours)),
        ('python -c "import textual.app"', Spread.of(theirs)),
    )


def _per_run(measure: str, goal: float, ours: list[float], slowest: list[float]) -> Figure:
    figure, anchor = Spread.of(ours), Spread.of(slowest)
    per_run = [a / b for a, b in zip(figure.samples, anchor.samples, strict=True)]
    return show(
        Figure(
            measure,
            statistics.median(per_run),
            goal,
            f"{figure.text()} vs slowest check {anchor.text()}; "
            f"ratios per run {range_text(per_run)}; n={len(per_run)}",
        )
    )


def full_check(runs: int = FULL_RUNS) -> list[Figure]:
    walls: list[float] = []
    durations: list[float] = []
    slowest: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, Sandbox(Path(tmp) / "app") as sandbox:
        report = Path(tmp) / "report.json"
        argv = targets.check(
            sandbox.config_overrides(), "--format", "json", "--output", str(report)
        )
        for _ in range(runs):
            report.unlink(missing_ok=True)
            walls.append(run_to_exit(argv, REPORTED))
            document = json.loads(report.read_text(encoding="utf-8"))
            durations.append(document["duration_ms"] / 1000)
            slowest.append(max(r["duration_ms"] for r in document["results"]) / 1000)
    return [
        _per_run(
            "whole check on PostgreSQL+Redis, whole process, vs slowest",
            1.3,
            walls,
            slowest,
        ),
        _per_run(
            "whole check, in-process (report duration_ms), vs slowest",
            1.15,
            durations,
            slowest,
        ),
    ]


def main() -> list[Figure]:
    return [environment_pane(), *full_check()]


if __name__ == "__main__":
    main()
