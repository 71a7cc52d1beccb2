"""Health pane, the deployed app over HTTPS: the checklist's three post-deployment ``curl``s.

``api.health`` asks ``/api/health`` for ``{"status": "healthy"}``, ``api.dashboard`` asks
``/`` for a 200 page, and ``api.db-health`` asks ``/api/v1/health/db`` for
``{"database": "connected"}``, all below TOOLBOX_TARGET_URL. Without it they skip, saying
so. A target that is not https fails before any request (credentials and cookies must not
cross the network in clear), except on a loopback address, where http is allowed for local
testing. Every failure says what came back: the status, a short cut of the body.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING

from checks.checklist import VERIFY
from checks.context import CheckContext
from checks.core import CheckFailed, Outcome, Status, check, failed, passed, warned
from checks.net import http_client, http_failures
from checks.redact import Redactor
from checks.urls import URLError, is_loopback, parse_url, urllib_agrees

if TYPE_CHECKING:
    import httpx

PANE = "health"
CHECK_TIMEOUT = 20.0  # above connect (5 s) + read (10 s), so the client's own error comes first
MAX_BODY_BYTES = 64 * 1024  # a health answer is tiny; more is read no further
EXCERPT_CHARS = 200
_SETTING = "TOOLBOX_TARGET_URL (--target-url)"
_EXAMPLE = "https://your-domain.com"


@dataclass(frozen=True)
class Target:
    """TOOLBOX_TARGET_URL, checked: where requests go, and how messages name it."""

    base: str
    """The URL without its trailing slashes; a path is appended to it."""

    def endpoint(self, path: str) -> str:
        return self.base + path


def target(ctx: CheckContext) -> Target | None:
    """The configured target, or None when there is none (the checks then skip).

    Raises :class:`CheckFailed` for a value that is not a plain http(s) base URL, for
    credentials inside it, and for http:// to anything but a loopback address. No message
    quotes the value: the credentials refused here would be in it.
    """
    value = (ctx.config.target_url or "").strip()
    if not value:
        return None
    try:
        parsed = parse_url(value)
    except URLError as exc:
        raise _bad_target(f"is not a URL ({exc})") from None
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https"):
        raise _bad_target("must start with https://")
    if parsed.username or parsed.password is not None or not urllib_agrees(parsed):
        # The health endpoints are public (the checklist curls them without a login), and
        # a password here would sit in shell histories and process lists.
        raise _bad_target("holds a user name or password: remove them")
    if not parsed.host:
        raise _bad_target("has no host name")
    if "?" in value or "#" in value:
        raise _bad_target("must be the site's base address, without ?query or #fragment")
    if scheme == "http" and not is_loopback(parsed.host):
        raise CheckFailed(
            f"{_SETTING} is http:// to {parsed.display_host()}: requests, and any cookies "
            "and credentials they carry, would cross the network in clear.",
            f"Use https://{parsed.display_host()}; plain http is allowed only to a loopback "
            "address (127.0.0.0/8, ::1, localhost), for local testing.",
        )
    return Target(value.rstrip("/"))


def _bad_target(problem: str) -> CheckFailed:
    return CheckFailed(f"{_SETTING} {problem}.", f"Write it as {_EXAMPLE}")


def _no_target() -> Outcome:
    return Outcome(
        Status.SKIP,
        "No TOOLBOX_TARGET_URL: the deployed app's address is not known, so it was not asked.",
        hint=f"Set TOOLBOX_TARGET_URL={_EXAMPLE} or pass --target-url {_EXAMPLE}",
    )


@dataclass(frozen=True)
class Answer:
    """What an endpoint sent back: its status, headers, at most MAX_BODY_BYTES of body."""

    endpoint: str
    status_code: int
    content_type: str
    server: str
    location: str
    body: bytes
    complete: bool
    """False when the body was longer than MAX_BODY_BYTES (and was not read further)."""
    elapsed_ms: float
    redactor: Redactor = field(default_factory=Redactor, repr=False, compare=False)
    """The run's secrets: masked before any part of the answer is cut (see :func:`printable`)."""

    def shown(self, text: str) -> str:
        return printable(text, self.redactor)

    @property
    def status_text(self) -> str:
        """``503 Service Unavailable``."""
        try:
            return f"{self.status_code} {HTTPStatus(self.status_code).phrase}"
        except ValueError:
            return str(self.status_code)

    def evidence(self) -> dict[str, str]:
        return {
            "status_code": str(self.status_code),
            "response_ms": f"{self.elapsed_ms:.0f}",
            "server": self.shown(self.server) or "(not sent)",
        }

    def excerpt(self) -> str:
        if not self.body:
            return "(an empty body)"
        return self.shown(self.body.decode("utf-8", "replace"))

    def unexpected_status(self) -> str:
        """``answered 302 Found (to /login), not 200: <body>``."""
        where = f" (to {self.shown(self.location)})" if self.location else ""
        return f"{self.endpoint} answered {self.status_text}{where}, not 200: {self.excerpt()}"


