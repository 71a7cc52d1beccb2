"""A private soketi server (a Pusher-compatible real-time server) on a free loopback port, for
the demo sandbox and the tests.

soketi comes from npm (``make peers`` installs it under ``.venv/soketi``; TOOLBOX_SOKETI_BIN may
name another). Its config keeps everything on loopback: by default it would also open a
metrics port and broadcast cluster discovery over UDP to the whole network.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from toolbox_tui.sandbox.errors import SandboxError, log_tail
from toolbox_tui.sandbox.local_server import HOST, LocalServer
from toolbox_tui.sandbox.ports import free_port

INSTALL_HINT = "make peers"
_START_TIMEOUT = 20.0
_POLL_INTERVAL = 0.02


def find_binary() -> Path:
    """``soketi``: TOOLBOX_SOKETI_BIN, else the one ``make peers`` installs beside the venv."""
    named = os.environ.get("TOOLBOX_SOKETI_BIN")
    found = (
        Path(named) if named else Path(sys.prefix) / "soketi" / "node_modules" / ".bin" / "soketi"
    )
    if not (found.is_file() and os.access(found, os.X_OK)):
        raise SandboxError(f"soketi not found at {found}; install it with `{INSTALL_HINT}`")
    if shutil.which("node") is None:
        raise SandboxError("node is not on PATH; soketi needs Node.js (apt-get install nodejs)")
    return found


class SoketiServer(LocalServer):
    """``with SoketiServer(app_id, key, secret) as soketi:`` Pusher's HTTP and WebSocket API
    for one app at ``soketi.url``."""

    NAME = "soketi"
    DIR_PREFIX = "toolbox-soketi-"
    # SIGTERM and SIGINT wait 3-4 s for clients to leave. It keeps nothing, and no client of
    # a sandbox is worth the wait: stop it at once.
    STOP_SIGNAL = signal.SIGKILL
    STOP_GRACE = 5.0

    def __init__(self, app_id: str, key: str, secret: str) -> None:
        super().__init__(password=secret)
        self.app_id, self.key = app_id, key
        self._binary: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _prepare(self) -> None:
        self._binary = find_binary()

    def _boot(self) -> None:
        self._listen(None)

    def _launch(self) -> bool:
        assert self._dir is not None and self._binary is not None
        config = self._dir / "soketi.json"
        cluster_port = free_port()
        settings = {
            "debug": False,
            "host": HOST,
            "port": self.port,
            "metrics.enabled": False,
            "metrics.host": HOST,
            "metrics.port": free_port(),
            "cluster.address": HOST,
            "cluster.hostname": HOST,
            "cluster.port": cluster_port,
            "cluster.unicast": f"{HOST}:{cluster_port}",
            "appManager.array.apps": [
                {
                    "id": self.app_id,
                    "key": self.key,
                    "secret": self._password,
                    "enabled": True,
                    "enableClientMessages": False,
                    "maxConnections": -1,
                }
            ],
        }
        # The secret is in this file: private, like every server's password here.
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(settings, out)
        output = self._dir / "soketi.log"
        env = {**os.environ, "HOME": str(self._dir)}
        proc = self._spawn([str(self._binary), "start", f"--config={config}"], output, env=env)
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._answers():
            if proc.poll() is not None:
                said = log_tail(output, self._password)
                if "EADDRINUSE" in said or "listen" in said.lower():
                    return False
                raise SandboxError(f"soketi exited during start (code {proc.returncode}):\n{said}")
            if time.monotonic() > deadline:
                said = log_tail(output, self._password)
                raise SandboxError(f"soketi did not answer within {_START_TIMEOUT:.0f} s:\n{said}")
            time.sleep(_POLL_INTERVAL)
        return True

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/", timeout=1) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False
