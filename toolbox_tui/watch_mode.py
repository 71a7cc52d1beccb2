"""The dashboard's watch mode: ``w`` re-runs the current pane every TOOLBOX_WATCH_INTERVAL
seconds (the checklist's day-5 "Monitor all metrics"); ``w`` again stops.

While it is on, the pane's table has a Trend column (the last runs, newest on the right), the
status shown is the debounced one of :mod:`checks.watch` (a failure shows as a warning,
"failing 1/3", until TOOLBOX_WATCH_DEBOUNCE failures in a row), and a line under the summary
says "watching Health every 30 s, run 4 · next in 12 s · w stops". Stopping takes the column
and the line away and shows the checks' own latest statuses again.

One Textual timer beats a few times per interval: each beat redraws the line and starts the
next run once it is due, from the start of the run before. A run never starts while another
run of the pane is under way (a watch run, ``R``, a re-check after a fix, ``r`` on one of its
checks): a slow run delays the next one, and the line says so. Watch runs only checks, never
a fix, never a check that writes to the app (:func:`checks.watch.watched`; the line and a
note say how many it leaves out), and never the login probes
(:data:`checks.watch.NOT_REPEATED`).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widget import Widget

from checks.core import PANES, CheckResult, Pane, Status
from checks.watch import FAILING, TREND_WIDTH, UNICODE, Watch, Watched, for_watch, watched
from toolbox_tui.app import ALL_CHECKS_GROUP, check_group, pane_group
from toolbox_tui.widgets.check_table import CheckTable
from toolbox_tui.widgets.status import BUSY_LOOK, QUIET_LOOK, status_style
from toolbox_tui.widgets.summary_bar import SummaryBar

if TYPE_CHECKING:
    from textual.timer import Timer

    from toolbox_tui.app import ToolboxApp

WATCH_GROUP = "watch"
"""The workers of watch runs (the app's own runs: :data:`~toolbox_tui.app.ALL_CHECKS_GROUP`,
:func:`~toolbox_tui.app.pane_group` and :func:`~toolbox_tui.app.check_group`)."""
BEAT_SECONDS = 1.0
"""The line's countdown moves once a second (faster for an interval under a second)."""
LINE_WIDTH = 78  # before the line is laid out: 80 columns less its padding


def toggle_watch(app: ToolboxApp) -> None:
    """``w``: watch the pane on screen, or stop watching."""
    if app.watching is not None:
        title = app.watching.pane.title
        app.watching.stop()
        app.watching = None
        app.notify(f"Stopped watching {title}.")
        return
    try:
        app.ctx  # noqa: B018  (raises until the deployment is read)
    except RuntimeError:
        app.notify("Still reading the deployment; try again in a moment.")
        return
    pane = next(p for p in PANES if p.id == app.dashboard.active_pane)
    if not app.dashboard.query(f"#table-{pane.id}"):
        app.notify("Still drawing the dashboard; try again in a moment.")
        return
    if not any(spec.pane == pane.id for spec in app.registry.checks.values()):
        app.notify(f"No checks in {pane.title} to watch.", severity="warning")
        return
    chosen = watched(app.registry.select(panes=[pane.id]))
    if not any(spec.pane == pane.id for spec in chosen.specs):
        ids = ", ".join(spec.id for spec in chosen.left_out if spec.pane == pane.id)
        app.notify(
            f"Nothing in {pane.title} to watch: watch never runs a check that writes to the "
            f"app ({ids}).",
            severity="warning",
        )
        return
    app.watching = WatchMode(app, pane, chosen)
    app.watching.start()
    if chosen.writing:
        app.notify(f"Watching {pane.title}; {chosen.text()}.")


class WatchLine(Widget):
    """The line under the summary that says what watch mode is doing, fitted to its width."""

    DEFAULT_CSS = """
    WatchLine {
        height: 1;
        background: $panel;
        padding: 0 1;
    }
    """

    def __init__(self, mode: WatchMode) -> None:
        super().__init__()
        self.mode = mode

    def render(self) -> Text:
        return self.mode.line_text(time.monotonic(), self.content_size.width or LINE_WIDTH)


