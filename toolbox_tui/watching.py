"""Headless watch mode: ``toolbox-tui watch`` re-runs checks every interval, for the
checklist's day-5 "Monitor all metrics", and prints what changed.

Each run prints one line per check whose debounced state changed (the first run: every
check), then one line with the time, the counts and the slowest check. A check shows FAIL
only after TOOLBOX_WATCH_DEBOUNCE failures in a row (see :mod:`checks.watch`). The interval
runs from the start of one run to the start of the next; a run never overlaps the one
before, so a slow run delays the next one, and its line says so.

Ctrl-C, SIGTERM and SIGHUP stop it cleanly (the run under way is abandoned) with a final
summary; a second one stops it at once, whatever is still winding down. ``--runs M`` stops
after M runs. The exit code is the one ``check`` gives for the last debounced state. Watch
only runs checks: never a fix, never a check that writes to the app, and never the login
probes a person opted into once (see :mod:`checks.watch`). No Textual here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from checks.core import PANE_IDS, CheckResult, CheckSpec, Registry, pane_rank
from toolbox_tui.console import say
from toolbox_tui.headless import UsageError, collect
from toolbox_tui.reporters import EXIT_INTERRUPTED, STATUS_LABELS, Report

# asyncio (with ssl, socket, subprocess) and checks.watch are imported by the functions that
# run a watch: the command line imports this module for its parser, and `--help` must not pay.
if TYPE_CHECKING:
    import asyncio

    from checks.config import ToolboxConfig
    from checks.context import CheckContext
    from checks.watch import Change, Glyphs, Watch, Watched

ID_WIDTH = 28  # as in `check`'s text report


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """The ``watch`` subcommand; ``--interval`` and ``--debounce`` are read as settings, so
    they are checked like TOOLBOX_WATCH_INTERVAL and TOOLBOX_WATCH_DEBOUNCE."""
    watch = sub.add_parser(
        "watch",
        parents=[common],
        help="re-run checks every interval and show what changed (monitoring)",
        description="Re-run checks every interval, from the start of one run to the start of "
        "the next, and print each check whose state changed. A check shows FAIL only after "
        "DEBOUNCE failures in a row. Ctrl-C or SIGTERM stops it with a summary (a second one: "
        "at once). Fixes never run from here, nor the checks that write to the app.",
    )
    watch.add_argument("--pane", action="append", default=[], choices=PANE_IDS)
    # --only as `check` spells it, so one habit serves both; --check reads naturally too.
    watch.add_argument(
        "--only",
        "--check",
        dest="only",
        action="append",
        default=[],
        metavar="ID",
        help="a check id",
    )
    watch.add_argument(
        "--interval",
        dest="watch_interval",
        type=float,
        metavar="S",
        help="seconds between the starts of two runs (TOOLBOX_WATCH_INTERVAL, default 30)",
    )
    watch.add_argument(
        "--debounce",
        dest="watch_debounce",
        type=int,
        metavar="N",
        help="failures in a row before a check shows FAIL (TOOLBOX_WATCH_DEBOUNCE, default 3)",
    )
    watch.add_argument(
        "--runs",
        type=_positive,
        metavar="M",
        help="stop after M runs (default: until Ctrl-C or SIGTERM)",
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of runs, 1 or more")
    return value


class Clock(Protocol):
    """Time as watch sees it; the tests give it one that never really waits."""

    def monotonic(self) -> float: ...
    def now(self) -> datetime: ...
    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now().astimezone()  # a person reads these times: their own zone

    async def sleep(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(seconds)


CLOCK: Clock = SystemClock()


def cmd_watch(args: argparse.Namespace, config: ToolboxConfig, registry: Registry) -> int:
    from checks.context import CheckContext
    from checks.watch import glyphs_for

    chosen = select(registry, args.pane, args.only, UsageError)
    ctx = CheckContext.create(config)
    out = Output(glyphs_for(getattr(sys.stdout, "encoding", None)))
    out.line(banner(chosen, config, args.runs))
    watcher = Watcher(chosen.specs, ctx, config.watch_interval, config.watch_debounce, args.runs)
    return run_to_the_end(watcher.run(CLOCK, out))


def select(
    registry: Registry,
    panes: Sequence[str],
    ids: Sequence[str],
    usage_error: Callable[[str], Exception],
) -> Watched:
    """The checks to watch, as ``check`` selects them, less those that write to the app
    (:func:`checks.watch.watched`); a fix's id is refused by name, and so is a selection of
    nothing but checks that write."""
    from checks.watch import watched

    fixes = [i for i in ids if i in registry.actions and i not in registry.checks]
    if fixes:
        raise usage_error(
            f"{', '.join(fixes)}: a fix, not a check. Watch only runs checks, never a fix; "
            f"run a fix once with `toolbox-tui fix {fixes[0]}`"
        )
    try:
        specs = registry.select(panes=panes, ids=ids)
    except KeyError as exc:
        raise usage_error(f"{exc.args[0]}; `toolbox-tui list` shows them") from None
    if not specs:
        raise usage_error(f"no checks in pane(s) {', '.join(panes)} yet; nothing to watch")
    chosen = watched(specs)
    if not chosen.specs:
        left = ", ".join(spec.id for spec in chosen.left_out)
        only = " ".join(f"--only {spec.id}" for spec in chosen.left_out)
        them = "it" if len(chosen.left_out) == 1 else "them"
        raise usage_error(
            f"nothing to watch: watch never runs a check that writes to the app ({left}); "
            f"run {them} once with `toolbox-tui check {only}`"
        )
    return chosen


def banner(chosen: Watched, config: ToolboxConfig, runs: int | None) -> str:
    specs = chosen.specs
    panes = ", ".join(dict.fromkeys(spec.pane for spec in specs))
    checks = "1 check" if len(specs) == 1 else f"{len(specs)} checks"
    until = f"{_runs(runs)}, or until Ctrl-C" if runs else "until Ctrl-C or SIGTERM"
    text = (
        f"Watching {checks} ({panes}) every {config.watch_interval:g} s, {until}. A check "
        f"shows FAIL after {config.watch_debounce} failures in a row (TOOLBOX_WATCH_DEBOUNCE)."
    )
    if note := chosen.text():
        text += (
            f" {note[:1].upper()}{note[1:]}: watch never repeats them; `toolbox-tui check` "
            "runs them once."
        )
    if config.rate_limit_probe:
        text += (
            " TOOLBOX_RATE_LIMIT_PROBE is ignored here: watch never sends a failed login; "
            "`toolbox-tui check --pane security` does, once."
        )
    return text


def run_to_the_end(main: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run(main)``, but without waiting for the threads of the default executor at
    the end: a check's blocking call that never returns (a read from a hung mount) must not
    keep a stopped watch alive. The command line then ends the process with ``os._exit``,
    which does not wait for them either."""
    import asyncio

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()  # shuts the executor down without joining its threads


