"""Watch mode in the dashboard (``w``): a Trend column while watching, the debounced status,
one run of a pane at a time, and ``w`` again puts everything back.

The watched check waits at a gate the test opens once per run, so each assertion sees an
exact number of runs whatever the machine's speed; the interval is tiny, and the tests wait
for states (bounded), never for a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from checks.context import CheckContext
from checks.core import Registry, Status, failed, passed
from tests.conftest import MakeContext
from toolbox_tui.app import ToolboxApp, make_app
from toolbox_tui.watch_mode import WATCH_GROUP, WatchLine
from toolbox_tui.widgets.check_table import CheckTable

INTERVAL = 0.02
DEBOUNCE = 3


@dataclass
class Flappy:
    """``env.flappy`` fails or passes as ``script`` says, one letter per run, each run
    waiting at ``gate`` until the test lets it through."""

    script: str
    gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(0))
    calls: int = 0
    waiting: int = 0
    most_at_once: int = 0
    cancelled: int = 0
    probes: list[bool] = field(default_factory=list)
    wrote: int = 0
    """Runs of the checks that write to the app (``env.token``, ``sec.revoke``)."""

    def registry(self) -> Registry:
        registry = Registry()

        @registry.check(id="env.flappy", pane="environment", title="Flappy service")
        async def flappy(ctx):  # type: ignore[no-untyped-def]
            self.probes.append(ctx.config.rate_limit_probe)
            self.waiting += 1
            self.most_at_once = max(self.most_at_once, self.waiting)
            try:
                await self.gate.acquire()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
            finally:
                self.waiting -= 1
            letter = self.script[self.calls] if self.calls < len(self.script) else "P"
            self.calls += 1
            if letter == "F":
                return failed("The service did not answer.", hint="Restart it.")
            return passed("The service answered.")

        @registry.check(id="env.steady", pane="environment", title="Steady")
        async def steady(ctx):  # type: ignore[no-untyped-def]
            return passed("Fine.")

        @registry.check(id="health.api", pane="health", title="API health")
        async def api(ctx):  # type: ignore[no-untyped-def]
            return passed("Up.")

        # They write to the app: never watched.
        for check_id, pane in (("env.token", "environment"), ("sec.revoke", "security")):

            @registry.check(id=check_id, pane=pane, title="Token", writes=True)
            async def token(ctx):  # type: ignore[no-untyped-def]
                self.wrote += 1
                return passed("issued and revoked a token")

        return registry


def watch_app(
    make_context: MakeContext, flappy: Flappy, autorun: bool = False, **config: object
) -> ToolboxApp:
    ctx: CheckContext = make_context("APP_ENV=production\n", **config)
    # Below the settings' one-second floor, which guards real deployments: tests only.
    quick = {"watch_interval": INTERVAL, "watch_debounce": DEBOUNCE}
    ctx = replace(ctx, config=ctx.config.model_copy(update=quick))
    return make_app(ctx, flappy.registry(), autorun=autorun)


async def until(pilot, condition: Callable[[], bool], what: str) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until ``condition`` holds (at most ~10 s on a slow machine)."""
    for _ in range(1000):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"never happened: {what}")


def table(app: ToolboxApp, pane: str = "environment") -> CheckTable:
    return app.screen.query_one(f"#table-{pane}", CheckTable)


def columns(app: ToolboxApp, pane: str = "environment") -> list[str]:
    return [str(key.value) for key in table(app, pane).columns]


def cell(app: ToolboxApp, column: str, check_id: str = "env.flappy") -> str:
    return str(table(app).get_cell(check_id, column))


def runs_seen(app: ToolboxApp) -> int:
    assert app.watching is not None
    trend = app.watching.model.trends.get("env.flappy")
    return trend.runs if trend else 0


async def let_one_run_through(pilot, app: ToolboxApp, flappy: Flappy, runs: int) -> None:  # type: ignore[no-untyped-def]
    flappy.gate.release()
    await until(pilot, lambda: runs_seen(app) == runs, f"run {runs} of env.flappy shown")


