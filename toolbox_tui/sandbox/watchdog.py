"""A separate process that stops the sandbox's servers and removes their folders once the
process that started them has died, however it died: kill -9 runs none of our code.

The sandbox tells the watchdog over a pipe about each server folder as it is made, and
about the server's process once it runs (its pid, the signal that stops it at once, how
long to wait before SIGKILL); a server that was stopped cleanly is forgotten. The watchdog
does nothing else until the pipe reaches end-of-file, which happens only when every copy
of its write end is closed: when our process has ended, for whatever reason. It then stops
what is still registered, kills whatever still works inside those folders, removes them
and exits.

It runs in its own session and ignores SIGINT, SIGHUP and SIGTERM: a Ctrl-C, a closed
terminal or a ``kill`` meant for us does not take it down before it has done its job. It
imports only the standard library, because it runs as ``python -I <this file>``.

``shared()`` is this process's watchdog, started on first use.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

_POLL_INTERVAL = 0.01
READY = b"ready\n"  # what the watchdog says once terminal signals can no longer end it
_SWEEP_TIMEOUT = 5.0  # SIGKILL is not refused: what is left after this is stuck in the kernel
_PROC = Path("/proc")


# -- our side of the pipe ---------------------------------------------------------------------


class Watchdog:
    """A watchdog process and the pipe to it. Thread-safe.

    If the process has died (someone killed it), the next ``watch`` starts a new one and
    tells it everything that is registered.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watched: dict[str, dict[str, Any]] = {}
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The watchdog's process id; None before the first ``watch``."""
        return self._proc.pid if self._proc is not None else None

    def watch(
        self,
        folder: Path,
        pid: int | None = None,
        stop_signal: int = signal.SIGTERM,
        grace: float = 5.0,
    ) -> None:
        """Remove ``folder`` when we die; first stop process ``pid`` with ``stop_signal``,
        then SIGKILL it and anything else working in ``folder`` after ``grace`` seconds.

        Watching the same folder again replaces what was said about it.

        Raises OSError if no watchdog can be started.
        """
        record: dict[str, Any] = {
            "folder": str(folder),
            "pid": pid,
            # The pid alone could name another process by the time the watchdog acts.
            "start": start_time(pid) if pid is not None else None,
            "signal": int(stop_signal),
            "grace": grace,
        }
        with self._lock:
            self._watched[record["folder"]] = record
            if not self._send({"op": "watch", **record}):
                self._spawn()

    def forget(self, folder: Path) -> None:
        """Leave ``folder`` (and its server) alone: it was stopped and removed cleanly."""
        with self._lock:
            if self._watched.pop(str(folder), None) is not None:
                # A watchdog that is gone has nothing to forget: no new one for this.
                self._send({"op": "forget", "folder": str(folder)})

    def close(self) -> None:
        """Close the pipe, as our exit would, and wait until the watchdog has done its job."""
        with self._lock:
            proc, self._proc = self._proc, None
            self._watched.clear()
        if proc is not None:
            assert proc.stdin is not None
            with contextlib.suppress(OSError):
                proc.stdin.close()
            proc.wait()

    def _send(self, message: dict[str, Any]) -> bool:
        """Write one message; False if there is no live watchdog to read it."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return False
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(message).encode() + b"\n")
            proc.stdin.flush()
        except OSError:  # BrokenPipeError: it died since we last looked
            return False
        return True

    def _spawn(self) -> None:
        old, self._proc = self._proc, None
        if old is not None:
            with contextlib.suppress(OSError):
                old.kill()  # its pipe may still be open if it is stuck: one watchdog at a time
            old.wait()
        proc = subprocess.Popen(
            # -I: no PYTHONPATH, PYTHONSTARTUP or user site can change what runs as root.
            [sys.executable, "-I", str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd="/",  # holds no folder busy
            start_new_session=True,  # no terminal signal reaches it
        )
        assert proc.stdout is not None
        # Until it says so, a signal could still end it: its handlers are not in place yet.
        with proc.stdout:
            ready = proc.stdout.readline()
        if ready != READY:
            proc.kill()
            proc.wait()
            raise OSError("the sandbox's watchdog did not start")
        self._proc = proc
        for record in self._watched.values():
            if not self._send({"op": "watch", **record}):
                raise OSError("the sandbox's watchdog exited as it started")


_shared: Watchdog | None = None
_shared_lock = threading.Lock()


def shared() -> Watchdog:
    """This process's watchdog (its process starts with the first ``watch``)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Watchdog()
        return _shared


