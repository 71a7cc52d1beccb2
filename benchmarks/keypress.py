"""Key latency: from writing a key to the pty to the screen showing what the key does.

The dashboard (on a demo deployment, once its summary bar counts results and no check
running, and the screen is still) against the same-widget Textual app, sessions
alternating. In each session:

* the tab keys 2 3 4 5 6 1, twice: done when the pressed key's tab label wears the active
  tab's look (as tab 1 wore it in the first frame);
* the down arrow, a few times in the first pane: done when the table's cursor row (its
  background) has moved one row down.

Each key waits for the screen to be still before it is pressed. Reported: the p95 of all
samples, against the anchor's p95.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from itertools import takewhile
from pathlib import Path

from benchmarks import targets
from benchmarks.figures import Figure, Spread, show
from benchmarks.pty_process import NotSeen, PtyProcess
from benchmarks.screen import Screen
from checks.core import PANES
from toolbox_tui.sandbox.demo import write_demo

SESSIONS = 7
TAB_KEYS = [pane.key for pane in (*PANES[1:], PANES[0])] * 2
MAX_DOWNS = 10
DOWN = b"\x1b[B"
TIMEOUT = 30.0
KEY_TIMEOUT = 10.0
STILL = 0.15  # seconds without output before the next key
RUNNING = "running"  # the summary bar's count of the checks still running
COUNTED = re.compile(r"\b\d+ (fail|warn|pass|skip|manual)\b")  # ... and of their results


def key_cell(screen: Screen, row: int, key: str) -> tuple[int, int] | None:
    """Where the tab bar shows ``key`` (a label is ``key`` and the pane's title)."""
    match = re.search(rf"(?<![^ ]){re.escape(key)}(?![^ ])", screen.line(row))
    return (row, screen.column(row, match.start())) if match else None


def tab_row(screen: Screen) -> int:
    """The row of the dashboard's tab bar (the first pane's tab on it)."""
    found = screen.find(targets.DASHBOARD_MARKS[0])
    if found is None:
        raise NotSeen("no tab bar on the screen")
    return found[0]


class Layout:
    """Where the first frame put the tabs and the table, and how the highlights look."""

    def __init__(self, screen: Screen) -> None:
        first, second = PANES[0].key, PANES[1].key
        self.tab_row = tab_row(screen)
        active, inactive = (
            key_cell(screen, self.tab_row, first),
            key_cell(screen, self.tab_row, second),
        )
        if active is None or inactive is None:
            raise NotSeen(f"no tabs {first} and {second} on row {self.tab_row}")
        self.active_look = screen.style(*active)
        if screen.style(*inactive) == self.active_look:
            raise NotSeen("the active tab looks like the others: no highlight to wait for")
        header = next(
            (y for y in range(self.tab_row + 1, screen.height) if "Status" in screen.line(y)), None
        )
        if header is None:
            raise NotSeen("no table header under the tabs")
        self.first_row = header + 1
        self.cursor_look = screen.row_background(self.first_row)
        if screen.row_background(self.first_row + 1) == self.cursor_look:
            raise NotSeen("the cursor row looks like the others: no cursor to follow")
        # The rows on screen (the footer is the last line): the cursor stays among them, so
        # the table never scrolls while it is timed.
        shown = takewhile(
            lambda y: screen.line(y).strip(), range(self.first_row, screen.height - 1)
        )
        self.downs = max(min(MAX_DOWNS, len(list(shown)) - 1), 0)

    def tab_is_active(self, key: str) -> Callable[[Screen], bool]:
        def active(screen: Screen) -> bool:
            cell = key_cell(screen, self.tab_row, key)
            return cell is not None and screen.style(*cell) == self.active_look

        return active

    def cursor_on(self, index: int) -> Callable[[Screen], bool]:
        def moved(screen: Screen) -> bool:
            return screen.row_background(self.first_row + index) == self.cursor_look

        return moved


def checks_finished(screen: Screen) -> bool:
    """The summary bar, the top line, counts results and no checks running (the same-widget
    app's always does so); before the checks are registered it shows only the program's name."""
    summary = screen.line(0)
    return COUNTED.search(summary) is not None and RUNNING not in summary


def session(argv: list[str]) -> tuple[list[float], list[float]]:
    """One fresh process: the tab keys' latencies and the down arrow's, in seconds."""
    tabs: list[float] = []
    downs: list[float] = []
    with PtyProcess(argv) as process:
        process.wait_for(targets.shows_dashboard, "the first frame", TIMEOUT)
        # The dashboard's checks run after the first frame; keys are timed once they are done.
        # A still screen alone does not say so: a check may wait seconds for a name server
        # without a row changing, and keys timed then would measure the run, not the keys.
        process.wait_for(checks_finished, "the checks to finish", TIMEOUT)
        if not process.settle(0.5, TIMEOUT):
            print(f"  note: {argv[0]} was still drawing after {TIMEOUT:.0f} s; keys timed anyway")
        try:
            layout = Layout(process.screen)
        except NotSeen as exc:
            raise NotSeen(process.not_seen(str(exc))) from None
        for key in TAB_KEYS:
            sent = process.send(key.encode())
            done = process.wait_for(layout.tab_is_active(key), f"tab {key} active", KEY_TIMEOUT)
            tabs.append(done - sent)
            process.settle(STILL, KEY_TIMEOUT)
        for index in range(1, layout.downs + 1):
            sent = process.send(DOWN)
            done = process.wait_for(layout.cursor_on(index), f"cursor on row {index}", KEY_TIMEOUT)
            downs.append(done - sent)
            process.settle(STILL, KEY_TIMEOUT)
        process.send(b"q")
        process.wait_exit(TIMEOUT)
    return tabs, downs


def compared_tail(
    measure: str, goal: float, ours: Spread, theirs: Spread, limit_ms: float | None = None
) -> Figure:
    return show(
        Figure(
            measure,
            ours.p95 / theirs.p95,
            goal,
            f"dashboard {ours.tail_text()} vs same-widget app {theirs.tail_text()}; "
            f"n={len(ours.samples)}/{len(theirs.samples)}",
            limit_ms=limit_ms,
            figure_ms=ours.p95,
        )
    )


def main(sessions: int = SESSIONS) -> list[Figure]:
    tabs: dict[str, list[float]] = {"widgets": [], "dashboard": []}
    downs: dict[str, list[float]] = {"widgets": [], "dashboard": []}
    with tempfile.TemporaryDirectory() as tmp:
        demo = write_demo(Path(tmp) / "app")
        programs = {
            "widgets": targets.widgets_app(),
            "dashboard": targets.dashboard(demo.config_overrides()),
        }
        for _ in range(sessions):
            for name, argv in programs.items():
                tab_times, down_times = session(argv)
                tabs[name] += tab_times
                downs[name] += down_times
    return [
        compared_tail(
            "keypress: tab keys 1-6, p95, vs same-widget app",
            1.0,
            Spread.of(tabs["dashboard"]),
            Spread.of(tabs["widgets"]),
        ),
        compared_tail(
            "keypress: down arrow, p95, vs same-widget app",
            1.5,
            Spread.of(downs["dashboard"]),
            Spread.of(downs["widgets"]),
            limit_ms=50,
        ),
    ]


if __name__ == "__main__":
    main()
