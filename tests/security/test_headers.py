"""sec.hsts and sec.headers against the reference app and against HTTPS servers set up
otherwise: each passes, warns and fails for the reason its message names, and a missing
HSTS header fails sec.hsts alone."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import pytest

from checks.core import Status, registry
from checks.security.asking import SEQUENCE_TIMEOUT
from tests.integrations.running import run
from tests.security.running import SecurityContext, assert_status, check, said
from tests.web_servers import Reply, WebServer, html_reply
from toolbox_tui.sandbox.reference_app import ReferenceApp

HSTS, HEADERS = "sec.hsts", "sec.headers"
GOOD_HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
GOOD_PAGE = (
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
)


def page(*headers: tuple[str, str]) -> Reply:
    return Reply(200, b"<!doctype html><title>app</title>", "text/html", headers=headers)


@pytest.fixture
async def site(tls: ssl.SSLContext) -> AsyncIterator[WebServer]:
    """An HTTPS server whose headers each test sets; healthy JSON on /api/health."""
    health = Reply(200, b'{"status": "healthy"}', headers=(GOOD_HSTS,))
    async with WebServer({"/": page(GOOD_HSTS, *GOOD_PAGE), "/api/health": health}, tls) as server:
        yield server


def serve(
    site: WebServer, *headers: tuple[str, str], health: tuple[tuple[str, str], ...] = ()
) -> None:
    site.routes["/"] = page(*headers)
    site.routes["/api/health"] = Reply(200, b"{}", headers=health or headers)


# --- the reference app ----------------------------------------------------------------------


@pytest.mark.parametrize("check_id", [HSTS, HEADERS])
async def test_pass_against_the_reference_app(
    app: ReferenceApp, context: SecurityContext, check_id: str
) -> None:
    result = await check(context(app.url), check_id)
    assert_status(result, Status.PASS, f"{app.url}/")


async def test_hsts_names_the_value_and_both_endpoints(
    app: ReferenceApp, context: SecurityContext
) -> None:
    result = await check(context(app.url), HSTS)
    assert_status(
        result,
        Status.PASS,
        "HSTS is sent (Strict-Transport-Security: max-age=31536000; includeSubDomains) by "
        f"{app.url}/ and {app.url}/api/health.",
    )


async def test_without_hsts_only_sec_hsts_fails(
    app: ReferenceApp, context: SecurityContext
) -> None:
    app.settings.hsts = False
    ctx = context(app.url)
    result = await check(ctx, HSTS)
    assert_status(
        result,
        Status.FAIL,
        f"Strict-Transport-Security is missing on {app.url}/ and {app.url}/api/health",
        "max-age=31536000; includeSubDomains",
    )
    for other in ("sec.headers", "sec.cookies", "sec.cors"):
        assert (await check(ctx, other)).status is Status.PASS, other


@pytest.mark.parametrize("check_id", [HSTS, HEADERS])
async def test_skip_without_a_target(context: SecurityContext, check_id: str) -> None:
    result = await check(context(""), check_id)
    assert_status(result, Status.SKIP, "No TOOLBOX_TARGET_URL")


# --- HSTS values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status", "phrase"),
    [
        ("max-age=63072000; includeSubDomains; preload", Status.PASS, "max-age=63072000"),
        ('MAX-AGE="31536000"; IncludeSubdomains', Status.PASS, "HSTS is sent (Strict-"),
        ("max-age=86400; includeSubDomains", Status.WARN, "max-age=86400 (1 day), under the 180"),
        ("max-age=31536000", Status.WARN, "lacks includeSubDomains"),
        ("max-age=0", Status.FAIL, "max-age=0, which tells browsers to drop HSTS"),
        ("includeSubDomains", Status.FAIL, "has no valid max-age (includeSubDomains)"),
        ("max-age=one-year", Status.FAIL, "has no valid max-age"),
    ],
)
async def test_hsts_values(
    site: WebServer, context: SecurityContext, value: str, status: Status, phrase: str
) -> None:
    serve(site, ("Strict-Transport-Security", value))
    result = await check(context(site.url), HSTS)
    assert_status(result, status, phrase)
    if status is not Status.PASS:
        assert "Send 'Strict-Transport-Security: max-age=31536000; includeSubDomains'" in said(
            result
        )


async def test_hsts_missing_on_the_api_only_names_the_api(
    site: WebServer, context: SecurityContext
) -> None:
    serve(site, GOOD_HSTS, health=(("Content-Type", "application/json"),))
    result = await check(context(site.url), HSTS)
    assert_status(result, Status.FAIL, f"missing on {site.url}/api/health.")
    assert f"{site.url}/ " not in result.message


async def test_hsts_reads_only_the_first_header_as_browsers_do(
    site: WebServer, context: SecurityContext
) -> None:
    serve(site, ("Strict-Transport-Security", "max-age=60"), GOOD_HSTS)
    result = await check(context(site.url), HSTS)
    assert_status(result, Status.WARN, "max-age=60")


async def test_hsts_over_plain_http_to_loopback_skips_without_asking(
    context: SecurityContext,
) -> None:
    # As the tls.* checks do: plain http is allowed to a loopback address, for local testing.
    async with WebServer({"/": page(GOOD_HSTS)}) as plain:
        result = await check(context(plain.url), HSTS)
    assert_status(
        result,
        Status.SKIP,
        "TOOLBOX_TARGET_URL is http:// (a loopback address): HSTS is judged over https only",
        "TOOLBOX_TARGET_URL to the app's https://",
    )
    assert plain.requests == []


def test_hsts_has_the_time_of_two_requests() -> None:
    # It asks two pages one after the other: one request's time would cut the second short.
    assert registry.checks[HSTS].timeout == SEQUENCE_TIMEOUT


# --- the page's headers ---------------------------------------------------------------------


async def test_a_server_without_security_headers_fails_naming_each(
    site: WebServer, context: SecurityContext
) -> None:
    serve(site, GOOD_HSTS)
    result = await check(context(site.url), HEADERS)
    assert_status(
        result,
        Status.FAIL,
        "Content-Security-Policy is missing",
        "X-Content-Type-Options is missing",
        "framing protection is missing",
        "Referrer-Policy is missing",
        "Send 'Content-Security-Policy: default-src 'self'; frame-ancestors 'none''",
        "Send 'X-Content-Type-Options: nosniff'",
        "send 'X-Frame-Options: DENY'",
        "Send 'Referrer-Policy: strict-origin-when-cross-origin'",
    )
    assert "Strict-Transport-Security" not in said(result)


async def test_a_weak_csp_warns_naming_what_to_remove(
    site: WebServer, context: SecurityContext
) -> None:
    csp = ("Content-Security-Policy", "default-src 'self' 'unsafe-inline' 'unsafe-eval'")
    serve(site, GOOD_HSTS, csp, *GOOD_PAGE[1:])
    result = await check(context(site.url), HEADERS)
    assert_status(
        result,
        Status.WARN,
        "allows 'unsafe-inline' in default-src",
        "allows 'unsafe-eval' in default-src",
        "Remove 'unsafe-inline' from default-src",
    )


@pytest.mark.parametrize(
    ("policy", "status", "phrase"),
    [
        ("default-src 'self'; script-src 'self' 'unsafe-inline'", Status.WARN, "in script-src"),
        # A nonce makes browsers ignore 'unsafe-inline' (it is there for old ones).
        (
            "script-src 'nonce-r4nd0m' 'unsafe-inline' 'strict-dynamic'",
            Status.PASS,
            "All four are sent: ",
        ),
        # script-src replaces default-src for scripts.
        ("default-src 'unsafe-inline'; script-src 'self'", Status.PASS, "All four are sent: "),
        ("img-src *", Status.WARN, "sets neither script-src nor default-src"),
        # Empty directives (a trailing ;), any case, and two policies in one header.
        ("DEFAULT-SRC 'self';; ", Status.PASS, "All four are sent: "),
        ("default-src 'unsafe-inline', script-src 'self'", Status.PASS, "All four are sent: "),
    ],
)
async def test_csp_is_read_as_browsers_read_it(
    site: WebServer, context: SecurityContext, policy: str, status: Status, phrase: str
) -> None:
    serve(site, GOOD_HSTS, ("Content-Security-Policy", policy), *GOOD_PAGE[1:])
    result = await check(context(site.url), HEADERS)
    assert_status(result, status, phrase)


async def test_a_report_only_policy_is_no_policy(site: WebServer, context: SecurityContext) -> None:
    report_only = ("Content-Security-Policy-Report-Only", "default-src 'self'")
    serve(site, GOOD_HSTS, report_only, *GOOD_PAGE[1:])
    result = await check(context(site.url), HEADERS)
    assert_status(
        result, Status.FAIL, "only Content-Security-Policy-Report-Only, which enforces nothing"
    )


@pytest.mark.parametrize(
    ("headers", "status", "phrase"),
    [
        ((("X-Frame-Options", "SAMEORIGIN"),), Status.PASS, "X-Frame-Options SAMEORIGIN"),
        (
            (("X-Frame-Options", "ALLOW-FROM https://a.example"),),
            Status.FAIL,
            "ignored by current browsers",
        ),
        ((("X-Frame-Options", "ALLOWALL"),), Status.FAIL, "is not DENY or SAMEORIGIN"),
        (
            (("Content-Security-Policy", "default-src 'self'; frame-ancestors *"),),
            Status.WARN,
            "any site may frame",
        ),
        (
            (("Content-Security-Policy", "default-src 'self'; frame-ancestors 'self'"),),
            Status.PASS,
            "frame-ancestors 'self'",
        ),
    ],
)
async def test_framing_protection(
    site: WebServer,
    context: SecurityContext,
    headers: tuple[tuple[str, str], ...],
    status: Status,
    phrase: str,
) -> None:
    csp = (
        headers
        if headers[0][0] == "Content-Security-Policy"
        else (("Content-Security-Policy", "default-src 'self'"), *headers)
    )
    serve(
        site,
        GOOD_HSTS,
        *csp,
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    )
    result = await check(context(site.url), HEADERS)
    assert_status(result, status, phrase)


@pytest.mark.parametrize(
    ("value", "status", "phrase"),
    [
        ("no-referrer", Status.PASS, "Referrer-Policy: no-referrer"),
        ("unsafe-url", Status.WARN, "Referrer-Policy is unsafe-url"),
        ("no-referrer-when-downgrade", Status.WARN, "sends more than the origin"),
        # The last value a browser knows wins; the first is a fallback for older ones.
        (
            "no-referrer, strict-origin-when-cross-origin",
            Status.PASS,
            "strict-origin-when-cross-origin",
        ),
        ("strict-origin, made-up-policy", Status.PASS, "Referrer-Policy: strict-origin"),
        ("made-up-policy", Status.WARN, "no value browsers know"),
    ],
)
async def test_referrer_policy(
    site: WebServer, context: SecurityContext, value: str, status: Status, phrase: str
) -> None:
    serve(site, GOOD_HSTS, *GOOD_PAGE[:3], ("Referrer-Policy", value))
    result = await check(context(site.url), HEADERS)
    assert_status(result, status, phrase)


async def test_a_sniffing_value_fails(site: WebServer, context: SecurityContext) -> None:
    serve(site, GOOD_HSTS, GOOD_PAGE[0], ("X-Content-Type-Options", "sniff-away"), *GOOD_PAGE[2:])
    result = await check(context(site.url), HEADERS)
    assert_status(result, Status.FAIL, "X-Content-Type-Options is sniff-away, not nosniff")


async def test_headers_are_judged_on_any_answer_but_a_server_error(
    site: WebServer, context: SecurityContext
) -> None:
    site.routes["/"] = Reply(401, b"login first", "text/plain", headers=(GOOD_HSTS, *GOOD_PAGE))
    assert (await check(context(site.url), HEADERS)).status is Status.PASS
    site.routes["/"] = html_reply(502, b"bad gateway")
    result = await check(context(site.url), HEADERS)
    assert_status(
        result,
        Status.FAIL,
        f"Answered GET with 502 Bad Gateway at {site.url}/, so it could not be judged",
        "bad gateway",
    )


async def test_one_request_per_page_for_all_three_checks(
    site: WebServer, context: SecurityContext
) -> None:
    cookie = ("Set-Cookie", "session=x; Secure; HttpOnly; SameSite=Lax")
    serve(site, GOOD_HSTS, *GOOD_PAGE, cookie, health=(GOOD_HSTS,))
    ran = await run(context(site.url), HSTS, HEADERS, "sec.cookies")
    assert {r.result.status for r in ran.values()} == {Status.PASS}
    assert sorted(r.path for r in site.requests) == ["/", "/api/health"]
