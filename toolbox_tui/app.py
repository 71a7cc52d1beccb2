"""The Textual application: runs the engine in workers and turns its events into messages.

Screens render; this class owns the :class:`Board`, the check context, and the workers
that call the engine (which knows nothing of Textual).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from checks.core import PANES, Action, CheckSpec, Registry
from toolbox_tui.board import Board, RunningAction
from toolbox_tui.long_lived import freeze_long_lived
from toolbox_tui.messages import (
    ActionCompleted,
    CheckFinished,
    CheckLogged,
    CheckStarted,
    RunStopped,
)
from toolbox_tui.screens.dashboard import DashboardScreen
from toolbox_tui.widgets.status import duration_text

if TYPE_CHECKING:
    # A run's events are imported with its first event, and the palette's commands when it
    # opens: the first frame needs neither.
    from checks.context import CheckContext
    from checks.events import ActionDone, Event

    # The screens pushed over the dashboard are imported when first opened (see
    # ``_is_open``): the first frame needs only the dashboard.
    from toolbox_tui.screens.detail import CheckDetailScreen
    from toolbox_tui.screens.quit_while_fixing import QuitChoice
    from toolbox_tui.watch_mode import WatchMode

ACTION_GROUP = "action"
ALL_CHECKS_GROUP = "checks"
"""The workers of a run of every check (start-up, ``r``); one pane's are :func:`pane_group`,
one check's :func:`check_group` (watch mode looks at them to never start a second run)."""


def pane_group(pane_id: str) -> str:
    """The worker group of a run of one pane's checks (after a fix in that pane)."""
    return f"pane:{pane_id}"


def check_group(check_id: str) -> str:
    """The worker group of a run of one check (its rerun, or after a fix names it)."""
    return f"check:{check_id}"


TICK_SECONDS = 0.5  # how often a running fix's elapsed time is redrawn
QUIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

CheckRunner = Callable[[Sequence[CheckSpec], "CheckContext"], AsyncIterator["Event"]]


def run_checks(specs: Sequence[CheckSpec], ctx: CheckContext) -> AsyncIterator[Event]:
    """The engine's run: imported with the first run, as the settings are, not before the
    first frame (the engine and the settings' modules cost it ~30 ms)."""
    from checks.runner import run_checks as engine_run

    return engine_run(specs, ctx)