@dataclass
class Output:
    """How watch writes: lines to stdout (flushed, so `| tee` logs keep up), notes to stderr;
    both survive a closed terminal (:func:`toolbox_tui.console.say`)."""

    glyphs: Glyphs
    write: Callable[[str], None] = say

    def line(self, text: str) -> None:
        self.write(text)

    def note(self, text: str) -> None:
        say(text, file=sys.stderr)


class Stop:
    """The first Ctrl-C, SIGTERM or SIGHUP ends the watch cleanly; a second one ends the
    process at once, by that signal, whatever is still winding down (a check that does not
    stop, a thread stuck in a read): nobody should need kill -9."""

    def __init__(self, out: Output) -> None:
        import asyncio

        self.out = out
        self.event = asyncio.Event()
        self.by: str | None = None

    def install(self) -> None:
        import asyncio

        from toolbox_tui.fixing import INTERRUPTING

        loop = asyncio.get_running_loop()
        for signum in INTERRUPTING:
            loop.add_signal_handler(signum, self.received, signum)

    def remove(self) -> None:
        import asyncio

        from toolbox_tui.fixing import INTERRUPTING

        loop = asyncio.get_running_loop()
        for signum in INTERRUPTING:
            loop.remove_signal_handler(signum)

    def received(self, signum: signal.Signals) -> None:
        name = signum.name
        if self.event.is_set():
            self.out.note(f"toolbox-tui: {name} again: stopping now, without a summary.")
            die_by(signum)
            return  # only when dying is stubbed out (tests)
        self.by = name
        self.event.set()
        self.out.note(f"toolbox-tui: {name}: stopping the watch (again to stop at once).")

    async def first(self, task: asyncio.Future[Any]) -> bool:
        """Wait for ``task`` or a stop, whichever comes first; True if ``task`` finished
        (it is cancelled otherwise)."""
        import asyncio

        stopping: asyncio.Future[Any] = asyncio.ensure_future(self.event.wait())
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if task.done():
            return True
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False


