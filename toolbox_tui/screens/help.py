"""The help screen: every key, what the statuses mean, and where the headless mode is."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from checks.core import Status
from toolbox_tui.widgets.status import status_text

# (key, what it does) twice per row; the grid wraps a long description under itself.
KEYS: tuple[tuple[str, str, str, str], ...] = (
    ("1-6", "the panes, as on the tabs", "?", "this help"),
    ("↑ ↓", "move", "enter", "detail: hint, fixes, log"),
    ("r", "re-run it", "R", "re-run every check"),
    ("f", "fix: preview, then confirm", "q", "quit"),
    ("/", "filter the checks", "esc", "clear the filter, go back"),
    ("w", "watch the pane (w: stop)", "s", "sign off a manual check"),
    ("D", "release, step by step", "B", "roll back, step by step"),
    ("ctrl+p", "palette: every key and fix", "p", "report to a file (APP_DIR)"),
)
KEY_WIDTH = 6  # "ctrl+p", "MANUAL": both grids get the same columns
MEANINGS: dict[Status, str] = {
    Status.PASS: "verified",
    Status.WARN: "works, but look at it",
    Status.FAIL: "must be fixed before release",
    Status.ERROR: "could not decide (timeout, crash): not a verdict",
    Status.SKIP: "not applicable, or a check it needs did not pass",
    Status.MANUAL: "a person signs it off",
}
FIXES = (
    "[b]Fixes[/b] show what they will change first. A dangerous one asks you to type its "
    "id. Every fix is written to the audit log; --read-only turns them all off. "
    "In CI: toolbox-tui check --format json|junit"
)


def _grid(rows: Sequence[tuple[Text | str, ...]]) -> Table:
    grid = Table.grid(padding=(0, 2, 0, 0), expand=True)
    for _ in range(2):
        grid.add_column(no_wrap=True, min_width=KEY_WIDTH)
        grid.add_column(ratio=1)
    for row in rows:
        grid.add_row(*row)
    return grid


def help_body(colour: bool = True) -> Group:
    """Keys, then each status word in its own look with its meaning, then how fixes work."""
    keys = [(Text(k1, style="bold"), d1, Text(k2, style="bold"), d2) for k1, d1, k2, d2 in KEYS]
    words = [status_text(status, colour=colour) for status in MEANINGS]
    meanings = list(MEANINGS.values())
    statuses = [
        (words[i], meanings[i], words[i + 1], meanings[i + 1]) for i in range(0, len(words), 2)
    ]
    return Group(
        Text("Keys", style="bold"),
        _grid(keys),
        "",
        Text("Statuses", style="bold"),
        _grid(statuses),
        "",
        Text.from_markup(FIXES),
    )


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 78;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: heavy $primary;
        background: $surface;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Close"),
        Binding("question_mark", "app.pop_screen", "Close"),
        Binding("q", "app.pop_screen", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(help_body(colour=not self.app.no_color))
