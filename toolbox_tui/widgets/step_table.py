"""A runbook's steps, one row each: its state (a glyph and a word), its title, its message.

The word carries the state without colour (``NO_COLOR``, a 16-colour terminal, a screen
reader); the looks come from :mod:`toolbox_tui.widgets.status`, so "failed" looks like FAIL
and "done" like PASS. The next step to run shows "next" instead of "pending".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.events import Resize
from textual.widgets import DataTable

from checks.core import Status
from checks.runbooks.model import StepState, StepStatus
from toolbox_tui.widgets.check_table import CELL_PADDING, cut
from toolbox_tui.widgets.status import QUIET_LOOK, RUNNING_LOOK, STATUS_LOOKS, Look

# (glyph, look) per state; the glyph stands before the state's own word.
STATE_LOOKS: dict[StepState, tuple[str, Look]] = {
    StepState.PENDING: ("·", QUIET_LOOK),
    StepState.RUNNING: ("▸", RUNNING_LOOK),
    StepState.DONE: ("✓", STATUS_LOOKS[Status.PASS]),
    StepState.FAILED: ("✗", STATUS_LOOKS[Status.FAIL]),
    StepState.SKIPPED: ("-", QUIET_LOOK),
    StepState.CUT_OFF: ("✂", STATUS_LOOKS[Status.WARN]),
}
NEXT_LOOK = Look("bold", "bold")
"""The step that runs next: the screen's own text colour, bold (it is neither good nor bad)."""
STATE_WIDTH = max(len(state.value) for state in StepState) + 2  # "✂ cut off"
TITLE_MAX = 30
MESSAGE_MIN = 12


def state_text(state: StepState, *, is_next: bool = False, colour: bool = True) -> Text:
    """``✓ done``, ``✗ failed``...; ``→ next`` for the pending step that runs next."""
    if is_next and state is StepState.PENDING:
        return Text("→ next", style=NEXT_LOOK.style(colour))
    glyph, look = STATE_LOOKS[state]
    return Text(f"{glyph} {state.value}", style=look.style(colour))


class StepTable(DataTable[object]):
    """Rows keyed by step id. Not focusable: there is nothing to pick, only to read."""

    DEFAULT_CSS = """
    StepTable {
        height: auto;
        max-height: 12;
    }
    """

    can_focus = False

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="none", show_header=False, **kwargs)  # type: ignore[arg-type]
        self._statuses: list[StepStatus] = []
        self._next: str | None = None
        self._running_line = ""
        self._displayed: Callable[[str], str] = str

    def on_resize(self, event: Resize) -> None:
        self.show(self._statuses, self._next, self._running_line, self._displayed)

    def show(
        self,
        statuses: Sequence[StepStatus],
        next_id: str | None,
        running_line: str = "",
        displayed: Callable[[str], str] = str,
    ) -> None:
        """Draw ``statuses``; ``next_id`` is the step that runs next; the running step's
        message is ``running_line`` (its latest log line), so the table shows it moving.
        ``displayed``: what of a message reaches the screen (see RunbookScreen.displayed)."""
        self._statuses = list(statuses)
        self._next = next_id
        self._running_line = running_line
        self._displayed = displayed
        title_width, message_width = self._widths()
        self.clear(columns=True)
        self.add_column("State", key="state", width=STATE_WIDTH)
        self.add_column("Step", key="step", width=title_width)
        self.add_column("Message", key="message", width=message_width)
        colour = not self.app.no_color
        for status in self._statuses:
            running = status.state is StepState.RUNNING
            message = running_line if running and running_line else displayed(status.message)
            # Text, not str: a DataTable reads strings as markup, and log lines are not.
            self.add_row(
                state_text(status.state, is_next=status.step.id == next_id, colour=colour),
                Text(cut(status.step.title, title_width)),
                Text(cut(message, message_width)),
                key=status.step.id,
            )

    def _widths(self) -> tuple[int, int]:
        """The title column as wide as the longest title (up to TITLE_MAX); the message
        takes the rest, so nothing scrolls sideways."""
        longest = max((len(s.step.title) for s in self._statuses), default=TITLE_MAX)
        title = min(longest, TITLE_MAX)
        free = self.size.width - STATE_WIDTH - title - 3 * CELL_PADDING
        return title, max(free, MESSAGE_MIN)
