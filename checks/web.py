"""The deployed app over HTTP(S), for every pane that asks it something: TOOLBOX_TARGET_URL
checked (:func:`target`), one request with a capped body (:func:`fetch`), and what came back
(:class:`Answer`), printable with its secrets masked.

A target that is not https fails before any request (credentials and cookies must not cross
the network in clear), except on a loopback address, where http is allowed for local testing.
Without a target the checks skip, saying so (:func:`no_target`). Kept out of the pane packages
so that the Security pane's checks do not register the Health pane's by importing it.

Also what several panes send or ask below the target: the operator's test-account token
(TOOLBOX_API_TOKEN, read and checked once for all, :func:`api_token`, sent by :func:`bearer`)
and :data:`STRIPE_WEBHOOK_PATH`, where the app takes Stripe's events (the Integrations pane
checks the endpoint is registered there, the Security pane that it verifies signatures).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING

from checks.context import CheckContext
from checks.core import CheckFailed, Outcome, Status, failed, passed
from checks.net import TARGET_SETTING, http_failures, open_http_client, read_capped
from checks.redact import Redactor
from checks.urls import URLError, is_loopback, parse_url, urllib_agrees

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx

CHECK_TIMEOUT = 20.0  # above connect (5 s) + read (10 s), so the client's own error comes first
MAX_BODY_BYTES = 64 * 1024  # a health answer is tiny; more is read no further
EXCERPT_CHARS = 200
# Where the checklist's app takes Stripe's events, below the target (Integrations and Security).
STRIPE_WEBHOOK_PATH = "/api/v1/stripe/webhooks"
API_TOKEN_SETTING = "TOOLBOX_API_TOKEN"
_SETTING = "TOOLBOX_TARGET_URL (--target-url)"
_EXAMPLE = "https://your-domain.com"


@dataclass(frozen=True)
class Target:
    """TOOLBOX_TARGET_URL, checked: where requests go, and how messages name it."""

    base: str
    """The URL without its trailing slashes; a path is appended to it."""
    setting: str = TARGET_SETTING
    """Where ``base`` came from: failure hints name it."""

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


def no_target() -> Outcome:
    return Outcome(
        Status.SKIP,
        "No TOOLBOX_TARGET_URL: the deployed app's address is not known, so it was not asked.",
        hint=f"Set TOOLBOX_TARGET_URL={_EXAMPLE} or pass --target-url {_EXAMPLE}",
    )


def api_token(ctx: CheckContext) -> str | None:
    """TOOLBOX_API_TOKEN without surrounding whitespace, now masked by the context's redactor
    too; None when unset or blank.

    Raises :class:`CheckFailed` for a token with anything but visible ASCII in it (a space, an
    accented letter, a control character: no HTTP header can carry it), without showing it.
    """
    secret = ctx.config.api_token
    value = secret.get_secret_value().strip() if secret is not None else ""
    if not value:
        return None
    ctx.redactor.add(value)  # before anything, which might echo it, is shown
    if not all("!" <= char <= "~" for char in value):
        raise CheckFailed(
            f"{API_TOKEN_SETTING} holds a character that is not visible ASCII (a space, an "
            "accented letter or a control character): no Authorization header can carry it, "
            "so it was not sent.",
            f"Set {API_TOKEN_SETTING} to the API token exactly as the app issued it (copied "
            "whole, nothing added); it is never shown.",
        )
    return value


def bearer(token: str) -> dict[str, str]:
    """The Authorization header that sends ``token`` (never logged: see :func:`fetch`)."""
    return {"Authorization": f"Bearer {token}"}


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
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)
    """Every header as sent, names in lower case, repeats kept (Set-Cookie); may carry
    session cookies: never shown whole."""

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), in the order sent."""
        wanted = name.lower()
        return [value for key, value in self.headers if key == wanted]

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
        """``Answered 302 Found (to /login), not 200, at <endpoint>: <body>``: the status
        first, where a narrow column still shows it."""
        where = f" (to {self.shown(self.location)})" if self.location else ""
        return f"Answered {self.status_text}{where}, not 200, at {self.endpoint}: {self.excerpt()}"


