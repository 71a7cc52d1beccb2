"""The dashboard's first frame and its quit, as a person at an 80x24 terminal feels them.

Each sample is a whole fresh process on a real pty: from starting it to the moment the
screen shows its first frame (for the dashboard: the tab bar's first pane and the table
header), then ``q`` at once, and from writing ``q`` to the process's exit. Three programs
take turns (bare app, same-widget app, dashboard, bare app, ...), so a slow moment of the
machine falls on all of them; the ratios are of medians, the pair ratios show the spread.

The dashboard runs on a demo deployment (the env file only; the checks that need a
database or Redis fail fast).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks import targets
from benchmarks.figures import Figure, Spread, compared
from benchmarks.pty_process import NotSeen, PtyProcess
from benchmarks.screen import Screen
from toolbox_tui.sandbox.demo import write_demo

ROUNDS = 21  # this machine swings ±20% from run to run: 9 rounds left the median ratio to chance
TIMEOUT = 60.0


def start_and_quit(argv: list[str], first_frame: Callable[[Screen], bool]) -> tuple[float, float]:
    """Seconds to the first frame, and from ``q`` to the process's exit."""
    with PtyProcess(argv) as process:
        shown = process.wait_for(first_frame, "the first frame", TIMEOUT)
        sent = process.send(b"q")
        gone = process.wait_exit(TIMEOUT)
        if process.returncode != 0:
            raise NotSeen(process.not_seen("q did not end it cleanly"))
        return shown - process.started, gone - sent


def main(rounds: int = ROUNDS) -> list[Figure]:
    programs = {"bare": (targets.bare_app(), targets.shows_bare)}
    programs["widgets"] = (targets.widgets_app(), targets.shows_dashboard)
    with tempfile.TemporaryDirectory() as tmp:
        demo = write_demo(Path(tmp) / "app")
        programs["dashboard"] = (
            targets.dashboard(demo.config_overrides()),
            targets.shows_dashboard,
        )
        frames: dict[str, list[float]] = {name: [] for name in programs}
        quits: dict[str, list[float]] = {name: [] for name in programs}
        for _ in range(rounds):
            for name, (argv, first_frame) in programs.items():
                shown, gone = start_and_quit(argv, first_frame)
                frames[name].append(shown)
                quits[name].append(gone)
    frame = {name: Spread.of(times) for name, times in frames.items()}
    quit_ = {name: Spread.of(times) for name, times in quits.items()}
    return [
        compared(
            "dashboard first frame (80x24 pty) vs bare Textual app",
            1.5,
            ("dashboard", frame["dashboard"]),
            ("bare app", frame["bare"]),
        ),
        compared(
            "dashboard first frame vs same-widget Textual app",
            1.1,
            ("dashboard", frame["dashboard"]),
            ("same-widget app", frame["widgets"]),
        ),
        compared(
            "quit: q after the first frame to process exit, vs bare app",
            1.3,
            ("dashboard", quit_["dashboard"]),
            ("bare app", quit_["bare"]),
        ),
    ]


if __name__ == "__main__":
    main()
