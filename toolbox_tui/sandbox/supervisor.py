"""The reference ToolboxAI app's four programs under a real supervisord, as production runs
them: ``toolboxai-backend``, ``toolboxai-dashboard``, ``toolboxai-celery-worker`` and
``toolboxai-celery-beat`` (the roles of reference_app.py).

Provides :class:`SupervisorServer`. supervisord runs in the foreground (``nodaemon``) as our
child, in its own temporary directory: its config (``supervisorctl -c`` takes
:attr:`SupervisorServer.config_file`), its unix socket (mode 0700: no TCP port), the app's
settings file, certificate and log, and the programs' working directory: the watchdog finds
every process of a server by its working directory. Stopping it stops the programs first,
each with its whole process group.

We talk to supervisord over its socket with XML-RPC (what supervisorctl does), for the
readiness wait and to stop or start one program (a scenario, a test).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

from toolbox_tui.sandbox.errors import SandboxError, log_tail
from toolbox_tui.sandbox.local_server import LocalServer
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.reference_app import ReferenceAppSettings
from toolbox_tui.sandbox.tls import IssuedCertificate

INSTALL_HINT = "pip install 'supervisor>=4.2,<5'"
PROGRAMS = {
    "toolboxai-backend": "backend",
    "toolboxai-dashboard": "dashboard",
    "toolboxai-celery-worker": "celery-worker",
    "toolboxai-celery-beat": "celery-beat",
}
BACKEND = "toolboxai-backend"
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_START_TIMEOUT = 30.0  # four Python processes on a busy two-core machine
_RPC_TIMEOUT = 10.0
_POLL_INTERVAL = 0.02
_STOP_WAIT_SECONDS = 5  # each program's, before supervisord kills its group
# STOPPED is where every program starts from, before supervisord spawns it.
_GONE = ("EXITED", "FATAL", "BACKOFF", "UNKNOWN")


def find_binary() -> Path:
    """``supervisord`` beside this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name("supervisord")
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    import shutil

    found = shutil.which("supervisord")
    if found is None:
        raise SandboxError(f"supervisord not found; install it with `{INSTALL_HINT}`")
    return Path(found)


