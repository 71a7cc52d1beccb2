"""The reference ToolboxAI app: a small, real stand-in for the production app, so the Health
and Security checks have an HTTPS peer to talk to (see /work/briefs/reference_app_contract.md).

Provides :class:`ReferenceAppSettings` (its JSON settings file, flags included),
:class:`AppLog` (its log file's line format), :class:`ReferenceApp` (the backend served from a
thread of the calling process, for tests) and the processes the sandbox runs under supervisord:
``python -m toolbox_tui.sandbox.reference_app --config app.json --role ROLE`` with ROLE one of
:data:`ROLES`. The routes themselves are in :mod:`toolbox_tui.sandbox.reference_routes`.

A running backend rereads its settings file whenever it is replaced (``settings.save(path)``),
and its certificate whenever the file changes: a scenario breaks the app without a restart.
aiohttp and asyncpg are imported where a server starts: the sandbox's start-up and the
command line's parser only need the settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from toolbox_tui.sandbox.errors import SandboxError

if TYPE_CHECKING:
    from aiohttp import web

ROLES = ("backend", "dashboard", "celery-worker", "celery-beat")
HEARTBEAT_SECONDS = 30.0
_SHUTDOWN_SECONDS = 2.0  # in-flight requests at stop; the checks' take milliseconds


@dataclass
class ReferenceAppSettings:
    """What the app serves and how it is broken; the field names are the JSON file's keys."""

    host: str = "127.0.0.1"
    https_port: int = 0  # 0: a free port, chosen when the in-process server starts
    http_port: int = 0
    cert_file: str = ""
    key_file: str = ""
    database_url: str = ""
    log_file: str = ""  # empty: the log goes to stderr
    api_tokens: dict[str, str] = field(default_factory=dict)  # token -> the user's email
    webhook_secret: str = ""
    # The flags the sandbox's scenarios flip; the defaults are a healthy, careful app.
    health: str = "healthy"  # or "degraded"
    delay_ms: int = 0
    https_redirect: bool = True
    hsts: bool = True
    cors_origins: list[str] = field(default_factory=lambda: ["https://toolboxai.example.com"])
    cors_reflect: bool = False
    verify_webhooks: bool = True
    login_limit: int = 5  # failed logins per 60 s per client address; 0: unlimited
    log_errors: bool = False

    def __repr__(self) -> str:
        # Never the tokens or the webhook secret, in a traceback or a test's failure.
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["api_tokens"] = f"<{len(self.api_tokens)} token(s)>"
        shown["webhook_secret"] = "***" if self.webhook_secret else ""
        return f"ReferenceAppSettings({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> ReferenceAppSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(document) - known)
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}")
        return cls(**document)

    @classmethod
    def load(cls, path: Path) -> ReferenceAppSettings:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise ValueError(f"{path} holds no JSON object")
        return cls.from_dict(document)

    def save(self, path: Path) -> Path:
        """Write the settings to ``path`` at once (a running backend never reads half a file),
        private: it holds the API tokens and the webhook secret."""
        text = json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp makes it 0600
                out.write(text)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return path


class SettingsFile:
    """The settings in a file, reread when the file is replaced or rewritten."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._settings = self._read()

    def _read(self) -> ReferenceAppSettings:
        st = os.stat(self.path)
        settings = ReferenceAppSettings.load(self.path)
        # The inode too: save() replaces the file, and two saves within one clock tick of
        # the file system would otherwise look the same.
        self._stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        return settings

    def current(self) -> ReferenceAppSettings:
        try:
            st = os.stat(self.path)
            if (st.st_ino, st.st_mtime_ns, st.st_size) != self._stamp:
                self._settings = self._read()
        except (OSError, ValueError, TypeError):
            pass  # mid-edit by hand, or removed: keep serving what was last read
        return self._settings


class AppLog:
    """The app's log: ``2026-11-29T07:34:33.123Z INFO toolboxai.access GET / 200 3ms``; an
    error's traceback follows it, each line indented. Several processes append to one file:
    each entry is one ``write`` to a file opened for appending, so entries never interleave."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def info(self, logger: str, message: str) -> None:
        self.write("INFO", logger, message)

    def warning(self, logger: str, message: str) -> None:
        self.write("WARNING", logger, message)

    def error(self, logger: str, message: str, exc: BaseException | None = None) -> None:
        self.write("ERROR", logger, message, exc)

    def write(
        self, level: str, logger: str, message: str, exc: BaseException | None = None
    ) -> None:
        lines = [f"{timestamp()} {level} {logger} {message}"]
        if exc is not None:
            text = "".join(traceback.format_exception(exc))
            lines += ["    " + line for line in text.splitlines()]
        data = ("\n".join(lines) + "\n").encode("utf-8", "replace")
        with self._lock:
            if self.path is None:
                sys.stderr.buffer.write(data)
                sys.stderr.flush()
                return
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)


def timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 in UTC with milliseconds: ``2026-11-29T07:34:33.123Z``."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def app_log(settings: ReferenceAppSettings) -> AppLog:
    return AppLog(Path(settings.log_file) if settings.log_file else None)


def _listener(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class _Backend:
    """The backend's two listeners (HTTPS and plain HTTP) on one event loop."""

    def __init__(self, settings: Callable[[], ReferenceAppSettings], log: AppLog) -> None:
        self.settings = settings
        self.log = log
        self._runner: web.AppRunner | None = None

    async def open(self, https: socket.socket, http: socket.socket) -> None:
        from aiohttp import web

        from toolbox_tui.sandbox.reference_routes import application

        app, tls = application(self.settings, self.log)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_SECONDS)
        await self._runner.setup()
        await web.SockSite(self._runner, https, ssl_context=tls).start()
        await web.SockSite(self._runner, http).start()

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


class ReferenceApp:
    """The backend role served from a thread of this process: ``with ReferenceApp(settings)
    as app:`` then requests to ``app.url`` (HTTPS) and ``app.http_url`` (plain HTTP).

    ``app.settings`` may be changed while it runs (``app.settings.hsts = False``): the next
    request sees it. Ports 0 are replaced by the ports chosen at start.
    """

    def __init__(self, settings: ReferenceAppSettings) -> None:
        if not (settings.cert_file and settings.key_file):
            raise SandboxError("the reference app needs cert_file and key_file (its HTTPS)")
        self.settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://{self.settings.host}:{self.settings.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.http_port}"

    def start(self) -> Self:
        """Serve; start it inside ``threads_spared_stop_signals()`` when this process waits
        for stop signals (see foreground.py)."""
        if self._thread is not None:
            raise SandboxError("this reference app is already running")
        host = self.settings.host
        try:
            https = _listener(host, self.settings.https_port)
        except OSError as exc:
            raise SandboxError(f"the reference app could not listen on {host}: {exc}") from exc
        try:
            http = _listener(host, self.settings.http_port)
        except OSError as exc:
            https.close()
            raise SandboxError(f"the reference app could not listen on {host}: {exc}") from exc
        self.settings.https_port = int(https.getsockname()[1])
        self.settings.http_port = int(http.getsockname()[1])
        backend = _Backend(lambda: self.settings, app_log(self.settings))
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failures: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(backend.open(https, http))
            except BaseException as exc:
                failures.append(exc)
            ready.set()
            try:
                if not failures:
                    loop.run_forever()
            finally:
                loop.run_until_complete(backend.close())
                https.close()
                http.close()
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="sandbox-reference-app", daemon=True)
        self._thread.start()
        ready.wait()
        if failures:
            self._thread.join()
            self._thread = self._loop = None
            raise SandboxError(f"the reference app could not start: {failures[0]}")
        return self

    def stop(self) -> None:
        """Stop serving, close both ports and join the thread; safe to repeat."""
        loop, self._loop = self._loop, None
        thread, self._thread = self._thread, None
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # closed already
                loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# -- the processes supervisord runs ------------------------------------------------------------


async def run_role(role: str, config: Path) -> None:
    """Run ``role`` until SIGTERM or SIGINT: the backend serves; the others (the dashboard's
    and Celery's stand-ins) only say they are alive."""
    source = SettingsFile(config)
    settings = source.current()
    log = app_log(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    backend: _Backend | None = None
    if role == "backend":
        https = _listener(settings.host, settings.https_port)
        http = _listener(settings.host, settings.http_port)
        backend = _Backend(source.current, log)
        await backend.open(https, http)
    logger = f"toolboxai.{role}"
    log.info(logger, f"{role} ready")
    try:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), HEARTBEAT_SECONDS)
            if stop.is_set():
                break
            log.info(logger, f"{role} heartbeat")
    finally:
        if backend is not None:
            await backend.close()
        log.info(logger, f"{role} stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m toolbox_tui.sandbox.reference_app",
        description="One process of the reference ToolboxAI app.",
    )
    parser.add_argument("--config", type=Path, required=True, help="the settings (JSON)")
    parser.add_argument("--role", choices=ROLES, required=True)
    args = parser.parse_args(argv)
    try:
        asyncio.run(run_role(args.role, args.config))
    except (OSError, ValueError) as exc:
        # Said on stderr, which supervisord keeps: why the program went to FATAL.
        print(f"reference app {args.role}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # Through the package's copy of this module: the one reference_routes imports its
    # settings from (run as __main__, this file would otherwise be loaded twice).
    from toolbox_tui.sandbox.reference_app import main as _main

    raise SystemExit(_main())