class ToolboxApp(App[None]):
    # Absolute, so a subclass defined elsewhere still finds it.
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "toolbox-tui"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("1", f"show_pane('{PANES[0].id}')", "Panes", key_display="1-6"),
        *(Binding(p.key, f"show_pane('{p.id}')", p.title, show=False) for p in PANES[1:]),
        Binding("r", "rerun", "Re-run"),
        Binding("R", "rerun_all", "All"),
        Binding("w", "toggle_watch", "Watch", show=False),
        Binding("f", "fix", "Fix"),
        Binding("s", "signoff", "Sign off", show=False),
        Binding("p", "report", "Report", show=False),
        # Shown in the Rollback pane's footer (the dashboard's own bindings); work anywhere.
        Binding("D", "runbook('release')", "Release", show=False),
        Binding("B", "runbook('rollback')", "Rollback", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        ctx: CheckContext | Callable[[], CheckContext],
        registry: Registry | Callable[[], Registry],
        *,
        runner: CheckRunner = run_checks,
        autorun: bool = True,
        handle_signals: bool = False,
    ) -> None:
        """``ctx`` may be a function that builds the context, and ``registry`` one that
        registers the checks: they are then called in a thread once the first frame is on
        the screen (importing the panes' check modules costs ~0.12 s, reading the settings
        ~0.1 s of pydantic), and the checks start when they return."""
        super().__init__()
        self._ctx: CheckContext | None = None if callable(ctx) else ctx
        self._load_context = ctx if callable(ctx) else None
        self.load_error: Exception | None = None
        """Why the deployment could not be loaded (the dashboard then closes at once)."""
        self._load_registry = None if isinstance(registry, Registry) else registry
        self.registry = registry if isinstance(registry, Registry) else Registry()
        self.board = Board.for_specs(self.registry.select())
        self._runner = runner
        self._autorun = autorun
        self._handle_signals = handle_signals
        self._generation = 0
        self._quit_when_fixed: str | None = None
        self.exit_note: str | None = None
        """What the command line prints after the dashboard closes, when quitting had to do
        with a running fix (it waited for it, or interrupted it)."""

    @property
    def ctx(self) -> CheckContext:
        if self._ctx is None:
            raise RuntimeError("the deployment is not loaded yet")
        return self._ctx

    @ctx.setter
    def ctx(self, ctx: CheckContext) -> None:
        self._ctx = ctx

    @property
    def read_only(self) -> bool:
        return self._ctx is not None and self._ctx.config.read_only

    def _fatal_error(self) -> None:
        # Textual's own report prints every local variable, and locals hold env values.
        # This one has no locals and goes through the redactor. (Overrides a private
        # method of the pinned Textual series; the snapshot of a crash would show a change.)
        import traceback

        from rich.text import Text

        self.bell()
        from checks.redact import Redactor

        redactor = self._ctx.redactor if self._ctx is not None else Redactor()
        text = redactor.text(traceback.format_exc())
        self._exit_renderables.append(
            Text(f"toolbox-tui crashed; please report this:\n{text}", style="red")
        )
        self._close_messages_no_wait()

    def get_default_screen(self) -> Screen[None]:
        return DashboardScreen(self.board, self.read_only)

    @property
    def dashboard(self) -> DashboardScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, DashboardScreen)
        return screen

    def on_mount(self) -> None:
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for signum in QUIT_SIGNALS:
                loop.add_signal_handler(signum, self.quit_on_signal, signum.name)

    def on_unmount(self) -> None:
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for signum in QUIT_SIGNALS:
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(signum)

    def on_dashboard_screen_ready(self, message: DashboardScreen.Ready) -> None:
        if self._ctx is None or self._load_registry is not None:
            self._load_then_start()
        else:
            self._start()

    @work(group="load", exit_on_error=False)
    async def _load_then_start(self) -> None:
        if self._load_registry is not None:
            try:
                registry = await asyncio.to_thread(self._load_registry)
            except Exception as exc:  # a check module that cannot be imported
                self._cannot_load(exc)
                return
            self._load_registry = None
            self.registry = registry
            self.board.specs.update((spec.id, spec) for spec in registry.select())
            self.dashboard.checks_known()
        if self._ctx is None and self._load_context is not None:
            try:
                self._ctx = await asyncio.to_thread(self._load_context)
            except Exception as exc:  # bad settings
                self._cannot_load(exc)
                return
        self.dashboard.read_only = self.read_only
        self.dashboard.refresh_summary()
        self._start()

    def _cannot_load(self, exc: Exception) -> None:
        """Close at once; the command line says what went wrong, after the screen is gone."""
        self.load_error = exc
        self.exit(return_code=2)

    def _start(self) -> None:
        if self.read_only:
            self.notify("Read-only: actions are disabled.", title="toolbox-tui")
        if self._autorun:
            self.run_checks_now(self.registry.select())

    # -- running checks --------------------------------------------------------------

    def run_checks_now(
        self,
        specs: Iterable[CheckSpec],
        group: str = ALL_CHECKS_GROUP,
        ctx: CheckContext | None = None,
    ) -> None:
        """Run ``specs`` in a worker; a new run in the same ``group`` replaces the old one.
        ``ctx``: the context to run them with, when not the app's own (watch mode's)."""
        if self._ctx is None:
            return  # still loading: the whole run starts once the deployment is read
        specs = list(specs)
        self._generation += 1
        generation = self._generation

        async def stream() -> None:
            await self._stream(specs, generation, ctx)

        # A callable, not a coroutine object: a worker cancelled before it starts would
        # otherwise leave a never-awaited coroutine behind.
        self.run_worker(stream, group=group, exclusive=True, exit_on_error=False)  # type: ignore[arg-type]

    async def _stream(
        self, specs: list[CheckSpec], generation: int, ctx: CheckContext | None = None
    ) -> None:
        from checks.events import Finished, Started

        started: set[str] = set()
        finished: set[str] = set()
        try:
            async for event in self._runner(specs, self.ctx if ctx is None else ctx):
                if isinstance(event, Started):
                    started.add(event.check_id)
                elif isinstance(event, Finished):
                    finished.add(event.result.id)
                self.post_message(_as_message(event, generation))
            if len(specs) == len(self.board.specs):
                # A whole run has imported what the checks need. Once its results are drawn:
                # a moment when nobody waits on a key.
                self.call_after_refresh(freeze_long_lived)
        finally:
            # Replaced or cancelled part-way: what it started must not show RUN… forever.
            if started - finished:
                self.post_message(RunStopped(frozenset(started - finished), generation))

    def on_check_started(self, message: CheckStarted) -> None:
        if self.board.start(message.check_id, message.generation):
            self._append_log(message.check_id, "── check started ──")
            self._show_check(message.check_id)

    def on_check_logged(self, message: CheckLogged) -> None:
        running = self.board.action
        if running is not None and message.source == running.log_to:
            running.last_line = message.line
            self._show_fix_progress()
        self._append_log(message.source, message.line)

    def _append_log(self, source: str, line: str) -> None:
        self.board.log(source, line)
        detail = self._detail_for(source)
        if detail is not None:
            detail.append_log(line)

    def on_run_stopped(self, message: RunStopped) -> None:
        for check_id in message.check_ids:
            self.board.stop(check_id, message.generation)
            self._show_check(check_id)

    def on_check_finished(self, message: CheckFinished) -> None:
        result = message.result
        if not self.board.finish(result, message.generation):
            return  # an older run's result arriving after a newer one: it is stale
        if self.watching is not None:
            result = self.watching.observe(result)  # the board shows the debounced status
        verdict = f"{result.status.value.upper()} in {duration_text(result.duration_ms)}"
        self._append_log(result.id, f"── {verdict}: {result.message} ──")
        self._show_check(result.id)

    def _show_check(self, check_id: str) -> None:
        if not self.screen_stack:
            return  # shutting down: results still in flight have nowhere to go
        self.dashboard.refresh_check(check_id)
        detail = self._detail_for(check_id)
        if detail is not None:
            detail.refresh_facts()

    def _detail_for(self, check_id: str) -> CheckDetailScreen | None:
        if not self.screen_stack:
            return None
        screen = self.screen
        if _is_detail(screen) and screen.check_id == check_id:
            return screen
        return None

    # -- key actions -----------------------------------------------------------------

    def action_show_pane(self, pane_id: str) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.dashboard.show_pane(pane_id)

    def selected_check(self) -> str | None:
        screen = self.screen
        if _is_detail(screen):
            return screen.check_id
        return self.dashboard.selected_check

    def action_rerun(self) -> None:
        check_id = self.selected_check()
        if check_id is None:
            self.notify("No check selected.")
            return
        self.run_checks_now(self.registry.select(ids=[check_id]), group=check_group(check_id))

    def action_rerun_all(self) -> None:
        self.run_checks_now(self.registry.select())

    watching: WatchMode | None = None
    """Watch mode (``w``) while it is on: see toolbox_tui/watch_mode.py."""

    def action_toggle_watch(self) -> None:
        """Re-run the pane on screen every TOOLBOX_WATCH_INTERVAL, debounced; again: stop."""
        from toolbox_tui.watch_mode import toggle_watch

        toggle_watch(self)

    def action_report(self) -> None:
        """Write the release report of the checks as shown to APP_DIR (see dashboard_report)."""
        from toolbox_tui.dashboard_report import write_report_file

        write_report_file(self)

    def action_detail(self) -> None:
        check_id = self.selected_check()
        if check_id is None or _is_detail(self.screen):
            return
        from toolbox_tui.screens.detail import CheckDetailScreen

        spec = self.registry.checks[check_id]
        self.push_screen(CheckDetailScreen(spec, self.board, list(self.registry.actions.values())))

    def action_filter(self) -> None:
        if isinstance(self.screen, DashboardScreen):
            self.dashboard.open_filter()

    def action_help(self) -> None:
        if _is_open(self.screen, _HELP):
            self.pop_screen()
        else:
            from toolbox_tui.screens.help import HelpScreen

            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        from toolbox_tui.commands import palette_commands

        yield from super().get_system_commands(screen)
        for command in palette_commands(self.registry):
            yield SystemCommand(
                command.title, command.help, partial(self.run_action, command.action)
            )

    # -- fixing ----------------------------------------------------------------------

    def action_fix(self) -> None:
        if self.refuse_to_act():
            return
        check_id = self.selected_check()
        result = self.board.results.get(check_id) if check_id else None
        actions = [
            self.registry.actions[a]
            for a in (result.actions if result else ())
            if a in self.registry.actions
        ]
        if not actions:
            self.notify(
                "This check has no automatic fix; its detail (enter) says what to do.",
                severity="warning",
            )
        elif len(actions) == 1:
            self.confirm_and_run(actions[0], check_id)
        else:
            from toolbox_tui.screens.pick_action import PickActionScreen

            def chosen(action_id: str | None) -> None:
                if action_id is not None:
                    self.confirm_and_run(self.registry.actions[action_id], check_id)

            self.push_screen(PickActionScreen(actions), chosen)

    def action_fix_with(self, action_id: str) -> None:
        if not self.refuse_to_act():
            self.confirm_and_run(self.registry.actions[action_id], None)

    def refuse_to_act(self) -> bool:
        """True, having said why, when no fix or runbook step may start now."""
        if self._ctx is None:
            self.notify("Still reading the deployment; try again in a moment.")
            return True
        if self.read_only:
            self.notify("Read-only mode: actions are disabled.", severity="warning")
            return True
        # One fix at a time: a second one must not cut the first off half-way (an upgrade!).
        if any(w.group == ACTION_GROUP and not w.is_finished for w in self.workers):
            self.notify("A fix is still running; wait for it to finish.", severity="warning")
            return True
        return False

    @work(group=ACTION_GROUP, exit_on_error=False)
    async def confirm_and_run(self, action: Action, check_id: str | None) -> None:
        from checks.events import Log
        from checks.runner import build_plan, shown
        from checks.runner import run_action as run_engine_action
        from toolbox_tui.screens.confirm import ConfirmActionScreen

        planned = await build_plan(action, self.ctx)
        preview = shown(planned, self.ctx)
        refusal = self.ctx.redactor.text(planned.refusal) if planned.refusal else None
        screen = ConfirmActionScreen(action, preview, refusal=refusal)
        if not await self.push_screen_wait(screen):
            self.notify("Cancelled; nothing was changed.")
            return
        log_to = check_id or action.id
        self.board.action = RunningAction(
            action.id, action.title, action.dangerous, time.monotonic(), log_to
        )
        ticker = self.set_interval(TICK_SECONDS, self._show_fix_progress)
        self._show_fix_progress()
        self.post_message(CheckLogged(log_to, f"── {action.title} ──"))
        try:
            # The plan the person confirmed is the one that runs, not a rebuilt one.
            async for event in run_engine_action(
                action,
                self.ctx,
                confirmed=True,
                plan=planned,
                on_end=partial(self._action_ended, check_id=check_id),
            ):
                if isinstance(event, Log):
                    self.post_message(CheckLogged(log_to, event.line))
        finally:
            ticker.stop()
            self.board.action = None
            self._show_fix_progress()

    def _action_ended(self, done: ActionDone, check_id: str | None) -> None:
        self.post_message(ActionCompleted(done, check_id))

    def _show_fix_progress(self) -> None:
        if self.screen_stack:
            self.dashboard.refresh_summary()

    def on_action_completed(self, message: ActionCompleted) -> None:
        done = message.done
        ok = done.outcome == "ok"
        self.notify(
            done.message,
            title=done.action_id,
            severity="information" if ok else "error",
            markup=False,
        )
        if self.quit_if_waiting(done.action_id, done.outcome, done.message):
            return
        if done.outcome != "refused":
            # Even a failed fix may have changed something: read the deployment again and
            # re-check the action's pane.
            self.ctx = self.ctx.reloaded()
            action = self.registry.actions[done.action_id]
            # Its own group: re-checking one pane must not cancel a full run in progress.
            self.run_checks_now(
                self.registry.select(panes=[action.pane]), group=pane_group(action.pane)
            )

    def action_signoff(self) -> None:
        """Sign off the selected manual check (a note into the audit log), then re-run it."""
        if self._ctx is None or not (
            isinstance(self.screen, DashboardScreen) or _is_detail(self.screen)
        ):
            return
        from checks.signoffs import refusal
        from toolbox_tui.screens.signoff import SignoffScreen

        check_id = self.selected_check()
        if check_id is None:
            self.notify("No check selected.")
            return
        problem = refusal(self.ctx.config, self.registry, check_id)
        if problem is not None:
            self.notify(f"Cannot sign off: {problem}.", severity="warning", markup=False)
            return

        def signed(check: str | None) -> None:
            if check is not None:
                self.run_checks_now(self.registry.select(ids=[check]), group=check_group(check))

        spec = self.registry.checks[check_id]
        self.push_screen(SignoffScreen(spec, self.ctx, self.registry), signed)

    def action_runbook(self, kind: str) -> None:
        """D: the release runbook (asks which tag); B: the rollback runbook."""
        if not self.refuse_to_act():
            from toolbox_tui.screens.runbook_opening import open_runbook

            open_runbook(self, kind)

    # -- quitting --------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Quit; while a fix runs, ask first: wait for it, interrupt it, or keep working."""
        running = self.board.action
        if running is None:
            self.exit()
            return
        if _is_open(self.screen, _QUIT_WHILE_FIXING):
            return
        from toolbox_tui.screens.quit_while_fixing import QuitWhileFixingScreen

        self.push_screen(QuitWhileFixingScreen(running), self._quit_chosen)

    def quit_if_waiting(self, what: str, outcome: str, message: str) -> bool:
        """A fix or a runbook step (``what``) ended: quit now if quitting waited for it."""
        if self._quit_when_fixed is None:
            return False
        self.exit_note = (
            f"toolbox-tui: {what} ended ({outcome}) before quitting "
            f"({self._quit_when_fixed}): {message}"
        )
        self.exit()
        return True

    def _quit_chosen(self, choice: QuitChoice | None) -> None:
        if choice == "wait":
            self._wait_then_quit("you asked to quit once it finished")
        elif choice == "interrupt":
            self._interrupt_then_quit("you interrupted it to quit")

    def quit_on_signal(self, name: str) -> None:
        """SIGTERM or SIGHUP: quit now; a running fix is let finish first (a second signal
        interrupts it)."""
        if self.board.action is None:
            self.exit_note = f"toolbox-tui: {name} received; quit."
            self.exit()
        elif self._quit_when_fixed is None:
            self._wait_then_quit(f"{name} received")
        else:
            self._interrupt_then_quit(f"a second {name} received")

    def _wait_then_quit(self, reason: str) -> None:
        self._quit_when_fixed = reason
        running = self.board.action
        title = running.action_id if running else "the fix"
        self.notify(f"Quitting once {title} finishes ({reason}).", severity="warning")

    def _interrupt_then_quit(self, reason: str) -> None:
        """Cancel the running fix; it stops cleanly and is audited, then the app exits."""
        self._quit_when_fixed = reason
        for worker in self.workers:
            if worker.group == ACTION_GROUP and not worker.is_finished:
                worker.cancel()


