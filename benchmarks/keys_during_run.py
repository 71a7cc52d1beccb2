"""Tab keys pressed while the checks run, as on deploy day: the dashboard on the demo with its
real services (``toolbox-tui demo``), keys sent from its first frame on.

In each fresh session the tab keys 2 3 4 5 6 1 go round, each timed from writing it to the
pty to its tab showing as the active one. A key counts as "during the run" until the summary
bar counts results with no check running (before the checks load, too), and as "after" from
then on, once the screen has been still for half a second. Reported: the p95 of the keys
during the run against the p95 of the same keys after it, in the same sessions: what a run
costs a key.

A tab is taken as active when its key's cell looks unlike the other five keys' and unlike
itself before the key: the keys' own look never carries a pane's status colour (the titles
do), and the active look changes once the table takes the focus.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Callable

from benchmarks import targets
from benchmarks.figures import Figure, Spread, show
from benchmarks.keypress import TAB_KEYS, checks_finished, key_cell, tab_row
from benchmarks.pty_process import NotSeen, PtyProcess
from benchmarks.screen import Screen
from checks.core import PANES

SESSIONS = 3
AFTER = 12  # keys timed once the run is over, per session
START_TIMEOUT = 120.0  # the demo starts PostgreSQL, Redis, OpenBao... first
RUN_TIMEOUT = 120.0
QUIET = 0.5  # seconds of still screen before the keys "after" the run
KEY_TIMEOUT = 10.0
GAP = 0.05  # seconds between a key's effect and the next key (the pty drained meanwhile)


def key_looks(screen: Screen, row: int) -> dict[str, str]:
    """Each pane key's look on the tab bar ("" where it cannot be found)."""
    looks = {}
    for pane in PANES:
        cell = key_cell(screen, row, pane.key)
        looks[pane.key] = screen.style(*cell) if cell is not None else ""
    return looks


def became_active(row: int, key: str, before: str) -> Callable[[Screen], bool]:
    """``key``'s tab is the active one: its look is its own among the keys, and new."""

    def active(screen: Screen) -> bool:
        looks = key_looks(screen, row)
        look = looks.pop(key)
        return look != before and bool(look) and look not in looks.values()

    return active


def session(argv: list[str]) -> tuple[list[float], list[float]]:
    """One fresh demo: latencies of the keys sent during its run, and after it, in seconds."""
    during: list[float] = []
    after: list[float] = []
    with PtyProcess(argv) as process:
        process.wait_for(targets.shows_dashboard, "the first frame", START_TIMEOUT)
        row = tab_row(process.screen)
        deadline = time.perf_counter() + RUN_TIMEOUT
        for key in itertools.cycle(TAB_KEYS):
            running = not checks_finished(process.screen)
            if running and time.perf_counter() > deadline:
                raise NotSeen(process.not_seen(f"the run did not end in {RUN_TIMEOUT:.0f} s"))
            if not running and not after:
                # As the keypress benchmark does: the dashboard collects its garbage once
                # just after the first run (long_lived.py); "after" is the quiet state.
                process.settle(QUIET, START_TIMEOUT)
            before = key_looks(process.screen, row)[key]
            sent = process.send(key.encode())
            done = process.wait_for(became_active(row, key, before), f"tab {key}", KEY_TIMEOUT)
            (during if running else after).append(done - sent)
            if len(after) == AFTER:
                break
            process.settle(GAP, GAP)
        process.send(b"q")
        process.wait_exit(START_TIMEOUT)
    return during, after


def main(sessions: int = SESSIONS) -> list[Figure]:
    during: list[float] = []
    after: list[float] = []
    for _ in range(sessions):
        with tempfile.TemporaryDirectory() as tmp:
            argv = [*targets.toolbox_tui(), "demo", "--dir", f"{tmp}/app"]
            running, done = session(argv)
            during += running
            after += done
    if not during:
        raise NotSeen("no key was sent while checks ran: the run ended before the first key")
    ours, quiet = Spread.of(during), Spread.of(after)
    return [
        show(
            Figure(
                "keypress during the demo's run: tab keys p95, vs after it",
                ours.p95 / quiet.p95,
                2.0,
                f"during {ours.tail_text()} vs after {quiet.tail_text()}; "
                f"n={len(ours.samples)}/{len(quiet.samples)}",
                figure_ms=ours.p95,
            )
        )
    ]


if __name__ == "__main__":
    main()
