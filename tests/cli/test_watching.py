"""``toolbox-tui watch``: debounced lines as a check flaps, start-to-start timing that a slow
run delays, ``--runs``, exit codes, signals, and what watch refuses to run.

Time is a fake clock (``watching.CLOCK``) that moves only when watch waits or a check says
so: the tests read exact start times without sleeping. The signal tests use real processes
and wait for output, never for a time.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks import catalog
from checks.core import Action, Registry, failed, passed, plan
from checks.watch import glyphs_for
from toolbox_tui import watching
from toolbox_tui.cli import main
from toolbox_tui.sandbox.demo import write_demo

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
TOOL = [sys.executable, "-m", "toolbox_tui.cli"]
PLANTED = "sk_live_planted-watch-secret-0123456789"


class FakeClock:
    """Starts at 0 (12:00:00); only :meth:`sleep` and :meth:`advance` move it."""

    def __init__(self) -> None:
        self.t = 0.0
        self.between_runs: Callable[[], None] = lambda: None

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.t)

    def advance(self, seconds: float) -> None:
        self.t += seconds

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.between_runs()
        await asyncio.sleep(0)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(watching, "CLOCK", fake)
    return fake


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """An empty registry that the command line loads instead of the built-in checks."""
    registry = Registry()
    monkeypatch.setattr(catalog, "load", lambda panes=(): registry)
    return registry


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / ".env"
    path.write_text("FLAG=up\n")
    path.chmod(0o600)
    return path


def args(env_file: Path, *more: str) -> list[str]:
    return [
        "watch",
        *more,
        "--env-file",
        str(env_file),
        "--app-dir",
        str(env_file.parent),
        "--audit-log",
        str(env_file.parent / "audit.log"),
    ]


def flag_check(registry: Registry, starts: list[float] | None = None, clock=None) -> None:  # type: ignore[no-untyped-def]
    """``env.flappy``: passes while the env file says FLAG=up (so it proves the file is read
    again each run), and a steady check beside it."""

    @registry.check(id="env.flappy", pane="environment", title="Flappy service")
    async def flappy(ctx):  # type: ignore[no-untyped-def]
        if starts is not None and clock is not None:
            starts.append(clock.monotonic())
        if ctx.env.get("FLAG") == "up":
            return passed("The service answered.")
        return failed("The service did not answer.", hint="Restart it.")

    @registry.check(id="env.steady", pane="environment", title="Steady")
    async def steady(ctx):  # type: ignore[no-untyped-def]
        return passed("Fine.")


def flap(clock: FakeClock, env_file: Path, script: str) -> None:
    """Before run n+1 the env file says FLAG=up for "P" at script[n], down for "F"."""
    states: Iterator[str] = iter(script[1:])
    env_file.write_text(f"FLAG={'up' if script[0] == 'P' else 'down'}\n")

    def next_state() -> None:
        state = next(states, "P")
        env_file.write_text(f"FLAG={'up' if state == 'P' else 'down'}\n")

    clock.between_runs = next_state


def lines_for(out: str, check_id: str) -> list[str]:
    """The lines saying that ``check_id`` changed."""
    return [
        line
        for line in out.splitlines()
        if re.match(rf"\d\d:\d\d:\d\d \S+ +{re.escape(check_id)} ", line)
    ]


# -- debounce and output ----------------------------------------------------------------------


def test_a_flapping_check_turns_red_only_after_debounce_failures_in_a_row(
    registry: Registry, clock: FakeClock, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag_check(registry)
    flap(clock, env_file, "FFPFFFP")
    code = main(args(env_file, "--interval", "30", "--debounce", "3", "--runs", "7"))
    out = capsys.readouterr().out
    flappy = lines_for(out, "env.flappy")
    assert [line.split()[:2] for line in flappy] == [
        ["12:00:00", "failing"],
        ["12:00:30", "failing"],
        ["12:01:00", "PASS"],
        ["12:01:30", "failing"],
        ["12:02:00", "failing"],
        ["12:02:30", "FAIL"],  # the third failure in a row, and only then
        ["12:03:00", "PASS"],
    ]
    assert "failing 1/3 (FAIL after 3 in a row): The service did not answer." in flappy[0]
    assert "failing 2/3" in flappy[1]
    assert "no longer failing, after 2 failures in a row: The service answered." in flappy[2]
    assert "3 failures in a row: The service did not answer." in flappy[5]
    # The trend: newest on the right, one mark per run.
    assert "···✗✗✓✗✗✗✓" in flappy[6]
    # A check that does not change is printed once, on the first run.
    assert len(lines_for(out, "env.steady")) == 1
    assert code == 0  # it passed last


def run_summaries(out: str) -> list[str]:
    return [line for line in out.splitlines() if re.match(r"\d\d:\d\d:\d\d run \d+ ", line)]


def test_each_run_has_a_summary_line_with_counts_and_the_slowest_check(
    registry: Registry, clock: FakeClock, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag_check(registry)
    flap(clock, env_file, "FFF")
    main(args(env_file, "--interval", "30", "--runs", "3"))
    summaries = run_summaries(capsys.readouterr().out)
    assert len(summaries) == 3
    assert summaries[0].startswith("12:00:00 run 1 took 0.00 s: 1 failing, 1 pass; slowest env.")
    assert "run 3 took" in summaries[2] and ": 1 fail, 1 pass;" in summaries[2]


@pytest.mark.parametrize(("script", "expected"), [("FFF", 3), ("FF", 0), ("PPP", 0)])
def test_exit_code_is_checks_for_the_last_debounced_state(
    registry: Registry,
    clock: FakeClock,
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
    script: str,
    expected: int,
) -> None:
    # Two failures with a debounce of 3 still read as a warning: exit 0, as `check` gives one.
    flag_check(registry)
    flap(clock, env_file, script)
    assert main(args(env_file, "--runs", str(len(script)))) == expected


def test_the_final_summary_names_what_failed_while_watched(
    registry: Registry, clock: FakeClock, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag_check(registry)
    flap(clock, env_file, "PFP")
    main(args(env_file, "--interval", "60", "--runs", "3"))
    out = capsys.readouterr().out
    tail = out[out.index("Done after 3 runs") :].splitlines()
    assert tail[0] == "Done after 3 runs in 2m00s: 2 pass."
    assert tail[1] == "Checks that failed while watched:"
    assert tail[2].split() == [
        *("env.flappy", "·······✓✗✓", "pass", "since", "12:02:00;"),
        *("failed", "1", "of", "3", "runs"),
    ]
    assert len(tail) == 3  # env.steady never failed


# -- timing -----------------------------------------------------------------------------------


def test_the_interval_runs_from_start_to_start(
    registry: Registry, clock: FakeClock, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    starts: list[float] = []
    flag_check(registry, starts, clock)

    @registry.check(id="env.takes-a-while", pane="environment", title="Takes 4 s")
    async def slowish(ctx):  # type: ignore[no-untyped-def]
        clock.advance(4)
        return passed("done")

    main(args(env_file, "--interval", "10", "--runs", "3"))
    assert starts == [0, 10, 20]  # not 0, 14, 28
    assert "late" not in capsys.readouterr().out


def test_a_slow_run_delays_the_next_and_the_lines_say_so(
    registry: Registry, clock: FakeClock, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    starts: list[float] = []
    running: list[int] = [0, 0]  # now, most at once
    flag_check(registry, starts, clock)

    @registry.check(id="env.slow", pane="environment", title="Slow")
    async def slow(ctx):  # type: ignore[no-untyped-def]
        running[0] += 1
        running[1] = max(running)
        clock.advance(25 if len(starts) == 1 else 1)  # the first run overruns
        await asyncio.sleep(0)
        running[0] -= 1
        return passed("done")

    main(args(env_file, "--interval", "10", "--runs", "3"))
    assert starts == [0, 25, 35]  # the second waits for the first, the third is on time again
    assert running[1] == 1
    summaries = run_summaries(capsys.readouterr().out)
    assert "took 25 s" in summaries[0]
    assert "longer than the 10 s interval, so run 2 starts now" in summaries[0]
    assert "started 15 s late, as the run before took longer" in summaries[1]
    assert "late" not in summaries[2] and "longer" not in summaries[2]


# -- what it runs, and what it refuses ---------------------------------------------------------


def test_a_fix_is_refused_by_name_and_never_runs(
    registry: Registry, clock: FakeClock, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag_check(registry)
    ran: list[str] = []

    async def make_plan(ctx):  # type: ignore[no-untyped-def]
        return plan("restart the service")

    async def run(ctx, planned):  # type: ignore[no-untyped-def]
        ran.append("fix")
        return "restarted"

    registry.add_action(Action("env.restart", "Restart", "", True, "environment", make_plan, run))
    assert main(args(env_file, "--check", "env.restart", "--runs", "1")) == 2
    err = capsys.readouterr().err
    assert "env.restart: a fix, not a check. Watch only runs checks, never a fix" in err
    assert "toolbox-tui fix env.restart" in err
    assert ran == []


def test_unknown_check_and_bad_settings_are_usage_errors(
    registry: Registry, clock: FakeClock, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag_check(registry)
    assert main(args(env_file, "--check", "env.nope")) == 2
    assert "env.nope" in capsys.readouterr().err
    # --only, as `check` spells it, selects the same way.
    assert main(args(env_file, "--only", "env.nope")) == 2
    assert "env.nope" in capsys.readouterr().err
    assert main(args(env_file, "--interval", "0.5")) == 2
    assert "TOOLBOX_WATCH_INTERVAL" in capsys.readouterr().err
    assert main(args(env_file, "--debounce", "0")) == 2
    assert "TOOLBOX_WATCH_DEBOUNCE" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(args(env_file, "--runs", "0"))
    assert exc.value.code == 2
    assert "1 or more" in capsys.readouterr().err
    assert main(args(env_file, "--pane", "rollback")) == 2  # no checks there in this registry
    assert "nothing to watch" in capsys.readouterr().err


def test_watch_never_sends_the_login_probe(
    registry: Registry,
    clock: FakeClock,
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOOLBOX_RATE_LIMIT_PROBE", "true")
    seen: list[bool] = []

    @registry.check(id="sec.probe", pane="security", title="Probe")
    async def probe(ctx):  # type: ignore[no-untyped-def]
        seen.append(ctx.config.rate_limit_probe)
        return passed("not probed")

    main(args(env_file, "--runs", "2"))
    assert seen == [False, False]
    assert "TOOLBOX_RATE_LIMIT_PROBE is ignored here" in capsys.readouterr().out


def writing_checks(registry: Registry, ran: list[str]) -> None:
    """``sec.token``, which writes to the app, ``sec.after``, which needs it, and
    ``sec.looks``, which only looks."""

    @registry.check(id="sec.token", pane="security", title="Token", writes=True)
    async def token(ctx):  # type: ignore[no-untyped-def]
        ran.append("sec.token")
        return passed("issued and revoked a token")

    @registry.check(id="sec.after", pane="security", title="After", needs=["sec.token"])
    async def after(ctx):  # type: ignore[no-untyped-def]
        ran.append("sec.after")
        return passed("ran")

    @registry.check(id="sec.looks", pane="security", title="Looks")
    async def looks(ctx):  # type: ignore[no-untyped-def]
        ran.append("sec.looks")
        return passed("looked")


def test_watch_never_runs_a_check_that_writes_and_says_so(
    registry: Registry, clock: FakeClock, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[str] = []
    writing_checks(registry, ran)
    assert main(args(env_file, "--runs", "2")) == 0
    out = capsys.readouterr().out
    assert ran == ["sec.looks", "sec.looks"]
    banner = out.splitlines()[0]
    assert banner.startswith("Watching 1 check (security) every 30 s")
    assert (
        "Not watched: 1 check that writes to the app (sec.token), and 1 check that needs it "
        "(sec.after): watch never repeats them; `toolbox-tui check` runs them once."
    ) in banner
    assert "sec.token" not in out[len(banner) :] and "sec.after" not in out[len(banner) :]


def test_watching_only_checks_that_write_is_refused(
    registry: Registry, clock: FakeClock, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[str] = []
    writing_checks(registry, ran)
    assert main(args(env_file, "--check", "sec.token", "--runs", "1")) == 2
    err = capsys.readouterr().err
    assert "nothing to watch: watch never runs a check that writes to the app (sec.token)" in err
    assert "toolbox-tui check --only sec.token" in err
    assert ran == []


def test_a_secret_in_a_message_never_shows(
    registry: Registry, clock: FakeClock, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file.write_text(f"STRIPE_SECRET_KEY={PLANTED}\n")

    @registry.check(id="env.leaky", pane="environment", title="Leaky")
    async def leaky(ctx):  # type: ignore[no-untyped-def]
        return failed(f"Stripe refused {ctx.env.get('STRIPE_SECRET_KEY')}")

    main(args(env_file, "--runs", "3"))
    captured = capsys.readouterr()
    assert "Stripe refused" in captured.out
    assert PLANTED not in captured.out + captured.err


# -- stopping ----------------------------------------------------------------------------------


async def test_a_signal_during_a_run_abandons_it_and_says_so(
    registry: Registry, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from checks.config import ToolboxConfig
    from checks.context import CheckContext

    started = asyncio.Event()
    cancelled: list[bool] = []

    @registry.check(id="env.hangs", pane="environment", title="Hangs", timeout=3600)
    async def hangs(ctx):  # type: ignore[no-untyped-def]
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return passed("never")

    ctx = CheckContext.create(ToolboxConfig(env_file=env_file, app_dir=env_file.parent))
    watcher = watching.Watcher(registry.select(), ctx, interval=30, debounce=3)
    out = watching.Output(glyphs_for("utf-8"))
    task = asyncio.ensure_future(watcher.run(FakeClock(), out))
    await started.wait()
    # The real signal, to this process: watch has its handler in place while a run is on.
    os.kill(os.getpid(), signal.SIGTERM)
    code = await task
    captured = capsys.readouterr()
    assert code == 130  # stopped before a single run finished: no state to report
    assert cancelled == [True]
    assert "toolbox-tui: SIGTERM: stopping the watch (again to stop at once)." in captured.err
    assert "Stopped by SIGTERM after 0 runs" in captured.out
    assert "Run 1 was stopped part-way; it is not counted." in captured.out
    # The handler is gone again: nothing of watch is left behind in this process.
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.default_int_handler)


def _watch_process(demo_dir: Path, *more: str, **env: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
    return subprocess.Popen(
        [*TOOL, "watch", "--pane", "environment", *more],
        cwd=demo_dir,
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_between_runs_ends_with_a_final_summary_and_the_state(
    tmp_path: Path, signum: signal.Signals
) -> None:
    demo = write_demo(tmp_path / "app")
    watch = _watch_process(demo.app_dir, "--interval", "3600", "--debounce", "1")
    assert watch.stdout is not None
    for line in watch.stdout:  # the first run is done: it now waits an hour for the next
        if re.match(r"\d\d:\d\d:\d\d run 1 ", line):
            break
    watch.send_signal(signum)
    out, err = watch.communicate(timeout=60)
    assert f"toolbox-tui: {signum.name}: stopping the watch (again to stop at once)." in err
    assert f"Stopped by {signum.name} after 1 run in " in out
    assert "env.file-permissions" in out[out.index("Checks that failed while watched:") :]
    assert "Traceback" not in err
    assert watch.returncode == 3  # the demo's failures, confirmed at once with --debounce 1


def test_ascii_marks_where_the_terminal_cannot_take_others(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "app")
    watch = _watch_process(demo.app_dir, "--runs", "1", PYTHONIOENCODING="ascii")
    out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0, err  # one failure of three: not red yet
    assert re.search(r" env\.file-permissions +\.{9}X  failing 1/3", out), out
    assert re.search(r" env\.file +\.{9}\+  ", out), out


def test_watch_runs_with_textual_unimportable(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("APP_ENV=production\n")
    code = f"""
