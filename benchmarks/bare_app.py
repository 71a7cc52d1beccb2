"""The bare Textual app the dashboard's start and quit are measured against.

Run as a script (``python benchmarks/bare_app.py``) so that it imports Textual and nothing
else: one line of text, and ``q`` quits as it does in the dashboard.
"""

from textual.app import App, ComposeResult
from textual.widgets import Static

TEXT = "bare Textual app"


class BareApp(App[None]):
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Static(TEXT)


if __name__ == "__main__":
    BareApp().run()
