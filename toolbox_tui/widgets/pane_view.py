"""One pane of the dashboard: its table of checks, or a plain note when it has none yet or
when the filter leaves none of them.

The dashboard's first frame is drawn before the checks are registered (their modules load
after it): a pane starts with its table, empty, and says it has no checks only once
:meth:`PaneView.set_check_count` says so."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from checks.core import Pane
from toolbox_tui.board import Row
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
    PaneView > #no-match {
        display: none;
        padding: 1 2;
    }
    PaneView.-no-match > #no-match {
        display: block;
    }
    PaneView.-no-match > CheckTable {
        display: none;
    }
    PaneView > .empty, PaneView.-empty > CheckTable {
        display: none;
    }
    PaneView.-empty > .empty {
        display: block;
    }
    """

    def __init__(self, pane: Pane) -> None:
        super().__init__(id=f"view-{pane.id}")
        self.pane = pane

    def compose(self) -> ComposeResult:
        yield CheckTable(id=f"table-{self.pane.id}")
        yield Static(id="no-match")
        yield Static(
            f"No checks in {self.pane.title} yet.\n\n"
            "This part of the deployment checklist is not automated in this version; "
            "`toolbox-tui list` shows which items are covered.",
            classes="empty",
        )

    def set_check_count(self, count: int) -> None:
        """The pane's checks are known: none shows the note instead of the table."""
        self.set_class(not count, "-empty")

    @property
    def table(self) -> CheckTable | None:
        """The pane's table; None when the pane has no checks, or while the view is being
        mounted (its table is composed a moment after the view itself is there)."""
        if self.has_class("-empty"):
            return None
        return next(self.query(CheckTable).results(CheckTable), None)

    def show_rows(self, rows: list[Row], needle: str = "") -> None:
        """Show ``rows``; when the filter ``needle`` left none, say so instead of an empty
        table, and how to get the rows back."""
        table = self.table
        if table is None:
            self.remove_class("-no-match")  # no checks here: the note above says so
            return
        table.show_rows(rows)
        unmatched = bool(needle) and not rows
        if unmatched:
            # Text, not markup: the needle is whatever was typed.
            note = Text.assemble("No check matches ", (repr(needle), "bold"), "; esc clears.")
            self.query_one("#no-match", Static).update(note)
        self.set_class(unmatched, "-no-match")
