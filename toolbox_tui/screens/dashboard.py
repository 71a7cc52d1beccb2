"""The dashboard: summary bar, one tab per pane, a filter line and the footer.

It renders the app's :class:`~toolbox_tui.board.Board`; the app tells it which check
changed, and it redraws that check's pane (rows are sorted worst first, so one new
status can move rows). Tab labels shrink to fit a narrow terminal, the active one last.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, TabbedContent, TabPane

from checks.core import PANES, Pane
from toolbox_tui.board import Board
from toolbox_tui.widgets.check_table import CheckTable
from toolbox_tui.widgets.pane_view import PaneView
from toolbox_tui.widgets.status import status_style, styled
from toolbox_tui.widgets.summary_bar import SummaryBar

TAB_PADDING = 2  # a Tab's padding, one cell each side of its label
# The tabs already show the number keys, and "R" is rarely the key a narrow screen needs.
EXPENDABLE_KEYS = ("show_pane", "rerun_all")
ROLLBACK_PANE = "rollback"


class DashboardScreen(Screen[None]):
    DEFAULT_CSS = """
    DashboardScreen #filter {
        display: none;
        height: 1;
        border: none;
        padding: 0 1;
        background: $boost;
    }
    DashboardScreen #filter.-active {
        display: block;
    }
    DashboardScreen TabbedContent {
        height: 1fr;
    }
    """

    BINDINGS = [
        Binding("escape", "clear_filter", "Clear filter"),
        # The app binds "/" too; here it is a priority binding, handled the moment the key
        # arrives, so letters typed fast behind it are sent to the filter box it focuses
        # instead of to the table (where "f" would be taken for Fix, or lost).
        Binding("slash", "filter", "Filter", priority=True),
        # The runbooks, in the Rollback pane's footer; elsewhere the app's hidden D and B.
        Binding("D", "runbook('release')", "Release"),
        Binding("B", "runbook('rollback')", "Rollback"),
    ]

    def __init__(self, board: Board, read_only: bool) -> None:
        super().__init__()
        self.board = board
        self.read_only = read_only
        self.filter_text = ""
        self._tab_labels: dict[str, str] = {}
        self._chosen_pane = PANES[0].id
        """The pane last asked for (a key, a click), shown again once the panes are mounted."""
        self._all_mounted = False
        self._stale_panes: set[str] = set()
        """Panes with results not drawn yet (see refresh_check)."""

    def compose(self) -> ComposeResult:
        yield SummaryBar()
        with TabbedContent(initial=PANES[0].id):
            for pane in PANES:
                # Noted as drawn, so that the first redraw relabels only what it changes.
                label = self._tab_labels[pane.id] = _tab_label(pane)
                with TabPane(label, id=pane.id):
                    # The other panes' views are mounted just after the first frame: five
                    # tables it would not show cost it ~0.2 s (see _mount_the_rest).
                    if pane is PANES[0]:
                        yield PaneView(pane)
        yield Input(placeholder="filter: type to narrow the checks, esc clears", id="filter")

    class Ready(Message):
        """The dashboard is drawn: results may start arriving."""

    def on_mount(self) -> None:
        if self.board.specs:
            self._count_checks()
        self.redraw()
        self.show_pane(PANES[0].id)
        # After the first frame is on the screen: starting the checks (and the imports they
        # bring) must not delay it.
        self.call_after_refresh(self.post_message, self.Ready())
        self.call_after_refresh(self._mount_the_rest)

    async def _mount_the_rest(self) -> None:
        """The footer and the hidden panes' views, once the first frame is on the screen."""
        # A footer's keys come with the screen's first bindings update, after the first
        # frame, whose footer row was blank. Mounted now, the keys come as soon, and its
        # styles (~15 ms) no longer delay the frame; meanwhile the empty table has that row.
        # Its module (Textual's Footer) is imported now too.
        from toolbox_tui.widgets.fitting_footer import FittingFooter

        await self.mount(FittingFooter(compact=True, expendable=EXPENDABLE_KEYS))
        self.refresh_bindings()
        for pane in PANES[1:]:
            await self.query_one(f"#{pane.id}", TabPane).mount(PaneView(pane))
        self._all_mounted = True
        # Drawn from the board as it is now: results that came meanwhile included.
        if self.board.specs:
            self._count_checks()
        self.redraw()
        # A key that chose a pane before its table was there could not focus the table,
        # and the first pane's table, focused on mount, then took the tabs back to it.
        if not isinstance(self.focused, Input):
            self.show_pane(self._chosen_pane)

    # -- rendering -------------------------------------------------------------------

    def checks_known(self) -> None:
        """The checks are registered (after the first frame, when the app loads them then):
        each pane shows its table, or says it has none."""
        self._count_checks()
        self.redraw()
        if not isinstance(self.focused, Input):  # "/" pressed meanwhile keeps its box
            self.show_pane(self._chosen_pane)

    def _count_checks(self) -> None:
        for pane in PANES:
            view = self._view(pane.id)
            if view is not None:
                count = sum(1 for spec in self.board.specs.values() if spec.pane == pane.id)
                view.set_check_count(count)

    def redraw(self) -> None:
        self._draw(pane.id for pane in PANES)

    def _draw(self, pane_ids: Iterable[str]) -> None:
        # A new status may move a row (worst first), so each pane is redrawn whole.
        for pane_id in pane_ids:
            self._draw_pane(pane_id)
        self._update_tabs()
        self.refresh_summary()

    def refresh_check(self, check_id: str) -> None:
        spec = self.board.specs.get(check_id)
        if spec is None:
            return
        # Results come in bursts: dozens finish together at the start of a run, each as a
        # message to the app. The panes they touched are drawn once, after the messages
        # already waiting, so that a key pressed meanwhile is not queued behind a redraw
        # per result.
        if not self._stale_panes:
            self.app.call_later(self._draw_stale)
        self._stale_panes.add(spec.pane)

    def _draw_stale(self) -> None:
        panes, self._stale_panes = self._stale_panes, set()
        self._draw(panes)

    def refresh_summary(self) -> None:
        self.query_one(SummaryBar).show(
            self.board.counts(),
            len(self.board.running),
            len(self.board.specs),
            self.read_only,
            self.board.action,
            self.board.waived(),
        )

    def _update_tabs(self) -> None:
        tabs = self.query_one(TabbedContent)
        titles = fit_tab_titles(PANES, tabs.active or PANES[0].id, self.size.width)
        colour = not self.app.no_color
        for pane in PANES:
            # The tab's look tells a pane's worst status without opening it.
            status = self.board.pane_status(pane.id)
            style = status_style(status, colour) if status else ""
            label = _tab_label(pane, style, titles[pane.id])
            # Relabelling lays the tabs out again: only when the label changed.
            if self._tab_labels.get(pane.id) != label:
                self._tab_labels[pane.id] = label
                tabs.get_tab(pane.id).label = label

    def on_resize(self, event: Resize) -> None:
        self._update_tabs()

    # -- what the app asks of it -----------------------------------------------------

    @property
    def active_pane(self) -> str:
        return self.query_one(TabbedContent).active

    def show_pane(self, pane_id: str) -> None:
        self._chosen_pane = pane_id
        self.query_one(TabbedContent).active = pane_id
        table = self._table(pane_id)
        if table is not None:
            table.focus()

    @property
    def selected_check(self) -> str | None:
        table = self._table(self.active_pane)
        return table.selected_id if table is not None else None

    def open_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-active")
        self.set_focus(box)
        self.refresh_bindings()

    def action_filter(self) -> None:
        self.open_filter()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("-active")
        self.show_pane(self.active_pane)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        box = self.query_one("#filter", Input)
        # "esc Clear filter" shows in the footer only while there is a filter to clear.
        if action == "clear_filter":
            return box.has_class("-active")
        # In the box, "/" is a character to type (the priority binding would take it).
        if action == "filter":
            return self.focused is not box
        if action == "runbook":
            return self.active_pane == ROLLBACK_PANE
        return True

    async def action_runbook(self, kind: str) -> None:
        await self.app.run_action(f"app.runbook('{kind}')")

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.redraw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.show_pane(self.active_pane)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # This arrives after the key that switched panes; if "/" came in between, the filter
        # box has the focus and must keep it, or the typed letters would act as keys.
        self._update_tabs()  # the active tab's title is the one never shortened
        # Once every pane is there (before, the first table's focus posts activations of
        # its own), an activation is the person's: a click, or arrows on the tab bar.
        if self._all_mounted:
            self._chosen_pane = self.active_pane
        if isinstance(self.focused, Input):
            return
        table = self._table(self.active_pane)
        if table is not None:
            table.focus()

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        await self.app.run_action("detail")

    def _draw_pane(self, pane_id: str) -> None:
        view = self._view(pane_id)
        if view is not None:  # one not mounted yet is drawn whole when it is
            view.show_rows(self.board.rows(pane_id, self.filter_text), self.filter_text)

    def _view(self, pane_id: str) -> PaneView | None:
        """The pane's view; None for one not mounted yet (just after the first frame)."""
        view = next(self.query(f"#view-{pane_id}").results(PaneView), None)
        return view if view is not None and view.is_mounted else None

    def _table(self, pane_id: str) -> CheckTable | None:
        view = self._view(pane_id)
        return view.table if view is not None else None


