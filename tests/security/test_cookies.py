"""sec.cookies: every cookie the app sets is Secure and has SameSite, session cookies are
HttpOnly; cookies are named, their values never shown (a nameless one included); with no
cookie to judge it skips; the login answer it reads is the rate-limit probe's first."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import pytest

from checks.core import Status
from tests.security.running import (
    SecurityContext,
    assert_status,
    check,
    check_with_log,
    everything,
    said,
)
from tests.web_servers import Reply, WebServer, html_reply
from toolbox_tui.sandbox.reference_app import ReferenceApp

COOKIES = "sec.cookies"
LOGIN = "/api/v1/auth/login"
PLANTED = "PLANTEDsessionVALUE0123456789"


def setting(*cookies: str, status: int = 200) -> Reply:
    return Reply(
        status, b"<!doctype html>", "text/html", headers=tuple(("Set-Cookie", c) for c in cookies)
    )


@pytest.fixture
async def site(tls: ssl.SSLContext) -> AsyncIterator[WebServer]:
    async with WebServer({"/": html_reply(), LOGIN: Reply(401, b'{"error": "no"}')}, tls) as server:
        yield server


async def test_passes_against_the_reference_app(
    app: ReferenceApp, context: SecurityContext
) -> None:
    result = await check(context(app.url), COOKIES)
    assert_status(
        result,
        Status.PASS,
        f"Every cookie is Secure and has SameSite (session, from {app.url}/)",
    )
    assert "the login answer was not asked" in result.message
    assert result.evidence["cookies"] == "session"


async def test_reads_the_login_answer_only_with_the_probe_s_consent(
    app: ReferenceApp, context: SecurityContext
) -> None:
    result = await check(context(app.url, rate_limit_probe=True), COOKIES)
    assert_status(
        result, Status.PASS, f"{app.url}/ and {app.url}{LOGIN}", "the session cookies are HttpOnly"
    )
    log = app.settings.log_file
    with open(log, encoding="utf-8") as lines:
        assert sum(f"POST {LOGIN} 401" in line for line in lines) == 1


async def test_read_only_mode_sends_no_login(site: WebServer, context: SecurityContext) -> None:
    site.routes["/"] = setting("session=x; Secure; HttpOnly; SameSite=Lax")
    result = await check(context(site.url, rate_limit_probe=True, read_only=True), COOKIES)
    assert_status(result, Status.PASS, "read-only mode does not send")
    assert [r.path for r in site.requests] == ["/"]


async def test_no_cookies_at_all_skips_saying_where_to_look(
    site: WebServer, context: SecurityContext
) -> None:
    result = await check(context(site.url), COOKIES)
    assert_status(
        result,
        Status.SKIP,
        f"No cookie was set by {site.url}/ (200 OK), so none could be judged",
        "The session cookie is set after a successful login: check it in a browser",
    )
    assert "HttpOnly" not in result.message
    assert [r.path for r in site.requests] == ["/"]


async def test_a_page_that_is_not_found_is_no_proof_either(
    site: WebServer, context: SecurityContext
) -> None:
    site.routes["/"] = Reply(404, b"not found", "text/plain")
    result = await check(context(site.url, rate_limit_probe=True), COOKIES)
    assert_status(
        result,
        Status.SKIP,
        f"No cookie was set by {site.url}/ (404 Not Found) and {site.url}{LOGIN} "
        "(401 Unauthorized)",
    )


async def test_cookies_without_a_session_cookie_claim_nothing_of_one(
    site: WebServer, context: SecurityContext
) -> None:
    site.routes["/"] = setting("theme=dark; Secure; SameSite=Lax")
    result = await check(context(site.url), COOKIES)
    assert_status(result, Status.PASS, "none looks like a session cookie", "check it in a browser")
    assert "are HttpOnly" not in result.message


async def test_a_cookie_without_a_name_never_shows_its_value(
    site: WebServer, context: SecurityContext
) -> None:
    # Without "=", the browser stores the whole pair as the value of a nameless cookie.
    site.routes["/"] = setting(f"{PLANTED}; Secure")
    ran = await check_with_log(context(site.url), COOKIES)
    assert_status(ran.result, Status.WARN, "The cookie without a name (from /) has no SameSite")
    assert ran.result.evidence["cookies"] == "(a cookie without a name)"
    assert PLANTED not in everything(ran)


async def test_same_site_none_without_secure_is_said_once(
    site: WebServer, context: SecurityContext
) -> None:
    site.routes["/"] = setting("session=x; HttpOnly; SameSite=None")
    result = await check(context(site.url), COOKIES)
    assert_status(
        result,
        Status.FAIL,
        "The cookie session (from /) lacks Secure: browsers refuse its SameSite=None without it",
    )
    assert said(result).count("SameSite=None") == 1


async def test_a_bare_session_cookie_fails_naming_it_and_never_its_value(
    site: WebServer, context: SecurityContext
) -> None:
    site.routes["/"] = setting(f"session={PLANTED}; Path=/")
    ran = await check_with_log(context(site.url), COOKIES)
    assert_status(
        ran.result,
        Status.FAIL,
        "The cookie session (from /) lacks Secure and HttpOnly: it can be sent over plain http "
        "and any script on the page can read it",
        "has no SameSite attribute",
        "Secure; HttpOnly; SameSite=Lax; Path=/",
    )
    assert PLANTED not in everything(ran)


@pytest.mark.parametrize(
    ("cookie", "status", "phrase"),
    [
        (
            "sid=x; Secure; SameSite=Strict",
            Status.FAIL,
            "cookie sid (from /) lacks HttpOnly: any script",
        ),
        (
            "auth_token=x; HttpOnly; SameSite=Lax",
            Status.FAIL,
            "lacks Secure: it can be sent over plain http",
        ),
        (
            "session=x; Secure; HttpOnly; SameSite=None",
            Status.PASS,
            "Every cookie is Secure and has SameSite (session, from https://127.0.0.1:",
        ),
        ("session=x; Secure; HttpOnly", Status.WARN, "cookie session (from /) has no SameSite"),
        (
            "session=x; Secure; HttpOnly; SameSite=Loose",
            Status.WARN,
            "SameSite=Loose, not Strict, Lax or None",
        ),
        # A CSRF token is meant to be read by the page's script; a preference is no session.
        (
            "csrftoken=x; Secure; SameSite=Strict",
            Status.PASS,
            "Every cookie is Secure and has SameSite (csrftoken, from ",
        ),
        (
            "theme=dark; Secure; SameSite=Lax",
            Status.PASS,
            "Every cookie is Secure and has SameSite (theme, from ",
        ),
        # Attribute names in any case, as browsers read them.
        ("__Host-session=x; secure; httponly; samesite=lax; path=/", Status.PASS, "__Host-session"),
        # Clearing a cookie stores nothing to protect.
        ("session=; Max-Age=0; Path=/", Status.SKIP, "No cookie was set by"),
    ],
)
async def test_cookie_attributes(
    site: WebServer, context: SecurityContext, cookie: str, status: Status, phrase: str
) -> None:
    site.routes["/"] = setting(cookie)
    result = await check(context(site.url), COOKIES)
    assert_status(result, status, phrase)


async def test_each_cookie_is_judged(site: WebServer, context: SecurityContext) -> None:
    site.routes["/"] = setting("theme=dark; Secure; SameSite=Lax", "session=x; SameSite=Lax")
    result = await check(context(site.url), COOKIES)
    assert_status(result, Status.FAIL, "cookie session (from /) lacks Secure and HttpOnly")
    assert "theme" not in result.message


async def test_a_cookie_of_the_login_answer_is_judged(
    site: WebServer, context: SecurityContext
) -> None:
    site.routes[LOGIN] = setting("remember_me=x; SameSite=Lax", status=401)
    result = await check(context(site.url, rate_limit_probe=True), COOKIES)
    assert_status(
        result, Status.FAIL, f"cookie remember_me (from {LOGIN}) lacks Secure and HttpOnly"
    )
    login = [r for r in site.requests if r.path == LOGIN]
    assert len(login) == 1 and login[0].method == "POST"


async def test_a_server_error_is_not_judged(site: WebServer, context: SecurityContext) -> None:
    site.routes["/"] = Reply(500, b"Traceback (most recent call last)", "text/plain")
    result = await check(context(site.url), COOKIES)
    assert_status(
        result,
        Status.FAIL,
        f"Answered GET with 500 Internal Server Error at {site.url}/, so it could not be judged",
        "Traceback",
    )


async def test_skips_without_a_target(context: SecurityContext) -> None:
    assert_status(await check(context(""), COOKIES), Status.SKIP, "No TOOLBOX_TARGET_URL")
