"""A program run in a real pseudo-terminal, 80x24 with TERM=xterm, as over SSH.

The output is read all along (a full terminal would block the program) and kept, so a test
can wait for a word to appear and read what was printed last.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_LEAVE_ALTERNATE_SCREEN = b"\x1b[?1049l"
_ANSI = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78])")


class Terminal:
    def __init__(self, argv: Sequence[str], cwd: Path, env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the terminal's session leader, as a login shell would be
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
                os.chdir(cwd)
                os.execve(argv[0], list(argv), env)
            finally:
                os._exit(127)
        self.pid, self._fd = pid, fd
        # Closing the terminal must not wait on a read in progress: a blocked read() keeps
        # the terminal open (no hang-up) even after close(), so the reader can be woken.
        self._wake_r, self._wake_w = os.pipe()
        self._output = bytearray()
        self._changed = threading.Condition()
        self._closed = False
        self._status: int | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._waiter = threading.Thread(target=self._wait, daemon=True)
        self._waiter.start()

    def _wait(self) -> None:
        _, status = os.waitpid(self.pid, 0)
        self._status = os.waitstatus_to_exitcode(status)

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self._fd, self._wake_r], [], [])
            if self._wake_r in ready:
                chunk = b""  # we are hanging up
            else:
                try:
                    chunk = os.read(self._fd, 65536)
                except OSError:  # EIO: every process holding the terminal has gone
                    chunk = b""
            with self._changed:
                if not chunk:
                    self._closed = True
                    self._changed.notify_all()
                    return
                self._output += chunk
                self._changed.notify_all()

    @property
    def text(self) -> str:
        """Everything printed so far, escape sequences removed."""
        with self._changed:
            raw = bytes(self._output)
        return _ANSI.sub(b"", raw).decode("utf-8", errors="replace")

    @property
    def after_full_screen(self) -> str:
        """What was printed on the normal screen after a full-screen program (the
        dashboard) left its alternate screen: what the user sees once it has ended."""
        with self._changed:
            raw = bytes(self._output).rpartition(_LEAVE_ALTERNATE_SCREEN)[2]
        return _ANSI.sub(b"", raw).decode("utf-8", errors="replace")

    def wait_for(self, word: str, timeout: float) -> None:
        self.wait_until(lambda: word in self.text, timeout, f"{word!r} appeared")

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Until ``condition`` holds, checked each time new output arrives."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                assert left > 0 and not self._closed, (
                    f"{what}: not within {timeout:g} s; the screen said:\n" + self.text[-2000:]
                )
                self._changed.wait(left)

    def type(self, keys: str) -> None:
        os.write(self._fd, keys.encode())

    def hang_up(self) -> None:
        """Close our side, as a dropped SSH connection does: the kernel sends SIGHUP."""
        os.write(self._wake_w, b"x")
        self._reader.join()
        os.close(self._fd)

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait_exit(self, timeout: float) -> int:
        """The exit status (negative: killed by that signal), or fail after ``timeout``."""
        self._waiter.join(timeout)
        assert self._status is not None, (
            f"still running after {timeout:g} s; the screen said:\n" + self.text[-2000:]
        )
        return self._status

    def wait_closed(self, timeout: float) -> None:
        """Until the output is read to its end."""
        self._reader.join(timeout)

    def kill(self) -> None:
        """SIGKILL and reap, if it still runs (the end of a failed test)."""
        if self._status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.wait_exit(30)