class SupervisorServer(LocalServer):
    """``with SupervisorServer(settings, certificate) as supervisor:`` the reference app at
    ``supervisor.url``, its four programs RUNNING.

    ``settings`` are completed at start (ports, certificate and log paths) and saved to
    :attr:`settings_file`; change them with :meth:`change`, which the running backend picks
    up at its next request.
    """

    NAME = "supervisord"
    DIR_PREFIX = "toolbox-supervisor-"
    STOP_SIGNAL = signal.SIGTERM  # it stops its programs, then itself
    STOP_GRACE = 2 * _STOP_WAIT_SECONDS + 5.0

    def __init__(
        self,
        settings: ReferenceAppSettings,
        certificate: IssuedCertificate,
        startsecs: int = 0,
    ) -> None:
        """``startsecs``: how long a program must stay up to count as started (supervisord's
        own default is 1; 0 spares every start that second)."""
        super().__init__(password="")  # the socket is private: there is nothing to log in to
        self.settings = settings
        self.startsecs = startsecs
        self._certificate = certificate
        self._binary: Path | None = None

    # -- where things are -----------------------------------------------------------------

    def _path(self, name: str) -> Path:
        if self._dir is None:
            raise SandboxError("supervisord has not been started")
        return self._dir / name

    @property
    def config_file(self) -> Path:
        """supervisord's config, for ``supervisorctl -c``."""
        return self._path("supervisord.conf")

    @property
    def socket_file(self) -> Path:
        return self._path("supervisor.sock")

    @property
    def settings_file(self) -> Path:
        return self._path("app.json")

    @property
    def app_log(self) -> Path:
        return Path(self.settings.log_file)

    @property
    def url(self) -> str:
        """The backend's https base URL (no trailing slash)."""
        return f"https://{self.settings.host}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.http_port}"

    # -- changing it while it runs --------------------------------------------------------

    def change(self, **values: Any) -> None:
        """Set settings (flags) and save them: the backend rereads them on its next request."""
        for name, value in values.items():
            if not hasattr(self.settings, name):
                raise AttributeError(f"the reference app has no setting {name}")
            setattr(self.settings, name, value)
        self.settings.save(self.settings_file)

    def replace_certificate(self, certificate: IssuedCertificate) -> None:
        """Serve ``certificate`` from the backend's next TLS connection on."""
        self._write_certificate(certificate)

    def states(self) -> dict[str, str]:
        """Each program's state name (RUNNING, STOPPED, EXITED, FATAL...)."""
        infos = self._rpc().supervisor.getAllProcessInfo()
        return {info["name"]: info["statename"] for info in infos}

    def stop_program(self, name: str) -> None:
        """``supervisorctl stop NAME``: waits until it has stopped."""
        self._rpc().supervisor.stopProcess(name, True)

    def start_program(self, name: str) -> None:
        """``supervisorctl start NAME``: waits until it runs."""
        self._rpc().supervisor.startProcess(name, True)

    def stop(self) -> str | None:
        if self._proc is not None:
            self._ask_to_exit(self._proc)
        return super().stop()

    def _ask_to_exit(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop the programs and supervisord over the socket, and wait a little for it to
        exit: its main loop notices a signal only at its next one-second tick, a request at
        once. The stop signal that follows (LocalServer) then finds nothing left to do."""
        if proc.poll() is not None:
            return
        with contextlib.suppress(OSError, xmlrpc.client.Error, http.client.HTTPException):
            rpc = self._rpc()
            # One by one: stopAllProcesses answers only at a tick after the last one ended.
            for info in rpc.supervisor.getAllProcessInfo():
                if info["statename"] in ("STARTING", "RUNNING", "BACKOFF"):
                    with contextlib.suppress(xmlrpc.client.Fault):  # it ended meanwhile
                        rpc.supervisor.stopProcess(info["name"], True)
            rpc.supervisor.shutdown()
        deadline = time.monotonic() + _STOP_WAIT_SECONDS
        while proc.poll() is None and time.monotonic() < deadline:
            # It exits at the top of its loop: a connection wakes the loop from its wait.
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as poke:
                poke.connect(str(self.socket_file))
            time.sleep(_POLL_INTERVAL)

    # -- LocalServer ----------------------------------------------------------------------

    def _prepare(self) -> None:
        self._binary = find_binary()

    def _boot(self) -> None:
        self._path("app").mkdir(mode=0o700)
        self._path("logs").mkdir(mode=0o700)
        self.settings.cert_file = str(self._path("app.crt"))
        self.settings.key_file = str(self._path("app.key"))
        if not self.settings.log_file:
            self.settings.log_file = str(self._path("toolboxai.log"))
        self._write_certificate(self._certificate)
        self._listen(None)

    def _launch(self) -> bool:
        assert self._dir is not None and self._binary is not None
        self.settings.https_port = self.port
        self.settings.http_port = free_port()
        self.settings.save(self.settings_file)
        self._write_config()
        log = self.app_log
        offset = log.stat().st_size if log.exists() else 0
        output = self._path("supervisord.out")
        proc = self._spawn([str(self._binary), "-c", str(self.config_file)], output)
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise SandboxError(
                    f"supervisord exited during start (code {proc.returncode}):\n"
                    + log_tail(output, "")
                    + "\n"
                    + log_tail(self._path("supervisord.log"), "")
                )
            # Each request also wakes its main loop, which then spawns the programs at
            # once instead of at its next tick.
            states = self._states_or_none()
            if states is not None:
                gone = [name for name, state in states.items() if state in _GONE]
                if gone:
                    return self._failed_start(proc, gone)
                if all(s == "RUNNING" for s in states.values()) and self._ready(log, offset):
                    return True
            if time.monotonic() > deadline:
                raise SandboxError(
                    f"the reference app's programs were not ready within {_START_TIMEOUT:.0f} s:"
                    f" {states}\n" + log_tail(log, "")
                )
            time.sleep(_POLL_INTERVAL)

    # -- internals ------------------------------------------------------------------------

    def _failed_start(self, proc: subprocess.Popen[bytes], gone: list[str]) -> bool:
        """False when the backend found a port taken (start again on others), else raise."""
        said = {name: log_tail(self._path(f"logs/{name}.log"), "") for name in gone}
        self._proc = None
        self._ask_to_exit(proc)
        self._shut_down(proc, self.STOP_SIGNAL)
        if gone == [BACKEND] and "Address already in use" in said[BACKEND]:
            return False
        details = "\n".join(f"{name}:\n{text}" for name, text in said.items())
        raise SandboxError(f"{', '.join(gone)} did not start under supervisord:\n{details}")

    def _ready(self, log: Path, offset: int) -> bool:
        """Every role has said ``<role> ready`` in the app log since the launch."""
        try:
            with log.open("rb") as handle:
                handle.seek(offset)
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            return False
        return all(f"toolboxai.{role} {role} ready" in text for role in PROGRAMS.values())

    def _states_or_none(self) -> dict[str, str] | None:
        try:
            return self.states()
        except (OSError, xmlrpc.client.Error, http.client.HTTPException):
            return None  # not listening yet

    def _rpc(self) -> Any:
        return xmlrpc.client.ServerProxy(
            "http://localhost", transport=_UnixTransport(str(self.socket_file), _RPC_TIMEOUT)
        )

    def _write_certificate(self, certificate: IssuedCertificate) -> None:
        # Replaced, not rewritten in place: the backend never reads half a key.
        for data, target in (
            (certificate.cert_pem, self.settings.cert_file),
            (certificate.key_pem, self.settings.key_file),
        ):
            fd, temporary = tempfile.mkstemp(dir=self._dir)  # 0600
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, target)

    def _write_config(self) -> None:
        directory = str(self._dir)
        lines = [
            "[unix_http_server]",
            f"file={self.socket_file}",
            "chmod=0700",
            "",
            "[supervisord]",
            "nodaemon=true",
            "silent=true",
            f"logfile={directory}/supervisord.log",
            f"pidfile={directory}/supervisord.pid",
            f"childlogdir={directory}/logs",
            f"directory={directory}",
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
            "[supervisorctl]",
            f"serverurl=unix://{self.socket_file}",
        ]
        for name, role in PROGRAMS.items():
            lines += [
                "",
                f"[program:{name}]",
                f"command={sys.executable} -m toolbox_tui.sandbox.reference_app "
                f"--config {self.settings_file} --role {role}",
                # Inside the server's directory: the watchdog finds them there.
                f"directory={directory}/app",
                f'environment=PYTHONPATH="{_PROJECT_ROOT}"',
                "autostart=true",
                "autorestart=false",
                f"startsecs={self.startsecs}",
                "startretries=0",  # one failed start is FATAL: nothing retries behind a test
                "stopsignal=TERM",
                f"stopwaitsecs={_STOP_WAIT_SECONDS}",
                "stopasgroup=true",
                "killasgroup=true",
                "redirect_stderr=true",
                f"stdout_logfile={directory}/logs/{name}.log",
            ]
        self.config_file.write_text("\n".join(lines) + "\n", encoding="utf-8")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    """XML-RPC over supervisord's unix socket, with a timeout (supervisor's own has none)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__()
        self._socket_path, self._timeout = path, timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        self.close()
        connection = _UnixConnection(self._socket_path, self._timeout)
        self._connection = host, connection
        return connection
