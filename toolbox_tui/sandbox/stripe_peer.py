"""A Stripe API on a free loopback port, for the demo sandbox and the tests: localstripe (a
stateful fake of Stripe's API) with what it lacks and the Stripe checks call.

localstripe answers charges, customers, invoices, payment methods, balance... with Stripe's
JSON shapes. It lacks ``GET /v1/account`` and the webhook endpoints (``GET``/``POST
/v1/webhook_endpoints``, ``GET``/``POST``/``DELETE /v1/webhook_endpoints/{id}``): they are
added here, speaking Stripe's wire format (the signing secret ``whsec_...`` only in the
answer that creates an endpoint). localstripe accepts any key that starts with ``sk_``; here
only the keys the peer holds are accepted, live (``sk_live_``/``rk_live_``) and test alike,
and every answer's ``livemode`` says which kind of key asked. A wrong key gets Stripe's 401
(``Invalid API Key provided``), an expired one its ``api_key_expired`` 401, an endpoint made
forbidden its 403. Every request is recorded (never the key).

localstripe keeps its objects in one module-level dict and pickles it to a shared
``/tmp/localstripe.pickle`` after every change; its CLI binds every interface. Here its aiohttp
routes are served by an application of the peer's own, on 127.0.0.1, in a thread with its
own event loop, and the module-level dict is replaced once per process by one that hands each
peer's thread the objects of that peer and never writes to disk: several peers (the
sandbox's and a test's) can run at once without seeing each other's charges.

Provides :class:`StripePeer`, :class:`Account`, :class:`WebhookEndpoint` and
:class:`PeerRequest`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import re
import secrets
import socket
import string
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from toolbox_tui.sandbox.errors import SandboxError

if TYPE_CHECKING:
    import ssl

    from aiohttp import web

HOST = "127.0.0.1"
LIVE_PREFIXES = ("sk_live_", "rk_live_")
MAX_BODY_BYTES = 1024 * 1024
MAX_PAGE = 100  # Stripe's largest ``limit``
DEFAULT_PAGE = 10
_SHUTDOWN_SECONDS = 5.0  # in-flight requests at stop(); the checks' take milliseconds
_ALPHANUMERIC = string.ascii_letters + string.digits
_EVENT_NAME = re.compile(r"\*|[a-z_]+(\.[a-z_]+)+")
_DOCS = "https://stripe.com/docs/api"
T = TypeVar("T")


@dataclass
class Account:
    """The Stripe account the keys belong to, as ``GET /v1/account`` shows it."""

    id: str = "acct_1SandboxToolboxAI"
    charges_enabled: bool = True
    payouts_enabled: bool = True
    details_submitted: bool = True
    disabled_reason: str | None = None
    """Stripe's ``requirements.disabled_reason``, e.g. ``requirements.past_due``."""
    currently_due: list[str] = field(default_factory=list)
    past_due: list[str] = field(default_factory=list)
    business_name: str = "ToolBoxAI"
    email: str = "billing@toolboxai.com"
    country: str = "US"

    def document(self) -> dict[str, Any]:
        """Stripe's account object (which, unlike most, has no ``livemode``)."""
        capability = "active" if self.charges_enabled else "inactive"
        return {
            "id": self.id,
            "object": "account",
            "business_profile": {
                "mcc": "5734",
                "name": self.business_name,
                "support_email": self.email,
                "url": "https://toolboxai.com",
            },
            "business_type": "company",
            "capabilities": {"card_payments": capability, "transfers": capability},
            "charges_enabled": self.charges_enabled,
            "controller": {"type": "account"},
            "country": self.country,
            "created": 1700000000,
            "default_currency": "usd",
            "details_submitted": self.details_submitted,
            "email": self.email,
            "metadata": {},
            "payouts_enabled": self.payouts_enabled,
            "requirements": {
                "alternatives": [],
                "current_deadline": None,
                "currently_due": list(self.currently_due),
                "disabled_reason": self.disabled_reason,
                "errors": [],
                "eventually_due": list(self.currently_due),
                "past_due": list(self.past_due),
                "pending_verification": [],
            },
            "settings": {"dashboard": {"display_name": self.business_name, "timezone": "UTC"}},
            "type": "standard",
        }


