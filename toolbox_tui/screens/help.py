"""The help screen: every key, what the statuses mean, and where the headless mode is."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP_TEXT = """\
[b]Keys[/b]
  1-6      switch pane: Environment, Migrations, Integrations,
           Health, Security, Rollback
  up/down  move between checks          enter  open a check's detail
  r        re-run the selected check    R      re-run every check
  f        fix: run an action for the selected check
  /        filter the checks (esc clears)
  ctrl+p   command palette (every key is there too)
  ?        this help                    q      quit

[b]Statuses[/b]
  PASS   verified        WARN  works, but look at it
  FAIL   must be fixed before release
  ERROR  could not decide (timeout, crash): not a verdict
  SKIP   not applicable, or a check it needs did not pass
  MANUAL a person signs it off

[b]Actions[/b] show a preview first. Dangerous ones ask you to type the
action's id. Every action is written to the audit log. With --read-only,
actions are disabled.

Headless (CI): toolbox-tui check --format json|junit|text

Press esc or ? to close."""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 76;
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
            yield Static(HELP_TEXT)
