"""A stand-in for VirusTotal's v3 API, for the sandbox and the tests: enough of it to tell
whether a key is accepted (``GET /api/v3/users/{key}``), in VirusTotal's JSON.

Provides :class:`VirusTotalApi`. It serves plain http on loopback from a thread of this
process; no VirusTotal server runs anywhere but VirusTotal.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


@dataclass(frozen=True)
class VtRequest:
    path: str
    apikey: str


class VirusTotalApi:
    """``GET /api/v3/users/{id}`` as VirusTotal answers it: the user object when the
    ``x-apikey`` header is the known key (``id`` being that key), its JSON errors otherwise
    (``{"error": {"code": ..., "message": ...}}``): 401 AuthenticationRequiredError without
    a key, 401 WrongCredentialsError for another, 429 QuotaExceededError when
    :attr:`quota_exceeded`, 404 NotFoundError for another path. Plain http on loopback."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.quota_exceeded = False
        self.requests: list[VtRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for the serving thread; safe to repeat."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None and thread is not None:
            server.shutdown()
            server.server_close()
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

    def answer(self, path: str, apikey: str) -> tuple[int, Any]:
        self.requests.append(VtRequest(path, apikey))
        prefix = "/api/v3/users/"
        if not path.startswith(prefix):
            return 404, _error("NotFoundError", f'Resource "{path}" not found')
        if not apikey:
            return 401, _error("AuthenticationRequiredError", "X-Apikey header is missing")
        if apikey != self.api_key:
            return 401, _error("WrongCredentialsError", "Wrong API key")
        if self.quota_exceeded:
            return 429, _error("QuotaExceededError", "Quota exceeded")
        if path[len(prefix) :] != self.api_key:
            return 404, _error("NotFoundError", "User not found")
        quotas = {"api_requests_daily": {"used": 12, "allowed": 500}}
        attributes = {"apikey": self.api_key, "quotas": quotas, "status": "active"}
        return 200, {"data": {"id": "sandbox-user", "type": "user", "attributes": attributes}}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _handler_for(api: VirusTotalApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status, document = api.answer(self.path, self.headers.get("x-apikey", ""))
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    return Handler