@dataclass
class WebhookEndpoint:
    """One webhook endpoint. ``id``, ``secret`` and ``created`` are assigned when added."""

    url: str
    enabled_events: list[str]
    status: str = "enabled"
    description: str | None = None
    id: str = ""
    secret: str = field(default="", repr=False)
    """The signing secret: Stripe shows it only in the answer that creates the endpoint."""
    created: int = 0
    metadata: dict[str, str] = field(default_factory=dict)

    def document(self, livemode: bool) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "webhook_endpoint",
            "api_version": None,
            "application": None,
            "created": self.created,
            "description": self.description,
            "enabled_events": list(self.enabled_events),
            "livemode": livemode,
            "metadata": dict(self.metadata),
            "status": self.status,
            "url": self.url,
        }


@dataclass(frozen=True)
class PeerRequest:
    """One request the peer answered. ``authorized``: the key was one the peer accepts;
    ``livemode``: it was a live key (None when no key was accepted)."""

    method: str
    path: str
    query: Mapping[str, str]
    status: int
    authorized: bool
    livemode: bool | None
    user_agent: str = ""
    form: Mapping[str, Any] | None = None
    """The decoded form of a POST (``enabled_events`` as a list), or None."""
    client_user_agent: str = ""
    """The SDK's X-Stripe-Client-User-Agent: JSON saying what sent the request."""


