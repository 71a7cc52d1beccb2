"""Confirming an action: its preview first, then Enter (safe) or the typed id (dangerous).

The title line (with the DANGEROUS badge), the prompt and the typed answer always show, down
to a 60x20 terminal; the preview takes the rows that are left and scrolls with the arrow
and page keys, even while the answer is being typed.
"""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.events import Key, Resize
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from checks.core import Action
from toolbox_tui.widgets.status import DANGER_LOOK, QUIET_LOOK, styled

PREVIEW_MAX_ROWS = 12


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
        max-height: 100%;
        border: heavy $warning;
        background: $surface;
        padding: 0 1;
    }
    ConfirmActionScreen.-safe > Vertical {
        border: heavy $primary;
    }
    ConfirmActionScreen #title {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    /* Its max-height is what the title and the prompt leave (see _fit_preview). */
    ConfirmActionScreen #preview {
        height: auto;
        min-height: 3;
        max-height: 12;
        border: round $panel-lighten-2;
        border-subtitle-color: $text;
    }
    ConfirmActionScreen #prompt {
        margin-top: 1;
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        # The typed answer has the focus; these keys mean nothing to it, so they scroll.
        Binding("up", "scroll_preview('up')", show=False),
        Binding("down", "scroll_preview('down')", show=False),
        Binding("pageup", "scroll_preview('page_up')", show=False),
        Binding("pagedown", "scroll_preview('page_down')", show=False),
    ]

    def __init__(self, action: Action, preview: str, refusal: str | None = None) -> None:
        super().__init__(classes="" if action.dangerous else "-safe")
        self.action_spec = action
        self.preview = preview
        self.refusal = refusal
        """Why the plan cannot run: then the dialog only shows it, and any key closes it."""
        self._shown_end = False

    @property
    def expected(self) -> str:
        """What must be typed: the action's id, which also names what will change."""
        return self.action_spec.id

    def compose(self) -> ComposeResult:
        action = self.action_spec
        colour = not self.app.no_color
        badge = styled(" DANGEROUS ", DANGER_LOOK.style(colour)) + " " if action.dangerous else ""
        title = f"{badge}[b]{escape(action.title)}[/b]  "
        with Vertical():
            yield Static(title + styled(action.id, QUIET_LOOK.style(colour)), id="title")
            with VerticalScroll(id="preview"):
                yield Static(escape(self.preview) or "(no preview)", id="preview-text")
            if self.refusal is not None:
                yield Static(self._refusal_prompt(), id="prompt")
            elif action.dangerous:
                yield Static(
                    f"Type [b]{escape(self.expected)}[/b] and press Enter to run it; Esc cancels.",
                    id="prompt",
                )
                yield Input(placeholder="type the action id here", id="typed")
            else:
                yield Static("Press Enter to run it; Esc cancels.", id="prompt")

    def _refusal_prompt(self) -> str:
        reason = self.refusal or ""
        # The refusal arrives as the plan said it; the preview is the redacted text. Quote it
        # only as the preview already shows it, never anything the redactor took out.
        if reason and reason in self.preview:
            said = reason.removeprefix("Refused: ")
            return f"[b]It cannot run now:[/b] {escape(said)}\nEsc closes."
        return "[b]It cannot run now[/b]: the reason ends the preview above. Esc closes."

    def on_mount(self) -> None:
        inputs = self.query(Input)
        if inputs:
            inputs.first().focus()
        self.call_after_refresh(self._fit_preview)

    def on_resize(self, event: Resize) -> None:
        self.call_after_refresh(self._fit_preview)

    def _fit_preview(self) -> None:
        """Give the preview the rows the rest of the dialog leaves on this screen (CSS cannot
        shrink one child of an auto-height box), then say how to scroll if it does not all
        show."""
        dialog = self.query_one(Vertical)
        preview = self.query_one("#preview", VerticalScroll)
        others = sum(
            child.outer_size.height + child.styles.margin.height
            for child in dialog.children
            if child is not preview
        )
        left = self.size.height - dialog.styles.gutter.height - others
        preview.styles.max_height = max(3, min(PREVIEW_MAX_ROWS, left))
        self.call_after_refresh(self._label_preview)

    def _label_preview(self) -> None:
        preview = self.query_one("#preview", VerticalScroll)
        more = preview.max_scroll_y > 0
        preview.border_subtitle = "↑↓ PgUp PgDn: more" if more else ""
        if more and self.refusal is not None and not self._shown_end:
            self._shown_end = True
            preview.scroll_end(animate=False)  # a plan's refusal is its last line

    def action_scroll_preview(self, how: str) -> None:
        preview = self.query_one("#preview", VerticalScroll)
        getattr(preview, f"scroll_{how}")(animate=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.expected:
            self.dismiss(True)
        else:
            self.query_one("#prompt", Static).update(
                f"[b]That is not it.[/b] Type [b]{escape(self.expected)}[/b] exactly; Esc cancels."
            )
            event.input.value = ""

    def on_key(self, event: Key) -> None:
        if event.key == "enter" and self.refusal is not None:
            event.stop()
            event.prevent_default()
            self.dismiss(False)
        elif event.key == "enter" and not self.action_spec.dangerous:
            # Stop it here, or the same Enter opens a check's detail on the screen below.
            event.stop()
            event.prevent_default()
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
