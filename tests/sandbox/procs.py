"""Processes seen through /proc, for the tests that prove nothing is left behind.

Read independently of the code under test (which has its own /proc reading), so a mistake
there cannot hide itself here.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_POLL_INTERVAL = 0.02


def cli_argv(*args: str) -> list[str]:
    """The command line that runs ``toolbox-tui args`` with this interpreter."""
    return [sys.executable, "-m", "toolbox_tui.cli", *args]


@dataclass(frozen=True)
class Proc:
    """A process pinned by its start time: its pid may later name another process."""

    pid: int
    start: int

    @classmethod
    def of(cls, pid: int) -> Proc:
        fields = _stat(pid)
        assert fields is not None, f"process {pid} is not running"
        return cls(pid, int(fields[19]))

    @property
    def alive(self) -> bool:
        """False once it has exited (a zombie has exited, only its exit code is left)."""
        fields = _stat(self.pid)
        return fields is not None and int(fields[19]) == self.start and fields[0] not in "ZX"


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` in the process tree."""
    children: dict[int, list[int]] = {}
    for pid in _pids():
        fields = _stat(pid)
        if fields is not None and fields[0] not in "ZX":
            children.setdefault(int(fields[1]), []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


def using(folder: Path) -> list[int]:
    """Live processes working in ``folder`` (or below it) or naming it on their command line."""
    prefix = str(folder).rstrip("/")
    found = []
    for pid in _pids():
        where = cwd(pid) or ""
        argv = _cmdline(pid).replace(b"\0", b" ").decode(errors="replace")
        if where == prefix or where.startswith(prefix + "/") or prefix in argv:
            found.append(pid)
    return found


def server_folder(pid: int) -> Path:
    """The sandbox directory a server process works in (PostgreSQL works in data/ below it)."""
    where = Path(cwd(pid) or "/")
    while where.parent != where and not where.name.startswith("toolbox-"):
        where = where.parent
    assert where.name.startswith("toolbox-"), f"process {pid} works in no sandbox directory"
    return where


def started_by(pid: int) -> tuple[list[Proc], list[Path]]:
    """The live processes below ``pid``, and the sandbox directories they work in."""
    procs = [Proc.of(child) for child in descendants(pid)]
    folders = {server_folder(p.pid) for p in procs if b"watchdog" not in _cmdline(p.pid)}
    return procs, sorted(folders)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail saying ``what`` did not happen in time."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(_POLL_INTERVAL)


def left_behind(procs: Iterable[Proc], folders: Iterable[Path]) -> list[str]:
    """What is still there: live processes, processes using the folders, the folders."""
    found = [f"process {p.pid}" for p in procs if p.alive]
    for folder in folders:
        found += [f"process {pid} using {folder}" for pid in using(folder)]
        if folder.exists():
            found.append(f"directory {folder}")
    return found


def wait_until_nothing_left(procs: Iterable[Proc], folders: Iterable[Path], timeout: float) -> None:
    procs, folders = list(procs), list(folders)
    deadline = time.monotonic() + timeout
    while left := left_behind(procs, folders):
        assert time.monotonic() < deadline, f"still there after {timeout:g} s: {left}"
        time.sleep(_POLL_INTERVAL)
