"""Real HTTP(S) servers on loopback ports for the tests, in the test's own event loop.

:class:`WebServer` answers each path with a canned :class:`Reply` (or accepts and never
answers, :data:`HANG`), over TLS when given a server context, and records every request it
read. :func:`unanswered_port` is a port whose connections never complete (a firewall that
drops packets). Both stop everything they started when their ``with`` block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from types import TracebackType

HOST = "127.0.0.1"
_TLS_HANDSHAKE_RECORD = b"\x16"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    hang: bool = False
    """Read the request, then never answer (until the server stops)."""
    delay: float = 0.0
    """Seconds to wait before answering (a slow app)."""


HANG = Reply(hang=True)
NOT_FOUND = Reply(404, b"not found", "text/plain")


def json_reply(document: object, status: int = 200) -> Reply:
    return Reply(status, json.dumps(document).encode())


def html_reply(status: int = 200, body: bytes = b"<!doctype html><title>app</title>") -> Reply:
    return Reply(status, body, "text/html; charset=utf-8")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class WebServer:
    """``async with WebServer(routes, tls) as server:`` then ``server.url``."""

    def __init__(
        self,
        routes: Mapping[str, Reply],
        tls: ssl.SSLContext | None = None,
        server_header: str = "test-server/1.0",
    ) -> None:
        self.routes = dict(routes)
        self.requests: list[Request] = []
        self._tls = tls
        self._server_header = server_header
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._port is not None, "the server has not started"
        return self._port

    def url_for(self, host: str = HOST) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def url(self) -> str:
        return self.url_for()

    async def __aenter__(self) -> WebServer:
        if self._tls is None:
            self._server = await asyncio.start_server(self._handle, HOST, 0)
        else:
            self._server = await asyncio.start_server(
                self._handle, HOST, 0, ssl=self._tls, ssl_handshake_timeout=5
            )
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        # Connections still open (a hanging reply) are ended here: Python 3.11's Server
        # does not close them itself.
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            first = await reader.readexactly(1)
            if first == _TLS_HANDSHAKE_RECORD and self._tls is None:
                # A TLS client on a plain port: answer as a plain-http server does.
                await self._write(writer, Reply(400, b"plain http here", "text/plain"))
                return
            head = first + await reader.readuntil(b"\r\n\r\n")
            request = _parse(head)
            # The body is read too: closing a socket with unread data resets the connection,
            # and the client could lose the answer.
            length = int(request.headers.get("content-length", "0") or 0)
            if length:
                request = replace(request, body=await reader.readexactly(length))
            self.requests.append(request)
            reply = self.routes.get(request.path, NOT_FOUND)
            if reply.hang:
                await asyncio.Event().wait()  # until the server stops and cancels us
            if reply.delay:
                await asyncio.sleep(reply.delay)  # the slow app under test, not a wait
            await self._write(writer, reply)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # the client went away or sent more than a request head: nothing to answer
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _write(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Whatever"
        lines = [
            f"HTTP/1.1 {reply.status} {phrase}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}",
            f"Server: {self._server_header}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in reply.headers),
        ]
        writer.write("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + reply.body)
        await writer.drain()


def _parse(head: bytes) -> Request:
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, path, _ = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return Request(method, path, headers)


@contextlib.contextmanager
def unanswered_port() -> Iterator[int]:
    """A loopback port where a connection attempt gets no answer, as behind a firewall
    that drops packets: its listen queue is full, and Linux then ignores new SYNs."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind((HOST, 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(3):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            fillers.append(filler)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((HOST, port))
        yield port
    finally:
        for sock in (*fillers, listener):
            sock.close()


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word, not even TLS (a hung
    process behind the port): the kernel completes them from the listen queue, and nothing
    ever reads them."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        listener.listen(8)
        yield listener.getsockname()[1]
