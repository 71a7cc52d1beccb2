"""One runbook at a time: an exclusive ``flock`` on a file beside the audit log.

Two runbooks interleaving their steps (a release checking out v1.5.0 while a rollback
downgrades the database) would leave a deployment no journal describes. The lock is held by
the process for as long as it runs a runbook; within one process it may be taken again (the
command line holds it for the whole run, the engine for each step). The kernel drops it when
the process dies, so a killed run never leaves it behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from checks.runbooks.model import RunbookError

_held: dict[Path, tuple[int, int]] = {}
"""Lock file -> (its descriptor, how many holders in this process)."""


def lock_path(audit_path: Path) -> Path:
    return audit_path.with_name(audit_path.name + ".runbook-lock")


@contextlib.contextmanager
def runbook_lock(audit_path: Path) -> Iterator[None]:
    """Hold the runbook lock; RunbookError at once if another process holds it."""
    path = lock_path(audit_path)
    if path in _held:
        fd, depth = _held[path]
        _held[path] = (fd, depth + 1)
    else:
        _held[path] = (_acquire(path), 1)
    try:
        yield
    finally:
        fd, depth = _held[path]
        if depth > 1:
            _held[path] = (fd, depth - 1)
        else:
            del _held[path]
            os.close(fd)  # closing the descriptor releases the flock


def _acquire(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise RunbookError(
            f"The runbook lock {path} cannot be opened ({exc.strerror or exc}); it lives beside "
            "the audit log, which must be writable."
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise RunbookError(
            f"Another runbook is running{holder}: one at a time. Wait for it to end "
            "(or, if that process is gone, run this again: the lock goes with it)."
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode().strip())
        return f" (pid {pid})"
    return ""
