"""Commands run by ``checks.subprocesses.run`` never outlive us: a cancelled run interrupts
the command, then kills its whole process group; our death (even kill -9) kills it too."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from checks.subprocesses import Completed, death_signal_argv, run
from tests.sandbox.procs import PROJECT_ROOT, Proc, wait_until

# A child that says "ready <pid>" on stderr once its SIGINT handling is in place.
TRAPS_SIGINT = """
import os, signal, sys
def interrupted(signum, frame):
    open(sys.argv[1], "w").write("rolled back")
    sys.exit(1)
signal.signal(signal.SIGINT, interrupted)
print("ready", os.getpid(), file=sys.stderr, flush=True)
while True:
    signal.pause()
"""

IGNORES_SIGINT = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
print("ready", os.getpid(), file=sys.stderr, flush=True)
while True:
    signal.pause()
"""

# A child that notes the SIGINT in a file and carries on.
NOTES_SIGINT = """
import os, signal, sys
signal.signal(signal.SIGINT, lambda signum, frame: open(sys.argv[1], "w").close())
print("ready", os.getpid(), file=sys.stderr, flush=True)
while True:
    signal.pause()
"""

# A child that starts a grandchild (which ignores SIGINT) in its process group and says
# both pids.
HAS_A_GRANDCHILD = """
import os, signal, subprocess, sys
grandchild = subprocess.Popen(
    [sys.executable, "-c", "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
     "print('up', flush=True); signal.pause()"],
    stdout=subprocess.PIPE,
)
grandchild.stdout.readline()
print("ready", os.getpid(), grandchild.pid, file=sys.stderr, flush=True)
while True:
    signal.pause()
"""


