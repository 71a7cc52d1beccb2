"""sec.cors: a foreign origin must not be let in; against the reference app (allowlist, and
reflecting any origin) and servers that answer ``*``, ``*`` with credentials, or ``null``."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import pytest

from checks.core import Status
from checks.security.cors import PROBE_ORIGIN
from tests.security.running import InTurn, SecurityContext, assert_status, check
from tests.web_servers import Reply, WebServer, json_reply
from toolbox_tui.sandbox.reference_app import ReferenceApp

CORS = "sec.cors"
ACAO, ACAC = "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"


@pytest.fixture
async def api(tls: ssl.SSLContext) -> AsyncIterator[WebServer]:
    async with WebServer({"/api/health": json_reply({"status": "healthy"})}, tls) as server:
        yield server


def answering(*headers: tuple[str, str], status: int = 200) -> Reply:
    return Reply(status, b'{"status": "healthy"}', headers=headers)


async def test_passes_against_the_reference_app(
    app: ReferenceApp, context: SecurityContext
) -> None:
    result = await check(context(app.url), CORS)
    assert_status(
        result,
        Status.PASS,
        f"Foreign origin refused: {app.url}/api/health sent no Access-Control-Allow-Origin for "
        f"{PROBE_ORIGIN}, in the preflight or the GET",
    )
    assert result.evidence["preflight"] == "204 No Content"


async def test_fails_when_the_reference_app_reflects_any_origin(
    app: ReferenceApp, context: SecurityContext
) -> None:
    app.settings.cors_reflect = True
    result = await check(context(app.url), CORS)
    assert_status(
        result,
        Status.FAIL,
        f"The preflight (OPTIONS) and the GET to {app.url}/api/health echoed the foreign origin "
        f"{PROBE_ORIGIN} in {ACAO} with {ACAC}: true: any site can read the API's answers as "
        "the logged-in user",
        "never by echoing the request's Origin",
    )


async def test_asks_as_a_foreign_page_would(api: WebServer, context: SecurityContext) -> None:
    await check(context(api.url), CORS)
    preflight, simple = api.requests
    assert (preflight.method, simple.method) == ("OPTIONS", "GET")
    assert preflight.headers["origin"] == simple.headers["origin"] == PROBE_ORIGIN
    assert preflight.headers["access-control-request-method"] == "GET"


@pytest.mark.parametrize(
    ("headers", "status", "phrase"),
    [
        ((), Status.PASS, "Foreign origin refused: "),
        (
            ((ACAO, "https://toolboxai.example.com"), (ACAC, "true")),
            Status.PASS,
            "it allows only https://toolboxai.example.com",
        ),
        (((ACAO, "*"), (ACAC, "true")), Status.FAIL, f"sent {ACAO}: * with {ACAC}: true"),
        (
            ((ACAO, "*"),),
            Status.WARN,
            f"sent {ACAO}: *: every site may read the API's answers (without cookies)",
        ),
        (
            ((ACAO, PROBE_ORIGIN),),
            Status.FAIL,
            "any site can read the API's answers in a visitor's browser",
        ),
        (((ACAO, "null"), (ACAC, "true")), Status.FAIL, "allowed the origin null"),
    ],
)
async def test_other_set_ups(
    api: WebServer,
    context: SecurityContext,
    headers: tuple[tuple[str, str], ...],
    status: Status,
    phrase: str,
) -> None:
    api.routes["/api/health"] = answering(*headers)
    result = await check(context(api.url), CORS)
    assert_status(result, status, phrase)


async def test_a_failing_preflight_fails_the_check(
    api: WebServer, context: SecurityContext
) -> None:
    api.routes["/api/health"] = answering(status=502)
    result = await check(context(api.url), CORS)
    assert_status(
        result,
        Status.FAIL,
        f"Answered the preflight (OPTIONS) with 502 Bad Gateway at {api.url}/api/health",
    )


async def test_a_preflight_refused_with_405_is_a_refusal(
    api: WebServer, context: SecurityContext
) -> None:
    # The preflight's answer, then the GET's.
    api.routes = InTurn("/api/health", answering(status=405), answering())
    result = await check(context(api.url), CORS)
    assert_status(result, Status.PASS, f"Foreign origin refused: {api.url}/api/health sent no")
    assert result.evidence["preflight"] == "405 Method Not Allowed"


@pytest.mark.parametrize(
    ("reply", "phrase"),
    [
        (Reply(404, b"not found", "text/plain"), "answered the GET with 404 Not Found and"),
        (Reply(401, b'{"error": "login"}'), "answered the GET with 401 Unauthorized"),
        (
            Reply(302, b"", headers=(("Location", "/login"),)),
            "answered the GET with 302 Found (to /login)",
        ),
    ],
)
async def test_a_get_that_is_no_success_cannot_be_judged(
    api: WebServer, context: SecurityContext, reply: Reply, phrase: str
) -> None:
    api.routes["/api/health"] = reply
    result = await check(context(api.url), CORS)
    assert_status(
        result,
        Status.WARN,
        f"The CORS policy could not be judged: {api.url}/api/health {phrase}",
        "not a 2xx success",
        "Is TOOLBOX_TARGET_URL the app? /api/health must answer 200",
    )


async def test_a_foreign_origin_echoed_on_a_refusal_still_fails(
    api: WebServer, context: SecurityContext
) -> None:
    api.routes["/api/health"] = answering((ACAO, PROBE_ORIGIN), (ACAC, "true"), status=401)
    result = await check(context(api.url), CORS)
    assert_status(result, Status.FAIL, "echoed the foreign origin", "could not be judged")


async def test_skips_without_a_target(context: SecurityContext) -> None:
    assert_status(await check(context(""), CORS), Status.SKIP, "No TOOLBOX_TARGET_URL")
