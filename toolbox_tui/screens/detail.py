"""A check's detail: message, hint, evidence, the actions that fix it, and its live log."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

from checks.core import Action, CheckResult, CheckSpec
from toolbox_tui.widgets.status import duration_text, status_text


class CheckDetailScreen(Screen[None]):
    DEFAULT_CSS = """
    CheckDetailScreen #facts {
        height: auto;
        max-height: 60%;
        padding: 0 1;
        border-bottom: solid $primary;
    }
    CheckDetailScreen #log {
        height: 1fr;
    }
    CheckDetailScreen .heading {
        text-style: bold;
    }
    """

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("f", "app.fix", "Fix"),
        Binding("r", "app.rerun", "Re-run"),
        Binding("?", "app.help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(
        self,
        spec: CheckSpec,
        result: CheckResult | None,
        actions: list[Action],
        log_lines: list[str],
        running: bool,
    ) -> None:
        super().__init__()
        self.spec = spec
        self._result = result
        self._actions = actions
        self._log_lines = list(log_lines)
        self._running = running

    @property
    def check_id(self) -> str:
        return self.spec.id

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="facts"):
            yield Static(id="headline")
            yield Static(id="body")
        yield Log(id="log", highlight=False, auto_scroll=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._render_facts()
        self.query_one(Log).write_lines(self._log_lines or ["(no log lines yet)"])

    def show_result(self, result: CheckResult | None, running: bool) -> None:
        self._result, self._running = result, running
        self._render_facts()

    def append_log(self, line: str) -> None:
        self.query_one(Log).write_line(line)

    def _render_facts(self) -> None:
        result = self._result
        headline = status_text(result.status if result else None, self._running)
        headline.append(f"  {self.spec.title}", style="bold")
        headline.append(f"  {self.spec.id}", style="dim")
        if result is not None:
            headline.append(f"  {duration_text(result.duration_ms)}", style="dim")
        self.query_one("#headline", Static).update(headline)
        self.query_one("#body", Static).update(self._body_markup(result))

    def _body_markup(self, result: CheckResult | None) -> str:
        if result is None:
            return "Running…" if self._running else "Not run yet. Press r to run it."
        parts = [escape(result.message)]
        if result.hint:
            parts.append(f"[b]What to do:[/b] {escape(result.hint)}")
        if result.evidence:
            parts.append("[b]Evidence[/b]")
            parts.extend(f"  {escape(k)}: {escape(v)}" for k, v in result.evidence.items())
        fixes = [a for a in self._actions if a.id in result.actions]
        if fixes:
            parts.append("[b]Fix with f[/b]")
            for action in fixes:
                flag = "  [reverse] dangerous [/reverse]" if action.dangerous else ""
                parts.append(f"  {escape(action.title)} ({action.id}){flag}")
        if self.spec.checklist is not None:
            ref = self.spec.checklist
            parts.append(f"[dim]Checklist: {escape(ref.section)} › {escape(ref.item)}[/dim]")
        return "\n".join(parts)
