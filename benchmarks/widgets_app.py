"""The dashboard's widgets without its logic: the anchor for its start and its keys.

A summary line, a TabbedContent of six panes each holding a DataTable (30 rows, the
dashboard's four columns), and a footer with the dashboard's keys; 1-6 switch panes, the
arrows move the table's cursor, ``q`` quits. It imports Textual only, so the pane titles
come from the command line (the benchmark passes the dashboard's own):

    python benchmarks/widgets_app.py Environment Migrations Health ...
"""

import sys

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

ROWS = 30
# The dashboard's columns and widths at 80 columns.
COLUMNS = (("Status", 6), ("Check", 22), ("Time", 5), ("Message", 33))
STATUSES = ("FAIL", "WARN", "PASS", "PASS", "SKIP")


def tab_label(key: str, title: str) -> str:
    return f"[b]{key}[/b]\u00a0{title}"


class WidgetsApp(App[None]):
    # The dashboard's layout: the tabs fill the screen between summary and footer.
    CSS = """
    #summary { height: 1; padding: 0 1; background: $panel; }
    TabbedContent, DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("1", "show_pane(1)", "Panes", key_display="1-6"),
        *(Binding(str(k), f"show_pane({k})", show=False) for k in range(2, 7)),
        # Keys that do nothing here, each its own action so the footer lists them all.
        *(
            Binding(key, f"nothing('{key}')", description)
            for key, description in (
                ("slash", "Filter"),
                ("r", "Re-run"),
                ("R", "All"),
                ("f", "Fix"),
                ("question_mark", "Help"),
            )
        ),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, titles: list[str]) -> None:
        super().__init__()
        self.titles = titles

    def compose(self) -> ComposeResult:
        yield Static(" 3 fail  4 warn  20 pass  1 manual", id="summary")
        with TabbedContent(initial="pane-1"):
            for key, title in enumerate(self.titles, start=1):
                with TabPane(tab_label(str(key), title), id=f"pane-{key}"):
                    yield DataTable(cursor_type="row", id=f"table-{key}")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        for key, title in enumerate(self.titles, start=1):
            table = self.query_one(f"#table-{key}", DataTable)
            for name, width in COLUMNS:
                table.add_column(name, width=width)
            for i in range(ROWS):
                table.add_row(
                    STATUSES[i % len(STATUSES)],
                    f"{title.lower()}.check-{i}",
                    f"{(i * 37) % 900}ms",
                    f"what check {i} of {title} found, in a sentence",
                )
        self.action_show_pane(1)

    def action_show_pane(self, key: int) -> None:
        self.query_one(TabbedContent).active = f"pane-{key}"
        self.query_one(f"#table-{key}", DataTable).focus()

    def action_nothing(self, key: str) -> None:
        pass


if __name__ == "__main__":
    WidgetsApp(sys.argv[1:] or ["Environment"]).run()
