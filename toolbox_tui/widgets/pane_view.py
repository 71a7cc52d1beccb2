"""One pane of the dashboard: its table of checks, or a plain note when it has none yet."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from checks.core import Pane
from toolbox_tui.widgets.check_table import CheckTable


class PaneView(Vertical):
    DEFAULT_CSS = """
    PaneView {
        height: 1fr;
    }
    PaneView > .empty {
        padding: 1 2;
        color: $text-muted;
    }
    """

    def __init__(self, pane: Pane, check_count: int) -> None:
        super().__init__(id=f"view-{pane.id}")
        self.pane = pane
        self.check_count = check_count

    def compose(self) -> ComposeResult:
        if self.check_count:
            yield CheckTable(id=f"table-{self.pane.id}")
        else:
            yield Static(
                f"No checks in {self.pane.title} yet.\n\n"
                "This part of the deployment checklist is not automated in this version; "
                "`toolbox-tui list` shows which items are covered.",
                classes="empty",
            )

    @property
    def table(self) -> CheckTable | None:
        tables = self.query(CheckTable)
        return tables.first() if tables else None