async def test_w_adds_a_trend_and_shows_red_only_after_debounce_failures(
    make_context: MakeContext,
) -> None:
    flappy = Flappy("FFFP")
    app = watch_app(make_context, flappy)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "trend" not in columns(app)
        await pilot.press("w")
        assert columns(app) == ["status", "trend", "check", "time", "message"]
        assert cell(app, "trend") == "··········"  # nothing run yet
        steps = [
            (Status.WARN, "failing 1/3: The service did not answer.", "·········✗"),
            (Status.WARN, "failing 2/3: The service did not answer.", "········✗✗"),
            (Status.FAIL, "The service did not answer.", "·······✗✗✗"),  # red at the third
            (Status.PASS, "The service answered.", "······✗✗✗✓"),  # one pass clears it
        ]
        for run, (status, message, trend) in enumerate(steps, start=1):
            await let_one_run_through(pilot, app, flappy, run)
            shown = app.board.results["env.flappy"]
            assert (shown.status, shown.message) == (status, message), f"run {run}"
            await until(pilot, lambda: cell(app, "trend") == trend, f"trend {trend}")  # noqa: B023
            assert cell(app, "status") in (status.value.upper(), "RUN…")
        line = str(app.screen.query_one(WatchLine).render())
        assert "watching  Environment every 0.02 s, run " in line and "w stops" in line
        # The other panes' tables keep their look.
        assert columns(app, "health") == ["status", "check", "time", "message"]
        await pilot.press("w")


async def test_a_pending_failure_reads_as_a_warning_everywhere(
    make_context: MakeContext,
) -> None:
    flappy = Flappy("FF")
    app = watch_app(make_context, flappy)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("w")
        await let_one_run_through(pilot, app, flappy, 1)
        await until(pilot, lambda: cell(app, "status") in ("WARN", "RUN…"), "WARN in the table")
        assert "failing 1/3" in cell(app, "message")
        summary = str(app.screen.query_one("SummaryBar").render())
        assert "1 warn" in summary and "fail" not in summary
        assert app.board.pane_status("environment") is Status.WARN  # the tab is not red yet
        line = str(app.screen.query_one(WatchLine).render())
        assert "1 failing" in line
        hint = app.board.results["env.flappy"].hint
        assert hint.startswith("Restart it.") and "TOOLBOX_WATCH_DEBOUNCE" in hint
        await pilot.press("w")


async def test_w_again_stops_the_timer_and_the_table_looks_as_before(
    make_context: MakeContext,
) -> None:
    flappy = Flappy("FF")
    app = watch_app(make_context, flappy)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        before = [(str(c.key.value), c.width) for c in table(app).columns.values()]
        await pilot.press("w")
        for run in (1, 2):
            await let_one_run_through(pilot, app, flappy, run)
        await until(pilot, lambda: flappy.waiting == 1, "run 3 under way")
        await pilot.press("w")
        assert app.watching is None
        await until(pilot, lambda: flappy.cancelled == 1, "run 3 cancelled")
        # No more runs: the gate is open now, and many intervals go by.
        for _ in range(5):
            flappy.gate.release()
        for _ in range(20):
            await pilot.pause(INTERVAL)
        assert flappy.calls == 2
        assert not [w for w in app.workers if w.group == WATCH_GROUP and not w.is_finished]
        # The table as it was, showing the check's own latest result (no debounce).
        assert [(str(c.key.value), c.width) for c in table(app).columns.values()] == before
        assert not app.screen.query(WatchLine)
        result = app.board.results["env.flappy"]
        assert (result.status, result.message) == (Status.FAIL, "The service did not answer.")
        assert cell(app, "status") == "FAIL"
        assert "env.flappy" not in app.board.running


async def test_a_run_never_starts_while_the_pane_is_being_checked(
    make_context: MakeContext,
) -> None:
    flappy = Flappy("PPP")
    app = watch_app(make_context, flappy, autorun=True)
    async with app.run_test(size=(80, 24)) as pilot:
        # The dashboard's own first run is held at the gate.
        await until(pilot, lambda: flappy.waiting == 1, "the first run under way")
        await pilot.press("w")
        assert app.watching is not None
        for _ in range(10):  # many intervals: the watch run is due, and must wait
            await pilot.pause(INTERVAL)
        assert app.watching.runs == 0 and app.watching.waiting
        line = str(app.screen.query_one(WatchLine).render())
        assert "run 1 waits · w stops" in line  # in short, at 80 columns
        assert "a run is under way: run 1 waits" in app.watching.line_text(0, width=120).plain
        flappy.gate.release()  # the first run ends; the watch run starts after it
        await until(pilot, lambda: app.watching is not None and app.watching.runs == 1, "run 1")
        await let_one_run_through(pilot, app, flappy, 2)  # the first run's result, then run 1
        await until(pilot, lambda: flappy.waiting == 1, "run 2 under way")
        for _ in range(10):
            await pilot.pause(INTERVAL)
        assert app.watching.runs == 2  # run 3 waits for run 2, however many intervals pass
        assert flappy.most_at_once == 1
        await pilot.press("w")


