"""Asked when quitting while a fix runs: wait for it, interrupt it, or keep working.

Each choice's key stands in a column of its own, its explanation wrapping beside it, so the
three keys are found at a glance at 60 columns too; the fix's running time stays live.
"""

from __future__ import annotations

import time
from typing import Literal

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from toolbox_tui.board import RunningAction
from toolbox_tui.widgets.summary_bar import elapsed_text

QuitChoice = Literal["wait", "interrupt"]


class QuitWhileFixingScreen(ModalScreen[QuitChoice | None]):
    """Dismisses with "wait", "interrupt", or None to keep working."""

    DEFAULT_CSS = """
    QuitWhileFixingScreen {
        align: center middle;
    }
    QuitWhileFixingScreen > Vertical {
        width: 64;
        max-width: 100%;
        height: auto;
        border: heavy $warning;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    QuitWhileFixingScreen #running {
        margin-bottom: 1;
    }
    """

    BINDINGS = [
        Binding("w", "choose('wait')", "Wait, then quit"),
        Binding("i", "choose('interrupt')", "Interrupt and quit"),
        Binding("escape", "choose(None)", "Keep working"),
    ]

    def __init__(self, running: RunningAction) -> None:
        super().__init__()
        self.running = running

    def compose(self) -> ComposeResult:
        choices = Table.grid(padding=(0, 2, 0, 0))
        choices.add_column(no_wrap=True, style="bold")
        choices.add_column(ratio=1)
        choices.add_row("w", "wait for it to finish, then quit")
        choices.add_row(
            "i",
            "interrupt it and quit: it stops as cleanly as it can (a database upgrade rolls "
            "back), and the audit log records what it had done",
        )
        choices.add_row("esc", "keep working")
        dialog = Vertical()
        dialog.border_title = "Quit? A fix is running"
        with dialog:
            yield Static(self._running_line(), id="running")
            yield Static(choices)

    def on_mount(self) -> None:
        self.set_interval(1, self._tick)

    def _tick(self) -> None:
        self.query_one("#running", Static).update(self._running_line())

    def _running_line(self) -> Text:
        elapsed = elapsed_text(time.monotonic() - self.running.started)
        return Text.assemble((self.running.title, "bold"), f" has run for {elapsed}.")

    def action_choose(self, choice: QuitChoice | None) -> None:
        self.dismiss(choice)
