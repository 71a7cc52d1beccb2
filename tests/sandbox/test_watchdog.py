"""The watchdog: when the process that registered a server dies, however it dies, the
server is stopped (its own signal first, SIGKILL after the grace) and its folder removed;
a server that was forgotten is left alone, and a pid that now names another process is
never signalled."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.procs import PROJECT_ROOT, Proc, wait_until, wait_until_nothing_left
from toolbox_tui.sandbox import watchdog as watchdog_module
from toolbox_tui.sandbox.watchdog import Watchdog

# A server stand-in: notes the signal that stopped it (outside its folder) and exits.
NOTES_ITS_STOP = """
import signal, sys
def stop(signum, frame):
    open(sys.argv[1], "w").write(signal.Signals(signum).name)
    sys.exit(0)
for signum in (signal.SIGTERM, signal.SIGQUIT):
    signal.signal(signum, stop)
print("ready", flush=True)
while True:
    signal.pause()
"""

IGNORES_ITS_STOP = """
import signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
while True:
    signal.pause()
"""


@pytest.fixture
def folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="toolbox-test-"))
    (path / "data").mkdir()
    (path / "data" / "file").write_text("x")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def dog() -> Iterator[Watchdog]:
    guard = Watchdog()
    yield guard
    guard.close()


def proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def server(script: str, folder: Path, *args: str) -> subprocess.Popen[bytes]:
    """A child in its own session working in ``folder``, once it is ready."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    return proc


def test_on_end_of_pipe_it_stops_the_server_with_its_signal_and_removes_the_folder(
    dog: Watchdog, folder: Path, tmp_path: Path
) -> None:
    said = tmp_path / "stopped-by"
    proc = server(NOTES_ITS_STOP, folder, str(said))
    dog.watch(folder, proc.pid, signal.SIGQUIT, grace=10)

    dog.close()  # what our death does to the pipe

    assert proc.wait(10) == 0
    assert said.read_text() == "SIGQUIT"
    assert not folder.exists()


def test_a_server_that_ignores_its_stop_signal_is_killed_after_the_grace(
    dog: Watchdog, folder: Path
) -> None:
    proc = server(IGNORES_ITS_STOP, folder)
    dog.watch(folder, proc.pid, signal.SIGTERM, grace=0.3)

    dog.close()

    assert proc.wait(10) == -signal.SIGKILL
    assert not folder.exists()


def test_a_process_working_in_the_folder_is_killed_even_if_unregistered(
    dog: Watchdog, folder: Path
) -> None:
    """A PostgreSQL backend leads a process group of its own; it works in the data folder."""
    straggler = server(IGNORES_ITS_STOP, folder / "data")
    dog.watch(folder)  # the folder only, as before the server's process starts

    dog.close()

    assert straggler.wait(10) == -signal.SIGKILL
    assert not folder.exists()


def test_a_forgotten_server_is_left_alone(dog: Watchdog, folder: Path, tmp_path: Path) -> None:
    said = tmp_path / "stopped-by"
    proc = server(NOTES_ITS_STOP, folder, str(said))
    try:
        dog.watch(folder, proc.pid, signal.SIGTERM)
        dog.forget(folder)

        dog.close()

        assert proc.poll() is None
        assert not said.exists()
        assert (folder / "data" / "file").exists()
    finally:
        proc.kill()
        proc.wait()


def test_it_ignores_terminal_signals_in_a_session_of_its_own(dog: Watchdog, folder: Path) -> None:
    dog.watch(folder)  # returns once the watchdog is ready
    assert dog.pid is not None
    assert os.getsid(dog.pid) == dog.pid  # a Ctrl-C or hang-up of our terminal misses it
    ignored = int(proc_status(dog.pid)["SigIgn"], 16)
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        assert ignored & (1 << (signum - 1)), signal.Signals(signum).name
        os.kill(dog.pid, signum)

    dog.close()  # it was still there to do its job

    assert not folder.exists()


def test_a_killed_watchdog_is_replaced_and_told_everything(
    dog: Watchdog, folder: Path, tmp_path: Path
) -> None:
    first = tmp_path / "first"
    first.mkdir()
    dog.watch(first)
    assert dog.pid is not None
    killed = Proc.of(dog.pid)
    os.kill(killed.pid, signal.SIGKILL)
    wait_until(lambda: not killed.alive, 10, "the watchdog died")

    dog.watch(folder)  # notices, starts another, tells it about both
    dog.close()

    assert not first.exists()
    assert not folder.exists()


def test_a_pid_that_names_another_process_now_is_not_signalled(folder: Path) -> None:
    bystander = server(IGNORES_ITS_STOP, Path("/"))
    try:
        real = Proc.of(bystander.pid)
        watchdog_module.clean_up(
            [
                {
                    "folder": str(folder),
                    "pid": bystander.pid,
                    "start": real.start - 1,  # the process it was registered as is gone
                    "signal": signal.SIGKILL,
                    "grace": 0,
                }
            ]
        )
        assert bystander.poll() is None
        assert not folder.exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_garbled_and_relative_messages_are_ignored(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "relative").mkdir()
    messages = [
        b"not json\n",
        json.dumps({"op": "watch"}).encode() + b"\n",
        json.dumps({"op": "watch", "folder": "relative"}).encode() + b"\n",
        json.dumps({"op": "watch", "folder": str(folder)}).encode() + b"\n",
        b'{"op": "watch", "folder": "/tm',  # the writer was killed mid-line
    ]
    watchdog_module.serve(io.BytesIO(b"".join(messages)))

    assert not folder.exists()
    assert (tmp_path / "relative").is_dir()


def test_kill_9_of_the_process_that_registered_a_server(folder: Path) -> None:
    """The real thing: nothing of ours runs, the watchdog still cleans up."""
    code = textwrap.dedent(
        f"""
        import signal, subprocess, sys
        from pathlib import Path
        from toolbox_tui.sandbox.watchdog import Watchdog
        child = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"],
                                 cwd={str(folder)!r}, start_new_session=True)
        dog = Watchdog()
        dog.watch(Path({str(folder)!r}), child.pid, signal.SIGTERM, 5)
        print(child.pid, dog.pid, flush=True)
        signal.pause()
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, stdout=subprocess.PIPE
    )
    try:
        assert parent.stdout is not None
        child_pid, dog_pid = (int(word) for word in parent.stdout.readline().split())
        child, dog = Proc.of(child_pid), Proc.of(dog_pid)

        parent.kill()
        parent.wait()

        wait_until_nothing_left([child, dog], [folder], timeout=20)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
