"""Signing off a manual check: what it covers, who signs, a note typed in, Enter records it.

The sign-off goes to the audit log through :func:`checks.signoffs.sign_off`, exactly as the
``signoff`` command writes it; a refusal (an unwritable audit log) shows in the dialog, which
stays open. Fits 60x20; the keyboard alone drives it (type, Enter, Esc).
"""

from __future__ import annotations

import asyncio

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from checks import audit, signoffs
from checks.context import CheckContext
from checks.core import CheckSpec, Registry
from toolbox_tui.widgets.status import QUIET_LOOK, styled

PROMPT = "Enter records it in the audit log; Esc cancels."


class SignoffScreen(ModalScreen[str | None]):
    """Dismisses with the check id once its sign-off is recorded, or None when cancelled."""

    DEFAULT_CSS = """
    SignoffScreen {
        align: center middle;
    }
    SignoffScreen > Vertical {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: heavy $primary;
        background: $surface;
        padding: 0 1;
    }
    SignoffScreen #title {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    SignoffScreen #covers, SignoffScreen #note {
        margin-top: 1;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, spec: CheckSpec, ctx: CheckContext, registry: Registry) -> None:
        super().__init__()
        self.spec = spec
        self.ctx = ctx
        self.registry = registry
        self._busy = False

    def compose(self) -> ComposeResult:
        spec = self.spec
        review = signoffs.REVIEWS.get(spec.id)
        covers = review.what if review is not None else spec.title
        days = signoffs.lasts_days(spec.id, self.ctx.config)
        quiet = QUIET_LOOK.style(not self.app.no_color)
        with Vertical():
            yield Static(
                f"[b]Sign off[/b] {escape(spec.title)}  " + styled(spec.id, quiet), id="title"
            )
            yield Static(f"You confirm that {escape(covers)}", id="covers")
            yield Static(
                f"Signed by you ({escape(audit.os_user())}); it counts for {days} days.",
                id="who",
            )
            yield Input(
                placeholder="note: what you checked, where the details are",
                max_length=signoffs.MAX_NOTE_CHARS,
                id="note",
            )
            yield Static(PROMPT, id="prompt")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._busy:
            return  # a second Enter while the first is being written
        self._busy = True
        try:
            recorded = await asyncio.to_thread(
                signoffs.sign_off, self.ctx, self.registry, self.spec.id, event.value
            )
        except signoffs.SignoffRefused as exc:
            self._say(f"[b]Not recorded:[/b] {escape(str(exc))}. Esc cancels.")
            return
        finally:
            self._busy = False
        self.app.notify(recorded.text(), title=recorded.check_id, markup=False)
        self.dismiss(recorded.check_id)

    def _say(self, markup: str) -> None:
        self.query_one("#prompt", Static).update(markup)

    def action_cancel(self) -> None:
        self.dismiss(None)
