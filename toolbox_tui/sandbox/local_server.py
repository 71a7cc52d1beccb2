"""What every sandbox server shares: a temporary directory, a child process on a loopback
port, a password, and a stop that always cleans up (also at interpreter exit)."""

from __future__ import annotations

import atexit
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from toolbox_tui.sandbox.errors import SandboxError

HOST = "127.0.0.1"


class LocalServer:
    """Subclasses name themselves and fill in ``_prepare``, ``_boot``, ``_shut_down`` and
    ``_read_pid``; ``with Server() as server:`` starts and stops it."""

    NAME: ClassVar[str]
    DIR_PREFIX: ClassVar[str]

    def __init__(self, password: str | None = None) -> None:
        self._password = password if password is not None else secrets.token_urlsafe(16)
        self._dir: Path | None = None
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the server; on failure nothing is left running or on disk."""
        if self._proc is not None:
            raise SandboxError(f"this {self.NAME} server is already running")
        self._prepare()
        try:
            self._dir = Path(tempfile.mkdtemp(prefix=self.DIR_PREFIX))
            self._boot()
        except BaseException:
            self.stop()
            raise
        # A script that dies without calling stop() must not leave the server running.
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Stop the server and remove its directory.

        Safe to call twice, before ``start()``, or after a start that failed half-way.
        """
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None:
            self._shut_down(proc)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

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
    def pid(self) -> int:
        """The server's process id, from its pidfile."""
        try:
            return self._read_pid()
        except (OSError, ValueError) as err:
            raise SandboxError(f"the {self.NAME} server is not running") from err

    # -- what each server does its own way ------------------------------------------------

    def _prepare(self) -> None:
        """Find the binaries (raise SandboxError with the install command if missing)."""
        raise NotImplementedError

    def _boot(self) -> None:
        """Start the process in ``self._dir`` and wait until it answers."""
        raise NotImplementedError

    def _shut_down(self, proc: subprocess.Popen[bytes]) -> None:
        raise NotImplementedError

    def _read_pid(self) -> int:
        raise NotImplementedError
