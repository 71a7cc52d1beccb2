"""sec.token-revocation: a fresh access token works, is revoked, and is then refused; a
failure names its step, a walk stopped short (a failure, a cancellation) still revokes the
fresh token, and neither token shows anywhere (planted values), whatever status it came with."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import pytest

from checks.core import Status, registry
from tests.security.running import (
    API_TOKEN,
    SecurityContext,
    assert_status,
    check,
    check_with_log,
    everything,
)
from tests.web_servers import HANG, Reply, WebServer, json_reply
from toolbox_tui.sandbox.reference_app import ReferenceApp

TOKENS = "sec.token-revocation"
ISSUE, ME, REVOKE = "/api/v1/auth/token", "/api/v1/auth/me", "/api/v1/auth/revoke"
ACCESS = "PLANTEDaccessTOKEN_" + "x7" * 12


@pytest.fixture
async def forgetful(tls: ssl.SSLContext) -> AsyncIterator[WebServer]:
    """An app that issues and "revokes" tokens, and then accepts them anyway."""
    routes = {
        ISSUE: json_reply({"access_token": ACCESS, "token_type": "bearer", "expires_in": 3600}),
        ME: json_reply({"email": "smoke-test@toolboxai.com"}),
        REVOKE: json_reply({}),
    }
    async with WebServer(routes, tls) as server:
        yield server


async def test_passes_against_the_reference_app(
    app: ReferenceApp, context: SecurityContext
) -> None:
    ran = await check_with_log(context(app.url, api_token=API_TOKEN), TOKENS)
    assert_status(
        ran.result,
        Status.PASS,
        f"Revoked tokens are refused: a fresh access token worked on {app.url}{ME} (200 OK), "
        "was revoked at "
        f"{app.url}{REVOKE} and then refused (401 Unauthorized)",
    )
    assert API_TOKEN not in everything(ran)
    assert "got a fresh access token (not shown)" in ran.logs


async def test_fails_when_revoked_tokens_are_still_accepted(
    forgetful: WebServer, context: SecurityContext
) -> None:
    ran = await check_with_log(context(forgetful.url, api_token=API_TOKEN), TOKENS)
    assert_status(
        ran.result,
        Status.FAIL,
        f"Step 4 of 4 (GET {ME} with the revoked token) failed",
        "revoked tokens are still accepted",
    )
    assert ACCESS not in everything(ran) and API_TOKEN not in everything(ran)


async def test_walks_the_token_s_life_with_the_right_credentials(
    forgetful: WebServer, context: SecurityContext
) -> None:
    await check(context(forgetful.url, api_token=API_TOKEN), TOKENS)
    issue, me, revoke, again = forgetful.requests
    assert [(r.method, r.path) for r in forgetful.requests] == [
        ("POST", ISSUE),
        ("GET", ME),
        ("POST", REVOKE),
        ("GET", ME),
    ]
    assert (
        issue.headers["authorization"] == revoke.headers["authorization"] == f"Bearer {API_TOKEN}"
    )
    assert me.headers["authorization"] == again.headers["authorization"] == f"Bearer {ACCESS}"
    assert parse_qs(revoke.body.decode())["token"] == [ACCESS]  # RFC 7009's form body


async def test_fails_at_step_1_when_the_api_token_is_refused(
    app: ReferenceApp, context: SecurityContext
) -> None:
    wrong = "tbx_api_PLANTEDwrong_" + "w" * 20
    ran = await check_with_log(context(app.url, api_token=wrong), TOKENS)
    assert_status(
        ran.result,
        Status.FAIL,
        f"Step 1 of 4 (POST {ISSUE}, a fresh access token) failed: {app.url}{ISSUE} answered "
        "401 Unauthorized, not a 2xx success",
        "The app does not accept TOOLBOX_API_TOKEN",
    )
    assert wrong not in everything(ran)


async def test_a_token_answer_without_access_token_is_not_shown(
    forgetful: WebServer, context: SecurityContext
) -> None:
    forgetful.routes[ISSUE] = json_reply({"token": ACCESS})
    ran = await check_with_log(context(forgetful.url, api_token=API_TOKEN), TOKENS)
    assert_status(ran.result, Status.FAIL, 'answered 200 OK without an "access_token" string')
    assert ACCESS not in everything(ran)


@pytest.mark.parametrize(
    ("path", "reply", "phrase"),
    [
        (
            ME,
            Reply(401, b'{"error": "invalid token"}'),
            f"Step 2 of 4 (GET {ME} with the fresh access token) failed",
        ),
        (
            REVOKE,
            Reply(404, b"not found", "text/plain"),
            f"Step 3 of 4 (POST {REVOKE} for that token) failed",
        ),
        (
            ISSUE,
            Reply(503, b"upstream down", "text/plain"),
            "Step 1 of 4 (POST /api/v1/auth/token, a fresh access token) failed",
        ),
    ],
)
async def test_names_the_step_that_went_wrong(
    forgetful: WebServer, context: SecurityContext, path: str, reply: Reply, phrase: str
) -> None:
    forgetful.routes[path] = reply
    result = await check(context(forgetful.url, api_token=API_TOKEN), TOKENS)
    assert_status(result, Status.FAIL, phrase)


async def test_a_token_echoed_in_an_error_is_masked(
    forgetful: WebServer, context: SecurityContext
) -> None:
    forgetful.routes[ME] = Reply(500, f"token {ACCESS} of {API_TOKEN} broke".encode(), "text/plain")
    ran = await check_with_log(context(forgetful.url, api_token=API_TOKEN), TOKENS)
    assert_status(ran.result, Status.FAIL, "Step 2 of 4", "500 Internal Server Error", "broke")
    shown = everything(ran)
    assert ACCESS not in shown and API_TOKEN not in shown
    assert ACCESS[4:-4] not in shown and API_TOKEN[4:-4] not in shown


async def test_a_fresh_token_sent_to_a_login_page_fails_at_step_2(
    forgetful: WebServer, context: SecurityContext
) -> None:
    forgetful.routes[ME] = Reply(302, b"", headers=(("Location", "/login"),))
    result = await check(context(forgetful.url, api_token=API_TOKEN), TOKENS)
    assert_status(result, Status.FAIL, "Step 2 of 4")


async def test_skips_without_an_api_token(forgetful: WebServer, context: SecurityContext) -> None:
    result = await check(context(forgetful.url), TOKENS)
    assert_status(result, Status.SKIP, "No TOOLBOX_API_TOKEN", "never shown")
    assert forgetful.requests == []


async def test_skips_without_a_target(context: SecurityContext) -> None:
    result = await check(context("", api_token=API_TOKEN), TOKENS)
    assert_status(result, Status.SKIP, "No TOOLBOX_TARGET_URL")


async def test_a_token_issued_with_201_is_used_and_never_shown(
    forgetful: WebServer, context: SecurityContext
) -> None:
    forgetful.routes[ISSUE] = json_reply({"access_token": ACCESS}, status=201)
    forgetful.routes[ME] = Reply(403, f'{{"error": "no", "token": "{ACCESS}"}}'.encode())
    ran = await check_with_log(context(forgetful.url, api_token=API_TOKEN), TOKENS)
    assert_status(ran.result, Status.FAIL, "Step 2 of 4", "403 Forbidden")
    assert ACCESS not in everything(ran)


@pytest.mark.parametrize(
    "reply",
    [
        json_reply({"access_token": ACCESS, "note": "issued, but"}, status=400),
        # A form body, as some OAuth servers send it; percent-encoded as an excerpt shows it.
        Reply(302, f"access_token={ACCESS}%2F7&token_type=bearer".encode(), "text/plain"),
        # More than is read: the JSON is cut, and cannot be parsed.
        json_reply({"access_token": ACCESS, "padding": "x" * 70_000}, status=500),
    ],
)
async def test_a_token_in_an_answer_that_is_no_success_is_masked(
    forgetful: WebServer, context: SecurityContext, reply: Reply
) -> None:
    forgetful.routes[ISSUE] = reply
    ran = await check_with_log(context(forgetful.url, api_token=API_TOKEN), TOKENS)
    assert_status(ran.result, Status.FAIL, "Step 1 of 4", "not a 2xx success")
    assert ACCESS not in everything(ran)
    assert ACCESS[4:-4] not in everything(ran)


async def test_a_token_that_is_not_visible_ascii_fails_naming_the_setting(
    forgetful: WebServer, context: SecurityContext
) -> None:
    odd = "tbx_api_PLANTED_caf\u00e9_" + "t0k3n" * 4
    ran = await check_with_log(context(forgetful.url, api_token=f"  {odd}\n"), TOKENS)
    assert_status(
        ran.result,
        Status.FAIL,
        "TOOLBOX_API_TOKEN holds a character that is not visible ASCII",
        "Set TOOLBOX_API_TOKEN to the API token exactly as the app issued it",
    )
    assert odd not in everything(ran) and odd[:20] not in everything(ran)
    assert forgetful.requests == []


async def test_a_failure_at_step_2_still_revokes_the_fresh_token(
    forgetful: WebServer, context: SecurityContext
) -> None:
    forgetful.routes[ME] = Reply(401, b'{"error": "invalid token"}')
    ran = await check_with_log(context(forgetful.url, api_token=API_TOKEN), TOKENS)
    assert_status(
        ran.result, Status.FAIL, "Step 2 of 4", "The fresh access token was revoked afterwards."
    )
    assert "The fresh access token was revoked afterwards." in ran.logs
    revoke = forgetful.requests[-1]
    assert (revoke.method, revoke.path) == ("POST", REVOKE)
    assert parse_qs(revoke.body.decode())["token"] == [ACCESS]
    assert revoke.headers["authorization"] == f"Bearer {API_TOKEN}"


async def test_says_so_when_the_fresh_token_cannot_be_revoked(
    forgetful: WebServer, context: SecurityContext
) -> None:
    forgetful.routes[ME] = Reply(401, b'{"error": "invalid token"}')
    forgetful.routes[REVOKE] = Reply(404, b"not found", "text/plain")
    result = await check(context(forgetful.url, api_token=API_TOKEN), TOKENS)
    assert_status(
        result,
        Status.FAIL,
        "Step 2 of 4",
        "Revoking the fresh access token afterwards failed too",
        "answered 404 Not Found): it stays valid until it expires.",
    )


async def test_a_cancelled_walk_still_revokes_the_fresh_token(
    forgetful: WebServer, context: SecurityContext
) -> None:
    forgetful.routes[ME] = HANG
    lines: list[str] = []
    ctx = context(forgetful.url, api_token=API_TOKEN).bound(lines.append)
    walk = asyncio.ensure_future(registry.checks[TOKENS].func(ctx))
    async with asyncio.timeout(10):
        while not any(r.path == ME for r in forgetful.requests):
            await asyncio.sleep(0.01)  # until the check waits for its answer
    walk.cancel()
    with pytest.raises(asyncio.CancelledError):
        await walk
    assert [(r.method, r.path) for r in forgetful.requests][-1] == ("POST", REVOKE)
    assert "The fresh access token was revoked afterwards." in lines
