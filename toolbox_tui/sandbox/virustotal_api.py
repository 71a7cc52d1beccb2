"""A stand-in for VirusTotal's v3 API, for the sandbox and the tests: enough of it to tell
whether a key is accepted (``GET /api/v3/users/{key}``), in VirusTotal's JSON.

Provides :class:`VirusTotalApi`. It serves plain http on loopback from a thread of this
process; no VirusTotal server runs anywhere but VirusTotal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from toolbox_tui.sandbox.http_peer import QuietServer, ThreadedHttpPeer


@dataclass(frozen=True)
class VtRequest:
    path: str
    apikey: str


class VirusTotalApi(ThreadedHttpPeer):
    """``GET /api/v3/users/{id}`` as VirusTotal answers it: the user object when the
    ``x-apikey`` header is the known key (``id`` being that key), its JSON errors otherwise
    (``{"error": {"code": ..., "message": ...}}``): 401 AuthenticationRequiredError without
    a key, 401 WrongCredentialsError for another, 429 QuotaExceededError when
    :attr:`quota_exceeded`, 404 NotFoundError for another path. Plain http on loopback."""

    NAME = "VirusTotal API"

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.quota_exceeded = False
        self.requests: list[VtRequest] = []

    def _make_server(self, address: tuple[str, int]) -> ThreadingHTTPServer:
        return QuietServer(address, _handler_for(self))

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
