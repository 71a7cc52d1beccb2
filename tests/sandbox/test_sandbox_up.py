"""``toolbox-tui sandbox up`` as a real process: whatever ends it (a Ctrl-C, SIGTERM, a
closed terminal, kill -9), its PostgreSQL and Redis stop and their directories go."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.procs import (
    PROJECT_ROOT,
    cli_argv,
    left_behind,
    started_by,
    wait_until_nothing_left,
)

START_TIMEOUT = 120.0  # initdb, alembic and a busy two-core machine


class SandboxUp:
    """``sandbox up`` in a process group of its own, as a shell runs a foreground job, with
    what it started (its servers, their workers, the watchdog) and their directories."""

    def __init__(self, app_dir: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            cli_argv("sandbox", "up", "--dir", str(app_dir), *extra),
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            for _line in self._lines_until("stops it.", START_TIMEOUT):
                pass
            self.procs, self.folders = started_by(self.proc.pid)
        except BaseException:
            self.kill()
            raise

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _lines_until(self, ending: str, timeout: float) -> Iterator[str]:
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {ending!r} within {timeout:g} s: {self.lines}") from None
            assert line is not None, f"it ended before {ending!r}: {self.lines}"
            self.lines.append(line)
            yield line
            if line.endswith(ending):
                return

    def finish(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout)
        while (line := self._queue.get(timeout=timeout)) is not None:
            self.lines.append(line)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def sandbox_up(tmp_path: Path) -> Iterator[SandboxUp]:
    up = SandboxUp(tmp_path / "app")
    yield up
    up.kill()


@pytest.mark.parametrize(
    "signum",
    [
        pytest.param(signal.SIGINT, id="Ctrl-C (SIGINT to its process group)"),
        pytest.param(signal.SIGTERM, id="kill (SIGTERM)"),
        pytest.param(signal.SIGHUP, id="the terminal closed (SIGHUP)"),
    ],
)
def test_a_stop_signal_stops_and_removes_everything_and_says_so(
    sandbox_up: SandboxUp, signum: signal.Signals
) -> None:
    os.killpg(sandbox_up.proc.pid, signum)

    assert sandbox_up.finish() == 0, sandbox_up.lines

    # Stopped by the command itself, before it exited: nothing to wait for.
    assert left_behind(sandbox_up.procs, sandbox_up.folders) == []
    said = sandbox_up.lines
    assert f"toolbox-tui: {signum.name} received; stopping the sandbox." in said
    for folder in sandbox_up.folders:
        server = r"(PostgreSQL|Redis|OpenBao|soketi|supervisord) \(pid \d+\)"
        stopped = rf"  {server} stopped; {re.escape(str(folder))} removed\."
        assert [line for line in said if re.fullmatch(stopped, line)], (folder, said)
    assert (
        "  the SMTP relay and the SendGrid, Stripe, Supabase Storage and VirusTotal "
        "stand-ins stopped."
    ) in said
    assert said[-1] == "Sandbox stopped."


def test_kill_9_leaves_nothing_behind(sandbox_up: SandboxUp) -> None:
    """Nothing of ours runs: the watchdog stops the servers and removes their directories."""
    os.kill(sandbox_up.proc.pid, signal.SIGKILL)
    assert sandbox_up.finish() == -signal.SIGKILL

    wait_until_nothing_left(sandbox_up.procs, sandbox_up.folders, 30)


def test_db_down_shows_postgres_stopped_and_still_cleans_up(tmp_path: Path) -> None:
    up = SandboxUp(tmp_path / "app", "--break", "db-down")
    try:
        (folder,) = [
            Path(match[1])
            for line in up.lines
            if (match := re.fullmatch(r"  PostgreSQL stopped \((.+)\)", line))
        ]
        assert folder.is_dir()  # halted by the scenario, kept for a restart

        up.proc.send_signal(signal.SIGTERM)

        assert up.finish() == 0, up.lines
        assert f"  PostgreSQL was stopped; {folder} removed." in up.lines
        assert left_behind(up.procs, [*up.folders, folder]) == []
    finally:
        up.kill()


def test_the_sandbox_is_not_imported_by_the_headless_commands() -> None:
    """`toolbox-tui check` starts fast: the servers, alembic and the demo writer stay unloaded."""
    code = textwrap.dedent(
        """
        import contextlib, io, sys
        from toolbox_tui import cli
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(["list"])
        print(sorted(m for m in sys.modules if m.startswith("toolbox_tui.sandbox")))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['toolbox_tui.sandbox', 'toolbox_tui.sandbox.scenarios']"


def _blocked_signals(native_id: int) -> set[signal.Signals]:
    """The signals thread ``native_id`` of this process blocks (Linux: /proc SigBlk)."""
    status = Path(f"/proc/self/task/{native_id}/status").read_text()
    mask = int(
        next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16
    )
    return {s for s in signal.Signals if mask >> (s.value - 1) & 1}


def test_the_sandbox_threads_never_take_a_stop_signal(tmp_path: Path) -> None:
    # `sandbox up` waits for SIGTERM/SIGHUP in the main thread with their default action in
    # place: a server thread that took one would end the process with nothing cleaned up.
    import threading

    from toolbox_tui.sandbox.foreground import STOP_SIGNALS
    from toolbox_tui.sandbox.stack import Sandbox

    before = {t.native_id for t in threading.enumerate()}
    with Sandbox(tmp_path / "app"):
        started = [t for t in threading.enumerate() if t.native_id not in before and t.is_alive()]
        assert started, "the sandbox's SMTP relay and SendGrid API run in threads"
        for thread in started:
            assert thread.native_id is not None
            assert set(STOP_SIGNALS) <= _blocked_signals(thread.native_id), thread.name
    assert not set(STOP_SIGNALS) & _blocked_signals(threading.main_thread().native_id or 0)
