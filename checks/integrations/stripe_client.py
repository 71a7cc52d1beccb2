"""Calling Stripe's API as the Stripe checks do: where it is, the key, and the SDK's client.

Provides :func:`api` (TOOLBOX_STRIPE_API_URL and STRIPE_SECRET_KEY, refusing a URL that would
expose the key), :func:`session` (a ``stripe.StripeClient`` for a few calls, whose failures
:meth:`Session.call` turns into a readable :class:`~checks.core.CheckFailed` naming the
endpoint: 401 authentication, 403 permission as :class:`Forbidden`, refused, timed out,
untrusted...) and :func:`account` (the key's account, asked once per run).

The SDK's requests go through :func:`checks.net.http_client` (httpx), handed to the SDK as its
``http_client``. The SDK's own ``stripe.HTTPXClient`` takes a timeout but builds its TLS
context from the CA file bundled with the SDK, with no way to add TOOLBOX_CA_BUNDLE, and it
still sends form bodies in a way httpx deprecates. Through ``checks.net`` the requests have
the connect/read timeouts every HTTP check has (capped by TOOLBOX_CHECK_TIMEOUT), the system
store plus TOOLBOX_CA_BUNDLE, a cap on the answer's size, and the same failure sentences. The
SDK retries nothing (``max_network_retries=0``): a check says what happened the first time.

``stripe`` (and httpx) are imported inside the functions: registering the checks loads no SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

from checks.context import CheckContext
from checks.core import CheckFailed
from checks.findings import Findings, require
from checks.net import explain, open_http_client, read_capped, service_base_url, user_agent
from checks.offloop import import_off_loop

if TYPE_CHECKING:
    import httpx
    import stripe

DEFAULT_API_URL = "https://api.stripe.com"
URL_SETTING = "TOOLBOX_STRIPE_API_URL"
KEY = "STRIPE_SECRET_KEY"
MAX_BODY_BYTES = 4 * 1024 * 1024  # a page of 100 charges is ~300 kB
EXCERPT_CHARS = 200
_SECRET_KEY = re.compile(r"(?:sk|rk)_(live|test)_\S+")
KEYS_HINT = f"Copy the secret key from Stripe Dashboard > Developers > API keys into {KEY}."
T = TypeVar("T")
Log = Callable[[str], None]


class Forbidden(CheckFailed):
    """Stripe answered 403: the key (a restricted ``rk_`` key, usually) lacks the permission
    this endpoint needs. A check that can do without says what it could not judge;
    elsewhere it fails like any refusal."""

    def __init__(self, endpoint: str, said: str) -> None:
        super().__init__(
            f"{endpoint} answered 403 ({said}): {KEY} lacks the permission it needs.",
            "A restricted key (rk_) needs that resource's permission: grant it in Stripe "
            "Dashboard > Developers > API keys, or use the account's secret key.",
        )
        self.endpoint = endpoint


@dataclass(frozen=True)
class Api:
    """Where Stripe's API is, and the key to call it with (never shown)."""

    base: str
    key: str = field(repr=False)

    @property
    def live(self) -> bool:
        """A live key (``sk_live_``/``rk_live_``), by its prefix, as Stripe reads it."""
        match = _SECRET_KEY.fullmatch(self.key)
        return match is not None and match.group(1) == "live"

    @property
    def mode(self) -> str:
        return "live" if self.live else "test"


def api(ctx: CheckContext) -> Api:
    """The API as configured; raises :class:`CheckFailed` for a URL that would expose the key
    (plain http beyond this machine, credentials in it), or a key that is missing or is not
    a secret key (nothing is sent then)."""
    base = service_base_url(
        ctx.config.stripe_api_url,
        URL_SETTING,
        carries=KEY,
        hint=f"Unset it to use Stripe's API, {DEFAULT_API_URL}.",
    )
    findings = Findings()
    key = require(ctx.env, KEY, findings)
    if key is None:
        raise CheckFailed(" ".join(findings.failures) + ".", KEYS_HINT)
    if _SECRET_KEY.fullmatch(key.strip()) is None:
        # A publishable key or a stray value: not worth a request, and env.stripe-keys
        # already says what it is.
        raise CheckFailed(
            f"{KEY} is not a Stripe secret key (sk_ or rk_): nothing was sent to Stripe.",
            f"env.stripe-keys says more. {KEYS_HINT}",
        )
    return Api(base, key.strip())


class Session:
    """One SDK client for a few calls (a listing page by page); see :func:`session`."""

    def __init__(self, ctx: CheckContext, where: Api, client: stripe.StripeClient) -> None:
        self.client = client
        self._ctx = ctx
        self._where = where

    async def call(self, path: str, request: Callable[[], Awaitable[T]]) -> T:
        """``await request()``, an SDK call to ``path``; its failure as a
        :class:`CheckFailed` naming the endpoint (``where.base + path``)."""
        import stripe

        try:
            return await request()
        except stripe.StripeError as exc:
            raise _explained(self._ctx, exc, f"{self._where.base}{path}") from exc


