"""sec.rate-limit: opt-in, never more than TOOLBOX_RATE_LIMIT_MAX_REQUESTS failed logins
(counted on the server, sec.cookies' included), stopping at the first 429 or when the check's
time runs out; an answer that is no failed login, or a 429 from the first, proves nothing."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from checks.core import Status
from checks.security.probe import PROBE_EMAIL
from tests.integrations.running import run
from tests.security.running import SecurityContext, assert_status, check
from tests.web_servers import Reply, WebServer
from toolbox_tui.sandbox.reference_app import ReferenceApp

LIMIT = "sec.rate-limit"
LOGIN = "/api/v1/auth/login"
REFUSED = Reply(401, b'{"error": "invalid credentials"}')
SOME = {"rate_limit_max_requests": 3}


@pytest.fixture
async def site(tls: ssl.SSLContext) -> AsyncIterator[WebServer]:
    async with WebServer({LOGIN: REFUSED}, tls) as server:
        yield server


def logins(app: ReferenceApp) -> list[str]:
    """The login requests in the app's access log: ``401``, ``429``..."""
    text = Path(app.settings.log_file).read_text(encoding="utf-8")
    return [line.split()[-2] for line in text.splitlines() if f"POST {LOGIN} " in line]


async def test_skips_unless_allowed_saying_what_it_would_send(
    site: WebServer, context: SecurityContext
) -> None:
    result = await check(context(site.url, rate_limit_max_requests=12), LIMIT)
    assert_status(
        result,
        Status.SKIP,
        "TOOLBOX_RATE_LIMIT_PROBE is off",
        "Set TOOLBOX_RATE_LIMIT_PROBE=true to send up to 12 failed logins",
        PROBE_EMAIL,
        "stopping at the first 429",
    )
    assert site.requests == []


async def test_passes_when_the_reference_app_limits_logins(
    app: ReferenceApp, context: SecurityContext
) -> None:
    result = await check(context(app.url, rate_limit_probe=True), LIMIT)
    assert_status(
        result,
        Status.PASS,
        f"Failed logins are limited after 5 attempts: {app.url}{LOGIN} refused login attempt 6 "
        "with 429 Too Many Requests, saying Retry-After: 60 s.",
    )
    assert logins(app) == ["401"] * 5 + ["429"]


async def test_fails_when_the_reference_app_does_not_limit_logins(
    app: ReferenceApp, context: SecurityContext
) -> None:
    app.settings.login_limit = 0
    ctx = context(app.url, rate_limit_probe=True, rate_limit_max_requests=9)
    result = await check(ctx, LIMIT)
    assert_status(
        result,
        Status.FAIL,
        "Not limited: 9 failed logins in a row, none refused with 429 Too Many Requests, at "
        f"{app.url}{LOGIN}: passwords can be guessed at full speed",
        "Limit failed logins per client address",
        "raise TOOLBOX_RATE_LIMIT_MAX_REQUESTS",
    )
    assert logins(app) == ["401"] * 9


async def test_a_limit_above_the_most_it_may_send_fails_after_exactly_that_many(
    app: ReferenceApp, context: SecurityContext
) -> None:
    ctx = context(app.url, rate_limit_probe=True, rate_limit_max_requests=3)
    assert_status(await check(ctx, LIMIT), Status.FAIL, "Not limited: 3 failed logins")
    assert logins(app) == ["401"] * 3


async def test_sends_made_up_logins_one_after_the_other(
    site: WebServer, context: SecurityContext
) -> None:
    ctx = context(site.url, rate_limit_probe=True, rate_limit_max_requests=7)
    assert_status(await check(ctx, LIMIT), Status.FAIL, "Not limited: 7 failed logins")
    assert len(site.requests) == 7
    bodies = [json.loads(r.body) for r in site.requests]
    assert {r.method for r in site.requests} == {"POST"}
    assert {b["email"] for b in bodies} == {PROBE_EMAIL}
    assert len({b["password"] for b in bodies}) == 7  # a fresh random password each time


async def test_a_429_from_the_first_attempt_tells_no_limit(
    site: WebServer, context: SecurityContext
) -> None:
    site.routes[LOGIN] = Reply(429, b"slow down", "text/plain")
    result = await check(context(site.url, rate_limit_probe=True), LIMIT)
    assert_status(
        result,
        Status.WARN,
        "429 Too Many Requests to the very first login attempt (without Retry-After",
        f"at {site.url}{LOGIN}: a lockout",
        "a lockout left by an earlier probe",
        "the limit cannot be told",
    )
    assert len(site.requests) == 1


