"""Choosing among several fixes for one check."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from checks.core import Action
from toolbox_tui.widgets.status import DANGER_LOOK


class PickActionScreen(ModalScreen[str | None]):
    """Dismisses with the chosen action's id, or None."""

    DEFAULT_CSS = """
    PickActionScreen {
        align: center middle;
    }
    PickActionScreen > Vertical {
        width: 70;
        max-width: 100%;
        height: auto;
        border: heavy $primary;
        background: $surface;
        padding: 0 1;
    }
    PickActionScreen OptionList {
        height: auto;
        max-height: 12;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, actions: list[Action]) -> None:
        super().__init__()
        self.choices = actions

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Which fix? (Enter picks, Esc cancels)")
            yield OptionList(*(Option(self._label(a), id=a.id) for a in self.choices))

    def _label(self, action: Action) -> Text:
        label = Text(action.title)
        if action.dangerous:
            # The same badge the confirmation shows, so the risky one stands out before it.
            label.append("  ")
            label.append(" dangerous ", style=DANGER_LOOK.style(not self.app.no_color))
        return label

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
