"""checks.child_watcher: a command's end is learned from a pidfd on the loop that started it,
with no thread per command, on any loop; a thread only where the pidfd is refused."""

from __future__ import annotations

import asyncio
import errno
import os
import sys
import threading

import pytest

if sys.version_info >= (3, 12):
    pytest.skip("Python 3.12 and later watch children by pidfd already", allow_module_level=True)

from checks import child_watcher  # 3.11 only: see the module
from checks.subprocesses import run


def started_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads started from now on."""
    names: list[str] = []
    start = threading.Thread.start

    def noting(thread: threading.Thread) -> None:
        names.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", noting)
    return names


async def test_a_command_ends_without_a_thread_to_wait_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await run(["true"])  # the first command also asks, on a thread, how to start commands
    assert isinstance(asyncio.get_child_watcher(), child_watcher.PidfdWatcher)
    threads = started_threads(monkeypatch)
    result = await run(["sh", "-c", "exit 3"])
    assert result.returncode == 3
    # 3.11's own watcher starts "asyncio-waitpid-N" here (other tests' threads may start too)
    assert [name for name in threads if "waitpid" in name] == []


def test_commands_end_on_every_loop_that_starts_them() -> None:
    # Python 3.11's PidfdChildWatcher belongs to one loop: on a second one, its commands
    # were never seen to end.
    for code in (4, 5):
        result = asyncio.run(run(["sh", "-c", f"exit {code}"]))
        assert result.returncode == code


async def test_where_the_pidfd_is_refused_a_thread_waits_instead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await run(["true"])

    def refused(pid: int, flags: int = 0) -> int:
        raise OSError(errno.ENOSYS, "pidfd_open is not implemented")

    monkeypatch.setattr(os, "pidfd_open", refused)
    threads = started_threads(monkeypatch)
    result = await run(["sh", "-c", "exit 6"])
    assert result.returncode == 6
    assert [name for name in threads if "waitpid" in name] != []