async def test_a_retry_after_date_is_shown_as_sent(
    site: WebServer, context: SecurityContext
) -> None:
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    site.routes[LOGIN] = Reply(429, b"", headers=(("Retry-After", date),))
    result = await check(context(site.url, rate_limit_probe=True), LIMIT)
    assert_status(result, Status.WARN, f"saying Retry-After: {date}, at {site.url}{LOGIN}:")
    assert f"{date} s" not in result.message


async def test_stops_within_the_check_s_time_saying_how_many_went_out(
    site: WebServer, context: SecurityContext
) -> None:
    # Each answer takes 0.4 s and the check has 3: 200 attempts cannot fit.
    site.routes[LOGIN] = Reply(401, b'{"error": "invalid credentials"}', delay=0.4)
    ctx = context(site.url, rate_limit_probe=True, rate_limit_max_requests=200, check_timeout=3)
    result = await check(ctx, LIMIT)
    sent = len(site.requests)
    assert 1 <= sent < 200
    assert_status(
        result,
        Status.WARN,
        f"No limit seen before the check's 3 s ran out: {site.url}{LOGIN} took "
        f"{result.evidence['attempts']} failed logins in a row, none refused with 429",
        "Raise TOOLBOX_CHECK_TIMEOUT",
    )
    assert int(result.evidence["attempts"]) == sent


@pytest.mark.parametrize(
    ("reply", "phrase"),
    [
        (
            Reply(404, b"not found", "text/plain"),
            "No login endpoint to probe: {url} answered 404 Not Found.",
        ),
        (
            Reply(200, b'{"token": "x"}'),
            "Accepts any login: {url} answered 200 OK to a login for the made-up account",
        ),
        (
            Reply(503, b"upstream down", "text/plain"),
            "Answered login attempt 1 with 503 Service Unavailable at {url}, so it could not",
        ),
        (
            Reply(302, b"", headers=(("Location", "/login"),)),
            "Answered the login attempt with 302 Found (to /login) at {url}: not a login "
            "endpoint, or it wants another body",
        ),
        (
            Reply(422, b'{"detail": "username: field required"}'),
            "Answered the login attempt with 422 Unprocessable Entity at {url}: not a login "
            "endpoint, or it wants another body",
        ),
        (
            Reply(400, b'{"error": "bad request"}'),
            "no password was tried, so the limit could not be probed",
        ),
    ],
)
async def test_stops_at_an_answer_that_is_no_failed_login(
    site: WebServer, context: SecurityContext, reply: Reply, phrase: str
) -> None:
    site.routes[LOGIN] = reply
    result = await check(context(site.url, rate_limit_probe=True), LIMIT)
    assert_status(result, Status.FAIL, phrase.format(url=f"{site.url}{LOGIN}"))
    assert "guessed at full speed" not in result.message
    if reply.status not in (200, 503):
        assert "Set TOOLBOX_LOGIN_PATH" in result.hint
    assert len(site.requests) == 1


async def test_uses_the_configured_login_path(site: WebServer, context: SecurityContext) -> None:
    site.routes["/auth/signin"] = REFUSED
    ctx = context(site.url, rate_limit_probe=True, login_path="/auth/signin", **SOME)
    assert_status(
        await check(ctx, LIMIT),
        Status.FAIL,
        "Not limited: 3 failed logins in a row, none refused with 429 Too Many Requests, at "
        f"{site.url}/auth/signin:",
    )
    assert {r.path for r in site.requests} == {"/auth/signin"}


async def test_a_run_with_sec_cookies_sends_no_more_than_the_most(
    site: WebServer, context: SecurityContext
) -> None:
    """sec.cookies reads the probe's first login instead of sending its own."""
    ctx = context(site.url, rate_limit_probe=True, **SOME)
    ran = await run(ctx, LIMIT, "sec.cookies")
    assert ran[LIMIT].result.status is Status.FAIL
    assert ran["sec.cookies"].result.status is Status.SKIP  # the test server sets no cookie
    assert len([r for r in site.requests if r.path == LOGIN]) == 3


async def test_a_run_with_sec_cookies_against_the_reference_app(
    app: ReferenceApp, context: SecurityContext
) -> None:
    ran = await run(context(app.url, rate_limit_probe=True), LIMIT, "sec.cookies")
    assert ran[LIMIT].result.status is Status.PASS, ran[LIMIT].result.message
    assert ran["sec.cookies"].result.status is Status.PASS, ran["sec.cookies"].result.message
    assert logins(app) == ["401"] * 5 + ["429"]


async def test_skips_without_a_target(context: SecurityContext) -> None:
    result = await check(context("", rate_limit_probe=True), LIMIT)
    assert_status(result, Status.SKIP, "No TOOLBOX_TARGET_URL")