def printable(text: str, redactor: Redactor) -> str:
    """``text`` on one line, cut to about EXCERPT_CHARS, its secrets masked first: cut
    later, a secret split at the cut would no longer be recognised whole, and its first
    half would show. (Control characters are written out at the runner's boundary.)"""
    flat = " ".join(redactor.text(text).split())
    return flat[:EXCERPT_CHARS] + ("…" if len(flat) > EXCERPT_CHARS else "")


async def fetch(ctx: CheckContext, where: Target, path: str) -> Answer:
    """GET ``path`` below the target; raises :class:`CheckFailed` when nothing usable came
    back (refused, timed out, untrusted certificate...), saying which."""
    url = where.endpoint(path)
    client = await asyncio.to_thread(http_client, ctx.config)
    async with client:
        ctx.log(f"GET {url}")
        start = time.perf_counter()
        with http_failures(url):
            async with client.stream("GET", url) as response:
                body, complete = await _read_capped(response)
        elapsed_ms = (time.perf_counter() - start) * 1000
    answer = Answer(
        endpoint=url,
        status_code=response.status_code,
        content_type=response.headers.get("content-type", ""),
        server=response.headers.get("server", ""),
        location=response.headers.get("location", ""),
        body=body,
        complete=complete,
        elapsed_ms=elapsed_ms,
        redactor=ctx.redactor,
    )
    ctx.log(f"{answer.status_text} in {elapsed_ms:.0f} ms")
    return answer


async def _read_capped(response: httpx.Response) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"".join(chunks)[:MAX_BODY_BYTES], False
    return b"".join(chunks), True


def expect_json(answer: Answer, key: str, wanted: str, hint: str) -> Outcome:
    """PASS when ``answer`` is a 200 with a JSON object whose ``key`` is ``wanted``;
    otherwise FAIL saying what came back instead."""
    facts = answer.evidence()
    if answer.status_code != 200:
        return failed(answer.unexpected_status(), hint, **facts)
    if not answer.complete:
        return failed(
            f"{answer.endpoint} answered more than {MAX_BODY_BYTES // 1024} KiB, not a "
            f"short JSON status: {answer.excerpt()}",
            "Is TOOLBOX_TARGET_URL the app, or a page in front of it?",
            **facts,
        )
    try:
        document = json.loads(answer.body)
    except ValueError:  # UnicodeDecodeError is one too
        return failed(
            f"{answer.endpoint} answered 200, but not with JSON: {answer.excerpt()}",
            "A proxy or a front-end page may be answering instead of the API: check the "
            "proxy's routes for /api.",
            **facts,
        )
    expected = json.dumps({key: wanted})
    if not isinstance(document, dict) or key not in document:
        return failed(
            f"{answer.endpoint} answered JSON without {json.dumps(key)}, not {expected}: "
            f"{answer.excerpt()}",
            hint,
            **facts,
        )
    value = document[key]
    if value != wanted:
        return failed(
            f"{answer.endpoint} says {json.dumps(key)}: {answer.shown(json.dumps(value))}, "
            f"not {json.dumps(wanted)}: {answer.excerpt()}",
            hint,
            **facts,
        )
    return passed(f"{answer.endpoint} says {expected} ({answer.elapsed_ms:.0f} ms).", **facts)


@check(
    id="api.health",
    pane=PANE,
    title="API /api/health says healthy",
    timeout=CHECK_TIMEOUT,
    checklist=(VERIFY, "Backend API health"),
)
async def api_health(ctx: CheckContext) -> Outcome:
    where = target(ctx)
    if where is None:
        return _no_target()
    answer = await fetch(ctx, where, "/api/health")
    return expect_json(
        answer,
        "status",
        "healthy",
        "The backend is up but reports a problem: its logs (and the body above) say which.",
    )


@check(
    id="api.dashboard",
    pane=PANE,
    title="Dashboard / answers 200",
    timeout=CHECK_TIMEOUT,
    checklist=(VERIFY, "Dashboard reachable"),
)
async def api_dashboard(ctx: CheckContext) -> Outcome:
    where = target(ctx)
    if where is None:
        return _no_target()
    answer = await fetch(ctx, where, "/")
    facts = {**answer.evidence(), "content_type": answer.shown(answer.content_type) or "(none)"}
    if answer.status_code != 200:
        return failed(
            answer.unexpected_status(),
            "The checklist expects / itself to answer 200: look at the web server's "
            "configuration and logs (a redirect is not followed, as curl does not).",
            **facts,
        )
    if "html" not in answer.content_type.lower():
        return warned(
            f"{answer.endpoint} answered 200, but with {facts['content_type']}, not an HTML page.",
            "Is / routed to the API instead of the dashboard? Open it in a browser.",
            **facts,
        )
    return passed(f"{answer.endpoint} answered 200 ({answer.elapsed_ms:.0f} ms).", **facts)


@check(
    id="api.db-health",
    pane=PANE,
    title="API says its database is connected",
    timeout=CHECK_TIMEOUT,
    checklist=(VERIFY, "Database connection"),
)
async def api_db_health(ctx: CheckContext) -> Outcome:
    where = target(ctx)
    if where is None:
        return _no_target()
    answer = await fetch(ctx, where, "/api/v1/health/db")
    return expect_json(
        answer,
        "database",
        "connected",
        "The app cannot use its database: check DATABASE_URL on the app host, and the "
        "db.* checks of this tool.",
    )