def die_by(signum: signal.Signals) -> None:
    """End this process by ``signum`` as if nothing caught it: its default action, so the
    parent (a shell, systemd) sees it killed by that signal. Nothing is waited for."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


class Watcher:
    """One ``toolbox-tui watch``: its checks, its timing and its :class:`Watch` model."""

    def __init__(
        self,
        specs: Sequence[CheckSpec],
        ctx: CheckContext,
        interval: float,
        debounce: int,
        runs: int | None = None,
    ) -> None:
        from checks.watch import Watch

        self.specs = list(specs)
        self.ctx = ctx
        self.interval = interval
        self.runs = runs
        self.model = Watch(debounce)
        self.began = 0.0

    async def run(self, clock: Clock, out: Output) -> int:
        """Run until ``runs`` runs or a stop signal; the exit code."""
        stop = Stop(out)
        stop.install()
        try:
            abandoned = await self._loop(clock, out, stop)
        finally:
            stop.remove()
        out.line(final_summary(self.model, out.glyphs, clock.monotonic() - self.began, stop.by))
        if abandoned:
            out.line(f"Run {self.model.runs + 1} was stopped part-way; it is not counted.")
        if not self.model.runs:
            return EXIT_INTERRUPTED  # stopped before a single run: there is no state
        return Report(results=self.model.shown_results()).exit_code()

    async def _loop(self, clock: Clock, out: Output, stop: Stop) -> bool:
        """Run after run; True when a stop abandoned a run part-way."""
        import asyncio

        from checks.watch import for_watch

        self.began = next_start = clock.monotonic()
        ctx = self.ctx
        overran = False  # the run before took longer than the interval
        while not stop.event.is_set():
            started = clock.monotonic()
            late = started - next_start if overran else 0.0
            if self.model.runs:
                ctx = ctx.reloaded()  # the env file may have been fixed since
            collecting = asyncio.ensure_future(collect(self.specs, for_watch(ctx)))
            if not await stop.first(collecting):
                return True
            results = collecting.result().results
            took = clock.monotonic() - started
            at = clock.now()
            for change in self.model.record_run(results, at):
                out.line(change_line(change, self.model, out.glyphs))
            last = self.runs is not None and self.model.runs >= self.runs
            overran = took >= self.interval
            out.line(run_line(self.model, results, at, took, late, self.interval, last))
            if last:
                break
            # From the start of this run: a slow run delays the next, never overlaps it.
            next_start = started + self.interval
            waiting = asyncio.ensure_future(clock.sleep(max(0.0, next_start - clock.monotonic())))
            if not await stop.first(waiting):
                break
        return False


# -- the lines it prints ----------------------------------------------------------------------


def change_line(change: Change, model: Watch, glyphs: Glyphs) -> str:
    """``12:03:31 FAIL    db.reachable    ···✓✓✓✗✗✗  3 failures in a row: Cannot connect``"""
    from checks.watch import TREND_WIDTH

    label = "failing" if change.after.pending else STATUS_LABELS[change.after.status]
    trend = model.trends[change.check_id].text(TREND_WIDTH, glyphs)
    return (
        f"{_clock(change.at)} {label:<7} {change.check_id:<{ID_WIDTH}} {trend}  {change.describe()}"
    )


def run_line(
    model: Watch,
    results: Sequence[CheckResult],
    at: datetime,
    took: float,
    late: float,
    interval: float,
    last: bool,
) -> str:
    """``12:03:31 run 4 took 1.2 s: 1 fail, 38 pass; slowest db.reachable 0.8 s``, and what
    a slow run does to the next."""
    from checks.watch import tally_text

    text = f"{_clock(at)} run {model.runs} took {_seconds(took)}: {tally_text(model.tally())}"
    if results:
        slowest = max(results, key=lambda r: r.duration_ms)
        text += f"; slowest {slowest.id} {_seconds(slowest.duration_ms / 1000)}"
    if late > 0:
        text += f"; started {_seconds(late)} late, as the run before took longer"
    if last:
        return text + "."
    if took >= interval:
        return (
            text + f"; longer than the {interval:g} s interval, so run {model.runs + 1} starts now"
        )
    return text + "."


def final_summary(model: Watch, glyphs: Glyphs, seconds: float, stopped_by: str | None) -> str:
    """How it ended, the state it ended in, and every check that failed while watched."""
    from checks.watch import FAILURES, TREND_WIDTH, tally_text

    runs = _runs(model.runs)
    how = f"Stopped by {stopped_by}" if stopped_by else "Done"
    lines = [f"{how} after {runs} in {_seconds(seconds)}: {tally_text(model.tally())}."]
    troubled = sorted(
        (t for t in model.trends.values() if t.counts.keys() & FAILURES),
        key=lambda t: (pane_rank(t.last.pane if t.last else ""), t.check_id),
    )
    if not model.runs:
        return lines[0]
    if not troubled:
        lines.append("No check failed while watched.")
        return "\n".join(lines)
    lines.append("Checks that failed while watched:")
    for trend in troubled:
        assert trend.shown is not None and trend.changed_at is not None
        failed = sum(n for status, n in trend.counts.items() if status in FAILURES)
        lines.append(
            f"  {trend.check_id:<{ID_WIDTH}} {trend.text(TREND_WIDTH, glyphs)}  "
            f"{trend.shown.label(model.debounce)} since {_clock(trend.changed_at)}; "
            f"failed {failed} of {_runs(trend.runs)}"
        )
    return "\n".join(lines)


def _runs(n: int | None) -> str:
    return "1 run" if n == 1 else f"{n} runs"


def _clock(at: datetime) -> str:
    return at.strftime("%H:%M:%S")


def _seconds(seconds: float) -> str:
    """``0.03 s``, ``1.2 s``, ``12 s``, ``2m05s``: short, and exact enough for a log."""
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    return f"{whole // 60}m{whole % 60:02d}s"