@contextlib.asynccontextmanager
async def session(ctx: CheckContext, where: Api) -> AsyncIterator[Session]:
    """``async with session(ctx, where) as stripe:`` then ``await stripe.call(...)``; the
    connections are closed on the way out. Each request and its status go to the log."""
    # ~0.5 s; and StripeClient's module, which the SDK loads when first named (~20 ms).
    await import_off_loop("stripe", "stripe._stripe_client")
    import stripe

    _quiet_sdk()
    http = await open_http_client(ctx)  # httpx off the loop, before the class that imports it
    transport = _transport_class()(http, ctx.log)
    client = stripe.StripeClient(
        where.key,
        base_addresses={"api": where.base},
        max_network_retries=0,
        http_client=transport,
    )
    try:
        yield Session(ctx, where, client)
    finally:
        await transport.close_async()


def _quiet_sdk() -> None:
    """The SDK logs each response body at DEBUG (a new webhook endpoint's signing secret among
    them) and, with STRIPE_LOG set, prints its request lines to stderr, over the dashboard:
    neither may happen in this process. Nor its telemetry: it writes an id to
    ~/.config/stripe/telemetry_id (root's home, on a production host, from a read-only
    check), describes the host in every request (its first ``platform.platform()`` runs
    ``uname -p``, on the event loop) and reports each request's timing to Stripe."""
    import logging

    import stripe
    import stripe._util as stripe_util

    stripe.enable_telemetry = False
    stripe.log = None
    stripe_util.STRIPE_LOG = None  # read from the environment when the SDK was imported
    logger = logging.getLogger("stripe")
    if logger.getEffectiveLevel() < logging.INFO:
        logger.setLevel(logging.INFO)


@functools.cache
def _transport_class() -> type[Any]:
    """The SDK's ``HTTPClient`` over an httpx client from :func:`checks.net.http_client`.

    Made on first use: the class derives from the SDK's, which must not load before then.
    """
    import httpx
    import stripe

    class Transport(stripe.HTTPClient):
        """Async requests only (the checks make no other), logged line by line."""

        name = "toolbox-tui-httpx"

        def __init__(self, client: httpx.AsyncClient, log: Log) -> None:
            super().__init__()
            self._client = client
            self._log = log

        async def request_async(
            self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
        ) -> tuple[bytes, int, Mapping[str, str]]:
            self._log(f"{method.upper()} {unquote(url)}")
            # The SDK names itself; toolbox-tui is added, so Stripe's request log shows who
            # asked. The headers carry the key: never logged.
            sent = {**headers, "User-Agent": f"{headers.get('User-Agent', '')} {user_agent()}"}
            content = post_data.encode("utf-8") if isinstance(post_data, str) else post_data
            try:
                request = self._client.build_request(
                    method.upper(), url, headers=sent, content=content
                )
                answer = await self._client.send(request, stream=True)
                try:
                    body, whole = await read_capped(answer, MAX_BODY_BYTES)
                finally:
                    await answer.aclose()
            except httpx.HTTPError as exc:
                # The SDK's own error, as its clients raise; the cause says what happened.
                raise stripe.APIConnectionError(
                    f"{type(exc).__name__} while asking {url}", should_retry=False
                ) from exc
            if not whole:
                raise stripe.APIConnectionError(
                    f"the answer is larger than {MAX_BODY_BYTES:,} bytes", should_retry=False
                ) from _TooLarge()
            self._log(f"{answer.status_code} {_phrase(answer.status_code)}".strip())
            return body, answer.status_code, answer.headers

        async def request_stream_async(
            self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
        ) -> tuple[Any, int, Mapping[str, str]]:
            raise NotImplementedError("the Stripe checks stream nothing")

        def request(self, *args: Any, **kwargs: Any) -> tuple[str, int, Mapping[str, str]]:
            raise NotImplementedError("the Stripe checks call the SDK's async methods only")

        def request_stream(self, *args: Any, **kwargs: Any) -> tuple[Any, int, Any]:
            raise NotImplementedError("the Stripe checks stream nothing")

        def close(self) -> None:
            """Nothing to close synchronously: :meth:`close_async` closes the client."""

        async def close_async(self) -> None:
            await self._client.aclose()

        def sleep_async(self, secs: float) -> Awaitable[None]:
            return asyncio.sleep(secs)

    return Transport


