"""A pane's table of checks: status, title, duration and message, one row per check; and,
while watch mode is on, each check's trend after its status. A waived row is quiet (grey, the
status word without its alarm) and its message starts with "waived": shown, never hidden."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.binding import Binding
from textual.events import Resize
from textual.widgets import DataTable

from toolbox_tui.board import Row
from toolbox_tui.widgets.status import QUIET_LOOK, duration_text, status_text

STATUS_WIDTH = 6
TIME_WIDTH = 5
CELL_PADDING = 2  # one space each side of every cell
SCROLLBAR = 2
WAIVED_MARK = "waived · "
COLUMNS = ("status", "check", "time", "message")
WATCH_COLUMNS = ("status", "trend", "check", "time", "message")


class CheckTable(DataTable[object]):
    """Rows are keyed by check id, so the app can tell which check is selected."""

    BINDINGS = [Binding("enter", "select_cursor", "Detail")]

    DEFAULT_CSS = """
    CheckTable {
        height: 1fr;
    }
    /* The theme's cursor blue becomes cyan in 16 colours, where white on it barely reads;
       this blue stays blue (ANSI 4) there and looks the same elsewhere. */
    CheckTable:focus > .datatable--cursor {
        background: #0055b3;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._rows: list[Row] = []
        self._drawn_widths: tuple[int, int] | None = None
        self._trends: Callable[[str], Text] | None = None
        self._trend_cells: dict[str, str] = {}
        self._width_hint = 0

    def on_mount(self) -> None:
        # A pane's table mounted while another is on screen (just after the first frame) is
        # as wide as that one: its rows are cut to that width from the start.
        # (region: where it is on screen now; a hidden table keeps its last size.)
        shown = [table.region.width for table in self.screen.query(CheckTable)]
        if any(shown):
            self._width_hint = max(shown)

    def on_resize(self, event: Resize) -> None:
        self.show_rows(self._rows)  # laid out again only if the columns' widths changed
        # The dashboard's panes are all as wide: the hidden ones' tables are laid out at this
        # width now, after this frame, so that showing one (a tab key) does not lay it out
        # again before the tab can be drawn.
        if event.size.width:
            self.call_after_refresh(self._lay_out_hidden_tables, event.size.width)

    def _lay_out_hidden_tables(self, width: int) -> None:
        for table in self.screen.query(CheckTable):
            if table is not self and not table.size.width and table._width_hint != width:
                table._width_hint = width
                table.show_rows(table._rows)

    def show_trends(self, trends: Callable[[str], Text] | None) -> None:
        """Watch mode: a Trend column after Status, each cell ``trends(check_id)``; None
        takes the column away again, and the table looks as it did before."""
        self._trends = trends
        self._trend_cells = {}
        self._drawn_widths = None  # the columns must be laid out again
        self.show_rows(self._rows)

    def _columns(self) -> tuple[str, ...]:
        return COLUMNS if self._trends is None else WATCH_COLUMNS

    def _widths(self) -> tuple[int, int]:
        """Check-title and message widths that fill the table without sideways scrolling;
        while hidden, as wide as the table on screen."""
        width = self.size.width or self._width_hint
        free = width - STATUS_WIDTH - TIME_WIDTH - 4 * CELL_PADDING - SCROLLBAR
        if self._trends is not None:
            free -= _trend_width() + CELL_PADDING
        title = max(min(free * 2 // 5, 34), 12)
        return title, max(free - title, 10)

    def show_rows(self, rows: list[Row]) -> None:
        """Show ``rows``: the rows that changed are updated in place; the table is laid out
        again only when the order of the rows or the width changed.

        A cursor on the top row stays on top (the worst check, as rows re-sort while results
        arrive); a cursor the person moved down stays on the check it was on.
        """
        widths = self._widths()
        if widths == self._drawn_widths and [r.id for r in rows] == [r.id for r in self._rows]:
            for old, new in zip(self._rows, rows, strict=True):
                if old != new:
                    for column, cell in zip(self._columns(), self._cells(new), strict=True):
                        self.update_cell(new.id, column, cell)
                elif self._trends is not None:
                    self._update_trend(new.id)  # a new result may leave the row as it was
            self._rows = rows
            return
        self._drawn_widths = widths
        selected = self.selected_id if self.cursor_row > 0 else None
        self._rows = rows
        self.clear(columns=True)
        title_width, message_width = widths
        self.add_column("Status", key="status", width=STATUS_WIDTH)
        if self._trends is not None:
            self.add_column("Trend", key="trend", width=_trend_width())
        self.add_column("Check", key="check", width=title_width)
        self.add_column("Time", key="time", width=TIME_WIDTH)
        self.add_column("Message", key="message", width=message_width)
        for row in rows:
            self.add_row(*self._cells(row), key=row.id)
        ids = [row.id for row in rows]
        if selected in ids:
            self.move_cursor(row=ids.index(selected), animate=False)

    def _cells(self, row: Row) -> tuple[object, ...]:
        title_width, message_width = self._widths()
        colour = not self.app.no_color
        # Text, not str: a DataTable reads strings as markup, and messages quote env values.
        status = status_text(row.status, row.running, colour=colour)
        message = row.message
        quiet = ""
        if row.waiver and not row.running:
            # Dimmed by colour where there is colour, and by the word everywhere.
            quiet = QUIET_LOOK.style(colour)
            status = Text(status.plain, style=quiet)
            message = WAIVED_MARK + message
        rest = (
            Text(cut(row.title, title_width), style=quiet),
            Text(duration_text(row.duration_ms), style=quiet),
            Text(cut(message, message_width), style=quiet),
        )
        if self._trends is None:
            return (status, *rest)
        return (status, self._trend(row.id), *rest)

    def _trend(self, check_id: str) -> Text:
        assert self._trends is not None
        cell = self._trends(check_id)
        self._trend_cells[check_id] = cell.plain
        return cell

    def _update_trend(self, check_id: str) -> None:
        assert self._trends is not None
        cell = self._trends(check_id)
        if self._trend_cells.get(check_id) != cell.plain:  # one mark per status: plain will do
            self._trend_cells[check_id] = cell.plain
            self.update_cell(check_id, "trend", cell)

    @property
    def selected_id(self) -> str | None:
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value


def cut(text: str, width: int) -> str:
    """One line of at most ``width`` characters, with an ellipsis when something was cut."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _trend_width() -> int:
    # Trends show in watch mode only, which has loaded its model by then; the first frame
    # need not wait for it.
    from checks.watch import TREND_WIDTH

    return TREND_WIDTH