class Started:
    """The ``log`` of a run: notes the pids the child announces with "ready"."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.pids: list[int] = []

    def __call__(self, line: str) -> None:
        if line.startswith("ready "):
            self.pids = [int(word) for word in line.split()[1:]]
            self.event.set()


async def start(
    script: str, *args: str, grace: float = 5.0
) -> tuple[asyncio.Task[Completed], list[int]]:
    """``run`` ``script`` in a task; once it is ready, the task and the pids it announced."""
    started = Started()
    task = asyncio.create_task(
        run([sys.executable, "-c", script, *args], log=started, interrupt_grace=grace)
    )
    await asyncio.wait_for(started.event.wait(), 30)
    return task, started.pids


async def eventually(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` without blocking the event loop, until it holds or time is up."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        await asyncio.sleep(0.01)


async def test_cancelling_interrupts_the_command_first(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    task, (pid,) = await start(TRAPS_SIGINT, str(marker))
    child = Proc.of(pid)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert marker.read_text() == "rolled back"  # it got SIGINT, not SIGKILL
    assert not child.alive
    assert not Path(f"/proc/{pid}").exists()  # reaped, not left a zombie


async def test_a_command_that_ignores_sigint_is_killed_after_the_grace() -> None:
    task, (pid,) = await start(IGNORES_SIGINT, grace=0.5)
    child = Proc.of(pid)

    began = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    took = time.monotonic() - began

    assert not child.alive
    assert not Path(f"/proc/{pid}").exists()
    assert 0.5 <= took < 5, took  # it was given its grace, and not much more


async def test_a_second_cancellation_kills_at_once(tmp_path: Path) -> None:
    noted = tmp_path / "interrupted"
    task, (pid,) = await start(NOTES_SIGINT, str(noted), grace=60)
    child = Proc.of(pid)

    task.cancel()
    await eventually(noted.exists, 10, "the command got SIGINT")
    began = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.monotonic() - began < 10
    assert not child.alive


async def test_a_grandchild_in_the_process_group_is_gone_afterwards() -> None:
    task, (pid, grandchild_pid) = await start(HAS_A_GRANDCHILD, grace=0.5)
    grandchild = Proc.of(grandchild_pid)
    assert os.getpgid(grandchild_pid) == pid

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    # Its parent is gone, so init reaps it: poll until that has happened.
    wait_until(lambda: not grandchild.alive, 10, "the grandchild ended")


async def test_the_command_is_in_its_own_process_group() -> None:
    """A Ctrl-C at the terminal goes to our process group: it must not reach the command."""
    task, (pid,) = await start(IGNORES_SIGINT, grace=0)
    try:
        assert os.getpgid(pid) == pid
        assert os.getpgid(pid) != os.getpgid(0)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_normal_run_is_unchanged(tmp_path: Path) -> None:
    done = await run(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"],
        capture_stdout=True,
    )
    assert (done.returncode, done.stdout, done.stderr_lines) == (0, "out", ("err",))


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.parametrize("armed_by", ["setpriv", "preexec_fn"])
def test_the_command_dies_when_we_are_killed(tmp_path: Path, signum: int, armed_by: str) -> None:
    """kill -9 runs none of our code: the kernel's parent-death signal ends the command,
    set by setpriv where there is one, else by our code between fork and exec."""
    if armed_by == "setpriv" and not death_signal_argv():
        pytest.skip("no setpriv --pdeathsig on this host: the preexec_fn case is its case")
    pidfile = tmp_path / "child.pid"
    parent_code = textwrap.dedent(
        f"""
        import asyncio
        import checks.subprocesses
        from checks.subprocesses import Completed, death_signal_argv, run
        if {armed_by == "preexec_fn"}:
            checks.subprocesses.SYSTEM_BIN = ""  # no setpriv to be found
        assert bool(death_signal_argv()) is {armed_by == "setpriv"}
        asyncio.run(run(["sh", "-c", 'echo $$ > {pidfile}.new && mv {pidfile}.new {pidfile} '
                               '&& exec sleep 1000']))
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], cwd=PROJECT_ROOT)
    try:
        wait_until(pidfile.exists, 30, "the command started")
        child = Proc.of(int(pidfile.read_text()))
        assert child.alive

        os.kill(parent.pid, signum)
        assert parent.wait(30) == -signum

        wait_until(lambda: not child.alive, 10, "the command ended with its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


async def test_a_missing_program_raises_as_popen_does(tmp_path: Path) -> None:
    """Callers say "git is not installed" on FileNotFoundError, with or without setpriv."""
    with pytest.raises(FileNotFoundError):
        await run(["no-such-program-anywhere", "--version"])
    with pytest.raises(FileNotFoundError):
        await run(["./not-here"], cwd=tmp_path)
    (tmp_path / "not-runnable").write_text("#!/bin/sh\n")
    with pytest.raises(PermissionError):
        await run(["./not-runnable"], cwd=tmp_path)
    (tmp_path / "here").write_text("#!/bin/sh\necho here\n")
    (tmp_path / "here").chmod(0o755)
    assert (await run(["./here"], cwd=tmp_path, capture_stdout=True)).stdout == "here"


async def test_with_setpriv_python_need_not_fork_the_whole_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No preexec_fn, so that Python may vfork: forking copies our page tables, ~20 ms for
    the dashboard during a run, with every thread stopped."""
    if not death_signal_argv():
        pytest.skip("no setpriv --pdeathsig on this host: commands start with a preexec_fn")
    started: list[tuple[tuple[object, ...], dict[str, object]]] = []
    spawn = asyncio.create_subprocess_exec

    async def noting(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        started.append((args, kwargs))
        return await spawn(*args, **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", noting)
    assert (await run(["true"])).ok
    [(args, kwargs)] = started
    assert args == (*death_signal_argv(), str(os.getpid()), "true")
    assert kwargs["preexec_fn"] is None


def test_under_setpriv_a_command_whose_parent_died_first_does_not_run(tmp_path: Path) -> None:
    """Had we died before setpriv set the signal, nobody would send it: the command sees
    that its parent is not the pid it was given and stops before it starts."""
    if not death_signal_argv():
        pytest.skip("no setpriv --pdeathsig on this host")
    marker = tmp_path / "ran"
    command = ["sh", "-c", f"touch {marker}"]
    not_us = str(os.getpid() + 1)
    done = subprocess.run([*death_signal_argv(), not_us, *command], timeout=30)
    assert done.returncode == 125 and not marker.exists()
    done = subprocess.run([*death_signal_argv(), str(os.getpid()), *command], timeout=30)
    assert done.returncode == 0 and marker.exists()


async def test_a_line_longer_than_the_stream_buffer_is_read_whole() -> None:
    """asyncio reads lines of at most 64 KiB; a longer one must not end the run."""
    logged: list[str] = []
    done = await run(
        [
            sys.executable,
            "-c",
            "import sys; print('x' * 70000); print('short'); print('y' * 70000, file=sys.stderr)",
        ],
        capture_stdout=True,
        log=logged.append,
    )
    assert done.returncode == 0
    assert done.stdout == "x" * 70000 + "\nshort"
    assert done.stderr_lines == ("y" * 70000,)
    assert logged == ["y" * 70000]


async def test_captured_bytes_that_are_not_utf8_can_be_kept() -> None:
    """File names need not be UTF-8: surrogate escapes keep them; the log shows \ufffd."""
    logged: list[str] = []
    done = await run(
        [
            sys.executable,
            "-c",
            "import sys; sys.stdout.buffer.write(b'caf\\xe9'); sys.stderr.buffer.write(b'\\xe9')",
        ],
        capture_stdout=True,
        log=logged.append,
        decode_errors="surrogateescape",
    )
    assert done.stdout.encode("utf-8", "surrogateescape") == b"caf\xe9"
    assert logged == ["\ufffd"]


# A child that says "started" at once, then echoes the line it is given on stdin.
ECHOES_ITS_INPUT = """
import sys
print("started", file=sys.stderr, flush=True)
print("given", sys.stdin.readline().strip())
"""


async def test_a_command_starts_before_its_awaited_input_is_ready() -> None:
    started = asyncio.Event()
    ready: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def log(line: str) -> None:
        if line == "started":
            started.set()

    task = asyncio.ensure_future(
        run([sys.executable, "-c", ECHOES_ITS_INPUT], stdin=ready, log=log, capture_stdout=True)
    )
    await asyncio.wait_for(started.wait(), 30)  # it runs while its input is not there yet
    assert not task.done()
    ready.set_result(b"the steps\n")
    done = await asyncio.wait_for(task, 30)
    assert (done.returncode, done.stdout) == (0, "given the steps")


async def test_a_command_whose_awaited_input_fails_is_killed_and_the_failure_raised() -> None:
    started = asyncio.Event()
    ready: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    pids: list[int] = []

    def log(line: str) -> None:
        if line.startswith("ready"):
            pids.append(int(line.split()[1]))
            started.set()

    task = asyncio.ensure_future(run([sys.executable, "-c", IGNORES_SIGINT], stdin=ready, log=log))
    await asyncio.wait_for(started.wait(), 30)
    ready.set_exception(RuntimeError("the scratch copy could not be made"))
    with pytest.raises(RuntimeError, match="the scratch copy could not be made"):
        # It never reads its input and ignores SIGINT: only being killed ends it.
        await asyncio.wait_for(task, 30)
    assert not Path(f"/proc/{pids[0]}").exists()


async def test_a_log_that_raises_ends_the_run_with_its_error_not_a_hang() -> None:
    """The command writes more than a pipe holds after the first line the log refuses: it
    is stopped, not left blocked on a pipe nobody reads."""

    def log(line: str) -> None:
        raise RuntimeError("the log is broken")

    loud = "import sys\nfor _ in range(20000): print('x' * 60, file=sys.stderr)\n"
    with pytest.raises(RuntimeError, match="the log is broken"):
        await asyncio.wait_for(run([sys.executable, "-c", loud], log=log, interrupt_grace=1), 30)
