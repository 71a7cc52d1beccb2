"""The dashboard: summary bar, one tab per pane, a filter line and the footer.

It renders the app's :class:`~toolbox_tui.board.Board`; the app tells it which check
changed, and it redraws that check's pane (rows are sorted worst first, so one new
status can move rows).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, TabbedContent, TabPane

from checks.core import PANES, Pane
from toolbox_tui.board import Board
from toolbox_tui.widgets.check_table import CheckTable
from toolbox_tui.widgets.pane_view import PaneView
from toolbox_tui.widgets.status import STATUS_STYLES
from toolbox_tui.widgets.summary_bar import SummaryBar


class DashboardScreen(Screen[None]):
    DEFAULT_CSS = """
    DashboardScreen #filter {
        display: none;
        height: 1;
        border: none;
        padding: 0 1;
        background: $boost;
    }
    DashboardScreen #filter.-active {
        display: block;
    }
    DashboardScreen TabbedContent {
        height: 1fr;
    }
    """

    BINDINGS = [Binding("escape", "clear_filter", "Clear filter", show=False)]

    def __init__(self, board: Board, read_only: bool) -> None:
        super().__init__()
        self.board = board
        self.read_only = read_only
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield SummaryBar()
        with TabbedContent(initial=PANES[0].id):
            for pane in PANES:
                count = sum(1 for spec in self.board.specs.values() if spec.pane == pane.id)
                with TabPane(_tab_label(pane), id=pane.id):
                    yield PaneView(pane, count)
        yield Input(placeholder="filter: type to narrow the checks, esc clears", id="filter")
        yield Footer(compact=True)

    class Ready(Message):
        """The dashboard is drawn: results may start arriving."""

    def on_mount(self) -> None:
        self.redraw()
        self.show_pane(PANES[0].id)
        self.post_message(self.Ready())

    # -- rendering -------------------------------------------------------------------

    def redraw(self) -> None:
        for pane in PANES:
            table = self._table(pane.id)
            if table is not None:
                table.show_rows(self.board.rows(pane.id, self.filter_text))
            self._update_tab(pane)
        self.refresh_summary()

    def refresh_check(self, check_id: str) -> None:
        spec = self.board.specs.get(check_id)
        if spec is None:
            return
        table = self._table(spec.pane)
        if table is not None:
            # A new status may move the row (worst first), so the pane is redrawn whole.
            table.show_rows(self.board.rows(spec.pane, self.filter_text))
        self._update_tab(next(p for p in PANES if p.id == spec.pane))
        self.refresh_summary()

    def refresh_summary(self) -> None:
        self.query_one(SummaryBar).show(
            self.board.counts(), len(self.board.running), len(self.board.specs), self.read_only
        )

    def _update_tab(self, pane: Pane) -> None:
        # The tab's colour tells a pane's worst status without opening it.
        tab = self.query_one(TabbedContent).get_tab(pane.id)
        status = self.board.pane_status(pane.id)
        tab.label = _tab_label(pane, STATUS_STYLES[status] if status else "")

    # -- what the app asks of it -----------------------------------------------------

    @property
    def active_pane(self) -> str:
        return self.query_one(TabbedContent).active

    def show_pane(self, pane_id: str) -> None:
        self.query_one(TabbedContent).active = pane_id
        table = self._table(pane_id)
        if table is not None:
            table.focus()

    @property
    def selected_check(self) -> str | None:
        table = self._table(self.active_pane)
        return table.selected_id if table is not None else None

    def open_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-active")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("-active")
        self.show_pane(self.active_pane)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.redraw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.show_pane(self.active_pane)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # This arrives after the key that switched panes; if "/" came in between, the filter
        # box has the focus and must keep it, or the typed letters would act as keys.
        if isinstance(self.focused, Input):
            return
        table = self._table(self.active_pane)
        if table is not None:
            table.focus()

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        await self.app.run_action("detail")

    def _table(self, pane_id: str) -> CheckTable | None:
        return self.query_one(f"#view-{pane_id}", PaneView).table


def _tab_label(pane: Pane, style: str = "") -> str:
    title = f"[{style}]{pane.title}[/]" if style else pane.title
    return f"[b]{pane.key}[/b]\u00a0{title}"
