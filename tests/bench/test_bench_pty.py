"""The benchmarks' pty harness: programs run as on a terminal, what they draw is seen, the
keys' effects are recognised, and nothing they started outlives them."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from benchmarks import targets
from benchmarks.first_frame import start_and_quit
from benchmarks.keypress import DOWN, Layout
from benchmarks.pty_process import NotSeen, PtyProcess, run_to_exit

TIMEOUT = 60.0


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_the_child_owns_an_80x24_xterm_and_gets_no_toolbox_settings() -> None:
    code = (
        "import os; size = os.get_terminal_size(0); "
        "owner = os.tcgetpgrp(0) == os.getpgrp(); "
        "print(f'{size.columns}x{size.lines}', os.environ['TERM'], owner, "
        "os.environ.get('TOOLBOX_READ_ONLY', 'unset'))"
    )
    env = {**os.environ, "TOOLBOX_READ_ONLY": "true"}
    with PtyProcess(python(code), env=env) as process:
        process.wait_for(lambda s: s.shows("unset") or s.shows("true"), "the report", TIMEOUT)
        assert process.screen.shows("80x24 xterm-256color True unset")


def test_a_program_that_ends_before_its_frame_is_reported_with_its_screen() -> None:
    ends = python("print('no frame here'); raise SystemExit(7)")
    with PtyProcess(ends) as process, pytest.raises(NotSeen) as caught:
        process.wait_for(targets.shows_bare, "the first frame", TIMEOUT)
    message = str(caught.value)
    assert "its output ended before the first frame showed" in message
    assert "exited with 7" in message
    assert "no frame here" in message


def test_run_to_exit_times_a_program_and_refuses_an_unexpected_exit_code() -> None:
    assert 0 < run_to_exit(python("pass")) < TIMEOUT
    assert run_to_exit(python("raise SystemExit(3)"), expect=(0, 3)) > 0
    with pytest.raises(NotSeen, match=r"expected an exit code in \[0\] \(process exited with 2\)"):
        run_to_exit(python("raise SystemExit(2)"))


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # dead, waiting for a parent to collect it


def test_leaving_the_block_kills_what_the_program_started() -> None:
    # The child ignores the hang-up that closing the pty sends: only the kill stops it.
    script = "trap '' HUP; sleep 600 & echo child=$!; wait"
    with PtyProcess(["/bin/sh", "-c", script]) as process:
        process.wait_for(lambda s: s.find("child=") is not None, "the child's pid", TIMEOUT)
        found = process.screen.find("child=")
        assert found is not None
        child = int(process.screen.line(found[0]).split("=", 1)[1].split()[0])
        assert not _gone(child)
    deadline = time.monotonic() + TIMEOUT
    while not _gone(child):
        assert time.monotonic() < deadline, f"pid {child} outlived the benchmark's block"
        os.sched_yield()


def test_the_bare_app_draws_its_first_frame_and_quits_on_q() -> None:
    shown, quit_ = start_and_quit(targets.bare_app(), targets.shows_bare)
    assert 0 < shown < TIMEOUT
    assert 0 < quit_ < TIMEOUT


def test_tab_keys_and_the_down_arrow_are_recognised_on_the_same_widget_app() -> None:
    with PtyProcess(targets.widgets_app()) as process:
        process.wait_for(targets.shows_dashboard, "the first frame", TIMEOUT)
        process.settle(0.3, TIMEOUT)
        layout = Layout(process.screen)
        assert layout.downs > 0
        second, below = layout.tab_is_active("2"), layout.cursor_on(1)
        # Neither holds before its key: the waits below measure something.
        assert not second(process.screen)
        assert not below(process.screen)

        process.send(b"2")
        process.wait_for(second, "tab 2 active", TIMEOUT)
        assert not layout.tab_is_active("1")(process.screen)

        process.send(b"1")
        process.wait_for(layout.tab_is_active("1"), "tab 1 active", TIMEOUT)
        process.settle(0.2, TIMEOUT)
        process.send(DOWN)
        process.wait_for(below, "the cursor one row down", TIMEOUT)
        assert not layout.cursor_on(0)(process.screen)

        process.send(b"q")
        process.wait_exit(TIMEOUT)
        assert process.returncode == 0
