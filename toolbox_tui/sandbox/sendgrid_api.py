"""A stand-in for SendGrid's v3 API on a free loopback port, for the demo sandbox and the tests.

No SendGrid server runs outside SendGrid, so this small HTTP server speaks its wire format for
what the email checks and the SendGrid SDK call: ``GET /v3/scopes``, ``GET
/v3/verified_senders`` (with ``limit`` and ``lastSeenID`` paging), ``GET /v3/stats`` (per UTC
day between ``start_date`` and ``end_date``) and ``POST /v3/mail/send`` (202, empty body).
A wrong ``Authorization: Bearer`` key gets SendGrid's 401 JSON error, a key without the
endpoint's scope its 403. Its state (the key, its scopes, the senders, the daily stats) is
plain attributes that tests and sandbox scenarios change to break it; it records every
request (never the key).

Provides :class:`SendGridApi`, :class:`Sender` and :class:`DayStats`. It runs in a thread of
this process (stdlib ``http.server``), over TLS when given a server context.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from toolbox_tui.sandbox.http_peer import HOST, QuietServer, ThreadedHttpPeer

if TYPE_CHECKING:
    import ssl

MAIL_SEND = "mail.send"
STATS_READ = "stats.read"
# The scope this fake asks of GET /v3/verified_senders. SendGrid's documentation does not
# say plainly which scope guards that endpoint; the checks read only the 403 it causes.
SENDERS_READ = "sender_verification_eligible"
DEFAULT_SCOPES: tuple[str, ...] = (MAIL_SEND, STATS_READ, SENDERS_READ)
REQUIRED_SCOPES: Mapping[tuple[str, str], str] = {
    ("GET", "/v3/verified_senders"): SENDERS_READ,
    ("GET", "/v3/stats"): STATS_READ,
    ("POST", "/v3/mail/send"): MAIL_SEND,
}
MAX_BODY_BYTES = 1024 * 1024
# Every metric SendGrid's global stats report, in its order.
METRICS = (
    "blocks",
    "bounce_drops",
    "bounces",
    "clicks",
    "deferred",
    "delivered",
    "invalid_emails",
    "opens",
    "processed",
    "requests",
    "spam_report_drops",
    "spam_reports",
    "unique_clicks",
    "unique_opens",
    "unsubscribe_drops",
    "unsubscribes",
)


@dataclass
class Sender:
    """A Single Sender identity, as ``GET /v3/verified_senders`` lists it."""

    from_email: str
    verified: bool = True
    nickname: str = "sandbox"
    from_name: str = "ToolBoxAI"
    id: int = 0
    """Assigned by :meth:`SendGridApi.add_sender` when 0."""

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "nickname": self.nickname,
            "from_email": self.from_email,
            "from_name": self.from_name,
            "reply_to": self.from_email,
            "reply_to_name": self.from_name,
            "address": "1 Sandbox Street",
            "address2": "",
            "state": "",
            "city": "Sandbox",
            "zip": "00000",
            "country": "USA",
            "verified": self.verified,
            "locked": False,
        }


@dataclass
class DayStats:
    """One UTC day of global email stats; metrics not given are 0."""

    requests: int = 0
    delivered: int = 0
    bounces: int = 0
    other: dict[str, int] = field(default_factory=dict)

    def metrics(self) -> dict[str, int]:
        values = dict.fromkeys(METRICS, 0)
        values["processed"] = self.requests  # all that was asked for, unless told otherwise
        values.update(self.other)
        values.update(requests=self.requests, delivered=self.delivered, bounces=self.bounces)
        return values


@dataclass(frozen=True)
class ApiRequest:
    """One request the fake answered. ``authorized`` says whether the key was right."""

    method: str
    path: str
    query: Mapping[str, str]
    status: int
    authorized: bool
    user_agent: str = ""
    body: Any = None
    """The parsed JSON body (``POST /v3/mail/send``), or None."""


class SendGridApi(ThreadedHttpPeer):
    """``with SendGridApi(api_key) as api:`` then point the checks at ``api.url``.

    Break it by changing ``api_key`` (every request then gets 401), ``scopes``,
    ``senders`` (see :meth:`add_sender`) or ``stats`` (a :class:`DayStats` per date). ``sent``
    lists the bodies of the mail it accepted; ``requests`` every request.
    """

    NAME = "SendGrid API"

    def __init__(
        self,
        api_key: str,
        *,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        senders: Iterable[Sender] = (),
        stats: Mapping[date, DayStats] | None = None,
        tls: ssl.SSLContext | None = None,
        host: str = HOST,
    ) -> None:
        super().__init__(tls=tls, host=host)
        self.api_key = api_key
        self.scopes: list[str] = list(scopes)
        self.senders: list[Sender] = []
        self.stats: dict[date, DayStats] = dict(stats or {})
        self._lock = threading.Lock()
        self._requests: list[ApiRequest] = []
        for sender in senders:
            self.add_sender(sender)

    # -- state ----------------------------------------------------------------------------

    def add_sender(self, sender: Sender) -> Sender:
        if not sender.id:
            sender.id = max((s.id for s in self.senders), default=0) + 1
        self.senders.append(sender)
        return sender

    @property
    def requests(self) -> list[ApiRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def sent(self) -> list[Any]:
        """The JSON bodies of the accepted ``POST /v3/mail/send`` requests."""
        return [r.body for r in self.requests if r.path == "/v3/mail/send" and r.status == 202]

    def clear(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            self._requests.clear()

    def _make_server(self, address: tuple[str, int]) -> ThreadingHTTPServer:
        return QuietServer(address, _handler_for(self))

    # -- answering ------------------------------------------------------------------------

    def answer(
        self, method: str, target: str, authorization: str, body: bytes, user_agent: str
    ) -> tuple[int, Any]:
        """The status and JSON document (None: empty body) for one request; recorded."""
        parts = urlsplit(target)
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        authorized = self._authorized(authorization)
        document = _json(body) if body else None
        status, reply = self._route(method, parts.path, query, authorized, document)
        request = ApiRequest(method, parts.path, query, status, authorized, user_agent, document)
        with self._lock:
            self._requests.append(request)
        return status, reply

    def _authorized(self, header: str) -> bool:
        scheme, _, key = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            key.strip().encode("utf-8"), self.api_key.encode("utf-8")
        )

    def _route(
        self, method: str, path: str, query: Mapping[str, str], authorized: bool, body: Any
    ) -> tuple[int, Any]:
        handlers = {
            ("GET", "/v3/scopes"): lambda: (200, {"scopes": list(self.scopes)}),
            ("GET", "/v3/verified_senders"): lambda: self._senders(query),
            ("GET", "/v3/stats"): lambda: self._stats(query),
            ("POST", "/v3/mail/send"): lambda: self._send(body),
        }
        handler = handlers.get((method, path))
        if handler is None:
            return 404, _errors(None, "resource not found")
        if not authorized:
            return 401, _errors(None, "authorization required")
        scope = REQUIRED_SCOPES.get((method, path))
        if scope is not None and scope not in self.scopes:
            return 403, _errors(None, "access forbidden")
        return handler()

    def _senders(self, query: Mapping[str, str]) -> tuple[int, Any]:
        limit = _int(query.get("limit"), default=100)
        after = _int(query.get("lastSeenID"), default=0)
        if limit is None or after is None:
            return 400, _errors("limit", "invalid limit or lastSeenID")
        listed = sorted((s for s in self.senders if s.id > after), key=lambda s: s.id)
        return 200, {"results": [s.document() for s in listed[:limit]]}

    def _stats(self, query: Mapping[str, str]) -> tuple[int, Any]:
        start = _date(query.get("start_date"))
        if start is None:
            return 400, _errors("start_date", "missing or invalid start_date (YYYY-MM-DD)")
        end = _date(query.get("end_date")) if "end_date" in query else None
        if end is None:
            end = max([start, *self.stats], default=start)
        if end < start:
            return 400, _errors("end_date", "end_date must be after start_date")
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        # Like SendGrid, every day of the range is listed, those without mail with zeros.
        return 200, [
            {
                "date": day.isoformat(),
                "stats": [{"metrics": self.stats.get(day, DayStats()).metrics()}],
            }
            for day in days
        ]

    def _send(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, _errors(None, "Bad Request")
        problems = []
        if not body.get("personalizations"):
            problems.append(("personalizations", "The personalizations field is required."))
        if not isinstance(body.get("from"), dict) or not body["from"].get("email"):
            problems.append(("from.email", "The from email does not contain a valid address."))
        if not body.get("subject") and not body.get("template_id"):
            problems.append(("subject", "The subject is required."))
        if problems:
            return 400, {"errors": [{"field": f, "message": m} for f, m in problems]}
        return 202, None


def _errors(field_name: str | None, message: str) -> dict[str, Any]:
    """SendGrid's error document: ``{"errors": [{"field": ..., "message": ...}]}``."""
    return {"errors": [{"field": field_name, "message": message}]}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _int(raw: str | None, *, default: int) -> int | None:
    if raw is None:
        return default
    return int(raw) if raw.isdigit() else None


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _handler_for(api: SendGridApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "sandbox-sendgrid/1.0"

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._reply(413, _errors(None, "request entity too large"))
                return
            body = self.rfile.read(length) if length else b""
            status, document = api.answer(
                self.command,
                self.path,
                self.headers.get("Authorization", ""),
                body,
                self.headers.get("User-Agent", ""),
            )
            self._reply(status, document)

        def _reply(self, status: int, document: Any) -> None:
            data = b"" if document is None else json.dumps(document).encode("utf-8")
            self.send_response(status, HTTPStatus(status).phrase)
            if document is not None:
                self.send_header("Content-Type", "application/json")
            if status == 202:
                self.send_header("X-Message-Id", "sandbox-message")
            self.send_header("Content-Length", str(len(data)))
            # One request per connection: no handler thread outlives its answer.
            self.send_header("Connection", "close")
            self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args  # no access log on the terminal

    return Handler