class StripePeer:
    """``with StripePeer(secret_key) as stripe:`` then point TOOLBOX_STRIPE_API_URL at
    ``stripe.url``.

    Break it by changing ``keys`` (a key not in it gets 401) or ``expired_keys``, ``account``
    (an :class:`Account`: ``charges_enabled=False``...), ``forbidden`` (``"GET
    /v1/webhook_endpoints"``: that request gets 403), ``answer_livemode``, the webhook endpoints
    (:meth:`add_webhook_endpoint`, :meth:`update_webhook_endpoint`) or the charges
    (:meth:`add_charge`). ``requests`` lists what it answered.
    """

    def __init__(
        self,
        *keys: str,
        account: Account | None = None,
        tls: ssl.SSLContext | None = None,
        host: str = HOST,
    ) -> None:
        self.keys: set[str] = set(keys)
        self.expired_keys: set[str] = set()
        self.forbidden: set[str] = set()
        self.answer_livemode: bool | None = None
        """None: each answer's ``livemode`` follows the key (true for ``sk_live_``/``rk_live_``);
        True or False: every answer says so, whatever the key (an API double such as
        stripe-mock answers in test mode even to a live key)."""
        self.account = account or Account()
        self.host = host
        self._tls = tls
        self._lock = threading.Lock()
        self._endpoints: dict[str, WebhookEndpoint] = {}
        self._requests: list[PeerRequest] = []
        self._objects: dict[str, Any] = {}  # localstripe's objects, for this peer only
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- state ----------------------------------------------------------------------------

    def add_webhook_endpoint(
        self,
        url: str,
        events: Iterable[str],
        *,
        status: str = "enabled",
        secret: str | None = None,
        description: str | None = None,
    ) -> WebhookEndpoint:
        """An endpoint as if made in the dashboard; ``secret`` defaults to a new whsec_."""
        endpoint = WebhookEndpoint(
            url,
            list(events),
            status,
            description,
            id=_new_id("we_", 24),
            secret=secret or _new_id("whsec_", 32),
            created=int(time.time()),
        )
        with self._lock:
            self._endpoints[endpoint.id] = endpoint
        return replace(endpoint)

    def update_webhook_endpoint(
        self,
        endpoint_id: str,
        *,
        enabled_events: Iterable[str] | None = None,
        status: str | None = None,
        url: str | None = None,
    ) -> WebhookEndpoint:
        with self._lock:
            endpoint = self._endpoints[endpoint_id]
            if enabled_events is not None:
                endpoint.enabled_events = list(enabled_events)
            if status is not None:
                endpoint.status = status
            if url is not None:
                endpoint.url = url
            return replace(endpoint, enabled_events=list(endpoint.enabled_events))

    def remove_webhook_endpoint(self, endpoint_id: str) -> None:
        with self._lock:
            del self._endpoints[endpoint_id]

    @property
    def webhook_endpoints(self) -> list[WebhookEndpoint]:
        """Copies of the endpoints, oldest first (secrets included: this is the test's view)."""
        with self._lock:
            return [
                replace(e, enabled_events=list(e.enabled_events)) for e in self._endpoints.values()
            ]

    def add_charge(
        self,
        amount: int = 2000,
        currency: str = "usd",
        *,
        failed: bool = False,
        created: datetime | None = None,
        failure_code: str | None = None,
    ) -> str:
        """A card charge made by localstripe's own flow (Stripe's test payment methods
        ``pm_card_visa`` and ``pm_card_chargeCustomerFail``): succeeded, or failed with
        ``card_declined`` (or ``failure_code``). ``created`` backdates it. Returns its id."""

        def make() -> str:
            from localstripe.resources import Charge

            source = "pm_card_chargeCustomerFail" if failed else "pm_card_visa"
            charge = Charge(amount=amount, currency=currency, source=source)
            # What POST /v1/charges does, without raising the 402 of a declined card.
            charge._initialize_charge()
            if created is not None:
                charge.created = int(created.timestamp())
            if failed and failure_code:
                charge.failure_code = failure_code
            return str(charge.id)

        return self._in_peer_thread(make)

    @property
    def requests(self) -> list[PeerRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            self._requests.clear()

    @property
    def port(self) -> int:
        if self._port is None:
            raise SandboxError("the Stripe peer has not started")
        return self._port

    @property
    def url(self) -> str:
        """The base URL, as ``StripeClient(base_addresses={"api": ...})`` and
        TOOLBOX_STRIPE_API_URL take it."""
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            raise SandboxError("this Stripe peer is already running")
        _peer_objects()  # localstripe loaded and its store replaced, before any request
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((self.host, 0))
            listener.listen(128)
        except OSError as exc:
            listener.close()
            raise SandboxError(f"the Stripe peer could not listen on {self.host}: {exc}") from exc
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failures: list[BaseException] = []

        def serve() -> None:
            _peer_objects().bind(self._objects)
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open(listener))
            except BaseException as exc:
                failures.append(exc)
                loop.run_until_complete(self._close())
                listener.close()
                loop.close()
                ready.set()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._close())
                loop.close()

        self._port = int(listener.getsockname()[1])
        self._loop = loop
        self._thread = threading.Thread(target=serve, name="sandbox-stripe", daemon=True)
        self._thread.start()
        ready.wait()
        if failures:
            self._thread.join()
            self._thread = self._loop = self._port = None
            raise SandboxError(f"the Stripe peer could not start: {failures[0]}") from failures[0]
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and join the thread; safe to repeat."""
        loop, self._loop = self._loop, None
        thread, self._thread = self._thread, None
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # already closed: it failed to start
                loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join()
        with self._lock:
            self._objects.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _open(self, listener: socket.socket) -> None:
        from aiohttp import web

        self._runner = web.AppRunner(
            self._application(), access_log=None, shutdown_timeout=_SHUTDOWN_SECONDS
        )
        await self._runner.setup()
        await web.SockSite(self._runner, listener, ssl_context=self._tls).start()

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        # localstripe schedules a webhook delivery per event (a task that sleeps a second
        # first); nothing is registered to receive them here, so they are simply dropped.
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.get_running_loop().shutdown_asyncgens()

    def _in_peer_thread(self, work: Callable[[], T]) -> T:
        """``work()`` run in the peer's thread, where localstripe finds this peer's objects
        and a running loop for the tasks it schedules."""
        loop = self._loop
        if loop is None:
            raise SandboxError("the Stripe peer has not started")

        async def run() -> T:
            return work()

        return asyncio.run_coroutine_threadsafe(run(), loop).result()

    # -- answering ------------------------------------------------------------------------

    def _application(self) -> web.Application:
        from aiohttp import web

        server = _localstripe_server()
        app = web.Application(
            middlewares=[
                self._recording(),
                self._authenticating(),
                self._mode_marking(),
                server.error_middleware,
            ],
            client_max_size=MAX_BODY_BYTES,
        )
        app.router.add_get("/v1/account", self._account)
        app.router.add_get("/v1/webhook_endpoints", self._list_endpoints)
        app.router.add_post("/v1/webhook_endpoints", self._create_endpoint)
        app.router.add_get("/v1/webhook_endpoints/{id}", self._get_endpoint)
        app.router.add_post("/v1/webhook_endpoints/{id}", self._update_endpoint)
        app.router.add_delete("/v1/webhook_endpoints/{id}", self._delete_endpoint)
        for route in server.app.router.routes():
            path = route.resource.canonical if route.resource is not None else ""
            # Its configuration routes (outbound webhooks to any URL, wiping the store) and
            # its Stripe.js are no part of Stripe's API.
            if path.startswith("/v1/") and route.method != "HEAD":
                app.router.add_route(route.method, path, route.handler)
        return app

    def _recording(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            form = await _form(request) if request.method == "POST" else None
            exchange = _Exchange()
            token = _EXCHANGE.set(exchange)
            try:
                response: web.StreamResponse = await handler(request)
            except web.HTTPNotFound:
                response = _unrecognized(request, 404)
            except web.HTTPMethodNotAllowed:
                response = _unrecognized(request, 405)
            finally:
                _EXCHANGE.reset(token)
            self._remember(
                PeerRequest(
                    request.method,
                    request.path,
                    {name: request.query.getall(name)[-1] for name in request.query},
                    response.status,
                    exchange.authorized,
                    exchange.livemode,
                    request.headers.get("User-Agent", ""),
                    form,
                    request.headers.get("X-Stripe-Client-User-Agent", ""),
                )
            )
            return response

        return record

    def _authenticating(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
            key = _presented_key(request)
            if key is None:
                return _error(
                    401,
                    "You did not provide an API key. You need to provide your API key in the "
                    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                    f"YOUR_SECRET_KEY'). See {_DOCS}#authentication for details.",
                )
            with self._lock:
                known, expired = key in self.keys, key in self.expired_keys
                forbidden = set(self.forbidden)
                account_id = self.account.id
                forced = self.answer_livemode
            if expired:
                return _error(
                    401,
                    f"Expired API Key provided: {_masked(key)}. Live mode API keys can be "
                    "rolled from the dashboard.",
                    code="api_key_expired",
                )
            if not known:
                return _error(401, f"Invalid API Key provided: {_masked(key)}")
            exchange = _EXCHANGE.get()
            exchange.authorized = True
            exchange.livemode = key.startswith(LIVE_PREFIXES) if forced is None else forced
            resource = request.match_info.route.resource
            pattern = resource.canonical if resource is not None else request.path
            if {f"{request.method} {request.path}", f"{request.method} {pattern}"} & forbidden:
                return _error(
                    403,
                    f"The provided key '{_masked(key)}' does not have the required permissions "
                    f"for this endpoint on account '{account_id}'.",
                )
            response: web.StreamResponse = await handler(request)
            return response

        return authenticate

    def _mode_marking(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def mark(request: web.Request, handler: Any) -> web.StreamResponse:
            response: web.StreamResponse = await handler(request)
            # localstripe says livemode false everywhere; answers in live mode say true.
            if not _live() or not isinstance(response, web.Response):
                return response
            if response.content_type != "application/json" or not response.body:
                return response
            document = json.loads(bytes(response.body))  # type: ignore[arg-type]
            return web.json_response(_marked_live(document), status=response.status)

        return mark

    async def _account(self, request: web.Request) -> web.Response:
        from aiohttp import web

        with self._lock:
            document = self.account.document()
        return web.json_response(document)

    async def _list_endpoints(self, request: web.Request) -> web.Response:
        from aiohttp import web

        query = {name: request.query.getall(name)[-1] for name in request.query}
        unknown = set(query) - {"limit", "starting_after", "expand[]"}
        if unknown:
            return _unknown_parameter(sorted(unknown)[0])
        raw_limit = query.get("limit", str(DEFAULT_PAGE))
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
            return _error(400, "Invalid integer: limit must be between 1 and 100.", param="limit")
        limit = int(raw_limit)
        with self._lock:
            # Newest first, as Stripe lists.
            listed = list(reversed(self._endpoints.values()))
            ids = [e.id for e in listed]
            after = query.get("starting_after")
            if after is not None and after not in ids:
                return _missing(after, "starting_after")
            start = ids.index(after) + 1 if after is not None else 0
            page = listed[start : start + limit]
            data = [e.document(_live()) for e in page]
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "has_more": start + limit < len(listed),
                "url": "/v1/webhook_endpoints",
            }
        )

    async def _create_endpoint(self, request: web.Request) -> web.Response:
        from aiohttp import web

        form = await _form(request) or {}
        allowed = {"url", "enabled_events", "description", "metadata", "api_version", "connect"}
        unknown = set(form) - allowed
        if unknown:
            return _unknown_parameter(sorted(unknown)[0])
        url, events = form.get("url"), form.get("enabled_events")
        if not isinstance(url, str) or not url:
            return _error(400, "Missing required param: url.", param="url")
        if not url.startswith(("https://", "http://")):
            return _error(400, "Invalid URL: URL must be publicly accessible.", param="url")
        if problem := _events_problem(events):
            return problem
        description = form.get("description")
        endpoint = self.add_webhook_endpoint(
            url,
            cast(list[str], events),
            description=description if isinstance(description, str) else None,
        )
        # The signing secret: in this answer, and never again.
        return web.json_response({**endpoint.document(_live()), "secret": endpoint.secret})

    async def _get_endpoint(self, request: web.Request) -> web.Response:
        from aiohttp import web

        endpoint_id = request.match_info["id"]
        with self._lock:
            endpoint = self._endpoints.get(endpoint_id)
            if endpoint is None:
                return _missing(endpoint_id)
            return web.json_response(endpoint.document(_live()))

    async def _update_endpoint(self, request: web.Request) -> web.Response:
        from aiohttp import web

        endpoint_id = request.match_info["id"]
        form = await _form(request) or {}
        unknown = set(form) - {"url", "enabled_events", "description", "metadata", "disabled"}
        if unknown:
            return _unknown_parameter(sorted(unknown)[0])
        if "enabled_events" in form and (problem := _events_problem(form["enabled_events"])):
            return problem
        disabled = form.get("disabled")
        if disabled not in (None, "true", "false"):
            return _error(400, "Invalid boolean: disabled", param="disabled")
        with self._lock:
            endpoint = self._endpoints.get(endpoint_id)
            if endpoint is None:
                return _missing(endpoint_id)
            if "enabled_events" in form:
                endpoint.enabled_events = list(form["enabled_events"])
            if isinstance(form.get("url"), str):
                endpoint.url = form["url"]
            if isinstance(form.get("description"), str):
                endpoint.description = form["description"]
            if disabled is not None:
                endpoint.status = "disabled" if disabled == "true" else "enabled"
            return web.json_response(endpoint.document(_live()))

    async def _delete_endpoint(self, request: web.Request) -> web.Response:
        from aiohttp import web

        endpoint_id = request.match_info["id"]
        with self._lock:
            if self._endpoints.pop(endpoint_id, None) is None:
                return _missing(endpoint_id)
        return web.json_response({"id": endpoint_id, "object": "webhook_endpoint", "deleted": True})

    def _remember(self, request: PeerRequest) -> None:
        with self._lock:
            self._requests.append(request)


@dataclass
class _Exchange:
    """One request as the middlewares learn about it: set by the key check, read by the
    handlers (which mode answers) and the recorder."""

    authorized: bool = False
    livemode: bool | None = None


# Middlewares and handlers of one request run in one task: its context carries the exchange.
_EXCHANGE: contextvars.ContextVar[_Exchange] = contextvars.ContextVar("stripe_peer_exchange")


def _live() -> bool:
    return _EXCHANGE.get().livemode is True


# -- localstripe, loaded once per process --------------------------------------------------


class _PeerObjects(MutableMapping[str, Any]):
    """Stands in for localstripe's module-level store: each peer's thread sees the objects
    of its own peer, and nothing is ever pickled to /tmp."""

    def __init__(self) -> None:
        self._local = threading.local()

    def bind(self, objects: dict[str, Any]) -> None:
        """From now on, this thread's localstripe objects live in ``objects``."""
        self._local.objects = objects

    @property
    def _objects(self) -> dict[str, Any]:
        objects: dict[str, Any] | None = getattr(self._local, "objects", None)
        if objects is None:
            raise RuntimeError("localstripe's objects are reached only in a StripePeer's thread")
        return objects

    def __getitem__(self, key: str) -> Any:
        return self._objects[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._objects[key] = value

    def __delitem__(self, key: str) -> None:
        del self._objects[key]

    def __iter__(self) -> Iterator[str]:
        # A copy: a listing must not break when a handler adds an object meanwhile.
        return iter(list(self._objects))

    def __len__(self) -> int:
        return len(self._objects)

    def dump_to_disk(self) -> None:
        """localstripe's pickle to a /tmp file shared by every user: never."""

    def try_load_from_disk(self) -> None:
        """Nor is anything read back from it."""


_INSTALL_LOCK = threading.Lock()
_installed: _PeerObjects | None = None


def _peer_objects() -> _PeerObjects:
    """localstripe imported, with its store replaced by a :class:`_PeerObjects` (once)."""
    global _installed
    with _INSTALL_LOCK:
        if _installed is None:
            resources = _localstripe_module("localstripe.resources")
            server = _localstripe_server()
            _installed = _PeerObjects()
            # Both modules hold the name: resources uses it, server's flush route too.
            for module in (resources, server):
                vars(module)["store"] = _installed
        return _installed


def _localstripe_server() -> ModuleType:
    return _localstripe_module("localstripe.server")


def _localstripe_module(name: str) -> ModuleType:
    import importlib

    try:
        with warnings.catch_warnings():
            # Its handlers are plain functions, which aiohttp wraps with a deprecation warning.
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module(name)
    except ImportError as exc:
        raise SandboxError(
            "localstripe is not installed: pip install 'toolbox-tui[sandbox]'"
        ) from exc


# -- Stripe's wire format ------------------------------------------------------------------


def _new_id(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def _masked(key: str) -> str:
    """``sk_live_****************1234``, as Stripe names a key in its errors."""
    prefix = key[: key.index("_", 3) + 1] if key.count("_") >= 2 else ""
    return prefix + "*" * max(len(key) - len(prefix) - 4, 0) + key[-4:]


def _presented_key(request: web.Request) -> str | None:
    """The key of ``Authorization: Bearer KEY`` (or Basic, as ``curl -u KEY:``)."""
    import base64
    import binascii

    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            return base64.b64decode(value).decode("utf-8").partition(":")[0] or None
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


async def _form(request: web.Request) -> dict[str, Any] | None:
    """A POST's form, with ``enabled_events[0]=...`` turned into a list (localstripe's own
    decoder, the one its routes use)."""
    if not request.body_exists:
        return None
    server = _localstripe_server()
    data = await server.get_post_data(request, remove_auth=False)
    return dict(data) if data else None


def _events_problem(events: Any) -> web.Response | None:
    if not isinstance(events, list) or not events:
        return _error(400, "Missing required param: enabled_events.", param="enabled_events")
    for n, event in enumerate(events):
        if not isinstance(event, str) or not _EVENT_NAME.fullmatch(event):
            return _error(
                400,
                f"Invalid enabled_events[{n}]: must be one of the event types Stripe sends.",
                param=f"enabled_events[{n}]",
            )
    return None


def _error(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> web.Response:
    """Stripe's error document: ``{"error": {"message", "type", "code"?, "param"?}}``."""
    from aiohttp import web

    error: dict[str, Any] = {"message": message, "type": "invalid_request_error"}
    if code is not None:
        error["code"] = code
    if param is not None:
        error["param"] = param
    return web.json_response({"error": error}, status=status)


def _missing(object_id: str, param: str = "id") -> web.Response:
    return _error(
        404,
        f"No such webhook endpoint: '{object_id}'",
        code="resource_missing",
        param=param,
    )


def _unknown_parameter(name: str) -> web.Response:
    return _error(400, f"Received unknown parameter: {name}", param=name)


def _unrecognized(request: web.Request, status: int) -> web.Response:
    return _error(
        status,
        f"Unrecognized request URL ({request.method}: {request.path}). Please see {_DOCS}.",
    )


def _marked_live(document: Any) -> Any:
    if isinstance(document, dict):
        return {
            key: True if key == "livemode" else _marked_live(value)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [_marked_live(item) for item in document]
    return document
