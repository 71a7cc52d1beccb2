"""Calling SendGrid's v3 API as the email checks do: where it is, the key, one GET.

Provides :func:`api` (TOOLBOX_SENDGRID_API_URL and SENDGRID_API_KEY, refusing a URL that would
expose the key), :func:`get` (one JSON GET with a size cap; :class:`Forbidden` on 403, a
readable :class:`~checks.core.CheckFailed` for anything else) and :func:`scopes` (the key's
scopes, asked once per run).

The requests are made with :func:`checks.net.http_client` (httpx), not the SendGrid SDK: the SDK
(python-http-client) opens each request with a bare ``urllib`` opener, which takes a timeout
per call but no CA bundle and no TLS context, so TOOLBOX_CA_BUNDLE could not apply; it is
blocking; and at DEBUG level it logs every request's headers, the key among them. httpx through
``checks.net`` has the explicit timeouts, the CA bundle and the failure sentences every
other HTTP check has.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from checks.context import CheckContext
from checks.core import CheckFailed
from checks.findings import Findings, require
from checks.net import http_failures, open_http_client, read_capped, service_base_url

DEFAULT_API_URL = "https://api.sendgrid.com"
URL_SETTING = "TOOLBOX_SENDGRID_API_URL"
KEY = "SENDGRID_API_KEY"
MAX_BODY_BYTES = 1024 * 1024  # a page of senders or a few days of stats is far less
EXCERPT_CHARS = 200
_KEYS_HINT = "Create a key in SendGrid > Settings > API Keys and put it in SENDGRID_API_KEY."


class Forbidden(CheckFailed):
    """SendGrid answered 403: the key lacks the scope this endpoint needs. A check that
    expects it says what could not be judged; elsewhere it fails like any refusal."""

    def __init__(self, endpoint: str, said: str) -> None:
        super().__init__(
            f"{endpoint} answered 403 ({said}): {KEY} lacks the permission it needs.",
            "Give the key that access in SendGrid > Settings > API Keys.",
        )
        self.endpoint = endpoint


@dataclass(frozen=True)
class Api:
    """Where SendGrid's API is, and the key to call it with (never shown)."""

    base: str
    key: str = field(repr=False)


def api(ctx: CheckContext) -> Api:
    """The API as configured; raises :class:`CheckFailed` for a URL that would expose the
    key (plain http beyond this machine, credentials in it) or a missing key."""
    base = service_base_url(
        ctx.config.sendgrid_api_url,
        URL_SETTING,
        carries=KEY,
        hint=f"Unset it to use SendGrid's API, {DEFAULT_API_URL}.",
    )
    findings = Findings()
    key = require(ctx.env, KEY, findings)
    if key is None:
        raise CheckFailed(" ".join(findings.failures) + ".", _KEYS_HINT)
    return Api(base, key.strip())


async def get(
    ctx: CheckContext, where: Api, path: str, params: Mapping[str, str] | None = None
) -> Any:
    """The JSON document SendGrid answered ``GET path`` with.

    Raises :class:`Forbidden` on 403 and :class:`CheckFailed` for anything else that is not
    a JSON 200: unreachable, 401, an error status, an answer that is not SendGrid's.
    """
    endpoint = where.base + path
    client = await open_http_client(ctx)  # imports httpx off the loop: only then the import below
    import httpx

    async with client:
        shown = str(httpx.URL(endpoint, params=params or {}))
        ctx.log(f"GET {shown}")
        headers = {"Authorization": f"Bearer {where.key}", "Accept": "application/json"}
        with http_failures(shown, URL_SETTING):
            async with client.stream("GET", endpoint, params=params, headers=headers) as answer:
                body, _ = await read_capped(answer, MAX_BODY_BYTES)
    status = answer.status_code
    ctx.log(f"{status} {_phrase(status)}")
    if status == 403:
        raise Forbidden(endpoint, _said(ctx, body))
    if status == 401:
        raise CheckFailed(
            f"SendGrid refused {KEY}: {endpoint} answered 401 ({_said(ctx, body)}).",
            f"The key is wrong, revoked, or from another account. {_KEYS_HINT}",
        )
    if status != 200:
        raise CheckFailed(
            f"{endpoint} answered {status} {_phrase(status)}: {_said(ctx, body)}.",
            "SendGrid may be having trouble (status.sendgrid.com); or is "
            f"{URL_SETTING} not SendGrid's API?",
        )
    try:
        return json.loads(body)
    except ValueError:
        raise _unexpected(ctx, endpoint, body, "not JSON") from None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _said(ctx: CheckContext, body: bytes) -> str:
    """SendGrid's ``{"errors": [{"message": ...}]}`` as text, or a short cut of the body."""
    try:
        errors = json.loads(body).get("errors")
        text = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError, TypeError):
        text = ""
    return _excerpt(ctx, text or body.decode("utf-8", "replace")) or "an empty body"


def _excerpt(ctx: CheckContext, text: str) -> str:
    # Secrets masked before the cut: cut first, half a secret would no longer be recognised.
    flat = " ".join(ctx.redactor.text(text).split())
    return flat[:EXCERPT_CHARS] + ("…" if len(flat) > EXCERPT_CHARS else "")


def _unexpected(ctx: CheckContext, endpoint: str, body: bytes, what: str) -> CheckFailed:
    return CheckFailed(
        f"{endpoint} answered 200, but {what}: {_excerpt(ctx, body.decode('utf-8', 'replace'))}",
        f"Is {URL_SETTING} SendGrid's API ({DEFAULT_API_URL})?",
    )


async def scopes(ctx: CheckContext, where: Api) -> frozenset[str]:
    """The key's scopes (``GET /v3/scopes``), asked once per run for every check."""

    async def fetch() -> frozenset[str]:
        document = await get(ctx, where, "/v3/scopes")
        held = document.get("scopes") if isinstance(document, dict) else None
        if not isinstance(held, list):
            raise CheckFailed(
                f"{where.base}/v3/scopes answered without a list of scopes.",
                f"Is {URL_SETTING} SendGrid's API ({DEFAULT_API_URL})?",
            )
        return frozenset(str(scope) for scope in held)

    return await ctx.shared(f"sendgrid-scopes:{where.base}", fetch)
