"""A program run the way a person runs it: a fresh process on a real pseudo-terminal.

:class:`PtyProcess` starts a command with its stdin, stdout and stderr on the slave side of
a new pty (80x24, ``TERM=xterm-256color``, the pty its controlling terminal), reads the
master side into a :class:`~benchmarks.screen.Screen`, and times what a person would feel:
when something shows, how long a key takes to show its effect, when the process is gone.
All timing happens here, in the benchmark process, off the measured program's own loop.

The child is its own session leader on the pty, so if the benchmark dies, the closed master
hangs it up; leaving the ``with`` block kills whatever is left of its process group.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from benchmarks.screen import Screen

WIDTH, HEIGHT = 80, 24
TERM = "xterm-256color"


class NotSeen(Exception):
    """What a benchmark waited for did not happen in time; says what was on the screen."""


def _become_terminal_owner() -> None:
    # Runs in the child after setsid and after stdin became the pty's slave side.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyProcess:
    def __init__(
        self,
        argv: Sequence[str | Path],
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.screen = Screen(WIDTH, HEIGHT)
        self.returncode: int | None = None
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
        # The deployment is the one the command line names: no TOOLBOX_* from our shell.
        inherited = os.environ if env is None else env
        child_env = {k: v for k, v in inherited.items() if not k.startswith("TOOLBOX_")}
        child_env["TERM"] = TERM  # the size is the pty's, as a real terminal gives it
        child_env.pop("NO_COLOR", None)  # the highlights are what the key timings look for
        self._master = master
        self.started = time.perf_counter()
        try:
            self._process = subprocess.Popen(
                self.argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=child_env,
                start_new_session=True,
                preexec_fn=_become_terminal_owner,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self._eof = False

    def __enter__(self) -> PtyProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------

    def _read(self, timeout: float) -> float | None:
        """Feed whatever arrives within ``timeout`` seconds to the screen; when it arrived."""
        if self._eof:
            return None
        ready, _, _ = select.select([self._master], [], [], max(timeout, 0))
        if not ready:
            return None
        try:
            data = os.read(self._master, 65536)
        except OSError as exc:
            if exc.errno != errno.EIO:  # EIO: the slave side has closed (Linux)
                raise
            data = b""
        arrived = time.perf_counter()
        if not data:
            self._eof = True
            return None
        self.screen.feed(data)
        return arrived

    def wait_for(self, condition: Callable[[Screen], bool], what: str, timeout: float) -> float:
        """The moment (``perf_counter``) the screen first satisfied ``condition``."""
        deadline = time.perf_counter() + timeout
        if condition(self.screen):
            return time.perf_counter()
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise NotSeen(self.not_seen(f"{what} did not show within {timeout:.0f} s"))
            if self._eof:
                # Nothing more can show; wait (briefly) only to say how the process ended.
                self._await_exit(min(left, 1))
                raise NotSeen(self.not_seen(f"its output ended before {what} showed"))
            arrived = self._read(min(left, 0.05))
            if arrived is not None and condition(self.screen):
                return arrived

    def settle(self, quiet: float, timeout: float) -> bool:
        """Read until nothing has arrived for ``quiet`` seconds; False if that never came."""
        deadline = time.perf_counter() + timeout
        last = time.perf_counter()
        while time.perf_counter() < deadline:
            arrived = self._read(min(quiet, deadline - time.perf_counter()))
            if arrived is not None:
                last = arrived
            elif time.perf_counter() - last >= quiet or self._eof:
                return True
        return False

    def not_seen(self, problem: str) -> str:
        """``problem``, what became of the process, and what its screen showed."""
        shown = "\n".join("  | " + line.rstrip() for line in self.screen.lines() if line.strip())
        state = "still running" if self.alive() else f"exited with {self.returncode}"
        shown = shown or "  (nothing)"
        return f"{' '.join(self.argv)}: {problem} (process {state}); the screen showed:\n{shown}"

    # -- keys and exit ---------------------------------------------------------------

    def send(self, keys: bytes) -> float:
        """Type ``keys``; the moment they were written."""
        sent = time.perf_counter()
        os.write(self._master, keys)
        return sent

    def alive(self) -> bool:
        if self.returncode is None:
            self.returncode = self._exit_code(wait=False)
        return self.returncode is None

    def _exit_code(self, wait: bool) -> int | None:
        """The child's exit code (minus the signal that killed it), or None while it runs.

        The child is not collected here (WNOWAIT): until :meth:`close`, its pid, which is
        its process group's id, cannot be given to another process, so the group kill there
        can only reach what this child started.
        """
        flags = os.WEXITED | os.WNOWAIT | (0 if wait else os.WNOHANG)
        info = os.waitid(os.P_PID, self._process.pid, flags)
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def wait_exit(self, timeout: float) -> float:
        """The moment the process was seen gone, reading its output meanwhile (a program
        that cannot write its last bytes would never exit)."""
        gone = self._await_exit(timeout)
        if gone is None:
            raise NotSeen(self.not_seen(f"it did not exit within {timeout:.0f} s"))
        return gone

    def _await_exit(self, timeout: float) -> float | None:
        deadline = time.perf_counter() + timeout
        # A pidfd becomes readable the moment the child exits: no polling interval to add.
        pidfd = os.pidfd_open(self._process.pid)
        try:
            while (left := deadline - time.perf_counter()) > 0:
                watched = [pidfd] if self._eof else [pidfd, self._master]
                ready, _, _ = select.select(watched, [], [], left)
                if pidfd in ready:
                    gone = time.perf_counter()
                    self.returncode = self._exit_code(wait=True)
                    return gone
                if ready:
                    self._read(0)
            return None
        finally:
            os.close(pidfd)

    def close(self) -> None:
        """Kill what is left of the process group, collect the child, close the pty."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        with contextlib.suppress(OSError):
            os.close(self._master)


def run_to_exit(
    argv: Sequence[str | Path], expect: Collection[int] = (0,), timeout: float = 120
) -> float:
    """Seconds from starting ``argv`` in a pty to its exit (its output read meanwhile); a
    program that exits with a code outside ``expect`` did not do what was to be timed."""
    with PtyProcess(argv) as process:
        gone = process.wait_exit(timeout)
        if process.returncode not in expect:
            raise NotSeen(process.not_seen(f"expected an exit code in {sorted(expect)}"))
        return gone - process.started