def printable(text: str, redactor: Redactor) -> str:
    """``text`` on one line, cut to about EXCERPT_CHARS, its secrets masked first: cut
    later, a secret split at the cut would no longer be recognised whole, and its first
    half would show. (Control characters are written out at the runner's boundary.)"""
    flat = " ".join(redactor.text(text).split())
    return flat[:EXCERPT_CHARS] + ("…" if len(flat) > EXCERPT_CHARS else "")


async def fetch(
    ctx: CheckContext,
    where: Target,
    path: str,
    *,
    method: str = "GET",
    json_body: object = None,
    headers: Mapping[str, str] | None = None,
    client: httpx.AsyncClient | None = None,
    content: bytes | None = None,
) -> Answer:
    """``method`` ``path`` below the target (GET by default; ``json_body``, when given, is
    sent as JSON; ``content``, bytes sent exactly as they are); raises :class:`CheckFailed`
    when nothing usable came back (refused, timed out, untrusted certificate...), saying which.

    ``client``, when given, is used and left open (several requests over one kept-alive
    connection); otherwise one is built for this request. ``headers`` are sent but never
    logged: they may carry a token.
    """
    if client is None:
        client = await open_http_client(ctx)
        async with client:
            return await _request(ctx, client, where, path, method, json_body, headers, content)
    return await _request(ctx, client, where, path, method, json_body, headers, content)


async def _request(
    ctx: CheckContext,
    client: httpx.AsyncClient,
    where: Target,
    path: str,
    method: str,
    json_body: object,
    headers: Mapping[str, str] | None,
    content: bytes | None = None,
) -> Answer:
    url = where.endpoint(path)
    ctx.log(f"{method} {url}")
    start = time.perf_counter()
    with http_failures(url, where.setting):
        async with client.stream(
            method, url, json=json_body, content=content, headers=dict(headers or {})
        ) as response:
            body, complete = await read_capped(response, MAX_BODY_BYTES)
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
        headers=tuple(response.headers.multi_items()),
    )
    ctx.log(f"{answer.status_text} in {elapsed_ms:.0f} ms")
    return answer


def expect_json(answer: Answer, key: str, wanted: str, hint: str) -> Outcome:
    """PASS when ``answer`` is a 200 with a JSON object whose ``key`` is ``wanted``;
    otherwise FAIL saying what came back instead."""
    facts = answer.evidence()
    if answer.status_code != 200:
        return failed(answer.unexpected_status(), hint, **facts)
    if not answer.complete:
        return failed(
            f"Answered more than {MAX_BODY_BYTES // 1024} KiB, not a short JSON status, at "
            f"{answer.endpoint}: {answer.excerpt()}",
            "Is TOOLBOX_TARGET_URL the app, or a page in front of it?",
            **facts,
        )
    try:
        document = json.loads(answer.body)
    except ValueError:  # UnicodeDecodeError is one too
        return failed(
            f"Answered 200, but not with JSON, at {answer.endpoint}: {answer.excerpt()}",
            "A proxy or a front-end page may be answering instead of the API: check the "
            "proxy's routes for /api.",
            **facts,
        )
    expected = json.dumps({key: wanted})
    if not isinstance(document, dict) or key not in document:
        return failed(
            f"Answered JSON without {json.dumps(key)}, not {expected}, at {answer.endpoint}: "
            f"{answer.excerpt()}",
            hint,
            **facts,
        )
    value = document[key]
    if value != wanted:
        return failed(
            f"Not {wanted}: {json.dumps(key)}: {answer.shown(json.dumps(value))}, not "
            f"{json.dumps(wanted)}, from {answer.endpoint}: {answer.excerpt()}",
            hint,
            **facts,
        )
    # The verdict first ("Healthy: ...", "Connected: ..."), the address last: a narrow
    # column shows only the start.
    return passed(
        f"{wanted.capitalize()}: {expected} in {answer.elapsed_ms:.0f} ms from {answer.endpoint}.",
        **facts,
    )
