"""Learning that a command ended without a thread per command: :func:`install`.

On Python 3.11 asyncio learns that a child process ended from a ``ThreadedChildWatcher``: one
thread per command, blocked in ``waitpid``. Starting that thread waits, on the event loop,
until the new thread has run; while the checks' own threads hold the GIL that took 15-60 ms
per command on the dashboard's loop (git, alembic, pg_dump, supervisorctl: a dozen a run).

:class:`PidfdWatcher` is the watcher Python 3.12 uses by default: the kernel gives a file
descriptor that becomes readable when the process ends (``pidfd_open``, Linux 5.3), and the
loop that started the command watches it like a socket. It belongs to no loop: each command
is watched by the loop running when it started (3.11's own ``PidfdChildWatcher`` is bound to
one loop, and forgets its children when another is attached). Where ``pidfd_open`` is
refused (an older kernel, a seccomp filter), that command gets a thread as before.

Python 3.11 only: child watchers are deprecated in 3.12 and gone in 3.14, so that
:mod:`checks.subprocesses` imports this module on 3.11 alone.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, TypeVarTuple

_Ts = TypeVarTuple("_Ts")


def install() -> None:
    """Make :class:`PidfdWatcher` asyncio's child watcher, unless it is already (called on a
    loop's thread before each command); nothing where the OS has no ``pidfd_open``."""
    if hasattr(os, "pidfd_open") and not isinstance(asyncio.get_child_watcher(), PidfdWatcher):
        asyncio.set_child_watcher(PidfdWatcher())


class PidfdWatcher(asyncio.AbstractChildWatcher):
    """asyncio's child watcher (Python 3.11's interface), by pidfd, on the running loop."""

    def __init__(self) -> None:
        self._threaded = asyncio.ThreadedChildWatcher()  # for a pid whose pidfd is refused

    def add_child_handler(
        self, pid: int, callback: Callable[[int, int, *_Ts], object], *args: *_Ts
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            self._threaded.add_child_handler(pid, callback, *args)
            return
        loop._add_reader(pidfd, self._reap, loop, pid, pidfd, callback, args)  # type: ignore[attr-defined]

    @staticmethod
    def _reap(
        loop: asyncio.AbstractEventLoop,
        pid: int,
        pidfd: int,
        callback: Callable[..., Any],
        args: tuple[Any, ...],
    ) -> None:
        loop._remove_reader(pidfd)  # type: ignore[attr-defined]
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            # Reaped by someone else (a waitpid(-1) elsewhere): its code is lost, as for
            # asyncio's own watchers.
            returncode = 255
        else:
            returncode = os.waitstatus_to_exitcode(status)
        finally:
            os.close(pidfd)
        callback(pid, returncode, *args)

    def remove_child_handler(self, pid: int) -> bool:
        # asyncio 3.11 never calls this. The pidfd is closed when the process ends, on the
        # loop that started it: a run always waits for its command's end (a cancelled one
        # kills and reaps it). A loop closed before that would leave the pidfd open and the
        # process a zombie until we exit, as with Python 3.12's own watcher.
        return True

    def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        pass  # each command is watched by the loop that started it

    def is_active(self) -> bool:
        return True

    def close(self) -> None:
        self._threaded.close()

    def __enter__(self) -> PidfdWatcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass
