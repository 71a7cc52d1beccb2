"""One release or rollback runbook on screen: its steps, what the next one will do, and the
live log of the one that runs.

``n`` runs the next step, ``a`` runs them to the end; a dangerous step asks for its typed
confirmation (the dialog a fix uses) every time, in a run to the end too. A step whose plan
refuses is not run: the screen says why, and ``n`` plans it again once the cause is fixed.

Steps run in a worker of the app's action group, so a fix and a step never run at once, and
quitting asks whether to wait for the step or interrupt it, as it does for a fix (waiting
ends a run to the end with that step). While a step runs the screen stays (``esc`` and the
pane keys wait for it): leaving would cut it off.

A resumed runbook says first what to check by hand, in the preview box, until a step runs.
The view holds the runbook lock it was opened with (see
:mod:`toolbox_tui.screens.runbook_opening`) until it closes.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import TYPE_CHECKING, cast

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import RichLog, Static

from checks.core import PANES, CheckFailed, Plan, refused_plan
from checks.runbooks.engine import fresh
from checks.runbooks.model import (
    Runbook,
    RunbookError,
    StepEnded,
    StepLog,
    StepState,
    StepStatus,
)
from checks.runner import shown
from toolbox_tui.app import ACTION_GROUP
from toolbox_tui.board import MAX_LOG_LINES, RunningAction
from toolbox_tui.widgets.fitting_footer import FittingFooter
from toolbox_tui.widgets.status import DANGER_LOOK, QUIET_LOOK, styled
from toolbox_tui.widgets.step_table import STATE_LOOKS, StepTable

if TYPE_CHECKING:
    from toolbox_tui.app import ToolboxApp

PREVIEW_GROUP = "runbook-preview"
# The dashboard's keys that mean nothing here: bound to a note instead, so that they
# neither show in this footer nor act on the dashboard hidden below.
DASHBOARD_KEYS = ("r", "R", "f", "s", "w", "slash", "D", "B")
GO_ON = (StepState.DONE, StepState.SKIPPED)


class RunbookScreen(Screen[None]):
    """Over the dashboard; leaving it re-runs every check when a step ran here."""

    DEFAULT_CSS = """
    RunbookScreen #heading {
        height: 1;
        padding: 0 1;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    /* Idle, the next step's plan gets the room; while a step runs, its log does. */
    RunbookScreen #preview {
        height: 2fr;
        min-height: 3;
        border-top: solid $primary;
        border-title-color: $foreground;
        border-title-style: bold;
        padding: 0 1;
    }
    RunbookScreen.-running #preview {
        height: 1fr;
    }
    RunbookScreen.-running #log {
        height: 2fr;
    }
    RunbookScreen #log {
        height: 1fr;
        /* Lines wrap to the width they are written at: a scrollbar appearing later must not
           take columns from them. */
        scrollbar-gutter: stable;
        min-height: 3;
        border-top: solid $primary;
        border-title-color: $foreground;
        border-title-style: bold;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("n", "next_step", "Next step"),
        Binding("a", "run_to_end", "Run to end"),
        Binding("escape", "back", "Back"),
        *(Binding(pane.key, f"leave_to('{pane.id}')", show=False) for pane in PANES),
        *(Binding(key, "dashboard_key", show=False) for key in DASHBOARD_KEYS),
    ]

    def __init__(self, runbook: Runbook) -> None:
        super().__init__()
        self.runbook = runbook
        self._plan: tuple[str, Plan] | None = None
        """The plan on show and the step it is for: the one that runs when ``n`` is pressed."""
        self._active: StepStatus | None = None
        self._last_line = ""
        self._to_end = False
        self._ran = False
        self._preview_title = ""
        self._quitting = False
        self.held = ExitStack()
        """What the view holds while open (the runbook lock): let go when it closes."""

    @property
    def toolbox(self) -> ToolboxApp:
        return cast("ToolboxApp", self.app)

    def displayed(self, text: str) -> str:
        """What of ``text`` (already redacted) reaches the screen: all of it (a snapshot's
        subclass evens out what varies from run to run, as its app does)."""
        return text

    def compose(self) -> ComposeResult:
        yield Static(id="heading")
        yield StepTable(id="steps")
        with VerticalScroll(id="preview"):
            yield Static(id="preview-text")
        # Wrapped: at 80 columns a check's message or a pip line would run off the edge.
        yield RichLog(
            id="log", wrap=True, min_width=1, markup=False, highlight=False, max_lines=MAX_LOG_LINES
        )
        yield FittingFooter(compact=True)

    def on_mount(self) -> None:
        log = self.query_one(RichLog)
        log.border_title = "Log"
        log.write("(each step's log shows here as it runs)")
        self.query_one("#preview").focus()  # the arrow and page keys scroll the preview
        self._redraw()
        self._preview()

    def on_unmount(self) -> None:
        self.held.close()

    # -- drawing ---------------------------------------------------------------------

    def _redraw(self) -> None:
        runbook = self.runbook
        upcoming = None if self._active else runbook.next_status()
        table = self.query_one(StepTable)
        table.show(
            runbook.statuses,
            upcoming.step.id if upcoming else None,
            self._last_line,
            self.displayed,
        )
        done = sum(1 for s in runbook.statuses if s.state in GO_ON)
        progress = f"{done} of {len(runbook.statuses)} steps done"
        if runbook.finished():
            progress = "finished: every step is done"
        elif runbook.stopped():
            progress += ", stopped at a failed step"
        heading = f"[b]{escape(runbook.title)}[/b]  " + styled(
            progress, QUIET_LOOK.style(self._colour)
        )
        self.query_one("#heading", Static).update(heading)

    @property
    def _colour(self) -> bool:
        return not self.app.no_color

    def _look(self, state: StepState) -> str:
        return STATE_LOOKS[state][1].style(self._colour)

    def _show_plan(self, status: StepStatus | None, planned: Plan | None) -> None:
        """The preview box: what ``status``'s step will do (``planned`` None: still being
        worked out), or, with no step left, that the runbook is finished."""
        box = self.query_one("#preview", VerticalScroll)
        text = self.query_one("#preview-text", Static)
        if status is None:
            box.border_title = self._preview_title = "Finished"
            text.update("Every step is done. esc goes back to the dashboard.")
            return
        step = status.step
        badge = (
            " " + styled(" DANGEROUS ", DANGER_LOOK.style(self._colour)) if step.dangerous else ""
        )
        self._preview_title = f"{_preview_label(status, self._active)}: {escape(step.title)}{badge}"
        box.border_title = self._preview_title
        if planned is None:
            text.update("\n".join([*self._resumed_lines(), "Working out what it will do…"]))
            return
        lines = self.displayed(shown(planned, self.toolbox.ctx)).splitlines()
        if planned.refusal is not None and not planned.already_done and lines:
            # The first line quotes the refusal, which a refused plan ends with.
            lines = lines[:-1] if lines[-1] == self._refusal(planned) else lines
        shown_lines = [self._plan_prompt(status, planned), *map(escape, lines)]
        text.update("\n".join([*self._resumed_lines(), *shown_lines]))
        box.scroll_home(animate=False)
        self.call_after_refresh(self._label_preview)

    def _resumed_lines(self) -> list[str]:
        """Until a step runs here, a resumed runbook's note heads the preview: first what to
        check by hand (a cut-off step's effect is unknown), then the whole note."""
        note = self.runbook.resumed_note
        if not note or self._ran:
            return []
        look = self._look(StepState.CUT_OFF)
        lines = []
        for status in self.runbook.statuses:
            advice = status.step.check_by_hand
            if status.state is StepState.CUT_OFF and advice:
                said = escape(self.displayed(f"{status.step.title} was cut off: {advice}"))
                lines.append(f"[b]Check by hand first.[/b] {said}")
                # The note names it too; once is enough.
                note = note.replace(advice, "see above.")
        return [*lines, styled(escape(self.displayed(note)), look), ""]

    def _plan_prompt(self, status: StepStatus, planned: Plan) -> str:
        """The first line of the preview: what pressing n will do with this plan."""
        step = status.step
        if status is self._active:
            return "[b]Running this plan:[/b]"
        if planned.already_done:
            return "[b]Nothing to do:[/b] n marks it done."
        if planned.refusal is not None:
            return (
                f"[b]It cannot run now:[/b] {escape(self._reason(planned))}\n"
                "Fix that (esc: the dashboard), then n plans it again."
            )
        if step.dangerous and step.action_id:
            return f"[b]n asks you to type {escape(step.action_id)}, then runs:[/b]"
        return "[b]n runs:[/b]"

    def _refusal(self, planned: Plan) -> str:
        """``planned``'s refusal as the screen may show it (redacted, like its preview)."""
        return self.displayed(self.toolbox.ctx.redactor.text(planned.refusal or ""))

    def _reason(self, planned: Plan) -> str:
        """Why ``planned`` cannot run, for "It cannot run now: ..."."""
        return self._refusal(planned).removeprefix("Refused: ")

    def _label_preview(self) -> None:
        """Say so in the box's title when the plan is longer than the box (the box has no
        bottom border to say it in)."""
        box = self.query_one("#preview", VerticalScroll)
        more = "  " + styled("↑↓ more", "bold") if box.max_scroll_y > 0 else ""
        box.border_title = self._preview_title + more

    def _write_log(self, line: str) -> None:
        # Text, not str: a log line is never markup.
        self.query_one(RichLog).write(Text(self.displayed(line)))

    # -- planning --------------------------------------------------------------------

    @work(group=PREVIEW_GROUP, exclusive=True, exit_on_error=False)
    async def _preview(self) -> None:
        await self._plan_next()

    async def _plan_next(self) -> Plan | None:
        """Plan the next step against the deployment as it is now, and show the plan."""
        status = self.runbook.next_status()
        self._plan = None
        self._show_plan(status, None)
        if status is None:
            return None
        try:
            planned = await self.runbook.preview(self.toolbox.ctx)
        except (RunbookError, CheckFailed) as exc:
            planned = refused_plan(f"Refused: {exc} {getattr(exc, 'hint', '')}".strip())
        self._plan = (status.step.id, planned)
        self._show_plan(status, planned)
        return planned

    # -- running ---------------------------------------------------------------------

    def action_next_step(self) -> None:
        self._start(to_end=False)

    def action_run_to_end(self) -> None:
        self._start(to_end=True)

    def _start(self, *, to_end: bool) -> None:
        if self._active is not None:
            if to_end and not self._to_end:
                self._to_end = True
                self.notify("After this step, the runbook goes on to the end.")
            else:
                self.notify("A step is running; wait for it to end.")
            return
        if self.runbook.finished():
            self.notify("Every step is done; esc goes back to the dashboard.")
            return
        # The app's rule for a fix: not read-only, and one thing at a time.
        if not self.toolbox.refuse_to_act():
            self._run(to_end)

    @work(group=ACTION_GROUP, exit_on_error=False)
    async def _run(self, to_end: bool) -> None:
        self._to_end = to_end
        self.workers.cancel_group(self, PREVIEW_GROUP)  # this worker plans what it runs
        while (status := self.runbook.next_status()) is not None:
            planned = await self._plan_to_run(status)
            if planned is None or not await self._run_step(status, planned):
                break
            if not self._to_end:
                break
        self._to_end = False
        if self._quitting:
            return  # quitting waited for the step that ran: nothing more starts
        self._redraw()
        upcoming = self.runbook.next_status()
        if self._plan is None or upcoming is None or self._plan[0] != upcoming.step.id:
            self._preview()  # the next step, planned against what this run changed

    async def _plan_to_run(self, status: StepStatus) -> Plan | None:
        """The plan to run for ``status``: the one on show, or a new one (shown, and
        confirmed when the step is dangerous); None when it does not run."""
        shown_plan = self._plan
        planned: Plan | None
        if shown_plan is not None and shown_plan[0] == status.step.id:
            planned = shown_plan[1]
        else:
            planned = await self._plan_next()
        if planned is not None and planned.refusal is not None:
            # Refused, or nothing to do, when planned a while ago: the world may have changed
            # since (the cause fixed, or the step undone), so it is planned again.
            planned = await self._plan_next()
        if planned is None:
            return None
        if planned.refusal is not None and not planned.already_done:
            # The preview says why (a toast would hide the log); the step stays next.
            self.notify(
                "It cannot run now; the preview says why.",
                title=status.step.title,
                severity="warning",
                markup=False,
            )
            return None
        if (
            status.step.dangerous
            and not planned.already_done
            and not await self._confirm(status, planned)
        ):
            self.notify("Cancelled; the step did not run.")
            return None
        return planned

    async def _confirm(self, status: StepStatus, planned: Plan) -> bool:
        from toolbox_tui.screens.confirm import ConfirmActionScreen

        assert status.step.action_id is not None  # a dangerous step is a dangerous action's
        action = self.toolbox.registry.actions[status.step.action_id]
        preview = self.displayed(shown(planned, self.toolbox.ctx))
        confirmed: bool = await self.toolbox.push_screen_wait(ConfirmActionScreen(action, preview))
        return confirmed

    async def _run_step(self, status: StepStatus, planned: Plan) -> bool:
        """Run ``status``'s step with ``planned``; True when the runbook may go on."""
        app = self.toolbox
        step = status.step
        self._plan = None  # whatever it does, the next plan is made afresh
        self._active, self._last_line, self._ran = status, "", True
        self.add_class("-running")
        self._show_plan(status, planned)
        self._write_log(f"── {step.title} ──")
        app.board.action = RunningAction(
            step.action_id or f"runbook step {step.id}",
            step.title,
            step.dangerous,
            time.monotonic(),
            log_to="",
        )
        ended: StepEnded | None = None
        try:
            async for event in self.runbook.run_next(app.ctx, confirmed=True, plan=planned):
                if isinstance(event, StepLog):
                    self._last_line = self.displayed(event.line)
                    self._write_log(event.line)
                elif isinstance(event, StepEnded):
                    ended = event
                self._redraw()
        except RunbookError as exc:
            self.notify(str(exc), severity="error", markup=False)
        except Exception as exc:
            # Its journal has no end for the step: opened again, it shows as cut off; so
            # here, rather than running for ever.
            said = app.ctx.redactor.text(f"{type(exc).__name__}: {exc}")
            status.state, status.message = StepState.CUT_OFF, f"stopped: {said}"
            self.notify(
                f"It stopped on an unexpected error: {said}",
                title=step.title,
                severity="error",
                markup=False,
            )
        finally:
            app.board.action = None
            self._active, self._last_line = None, ""
            self.remove_class("-running")
            app.ctx = fresh(app.ctx)  # a step may have changed the env file
            self._redraw()
            outcome = ended.state.value if ended else "interrupted"
            message = ended.message if ended else "interrupted"
            self._write_log(f"── {outcome}: {message} ──")
            self._quitting = app.quit_if_waiting(step.title, outcome, message)
        return not self._quitting and ended is not None and ended.state in GO_ON

    # -- leaving ---------------------------------------------------------------------

    def _busy(self) -> bool:
        """Say so and return True while a step runs (leaving would cut it off)."""
        if self._active is None:
            return False
        title = self._active.step.title
        if self._to_end:
            self._to_end = False
            self.notify(f"The runbook stops once '{title}' has ended.")
        else:
            self.notify(f"'{title}' is running; esc goes back once it has ended.")
        return True

    def action_back(self) -> None:
        if not self._busy():
            self._leave()

    def action_leave_to(self, pane_id: str) -> None:
        if not self._busy():
            self._leave()
            self.toolbox.dashboard.show_pane(pane_id)

    def _leave(self) -> None:
        """Back to the dashboard; when a step ran, its checks are out of date: all run again."""
        app = self.toolbox
        self.dismiss()
        if self._ran:
            app.run_checks_now(app.registry.select())

    def action_dashboard_key(self) -> None:
        self.notify("That key works on the dashboard; esc goes back to it.")


def _preview_label(status: StepStatus, running: StepStatus | None) -> str:
    if status is running:
        return "Running"
    if status.state is StepState.FAILED:
        return "Failed, runs again"
    if status.state is StepState.CUT_OFF:
        return "Cut off, runs again"
    return "Next"
