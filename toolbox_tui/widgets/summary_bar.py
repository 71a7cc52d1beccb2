"""The one-line bar on top: counts per status (and how many are waived), what is running,
read-only mode, and a fix in progress with its elapsed time and latest log line.

It fits its line: READ-ONLY and the counts come first, and the program's name is left out
when there is no room for it; a long log line ends in an ellipsis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.text import Text
from textual.widget import Widget

from checks.core import STATUS_ORDER, Status
from toolbox_tui.board import RunningAction
from toolbox_tui.widgets.status import BUSY_LOOK, QUIET_LOOK, RUNNING_LOOK, status_style

SPINNER = "|/-\\"  # ASCII: it must draw the same in any terminal font
NAME = "toolbox-tui"


@dataclass(frozen=True)
class Summary:
    """What the bar shows; it is drawn again from this when its width changes."""

    counts: dict[Status, int] = field(default_factory=dict)
    running: int = 0
    total: int = 0
    read_only: bool = False
    fixing: RunningAction | None = None
    waived: int = 0
    """Results among the counts that a waiver accepts: "8 fail" alone would overstate them."""


class SummaryBar(Widget):
    DEFAULT_CSS = """
    SummaryBar {
        height: 1;
        background: $panel;
        padding: 0 1;
    }
    """

    summary = Summary()

    def show(
        self,
        counts: dict[Status, int],
        running: int,
        total: int,
        read_only: bool,
        fixing: RunningAction | None = None,
        waived: int = 0,
    ) -> None:
        self.summary = Summary(counts, running, total, read_only, fixing, waived)
        self.refresh()

    def render(self) -> Text:
        colour = not self.app.no_color
        if self.summary.fixing is not None:
            return fix_progress(self.summary.fixing, colour)
        return summary_text(self.summary, self.size.width, colour)


def summary_text(summary: Summary, width: int, colour: bool = True) -> Text:
    """READ-ONLY, the counts worst first, then what is running or not run yet; the program's
    name in front only when everything still fits ``width``."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if summary.read_only:
        text.append(" READ-ONLY ", style="bold reverse")
    for status in STATUS_ORDER:
        n = summary.counts.get(status, 0)
        if n:
            text.append(" ")
            text.append(f"{n} {status.value}", style=status_style(status, colour))
    if summary.waived:
        # As the reports say it ("2 fail, 30 pass; 1 waived"): counted, and accepted.
        text.append(f"; {summary.waived} waived", style=QUIET_LOOK.style(colour))
    done = sum(summary.counts.values())
    if summary.running:
        text.append(f"  running {summary.running}", style=RUNNING_LOOK.style(colour))
    elif done < summary.total:
        text.append(f"  {summary.total - done} not run", style=QUIET_LOOK.style(colour))
    if len(NAME) + 1 + text.cell_len <= width:
        text = Text.assemble((NAME, "bold"), " ", text, no_wrap=True, overflow="ellipsis")
    return text


def fix_progress(fixing: RunningAction, colour: bool = True) -> Text:
    """``/ fixing db.upgrade 1m05s  Running upgrade 0001 -> 0002``: alive, how long, what now."""
    elapsed = time.monotonic() - fixing.started
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{SPINNER[int(elapsed * 2) % len(SPINNER)]} ", style="bold")
    text.append(
        f" fixing {fixing.action_id} {elapsed_text(elapsed)} ", style=BUSY_LOOK.style(colour)
    )
    if fixing.last_line:
        text.append(f"  {' '.join(fixing.last_line.split())}")
    return text


def elapsed_text(seconds: float) -> str:
    """``45s``, ``2m05s``, ``1h02m``: a long upgrade's time must stay readable at a glance."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