# Secondary screens the app asks about, as (module, class): see _is_open.
_DETAIL = ("toolbox_tui.screens.detail", "CheckDetailScreen")
_HELP = ("toolbox_tui.screens.help", "HelpScreen")
_QUIT_WHILE_FIXING = ("toolbox_tui.screens.quit_while_fixing", "QuitWhileFixingScreen")


def _is_open(screen: object, where: tuple[str, str]) -> bool:
    """``isinstance(screen, module.Class)`` without importing the module: a secondary screen's
    module is imported when the screen is first opened, so until then none of them is open."""
    module, name = where
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(screen, getattr(loaded, name))


def _is_detail(screen: object) -> TypeGuard[CheckDetailScreen]:
    return _is_open(screen, _DETAIL)


def _as_message(event: Event, generation: int) -> CheckStarted | CheckLogged | CheckFinished:
    from checks.events import Finished, Log, Started

    if isinstance(event, Started):
        return CheckStarted(event.check_id, generation)
    if isinstance(event, Log):
        return CheckLogged(event.source, event.line)
    if isinstance(event, Finished):
        return CheckFinished(event.result, generation)
    raise TypeError(f"a check run does not emit {type(event).__name__}")


def make_app(
    ctx: CheckContext | Callable[[], CheckContext],
    registry: Registry | Callable[[], Registry],
    **kwargs: object,
) -> ToolboxApp:
    """The one way the CLI and the tests build the app."""
    return ToolboxApp(ctx, registry, **kwargs)  # type: ignore[arg-type]
