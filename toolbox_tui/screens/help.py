"""The help screen: every key, what the statuses mean, and where the headless mode is."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP_TEXT = """\
[b]Keys[/b]
  1-6     panes: Environment, Migrations, Integrations … Rollback
  ↑ ↓     move            enter  a check's detail, hint, fixes and log
  r       re-run it       R      re-run every check
  f       fix it: preview, then confirm
  /       filter checks   esc    clear the filter, close a screen
  ctrl+p  command palette: every key, and every fix by name
  ?       this help       q      quit

[b]Statuses[/b]
  PASS   verified         WARN   works, but look at it
  FAIL   must be fixed before release
  ERROR  could not decide (timeout, crash): not a verdict
  SKIP   not applicable, or a check it needs did not pass
  MANUAL a person signs it off

[b]Fixes[/b] show what they will change first. A dangerous one asks you to
type its id. Every fix is written to the audit log; --read-only turns
them all off. In CI: toolbox-tui check --format json|junit"""


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
            yield Static(HELP_TEXT)
