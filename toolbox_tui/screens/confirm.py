"""Confirming an action: its preview first, then Enter (safe) or the typed id (dangerous)."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from checks.core import Action


class ConfirmActionScreen(ModalScreen[bool]):
    """Dismisses with True only when the person confirmed the action as it asks."""

    DEFAULT_CSS = """
    ConfirmActionScreen {
        align: center middle;
    }
    ConfirmActionScreen > Vertical {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 22;
        border: heavy $warning;
        background: $surface;
        padding: 0 1;
    }
    ConfirmActionScreen.-safe > Vertical {
        border: heavy $primary;
    }
    ConfirmActionScreen #preview {
        height: auto;
        max-height: 12;
        border: round $panel-lighten-2;
    }
    ConfirmActionScreen #prompt {
        margin-top: 1;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, action: Action, preview: str) -> None:
        super().__init__(classes="" if action.dangerous else "-safe")
        self.action_spec = action
        self.preview = preview

    @property
    def expected(self) -> str:
        """What must be typed: the action's id, which also names what will change."""
        return self.action_spec.id

    def compose(self) -> ComposeResult:
        action = self.action_spec
        kind = "[reverse] DANGEROUS [/reverse] " if action.dangerous else ""
        with Vertical():
            yield Static(f"{kind}[b]{escape(action.title)}[/b]  [dim]{action.id}[/dim]")
            with VerticalScroll(id="preview"):
                yield Static(escape(self.preview) or "(no preview)", id="preview-text")
            if action.dangerous:
                yield Static(
                    f"Type [b]{escape(self.expected)}[/b] and press Enter to run it; Esc cancels.",
                    id="prompt",
                )
                yield Input(placeholder="type the action id here", id="typed")
            else:
                yield Static("Press Enter to run it; Esc cancels.", id="prompt")

    def on_mount(self) -> None:
        inputs = self.query(Input)
        if inputs:
            inputs.first().focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.expected:
            self.dismiss(True)
        else:
            self.query_one("#prompt", Static).update(
                f"[b]That is not it.[/b] Type [b]{escape(self.expected)}[/b] exactly; Esc cancels."
            )
            event.input.value = ""

    def on_key(self, event: Key) -> None:
        if event.key == "enter" and not self.action_spec.dangerous:
            # Stop it here, or the same Enter opens a check's detail on the screen below.
            event.stop()
            event.prevent_default()
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
