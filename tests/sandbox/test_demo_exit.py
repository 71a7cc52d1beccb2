"""``toolbox-tui demo`` leaves nothing behind: however the dashboard ends (``q``, SIGTERM, a
closed terminal, kill -9, an exception), the sandbox's PostgreSQL and Redis stop, their
directories go, and the last line on the screen says so."""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks import catalog
from tests.sandbox.procs import (
    PROJECT_ROOT,
    Proc,
    cli_argv,
    left_behind,
    started_by,
    wait_until_nothing_left,
)
from tests.sandbox.terminal import Terminal
from toolbox_tui import cli
from toolbox_tui.reporters import EXIT_INTERNAL, EXIT_OK
from toolbox_tui.sandbox.stack import Sandbox

START_TIMEOUT = 120.0  # initdb, alembic and the first frame, on a busy two-core machine
ENDED = "toolbox-tui: demo ended; the sandbox's servers are stopped and removed."


class Demo:
    """The demo in a terminal, with what it started: its servers, their folders, the watchdog."""

    def __init__(self, app_dir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
        env |= {"TERM": "xterm"}
        self.term = Terminal(cli_argv("demo", "--dir", str(app_dir)), PROJECT_ROOT, env)
        try:
            self.term.wait_for("Quit", START_TIMEOUT)  # the dashboard is drawn: sandbox up
            self.procs, self.folders = started_by(self.term.pid)
            assert [f.name.split("-")[1] for f in self.folders] == [
                "openbao",
                "pg",
                "redis",
                "soketi",
                "supervisor",
            ], self.folders
        except BaseException:
            self.term.kill()
            raise

    def settle(self) -> None:
        """Until the first run of the checks is over (its header stops saying "running")."""

        def settled() -> bool:
            header = self.term.text.rsplit("toolbox-tui ", 1)[-1][:80]
            return "pass" in header and "running" not in header

        self.term.wait_until(settled, START_TIMEOUT, "the checks finished")

    @property
    def last_line(self) -> str:
        """The last line on the screen once the dashboard has gone."""
        lines = [line.strip() for line in self.term.after_full_screen.splitlines()]
        return next((line for line in reversed(lines) if line), "(nothing)")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    started = Demo(tmp_path / "app")
    yield started
    started.term.kill()


def test_q_stops_and_removes_everything_and_says_so_last(demo: Demo) -> None:
    demo.settle()
    demo.term.type("q")

    assert demo.term.wait_exit(60) == EXIT_OK
    demo.term.wait_closed(10)

    assert left_behind(demo.procs, demo.folders) == []
    assert demo.last_line == ENDED


def test_kill_9_leaves_nothing_behind(demo: Demo) -> None:
    demo.term.signal(signal.SIGKILL)
    assert demo.term.wait_exit(10) == -signal.SIGKILL

    wait_until_nothing_left(demo.procs, demo.folders, timeout=30)


def test_sigterm_stops_and_removes_everything_and_says_so_last(demo: Demo) -> None:
    demo.settle()
    demo.term.signal(signal.SIGTERM)

    demo.term.wait_exit(60)
    demo.term.wait_closed(10)

    assert left_behind(demo.procs, demo.folders) == []
    assert ENDED in demo.term.after_full_screen
    assert demo.last_line == "toolbox-tui: SIGTERM received; quit."


def test_a_closed_terminal_stops_and_removes_everything(demo: Demo) -> None:
    """The SSH connection drops: the kernel sends SIGHUP, and nobody reads what we print."""
    demo.settle()
    demo.term.hang_up()

    demo.term.wait_exit(30)

    assert left_behind(demo.procs, demo.folders) == []


# -- in this process: what cmd_demo does when the dashboard returns or raises -------------------


@pytest.fixture
def dashboard_here(monkeypatch: pytest.MonkeyPatch) -> list[Sandbox]:
    """No terminal needed; the sandboxes that cmd_demo starts are noted as they start."""
    monkeypatch.setattr(cli, "_require_terminal", lambda: None)
    started: list[Sandbox] = []
    original = Sandbox.start

    def start(self: Sandbox) -> None:
        original(self)
        started.append(self)

    monkeypatch.setattr(Sandbox, "start", start)
    return started


def _demo_args(tmp_path: Path) -> argparse.Namespace:
    return cli.build_parser().parse_args(["demo", "--dir", str(tmp_path / "app")])


def _running(sandbox: Sandbox) -> tuple[list[Proc], list[Path]]:
    servers = (sandbox.postgres, sandbox.redis)
    return [Proc.of(s.pid) for s in servers], [s.directory for s in servers if s.directory]


def test_a_crash_in_the_dashboard_stops_everything(
    tmp_path: Path,
    dashboard_here: list[Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: list[tuple[list[Proc], list[Path]]] = []

    def crashing_dashboard(*args: object) -> tuple[int, str | None]:
        seen.append(_running(dashboard_here[0]))
        raise RuntimeError("the dashboard fell over")

    monkeypatch.setattr(cli, "_dashboard", crashing_dashboard)
    monkeypatch.delenv("TOOLBOX_DEBUG", raising=False)

    assert cli.main(["demo", "--dir", str(tmp_path / "app")]) == EXIT_INTERNAL

    ((procs, folders),) = seen
    assert all(not p.alive for p in procs)
    assert left_behind(procs, folders) == []
    err = capsys.readouterr().err
    assert ENDED in err
    assert "the dashboard fell over" in err.splitlines()[-2]  # then main reports the crash


def test_when_the_dashboard_returns_the_last_line_says_the_demo_ended(
    tmp_path: Path,
    dashboard_here: list[Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: list[tuple[list[Proc], list[Path]]] = []

    def dashboard(*args: object) -> tuple[int, str | None]:
        seen.append(_running(dashboard_here[0]))
        return EXIT_OK, None

    monkeypatch.setattr(cli, "_dashboard", dashboard)

    assert cli.cmd_demo(_demo_args(tmp_path), catalog.load()) == EXIT_OK

    ((procs, folders),) = seen
    assert left_behind(procs, folders) == []
    assert capsys.readouterr().err.splitlines()[-1] == ENDED


def test_what_became_of_a_running_fix_is_the_very_last_line(
    tmp_path: Path,
    dashboard_here: list[Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    note = "toolbox-tui: db.upgrade ended (cancelled) before quitting: Interrupted: rolled back."
    monkeypatch.setattr(cli, "_dashboard", lambda *args: (EXIT_OK, note))
    assert cli.cmd_demo(_demo_args(tmp_path), catalog.load()) == EXIT_OK
    assert capsys.readouterr().err.splitlines()[-2:] == [ENDED, note]
