"""What every sandbox server shares: a temporary directory, a child process on a loopback
port, a password, and a stop that always cleans up.

Nothing is left behind, however we end. ``stop()`` runs on leaving a ``with`` block and at
interpreter exit. The server runs in a session of its own, so a Ctrl-C typed at the
terminal reaches only us and we stop it in order. The kernel sends it its stop signal if we
die (a parent-death signal). And the watchdog process stops it and removes its directory
when we are killed in a way that runs none of our code (kill -9, SIGTERM, SIGHUP).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from checks.subprocesses import die_with_parent
from toolbox_tui.sandbox import watchdog
from toolbox_tui.sandbox.errors import SandboxError
from toolbox_tui.sandbox.ports import free_port

HOST = "127.0.0.1"
_START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it
_POLL_INTERVAL = 0.01


class LocalServer:
    """Subclasses name themselves, say which signal stops them at once, and fill in
    ``_prepare``, ``_boot`` and ``_launch``; ``with Server() as server:`` starts and stops it.

    Every process of a server works inside its directory: the watchdog finds what is left
    of a server by its working directory.
    """

    NAME: ClassVar[str]
    DIR_PREFIX: ClassVar[str]
    STOP_SIGNAL: ClassVar[signal.Signals]
    HALT_SIGNAL: ClassVar[signal.Signals | None] = None  # for halt(), if not STOP_SIGNAL
    STOP_GRACE: ClassVar[float] = 10.0  # after the stop signal, before SIGKILL

    def __init__(self, password: str | None = None) -> None:
        self._password = password if password is not None else secrets.token_urlsafe(16)
        self._dir: Path | None = None
        self._owns_dir = False  # the directory exists and is ours to remove
        self._halted = False  # stopped by halt(): the next start() resumes
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the server; on failure nothing is left running or on disk.

        After ``halt()`` it comes back in the same directory, on the same port.
        """
        if self._proc is not None:
            raise SandboxError(f"this {self.NAME} server is already running")
        self._prepare()
        try:
            if self._halted:
                self._listen(self._port)
            else:
                self._dir = Path(tempfile.mkdtemp(prefix=self.DIR_PREFIX))
                self._owns_dir = True
                self._watch()
                self._boot()
        except BaseException:
            self.stop()
            raise
        self._halted = False
        # A script that ends without calling stop() must not leave the server running.
        atexit.register(self.stop)
        return self

    def halt(self) -> None:
        """Stop the server's processes but keep its directory, data included: a later
        ``start()`` resumes it. ``stop()`` still removes everything."""
        proc, self._proc = self._proc, None
        if proc is not None:
            self._shut_down(proc, self.HALT_SIGNAL or self.STOP_SIGNAL)
            self._halted = True
            self._watch()  # nothing left to stop: only the directory to remove

    def stop(self) -> str | None:
        """Stop the server and remove its directory; return what was done, in a sentence
        (None when there was nothing to do).

        Safe to call twice, before ``start()``, or after a start that failed half-way.
        """
        atexit.unregister(self.stop)
        self._halted = False
        proc, self._proc = self._proc, None
        if proc is not None:
            self._shut_down(proc, self.STOP_SIGNAL)
        done = [
            f"{self.NAME} (pid {proc.pid}) stopped"
            if proc is not None
            else f"{self.NAME} was stopped"
        ]
        if self._owns_dir and self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            if self._dir.exists():
                # Still watched: the watchdog tries again when we exit.
                done.append(f"{self._dir} could not be removed, remove it by hand")
            else:
                self._owns_dir = False
                watchdog.shared().forget(self._dir)
                done.append(f"{self._dir} removed")
        elif proc is None:
            return None
        return "; ".join(done) + "."

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- connection details ---------------------------------------------------------------

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        if self._port is None:
            raise SandboxError(f"the {self.NAME} server has not been started")
        return self._port

    @property
    def password(self) -> str:
        return self._password

    @property
    def directory(self) -> Path | None:
        """The temporary directory the server runs (or ran) in; None before ``start()``."""
        return self._dir

    @property
    def running(self) -> bool:
        return self._proc is not None

    @property
    def pid(self) -> int:
        """The server's process id (the leader of its process group)."""
        if self._proc is None:
            raise SandboxError(f"the {self.NAME} server is not running")
        return self._proc.pid

    # -- what each server does its own way ------------------------------------------------

    def _prepare(self) -> None:
        """Find the binaries (raise SandboxError with the install command if missing)."""
        raise NotImplementedError

    def _boot(self) -> None:
        """Set up ``self._dir``, then ``self._listen(None)``."""
        raise NotImplementedError

    def _launch(self) -> bool:
        """``self._spawn`` the server on ``self._port`` and wait until it answers; False if
        the port was taken (the process has then exited)."""
        raise NotImplementedError

    # -- for the subclasses ---------------------------------------------------------------

    def _listen(self, port: int | None) -> None:
        """Launch on ``port``, or on a free port (again if another process takes it first)."""
        attempts = _START_ATTEMPTS if port is None else 1
        for _attempt in range(attempts):
            self._port = port if port is not None else free_port()
            if self._launch():
                return
            self._proc = None
        if port is not None:
            raise SandboxError(
                f"{self.NAME} cannot start again: another process has taken port {port}"
            )
        raise SandboxError(f"{self.NAME} found no free port in {attempts} attempts")

    def _spawn(
        self,
        argv: list[str],
        output: Path,
        *,
        env: Mapping[str, str] | None = None,
        user: int | None = None,
        group: int | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start the server process in its own session, its output going to ``output``."""
        # The parent-death signal fires when the *thread* that started the child ends:
        # only the main thread is sure to last as long as the server should.
        on_our_death = (
            die_with_parent(self.STOP_SIGNAL)
            if threading.current_thread() is threading.main_thread()
            else None
        )
        with output.open("wb") as out:
            self._proc = subprocess.Popen(
                argv,
                cwd=self._dir,
                env=env,
                user=user,
                group=group,
                extra_groups=[] if user is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=on_our_death,
            )
        self._watch(self._proc.pid)
        return self._proc

    def _watch(self, pid: int | None = None) -> None:
        assert self._dir is not None
        try:
            watchdog.shared().watch(self._dir, pid, self.STOP_SIGNAL, self.STOP_GRACE)
        except OSError as err:
            raise SandboxError(
                f"cannot start the watchdog that cleans up the {self.NAME} server if "
                f"toolbox-tui is killed: {err}"
            ) from err

    def _shut_down(self, proc: subprocess.Popen[bytes], signum: signal.Signals) -> None:
        """``signum``, SIGKILL for its whole process group after the grace; reaped."""
        # Through the child handle, not a pidfile's number: the handle cannot point at an
        # unrelated process that reused the pid.
        proc.send_signal(signum)
        deadline = time.monotonic() + self.STOP_GRACE
        while not _exited(proc) and time.monotonic() < deadline:
            time.sleep(_POLL_INTERVAL)
        if proc.returncode is None:
            # Not reaped yet, so the group id is still its own: this reaches whatever of
            # its group is left, and nothing else.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if self._dir is not None:
            watchdog.kill_working_in(str(self._dir))  # its processes outside the group


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """True once ``proc`` has exited, without reaping it (its pid stays reserved)."""
    if proc.returncode is not None:
        return True
    try:
        state = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True  # reaped already
    return state is not None
