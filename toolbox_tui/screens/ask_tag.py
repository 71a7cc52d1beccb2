"""Asked before a release runbook opens: which release tag to release.

The answer starts as the newest release tag newer than the deployed one, so Enter is enough
for the usual release; the dialog says what is deployed and which tags there are.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from checks.context import CheckContext

SHOWN_TAGS = 8  # the newest ones; older tags can still be typed


@dataclass(frozen=True)
class ReleaseChoice:
    deployed: str
    """HEAD as a person reads it: "v1.4.0", "v1.4.0+3 (abc1234)", "abc1234"."""
    tags: tuple[str, ...]
    """Every release tag, oldest version first."""
    newer: tuple[str, ...]
    """The release tags after the newest one HEAD contains, oldest version first."""

    @property
    def suggested(self) -> str:
        return self.newer[-1] if self.newer else ""


async def release_choice(ctx: CheckContext) -> ReleaseChoice:
    """What the app directory's git repository says; CheckFailed when it is none."""
    from checks.rollback.releases import repository

    repo = await repository(ctx)
    tags = await repo.release_tags()
    contained = [tag for tag in tags if await repo.is_ancestor(tag)]
    newer = tags[tags.index(contained[-1]) + 1 :] if contained else tags
    return ReleaseChoice(await repo.describe_head(), tuple(tags), tuple(newer))


class AskTagScreen(ModalScreen[str | None]):
    """Dismisses with a release tag of the repository, or None (Esc)."""

    DEFAULT_CSS = """
    AskTagScreen {
        align: center middle;
    }
    AskTagScreen > Vertical {
        width: 64;
        max-width: 100%;
        height: auto;
        border: heavy $primary;
        background: $surface;
        padding: 0 1;
    }
    AskTagScreen #prompt {
        margin-top: 1;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, choice: ReleaseChoice) -> None:
        super().__init__()
        self.choice = choice

    def compose(self) -> ComposeResult:
        choice = self.choice
        with Vertical():
            yield Static("[b]Release which tag?[/b]", id="title")
            yield Static(self._facts(), id="facts")
            yield Input(value=choice.suggested, placeholder="a release tag, like v1.5.0", id="tag")
            yield Static("Enter shows its steps (nothing runs yet); Esc cancels.", id="prompt")

    def _facts(self) -> str:
        choice = self.choice
        tags = list(choice.tags[-SHOWN_TAGS:])
        listed = ", ".join(tags) if tags else "none"
        if len(choice.tags) > len(tags):
            listed = f"…, {listed}"
        lines = [f"Deployed: [b]{escape(choice.deployed)}[/b]", f"Release tags: {escape(listed)}"]
        if not choice.newer:
            lines.append("No release tag is newer than the deployed one.")
        return "\n".join(lines)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        tag = event.value.strip()
        if tag in self.choice.tags:
            self.dismiss(tag)
            return
        said = f"[b]{escape(tag)}[/b] is not" if tag else "That is not"
        self.query_one("#prompt", Static).update(
            f"{said} a release tag here; type one of those above. Esc cancels."
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
