"""Calling Pusher's HTTP API through the ``pusher`` SDK, with our HTTP client underneath.

Provides :func:`pusher_app` (the app's credentials from the env file and where its API is:
``api-<cluster>.pusher.com`` over https, or TOOLBOX_PUSHER_API_URL), :func:`call` (one SDK
call, its failure or its error answer turned into a sentence) and :class:`PusherApp`.

The SDK signs the requests; sending them is pluggable, and ours sends them with
:func:`checks.net.http_client` (httpx): the same timeouts, TLS trust (TOOLBOX_CA_BUNDLE) and
failure sentences as every other check, and no blocking thread. Pusher-compatible servers
(soketi) answer a bad signature with HTTP 200 and ``{"error": ..., "code": 401}``: an
``error`` in the body is a failure whatever the status.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from checks import net
from checks.context import CheckContext
from checks.core import CheckFailed
from checks.findings import Findings, require
from checks.offloop import import_off_loop
from checks.urls import parse_url

if TYPE_CHECKING:
    import httpx
    import pusher

URL_SETTING = "TOOLBOX_PUSHER_API_URL"
_ANSWER_CAP = 1024 * 1024


@dataclass(frozen=True)
class PusherApp:
    """The app's Pusher credentials and where its HTTP API answers."""

    app_id: str
    key: str
    secret: str = field(repr=False)
    cluster: str
    host: str
    port: int | None
    ssl: bool

    @property
    def endpoint(self) -> str:
        scheme = "https" if self.ssl else "http"
        port = f":{self.port}" if self.port else ""
        return f"{scheme}://{self.host}{port}"


def pusher_app(ctx: CheckContext) -> PusherApp:
    """PUSHER_APP_ID/KEY/SECRET/CLUSTER and the API's address, or CheckFailed."""
    findings = Findings()
    values = {
        name: require(ctx.env, name, findings)
        for name in ("PUSHER_APP_ID", "PUSHER_KEY", "PUSHER_SECRET", "PUSHER_CLUSTER")
    }
    if findings.failures:
        outcome = findings.outcome("")
        raise CheckFailed(outcome.message, outcome.hint)
    app_id, key, secret, cluster = (str(values[n]).strip() for n in values)
    configured = ctx.config.pusher_api_url
    if not configured:
        # What the SDK and the browser use for a cluster.
        return PusherApp(app_id, key, secret, cluster, f"api-{cluster}.pusher.com", None, True)
    base = net.service_base_url(
        configured, URL_SETTING, carries="PUSHER_SECRET's signatures", hint="Unset it."
    )
    parsed = parse_url(base)  # checked above: it has a host
    host, https = parsed.host or "", parsed.scheme.lower() == "https"
    return PusherApp(app_id, key, secret, cluster, host, parsed.port, https)


def sdk_client(app: PusherApp, http: httpx.AsyncClient) -> pusher.Pusher:
    """The SDK's client for ``app``, sending through ``http``."""
    import pusher

    return pusher.Pusher(
        app_id=app.app_id,
        key=app.key,
        secret=app.secret,
        host=app.host,
        port=app.port,
        ssl=app.ssl,
        backend=_HttpxBackend,
        http=http,
    )


class _HttpxBackend:
    """The SDK's backend interface (``send_request``), over an httpx client; a coroutine, as
    the SDK's own asyncio backend returns."""

    def __init__(self, client: Any, http: httpx.AsyncClient) -> None:
        self.client = client
        self._http = http

    async def send_request(self, request: Any) -> Any:
        from pusher.http import process_response

        response = await self._http.request(
            request.method,
            f"{request.base_url}{request.path}",
            params=request.query_params,
            content=request.body,
            headers=request.headers,
        )
        body = response.content[:_ANSWER_CAP].decode("utf-8", "replace")
        return process_response(response.status_code, body)


async def call(
    ctx: CheckContext, app: PusherApp, what: Callable[[pusher.Pusher], Awaitable[Any]]
) -> dict[str, Any]:
    """``what(client)``'s JSON answer; CheckFailed saying why when there is none."""
    await import_off_loop("pusher.errors")
    import pusher.errors as pusher_errors

    http = await net.open_http_client(ctx)
    async with http:
        try:
            with net.http_failures(app.endpoint, URL_SETTING):
                answer = await what(sdk_client(app, http))
        except pusher_errors.PusherError as exc:
            raise _refused(app, _status_of(exc), _said(exc)) from exc
    if not isinstance(answer, dict):
        raise CheckFailed(
            f"{app.endpoint} answered with something that is not Pusher's JSON.",
            f"Is {URL_SETTING} a Pusher API?",
        )
    if "error" in answer:
        code = answer.get("code")
        raise _refused(app, int(code) if isinstance(code, int) else None, str(answer["error"]))
    return answer


def _status_of(exc: Exception) -> int | None:
    import pusher.errors as pusher_errors

    return {
        pusher_errors.PusherBadRequest: 400,
        pusher_errors.PusherBadAuth: 401,
        pusher_errors.PusherForbidden: 403,
    }.get(type(exc))


def _said(exc: Exception) -> str:
    text = str(exc)
    try:
        document = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(document, dict) and "error" in document:
        return str(document["error"])[:200]
    return text[:200]


def _refused(app: PusherApp, status: int | None, said: str) -> CheckFailed:
    where = f"{app.endpoint} (app {app.app_id}, cluster {app.cluster})"
    if status == 401:
        return CheckFailed(
            f"Pusher refused the signature of PUSHER_SECRET at {where}: {said}.",
            "Copy the app's secret from the Pusher dashboard > App Keys into PUSHER_SECRET "
            "(and check PUSHER_KEY belongs to the same app).",
        )
    if status == 404:
        return CheckFailed(
            f"Pusher has no app {app.app_id} at {where}: {said}.",
            "Check PUSHER_APP_ID and PUSHER_CLUSTER: an app lives in one cluster only.",
        )
    return CheckFailed(
        f"Pusher refused the request at {where}"
        + (f" with {status}" if status else "")
        + f": {said}.",
        "Look at the app's settings in the Pusher dashboard.",
    )
