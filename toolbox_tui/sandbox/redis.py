"""A private Redis server on a free loopback port, for the demo sandbox and the tests.

Nothing is persisted (no RDB snapshots, no AOF), so a server resumed after ``halt()``
starts empty; its directory is removed on ``stop()``. Like a production cache it requires
a password.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from toolbox_tui.sandbox.errors import SandboxError, log_tail
from toolbox_tui.sandbox.local_server import HOST, LocalServer

INSTALL_HINT = "apt-get install -y redis-server"

_START_TIMEOUT = 10.0
_POLL_INTERVAL = 0.005


def find_binary(binary: str | Path | None = None) -> Path:
    """The ``redis-server`` executable: ``binary`` if given, else the one on PATH."""
    found = str(binary) if binary is not None else shutil.which("redis-server")
    if found is None or not (os.path.isfile(found) and os.access(found, os.X_OK)):
        where = f" at {binary}" if binary is not None else " on PATH"
        raise SandboxError(f"redis-server not found{where}; install it with `{INSTALL_HINT}`")
    return Path(found)


def resp_command(*args: str) -> bytes:
    """``args`` as one RESP array of bulk strings, the form Redis reads commands in."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _config_string(value: str) -> str:
    # redis.conf's double-quoted strings understand \\, \" and \xHH escapes.
    escaped = "".join(
        "\\" + ch
        if ch in '\\"'
        else f"\\x{ord(ch):02x}"
        if ord(ch) < 0x20 or ord(ch) == 0x7F
        else ch
        for ch in value
    )
    return f'"{escaped}"'


class RedisServer(LocalServer):
    """A throwaway Redis server; ``with RedisServer() as redis:`` starts and stops it."""

    NAME = "Redis"
    DIR_PREFIX = "toolbox-redis-"
    STOP_SIGNAL = signal.SIGTERM  # it saves nothing first: nothing is configured to be saved
    STOP_GRACE = 5.0

    def __init__(self, password: str | None = None, binary: str | Path | None = None) -> None:
        super().__init__(password)
        self._binary_choice = binary
        self._binary: Path | None = None

    def _prepare(self) -> None:
        self._binary = find_binary(self._binary_choice)

    def _boot(self) -> None:
        self._write_config()
        self._listen(None)

    def url(self, db: int = 0) -> str:
        """A ``redis://`` URL for database ``db``, password included."""
        return f"redis://:{quote(self._password, safe='')}@{self.host}:{self.port}/{db}"

    def ping(self, timeout: float = 1.0) -> bool:
        """True if the server answers ``PING`` after ``AUTH`` with its password."""
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
                sock.sendall(resp_command("AUTH", self._password) + resp_command("PING"))
                reply = b""
                while reply.count(b"\r\n") < 2:
                    chunk = sock.recv(256)
                    if not chunk:
                        return False
                    reply += chunk
        except OSError:
            return False
        return reply == b"+OK\r\n+PONG\r\n"

    # -- internals ------------------------------------------------------------------------

    def _pidfile(self) -> Path:
        if self._dir is None:
            raise OSError("no server directory")
        return self._dir / "redis.pid"

    def _config(self) -> Path:
        assert self._dir is not None
        return self._dir / "redis.conf"

    def _write_config(self) -> None:
        # The password goes in a private file, not on the command line where `ps` shows it.
        config = self._config()
        config.touch(mode=0o600)
        config.write_text(f"requirepass {_config_string(self._password)}\n", encoding="utf-8")

    def _launch(self) -> bool:
        assert self._dir is not None and self._binary is not None
        log = self._dir / "redis.log"
        output = self._dir / "redis.out"  # what it says before the log file is open
        argv = [
            str(self._binary),
            str(self._config()),
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self._dir),
            # Not daemonized: as our own child it is reaped the moment it exits, and an
            # early exit shows at once instead of as a start timeout.
            "--daemonize",
            "no",
            "--pidfile",
            str(self._pidfile()),
            "--logfile",
            str(log),
        ]
        # None of our servers runs now: a pidfile left by a SIGKILL would pass for a live one.
        self._pidfile().unlink(missing_ok=True)
        return self._wait_until_ready(self._spawn(argv, output), log, output)

    def _wait_until_ready(self, proc: subprocess.Popen[bytes], log: Path, output: Path) -> bool:
        """True once the server answers; False if its port was taken."""
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self._pidfile().exists() and self.ping(timeout=0.5):
                return True
            code = proc.poll()
            if code is not None:
                said = log_tail(log, self._password) + "\n" + log_tail(output, self._password)
                if "Address already in use" in said:
                    return False
                raise SandboxError(f"redis-server exited during start (code {code}):\n{said}")
            if time.monotonic() > deadline:
                raise SandboxError(
                    f"Redis did not answer within {_START_TIMEOUT:.0f} s; log:\n"
                    + log_tail(log, self._password)
                )
            time.sleep(_POLL_INTERVAL)