class _TooLarge(Exception):
    """An answer beyond :data:`MAX_BODY_BYTES`: not Stripe's, or not what was asked."""


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _explained(ctx: CheckContext, exc: stripe.StripeError, endpoint: str) -> CheckFailed:
    """The SDK's error as a sentence a person can act on, naming ``endpoint``."""
    import httpx
    import stripe

    if isinstance(exc, stripe.APIConnectionError):
        cause = exc.__cause__
        if isinstance(cause, httpx.HTTPError):
            return explain(cause, endpoint, URL_SETTING)
        if isinstance(cause, _TooLarge):
            return CheckFailed(
                f"{endpoint} answered with more than {MAX_BODY_BYTES:,} bytes.",
                f"Is {URL_SETTING} Stripe's API ({DEFAULT_API_URL})?",
            )
        return CheckFailed(
            f"The request to {endpoint} failed: {_said(ctx, exc)}.",
            f"Try it with curl from this host; is {URL_SETTING} right?",
        )
    said = _said(ctx, exc)
    status = exc.http_status
    if isinstance(exc, stripe.AuthenticationError):
        expired = _error_code(exc) == "api_key_expired"
        return CheckFailed(
            f"Stripe refused {KEY} (authentication failed): {endpoint} answered {status} ({said}).",
            (
                "The key has expired (it was rolled). "
                if expired
                else "The key is wrong, revoked or rolled, or belongs to another account. "
            )
            + KEYS_HINT,
        )
    if isinstance(exc, stripe.PermissionError):
        return Forbidden(endpoint, said)
    if isinstance(exc, stripe.RateLimitError):
        return CheckFailed(
            f"Stripe rate-limited the request to {endpoint} ({status}: {said}).",
            "Something else uses this key heavily right now (the app, a script); run the "
            "check again in a minute.",
        )
    answered = f"answered {status} {_phrase(status)}".rstrip() if status else "answered"
    if status in (404, 405):
        return CheckFailed(
            f"{endpoint} {answered}: {said}.",
            f"Is {URL_SETTING} Stripe's API ({DEFAULT_API_URL})?",
        )
    if status is not None and 400 <= status < 500:
        return CheckFailed(
            f"{endpoint} {answered}: {said}.",
            "Stripe refused the request as it was sent; its message says why.",
        )
    return CheckFailed(
        f"{endpoint} {answered}: {said}.",
        f"Stripe may be having trouble (status.stripe.com); or is {URL_SETTING} not Stripe's API?",
    )


def _error_code(exc: stripe.StripeError) -> str | None:
    """Stripe's ``error.code`` (``api_key_expired``...), which the SDK keeps only in the body
    for some errors."""
    body = exc.json_body
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return exc.code or (str(code) if code else None)


def _said(ctx: CheckContext, exc: stripe.StripeError) -> str:
    """Stripe's message (``error.message``), or a short cut of the body, secrets masked."""
    text = exc.user_message or exc.http_body or ""
    if not exc.user_message and exc.http_body:
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            text = str(json.loads(exc.http_body)["error"]["message"])
    # Masked before the cut: cut first, half a secret would no longer be recognised.
    flat = " ".join(ctx.redactor.text(str(text)).split())
    flat = flat[:EXCERPT_CHARS] + ("…" if len(flat) > EXCERPT_CHARS else "")
    return flat or "an empty body"


@dataclass(frozen=True)
class Account:
    """The facts of the key's Stripe account the checks read (``GET /v1/account``)."""

    id: str
    name: str | None
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    disabled_reason: str | None
    currently_due: tuple[str, ...]
    past_due: tuple[str, ...]


async def account(ctx: CheckContext, where: Api) -> Account:
    """The key's account, asked once per run for every check."""

    async def fetch() -> Account:
        async with session(ctx, where) as stripe_api:
            found = await stripe_api.call(
                "/v1/account", stripe_api.client.v1.accounts.retrieve_current_async
            )
        return _account_of(where, found.to_dict())

    return await ctx.shared(f"stripe-account:{where.base}", fetch)


def _account_of(where: Api, document: Mapping[str, Any]) -> Account:
    if document.get("object") != "account" or not document.get("id"):
        raise CheckFailed(
            f"{where.base}/v1/account answered without an account.",
            f"Is {URL_SETTING} Stripe's API ({DEFAULT_API_URL})?",
        )
    requirements = document.get("requirements") or {}
    profile = document.get("business_profile") or {}
    dashboard = (document.get("settings") or {}).get("dashboard") or {}
    return Account(
        id=str(document["id"]),
        name=profile.get("name") or dashboard.get("display_name") or None,
        charges_enabled=document.get("charges_enabled") is True,
        payouts_enabled=document.get("payouts_enabled") is True,
        details_submitted=document.get("details_submitted") is True,
        disabled_reason=requirements.get("disabled_reason") or None,
        currently_due=tuple(str(r) for r in requirements.get("currently_due") or ()),
        past_due=tuple(str(r) for r in requirements.get("past_due") or ()),
    )