class WatchMode:
    """Watch mode on one pane: its timer, its runs, its :class:`Watch` model and its line."""

    def __init__(self, app: ToolboxApp, pane: Pane, chosen: Watched) -> None:
        config = app.ctx.config
        self.app = app
        self.pane = pane
        self.chosen = chosen
        """The checks each run runs (the pane's, and those they need), and those left out."""
        self.interval = config.watch_interval
        self.model = Watch(config.watch_debounce)
        self.runs = 0
        """Watch runs started."""
        self.due = 0.0
        """When the next run is due (time.monotonic()): the last start plus the interval."""
        self.late = 0.0
        """How long after it was due the latest run started, as the run before was slow."""
        self.waiting = False
        """The next run is due, but another run of the pane is still under way."""
        self._beat: Timer | None = None
        self._line = WatchLine(self)
        # The checks whose results watch debounces: a check left out (it writes to the app)
        # and run by hand with r shows its own result.
        self._pane_checks = {s.id for s in chosen.specs if s.pane == pane.id}

    # -- on and off ----------------------------------------------------------------------

    def start(self) -> None:
        dashboard = self.app.dashboard
        dashboard.mount(self._line, after=dashboard.query_one(SummaryBar))
        self._table().show_trends(self.trend_cell)
        self.due = time.monotonic()
        self.beat()  # the first run starts now, unless the pane is being checked already
        self._beat = self.app.set_interval(beat_seconds(self.interval), self.beat)

    def stop(self) -> None:
        """Stop the timer and the run under way; show the checks' own latest results."""
        if self._beat is not None:
            self._beat.stop()
        for worker in self.app.workers:
            if worker.group == WATCH_GROUP and not worker.is_finished:
                worker.cancel()
        for check_id, trend in self.model.trends.items():
            if trend.last is not None:
                self.app.board.results[check_id] = trend.last
        self._table().show_trends(None)
        self._line.remove()
        self.app.dashboard.redraw()

    def _table(self) -> CheckTable:
        return self.app.dashboard.query_one(f"#table-{self.pane.id}", CheckTable)

    # -- results -------------------------------------------------------------------------

    def observe(self, result: CheckResult) -> CheckResult:
        """A result the board has just taken; for a check of the watched pane, the board
        shows the debounced one instead (returned)."""
        if result.id not in self._pane_checks:
            return result
        self.model.observe(result, self.app.ctx.clock())
        shown = self.model.shown_result(result.id)
        self.app.board.results[result.id] = shown
        return shown

    def trend_cell(self, check_id: str) -> Text:
        """``·····✓✓✗✗✗``, each mark in its status's look."""
        colour = not self.app.no_color
        trend = self.model.trends.get(check_id)
        recent = list(trend.history)[-TREND_WIDTH:] if trend else []
        cell = Text(UNICODE.none * (TREND_WIDTH - len(recent)), style=QUIET_LOOK.style(colour))
        for status in recent:
            cell.append(UNICODE.mark(status), style=status_style(status, colour))
        return cell

    # -- timing --------------------------------------------------------------------------

    def beat(self) -> None:
        now = time.monotonic()
        # Half a beat early counts as on time: the timer's beats and the due time are both
        # whole beats after the start, give or take the event loop's jitter.
        if now + beat_seconds(self.interval) / 2 >= self.due:
            if self._busy():
                self.waiting = True
            else:
                self._run(now)
        self._line.refresh()

    def _busy(self) -> bool:
        """Whether a run of this pane is under way: never two at once."""
        for worker in self.app.workers:
            if worker.is_finished:
                continue
            group = worker.group
            if group in (WATCH_GROUP, ALL_CHECKS_GROUP, pane_group(self.pane.id)):
                return True
            if group in {check_group(check_id) for check_id in self._pane_checks}:
                return True
        return False

    def _run(self, now: float) -> None:
        self.late = now - self.due if self.waiting else 0.0
        self.waiting = False
        self.runs += 1
        self.due = now + self.interval
        app = self.app
        app.ctx = app.ctx.reloaded()  # the env file may have been fixed since the last run
        app.run_checks_now(self.chosen.specs, group=WATCH_GROUP, ctx=for_watch(app.ctx))

    def line_text(self, now: float, width: int = LINE_WIDTH) -> Text:
        """``watching Health every 30 s, run 4 · next in 12 s · 1 failing · 2 not watched:
        they write to the app · w stops``, with less said when ``width`` is short: the checks
        left out in fewer words, the state in fewer words, then no count of them, then
        nothing after the run number but the key that stops it."""
        colour = not self.app.no_color
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(" watching ", style=BUSY_LOOK.style(colour))
        head.append(f" {self.pane.title} every {self.interval:g} s, run {self.runs}")
        long_state, short_state = self._state(now)
        failing = self.model.tally().get(FAILING, 0)
        count = Text(f"{failing} {FAILING}", style=status_style(Status.WARN, colour))
        stops = Text("w stops", style=QUIET_LOOK.style(colour))
        counted = [count] if failing else []
        left = len(self.chosen.writing)
        quiet = QUIET_LOOK.style(colour)
        write = "it writes" if left == 1 else "they write"
        left_long = [Text(f"{left} not watched: {write} to the app", style=quiet)]
        left_short = [Text(f"{left} not watched", style=quiet)]
        if not left:
            left_long = left_short = []
        variants = (
            [long_state, *counted, *left_long, stops],
            [long_state, *counted, *left_short, stops],
            [short_state, *counted, *left_short, stops],
            [short_state, *counted, stops],
            [short_state, stops],
            [stops],
        )
        for parts in variants:
            text = head.copy()
            for part in parts:
                text.append(" · ")
                text.append(part)
            if text.cell_len <= width:
                return text
        return head

    def _state(self, now: float) -> tuple[Text, Text]:
        """What the runs are doing, in full and in short."""
        if self.waiting:
            waits = f"run {self.runs + 1} waits"
            if self._own_run():  # the run before is slower than the interval
                return Text(f"run {self.runs} is still running: {waits}"), Text(waits)
            return Text(f"a run is under way: {waits}"), Text(waits)
        late = f"{self.late:.0f} s late" if self.late >= 1 else ""
        if self._busy():
            return Text(f"running, {late}" if late else "running"), Text("running")
        countdown = f"next in {max(0, math.ceil(self.due - now)):d} s"
        if late:
            return Text(f"{countdown}; run {self.runs} started {late}"), Text(countdown)
        return Text(countdown), Text(countdown)

    def _own_run(self) -> bool:
        return any(w.group == WATCH_GROUP and not w.is_finished for w in self.app.workers)


def beat_seconds(interval: float) -> float:
    """A beat that divides ``interval`` evenly, about a second long (the interval itself
    when shorter), so that every run falls due on a beat."""
    return interval / max(1, math.ceil(interval / BEAT_SECONDS))
