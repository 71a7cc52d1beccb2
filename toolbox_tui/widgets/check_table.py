"""A pane's table of checks: status, title, duration and message, one row per check."""

from __future__ import annotations

from textual.binding import Binding
from textual.events import Resize
from textual.widgets import DataTable

from toolbox_tui.board import Row
from toolbox_tui.widgets.status import duration_text, status_text

_FIXED_WIDTH = 6 + 24 + 6 + 4 * 2 + 2  # three fixed columns, cell padding, scrollbar


class CheckTable(DataTable[object]):
    """Rows are keyed by check id, so the app can tell which check is selected."""

    BINDINGS = [Binding("enter", "select_cursor", "Detail")]

    DEFAULT_CSS = """
    CheckTable {
        height: 1fr;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._rows: list[Row] = []

    def on_mount(self) -> None:
        self.add_column("Status", key="status", width=6)
        self.add_column("Check", key="check", width=24)
        self.add_column("Time", key="time", width=6)
        self.add_column("Message", key="message")

    def on_resize(self, event: Resize) -> None:
        # Messages are cut to the screen's width so a table never scrolls sideways.
        self.show_rows(self._rows)

    def show_rows(self, rows: list[Row]) -> None:
        """Redraw from ``rows``, keeping the cursor on the same check where it still shows."""
        selected = self.selected_id
        self._rows = rows
        self.clear()
        for row in rows:
            self.add_row(*self._cells(row), key=row.id)
        ids = [row.id for row in rows]
        if selected in ids:
            self.move_cursor(row=ids.index(selected), animate=False)

    def update_row(self, row: Row) -> None:
        """Refresh one check's row in place (cheap: no redraw of the others)."""
        ids = [r.id for r in self._rows]
        if row.id not in ids:
            return
        self._rows[ids.index(row.id)] = row
        for column, value in zip(("status", "check", "time", "message"), self._cells(row), strict=True):
            self.update_cell(row.id, column, value)

    def _cells(self, row: Row) -> tuple[object, ...]:
        width = max(self.size.width - _FIXED_WIDTH, 20)
        message = row.message if len(row.message) <= width else row.message[: width - 1] + "…"
        return (
            status_text(row.status, row.running),
            row.title,
            duration_text(row.duration_ms),
            message,
        )

    @property
    def selected_id(self) -> str | None:
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value