def close_shared() -> None:
    """Close this process's watchdog, if one started, and wait for it to end: for a command
    whose servers are stopped, so that nothing of it outlives the command."""
    with _shared_lock:
        watchdog = _shared
    if watchdog is not None:
        watchdog.close()


def start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot); None if it is not there or there
    is no /proc. A pid is reused; a pid with its start time is not."""
    fields = _stat(pid)
    return int(fields[19]) if fields is not None else None


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name, from the state (field 3) on."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces and parentheses.
    return text.rsplit(")", 1)[1].split()


# -- the watchdog's side ----------------------------------------------------------------------


def running(pid: int, start: int | None) -> bool:
    """True while process ``pid`` (started at ``start``) has not exited."""
    fields = _stat(pid)
    if fields is None:
        if _PROC.is_dir():
            return False
        try:  # no /proc: the pid is all there is to go by
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if start is not None and int(fields[19]) != start:
        return False  # it ended and its pid now names another process
    return fields[0] not in ("Z", "X")  # a zombie has exited: only its exit status is left


def _send_signal(pid: int, start: int | None, signum: int) -> None:
    if running(pid, start):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def working_in(folder: str) -> list[tuple[int, int | None]]:
    """Processes (pid, start time) whose working directory is ``folder`` or inside it."""
    found: list[tuple[int, int | None]] = []
    if not _PROC.is_dir():
        return found
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue  # ended meanwhile, or a kernel thread
        if cwd == folder or cwd.startswith(folder.rstrip("/") + "/"):
            pid = int(entry.name)
            found.append((pid, start_time(pid)))
    return found


def kill_working_in(folder: str) -> None:
    """SIGKILL every process working in ``folder``, and wait (a little) until they are gone.

    A server's processes need not share its process group (each PostgreSQL backend leads
    a group of its own), but they all work in its directory.
    """
    stragglers = working_in(folder)
    for pid, start in stragglers:
        _send_signal(pid, start, signal.SIGKILL)
    _wait_until_ended(stragglers, time.monotonic() + _SWEEP_TIMEOUT)


def _wait_until_ended(processes: Iterable[tuple[int, int | None]], deadline: float) -> bool:
    left = list(processes)
    while left:
        left = [p for p in left if running(*p)]
        if not left:
            break
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_INTERVAL)
    return True


def clean_up(records: Iterable[dict[str, Any]]) -> None:
    """Stop each record's process (its signal, then SIGKILL after its grace), SIGKILL what
    still works in its folder, and remove the folder."""
    records = list(records)
    now = time.monotonic()
    leaders = []
    for record in records:
        if isinstance(record.get("pid"), int):
            pid, start = record["pid"], record.get("start")
            _send_signal(pid, start, int(record.get("signal", signal.SIGTERM)))
            leaders.append((pid, start, now + float(record.get("grace", 5.0))))
    for pid, start, deadline in leaders:
        if not _wait_until_ended([(pid, start)], deadline):
            _send_signal(pid, start, signal.SIGKILL)
    for record in records:
        folder = record.get("folder")
        # Only ever a folder below the root: a garbled message must not empty the disk.
        if not isinstance(folder, str) or not os.path.isabs(folder) or folder == "/":
            continue
        kill_working_in(folder)
        shutil.rmtree(folder, ignore_errors=True)


def serve(pipe: IO[bytes]) -> None:
    """Read messages until end-of-file, then clean up what is still registered."""
    watched: dict[str, dict[str, Any]] = {}
    for line in pipe:
        try:
            message = json.loads(line)
            folder = message["folder"]
            if message["op"] == "watch":
                watched[folder] = message
            elif message["op"] == "forget":
                watched.pop(folder, None)
        except (ValueError, KeyError, TypeError):
            continue  # half a line from a writer killed mid-write: nothing to act on
    clean_up(watched.values())


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    serve(sys.stdin.buffer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