async def test_watch_runs_never_send_the_login_probe(make_context: MakeContext) -> None:
    flappy = Flappy("P")
    app = watch_app(make_context, flappy, rate_limit_probe=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("w")
        await let_one_run_through(pilot, app, flappy, 1)
        assert flappy.probes and not any(flappy.probes)  # run 2 may be under way too
        assert app.ctx.config.rate_limit_probe is True  # the dashboard's own runs still may
        await pilot.press("w")


async def test_w_on_a_pane_without_checks_says_so(make_context: MakeContext) -> None:
    flappy = Flappy("")
    app = watch_app(make_context, flappy)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("6", "w")  # Rollback: no checks in this registry
        assert app.watching is None
        assert any("No checks in Rollback to watch" in str(n.message) for n in app._notifications)


async def test_the_watch_line_fits_80_columns(make_context: MakeContext) -> None:
    flappy = Flappy("F")
    app = watch_app(make_context, flappy)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("w")
        await let_one_run_through(pilot, app, flappy, 1)
        await until(pilot, lambda: flappy.waiting == 1, "run 2 under way")
        mode = app.watching
        assert mode is not None

        def line(waiting: bool, width: int = 80 - 2) -> str:  # less the line's padding
            # A long watch of the longest pane title at the default interval, 12 s late.
            mode.pane = replace(mode.pane, title="Integrations")
            mode.interval, mode.runs, mode.late, mode.due = 30.0, 1234, 12.0, 0.0
            mode.waiting = waiting
            text = mode.line_text(now=-29.5, width=width)
            assert text.cell_len <= width
            # Whatever it leaves out, it says what is watched and how to stop.
            assert text.plain.startswith(" watching  Integrations every 30 s, run 1234 · ")
            assert text.plain.endswith(" · w stops")
            return text.plain

        assert "running · 1 failing · w stops" in line(waiting=False)
        assert line(waiting=True).endswith("run 1234 · run 1235 waits · w stops")
        assert "run 1234 is still running: run 1235 waits" in line(waiting=True, width=200)
        assert "running, 12 s late · 1 failing" in line(waiting=False, width=200)
        await pilot.press("w")  # stopped: nothing under way any more
        await until(pilot, lambda: flappy.cancelled == 1, "run 2 cancelled")
        assert line(waiting=False).endswith("run 1234 · next in 30 s · w stops")
        assert "a run is" not in line(waiting=False, width=200)
        assert line(waiting=False, width=200).endswith(
            "next in 30 s; run 1234 started 12 s late · 1 failing · 1 not watched: it writes "
            "to the app · w stops"
        )


async def test_the_palette_offers_watch_mode(make_context: MakeContext) -> None:
    flappy = Flappy("P")
    app = watch_app(make_context, flappy)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        [command] = [
            c for c in app.get_system_commands(app.screen) if c.title.startswith("checks: watch")
        ]
        assert command.help == "Key w"
        await command.callback()  # type: ignore[misc]  # what the palette runs
        await pilot.pause()
        assert app.watching is not None and app.watching.pane.id == "environment"
        await command.callback()  # type: ignore[misc]
        await pilot.pause()
        assert app.watching is None


async def test_watch_never_runs_a_check_that_writes_and_says_so(
    make_context: MakeContext,
) -> None:
    flappy = Flappy("P")
    app = watch_app(make_context, flappy)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("w")
        await let_one_run_through(pilot, app, flappy, 1)
        await let_one_run_through(pilot, app, flappy, 2)
        assert flappy.wrote == 0
        assert any(
            "Watching Environment; not watched: 1 check that writes to the app (env.token)"
            in str(n.message)
            for n in app._notifications
        )
        mode = app.watching
        assert mode is not None
        assert "env.token" not in mode.model.trends
        wide = mode.line_text(0, width=200).plain
        assert " · 1 not watched: it writes to the app · w stops" in wide
        shown = str(app.screen.query_one(WatchLine).render())
        assert shown.endswith("w stops")  # at 80 columns, in fewer words or none
        await pilot.press("w")


async def test_a_pane_whose_checks_all_write_is_not_watched(make_context: MakeContext) -> None:
    flappy = Flappy("")
    app = watch_app(make_context, flappy)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("5", "w")  # Security: only sec.revoke, which writes
        assert app.watching is None
        assert any(
            "Nothing in Security to watch: watch never runs a check that writes to the app "
            "(sec.revoke)." in str(n.message)
            for n in app._notifications
        )
        assert flappy.wrote == 0