def _tab_label(pane: Pane, style: str = "", title: str | None = None) -> str:
    title = pane.title if title is None else title
    if not title:
        # No room for a title: the key itself carries the pane's look.
        return styled(pane.key, f"b {style}".strip())
    return f"[b]{pane.key}[/b]\u00a0{styled(title, style)}"


def fit_tab_titles(panes: Sequence[Pane], active: str, width: int) -> dict[str, str]:
    """Each pane's tab title, cut (with an ellipsis) so the whole row of tabs fits ``width``.

    The active pane keeps its full title; the others share what is left as evenly as they
    can, down to no title at all (the number key alone) on a very narrow screen.
    """
    titles = {pane.id: pane.title for pane in panes}
    key_cells = sum(len(pane.key) + 1 + TAB_PADDING for pane in panes)
    if key_cells + sum(map(len, titles.values())) <= width:
        return titles
    others = [pane for pane in panes if pane.id != active]
    budget = width - key_cells - sum(len(p.title) for p in panes if p.id == active)
    # Water-filling: short titles keep their length, the long ones share the rest equally.
    widths: dict[str, int] = {}
    left = sorted(others, key=lambda pane: len(pane.title))
    while left:
        share = max(budget, 0) // len(left)
        pane = left.pop(0)
        widths[pane.id] = min(len(pane.title), share)
        budget -= widths[pane.id]
    for pane in others:
        titles[pane.id] = _shorten(pane.title, widths[pane.id])
    return titles


def _shorten(title: str, width: int) -> str:
    if len(title) <= width:
        return title
    return title[: width - 1] + "…" if width >= 2 else ""
