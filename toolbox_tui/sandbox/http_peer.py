"""What the sandbox's HTTP stand-ins share: serving from a thread of this process on a free
loopback port, plain or TLS, and a stop that leaves nothing running.

Provides :class:`ThreadedHttpPeer`. A stand-in names itself (``NAME``) and builds its server
(``_make_server``: a :class:`QuietServer` on the given address with its handler); the
base starts, stops and says where it listens.
"""

from __future__ import annotations

import ssl
import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self

from toolbox_tui.sandbox.errors import SandboxError

HOST = "127.0.0.1"
_POLL_INTERVAL = 0.05  # how soon stop() is noticed by the serving thread


class QuietServer(ThreadingHTTPServer):
    """A threaded HTTP server whose request threads never keep the process alive, and that
    prints nothing when a client hangs up or refuses our certificate: the client's side
    reports that, not ours."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        del request, client_address


class ThreadedHttpPeer:
    """``with Peer(...) as peer:`` serves at ``peer.url`` until the block ends."""

    NAME: ClassVar[str]

    def __init__(self, *, tls: ssl.SSLContext | None = None, host: str = HOST) -> None:
        self.host = host
        self._tls = tls
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _make_server(self, address: tuple[str, int]) -> ThreadingHTTPServer:
        raise NotImplementedError

    @property
    def port(self) -> int:
        if self._server is None:
            raise SandboxError(f"the {self.NAME} has not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> Self:
        if self._server is not None:
            raise SandboxError(f"this {self.NAME} is already running")
        try:
            server = self._make_server((self.host, 0))
        except OSError as exc:
            raise SandboxError(f"the {self.NAME} could not listen on {self.host}: {exc}") from exc
        if self._tls is not None:
            # The handshake waits for the first read, in the request's own thread: a client
            # that never completes it does not hold up the others.
            server.socket = self._tls.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"sandbox-{self.NAME}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the serving thread; safe to repeat."""
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        if server is not None:
            server.shutdown()
            server.server_close()
            self._stopped(server)
        if thread is not None:
            thread.join()

    def _stopped(self, server: ThreadingHTTPServer) -> None:
        """After the server closed, before its thread is joined: for what a stand-in must
        release (requests it holds hanging)."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