import sys, io, contextlib
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'textual':
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
from toolbox_tui import cli
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = cli.main(['watch', '--pane', 'environment', '--runs', '1', '--env-file', {str(env)!r},
                     '--app-dir', {str(tmp_path)!r}])
print(code, 'Done after 1 run' in out.getvalue(), 'textual' in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "0 True False", done.stderr


# A watch whose one check hangs as HOW says, in a process of its own: "cancel" ignores being
# cancelled (a run that never winds down), "thread" waits in a thread that never returns (a
# read from a hung mount). It says STARTED on stderr once the check runs.
_HANGING_WATCH = """
import asyncio, sys, threading
from checks import catalog
from checks.core import Registry, passed
from toolbox_tui import cli

registry = Registry()
catalog.load = lambda panes=(): registry

@registry.check(id="env.hangs", pane="environment", title="Hangs", timeout=3600)
async def hangs(ctx):
    print("STARTED", file=sys.stderr, flush=True)
    if HOW == "thread":
        await asyncio.to_thread(threading.Event().wait)
    while True:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            print("still going", file=sys.stderr, flush=True)

cli.run()
"""


def _hanging_watch(tmp_path: Path, how: str) -> subprocess.Popen[str]:
    env_file = tmp_path / ".env"
    env_file.write_text("FLAG=up\n")
    env_file.chmod(0o600)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
    code = f"HOW = {how!r}\n" + _HANGING_WATCH
    return subprocess.Popen(
        [sys.executable, "-c", code, *args(env_file)],
        cwd=Path(__file__).resolve().parents[2],
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(stream: object, text: str) -> None:
    for line in stream:  # type: ignore[attr-defined]
        if text in line:
            return
    raise AssertionError(f"never said {text!r}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_second_signal_stops_a_watch_that_does_not_wind_down(
    tmp_path: Path, signum: signal.Signals
) -> None:
    watch = _hanging_watch(tmp_path, "cancel")
    _wait_for(watch.stderr, "STARTED")
    watch.send_signal(signum)
    _wait_for(watch.stderr, "stopping the watch")  # the first: it asks the run to stop...
    _wait_for(watch.stderr, "still going")  # ...which refuses
    watch.send_signal(signum)
    _, err = watch.communicate(timeout=60)
    assert f"toolbox-tui: {signum.name} again: stopping now, without a summary." in err
    assert watch.returncode == -signum  # ended by the signal itself, as if nothing caught it
    assert "Traceback" not in err


def test_a_thread_that_never_returns_does_not_keep_a_stopped_watch_alive(
    tmp_path: Path,
) -> None:
    watch = _hanging_watch(tmp_path, "thread")
    assert watch.stderr is not None
    _wait_for(watch.stderr, "STARTED")
    watch.send_signal(signal.SIGTERM)
    out, err = watch.communicate(timeout=60)  # one signal is enough
    assert "Stopped by SIGTERM after 0 runs" in out
    assert watch.returncode == 130
    assert "Traceback" not in err
