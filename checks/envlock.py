"""One toolbox-tui fix of an env file at a time, across processes.

:func:`lock_env_file` holds an exclusive ``flock`` on the directory of the (resolved) env
file for a whole read-modify-write. The directory, not the file: an atomic write renames a
new inode over the file, so a process that opened the file after the rename would lock the
new inode and not be excluded; the directory stays the same inode throughout.

When the lock is not free in time, :class:`EnvFileBusy` names the process holding it, found
in ``/proc/locks`` (every ``flock`` there carries the holder's pid and the device and inode
it locks) and ``/proc/<pid>/cmdline``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from checks.enverrors import EnvFileBusy, EnvFileError

POLL_SECONDS = 0.05
_SHOWN_COMMAND = 160  # characters of the holder's command line in a message
PROC_LOCKS = Path("/proc/locks")


@contextlib.contextmanager
def lock_env_file(path: Path, wait: float = 5.0) -> Iterator[None]:
    """Hold the lock that every toolbox-tui fix of ``path`` takes, waiting up to ``wait`` s.

    Not re-entrant: a second lock of the same file, even from this process, waits like any
    other. The lock goes with the descriptor, so it is released on exit and when the process
    dies, however it dies.
    """
    directory = path.resolve().parent
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise EnvFileError(
            f"The directory of {path.name} cannot be opened to lock it ({exc.strerror}); "
            "nothing was changed."
        ) from None
    try:
        _acquire(fd, path, wait)
        yield
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise EnvFileError(
                    f"The directory of {path.name} cannot be locked ({exc.strerror}); "
                    "nothing was changed."
                ) from None
        if time.monotonic() >= deadline:
            raise EnvFileBusy(
                f"{path.name} is being changed by {lock_holder(fd)}; wait for that fix to "
                f"finish, then try again."
            )
        time.sleep(POLL_SECONDS)


def lock_holder(fd: int) -> str:
    """Who holds an ``flock`` on what ``fd`` refers to: ``pid 42 (toolbox-tui fix …)``."""
    pid = _flock_pid(os.fstat(fd))
    if pid is None:
        return "another process"
    if pid == os.getpid():
        return f"another fix in this toolbox-tui (pid {pid})"
    command = _command_line(pid)
    return f"pid {pid} ({command})" if command else f"pid {pid}"


def _flock_pid(st: os.stat_result) -> int | None:
    # Lines look like "3: FLOCK  ADVISORY  WRITE 4242 fe:00:260072 0 EOF"; a waiter's has
    # "->" after the number. The device is major:minor in hex, the inode in decimal.
    try:
        lines = PROC_LOCKS.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return None
    wanted = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        try:
            major, minor, inode = fields[5].split(":")
            if (int(major, 16), int(minor, 16), int(inode)) == wanted:
                return int(fields[4])
        except ValueError:
            continue
    return None


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    command = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", errors="replace")
    if len(command) > _SHOWN_COMMAND:
        command = command[: _SHOWN_COMMAND - 1] + "…"
    return command
