"""The one-line bar on top: counts per status, what is running, and read-only mode."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from checks.core import STATUS_ORDER, Status
from toolbox_tui.widgets.status import STATUS_STYLES


class SummaryBar(Static):
    DEFAULT_CSS = """
    SummaryBar {
        height: 1;
        background: $panel;
        padding: 0 1;
    }
    """

    def show(self, counts: dict[Status, int], running: int, total: int, read_only: bool) -> None:
        text = Text()
        text.append("toolbox-tui ", style="bold")
        for status in STATUS_ORDER:
            n = counts.get(status, 0)
            if n:
                text.append(f" {n} {status.value}", style=STATUS_STYLES[status])
        done = sum(counts.values())
        if running:
            text.append(f"  running {running}", style="bold blue")
        elif done < total:
            text.append(f"  {total - done} not run", style="dim")
        if read_only:
            text.append("  READ-ONLY", style="bold reverse")
        self.update(text)
