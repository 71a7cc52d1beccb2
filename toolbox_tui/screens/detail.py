"""A check's detail: message, hint, evidence, the actions that fix it, and its live log."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Log, Static

from checks.core import Action, CheckResult, CheckSpec
from toolbox_tui.board import Board
from toolbox_tui.widgets.fitting_footer import FittingFooter
from toolbox_tui.widgets.status import (
    DANGER_LOOK,
    QUIET_LOOK,
    duration_text,
    status_text,
    styled,
)


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
        # The filter lives on the dashboard: "/" goes back there to it (the app's "/ Filter"
        # would otherwise show in this footer and do nothing).
        Binding("slash", "filter", "Filter", show=False),
    ]

    def __init__(self, spec: CheckSpec, board: Board, actions: list[Action]) -> None:
        super().__init__()
        self.spec = spec
        self.board = board
        self._actions = actions

    @property
    def check_id(self) -> str:
        return self.spec.id

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="facts"):
            yield Static(id="headline")
            yield Static(id="body")
        yield Log(id="log", highlight=False, auto_scroll=True)
        yield FittingFooter(compact=True, expendable=("show_pane", "rerun_all"))

    def on_mount(self) -> None:
        # Read the board now, not when the screen was built: results may have landed since.
        self.refresh_facts()
        lines = self.board.logs.get(self.check_id, [])
        self.query_one(Log).write_lines(lines or ["(no log lines yet)"])

    def refresh_facts(self) -> None:
        if not self.query("#headline"):
            return  # not composed yet: on_mount will draw from the board
        result = self.board.results.get(self.check_id)
        running = self.check_id in self.board.running
        colour = not self.app.no_color
        headline = status_text(result.status if result else None, running, colour)
        headline.append(f"  {self.spec.title}", style="bold")
        headline.append(f"  {self.spec.id}", style=QUIET_LOOK.style(colour))
        if result is not None:
            headline.append(
                f"  {duration_text(result.duration_ms)}", style=QUIET_LOOK.style(colour)
            )
        self.query_one("#headline", Static).update(headline)
        self.query_one("#body", Static).update(self._body_markup(result, running))

    def append_log(self, line: str) -> None:
        logs = self.query(Log)
        # Before mount there is no Log yet; on_mount then reads the line from the board.
        if logs:
            logs.first().write_line(line)

    async def action_filter(self) -> None:
        app = self.app
        await app.pop_screen()
        await app.run_action("app.filter")

    def _body_markup(self, result: CheckResult | None, running: bool) -> str:
        if result is None:
            return "Running…" if running else "Not run yet. Press r to run it."
        parts = [escape(result.message)]
        if result.waived:
            parts.append(
                f"[b]Waived[/b] {escape(result.waiver)}. It keeps its status, and does not "
                "count against the release (exit codes, the release gate)."
            )
        if result.hint:
            parts.append(f"[b]What to do:[/b] {escape(result.hint)}")
        if result.evidence:
            parts.append("[b]Evidence[/b]")
            parts.extend(f"  {escape(k)}: {escape(v)}" for k, v in result.evidence.items())
        fixes = [a for a in self._actions if a.id in result.actions]
        colour = not self.app.no_color
        if fixes:
            parts.append("[b]Fix with f[/b]")
            badge = "  " + styled(" dangerous ", DANGER_LOOK.style(colour))
            for action in fixes:
                flag = badge if action.dangerous else ""
                parts.append(f"  {escape(action.title)} ({action.id}){flag}")
        if self.spec.checklist is not None:
            ref = self.spec.checklist
            where = f"Checklist: {escape(ref.section)} > {escape(ref.item)}"
            parts.append(styled(where, QUIET_LOOK.style(colour)))
        return "\n".join(parts)
