"""Security pane, brute-force protection of the login: ``sec.rate-limit`` (opt-in).

With TOOLBOX_RATE_LIMIT_PROBE=true it sends failed logins for a made-up account (an address
under ``.invalid``, a fresh random password each time) to TOOLBOX_LOGIN_PATH below
TOOLBOX_TARGET_URL, one after the other, and stops at the first 429: at most
TOOLBOX_RATE_LIMIT_MAX_REQUESTS of them, never more (the first is the one sec.cookies reads,
see :mod:`checks.security.probe`), and only as many as fit in the check's time. A login limit
keyed on the client's address may then refuse this host's logins for a while, which is why it
is opt-in. An answer that is no failed login (a redirect, a malformed-request refusal, no such
route) stops it: the limit cannot be probed there.
"""

from __future__ import annotations

import asyncio
import time

from checks.checklist import SECURITY
from checks.context import CheckContext
from checks.core import Outcome, Status, check, failed, passed, warned
from checks.security import PANE
from checks.security.asking import client
from checks.security.probe import PROBE_EMAIL, failed_login, first_failed_login
from checks.security.verdicts import server_error
from checks.web import Answer, no_target, target

TOO_MANY = 429
CHECK_TIMEOUT = 120.0  # TOOLBOX_RATE_LIMIT_MAX_REQUESTS allows 500: they stop when time is up
# Kept from the check's budget to say what was measured, before the runner's timeout would
# end the check as "timed out" (as api.latency keeps it).
_MARGIN_S = 2.0
# Answers that refuse the request itself, not the password: no login was attempted.
_MALFORMED = (400, 422)
_NO_ROUTE = (404, 405)
_ENABLE = "TOOLBOX_RATE_LIMIT_PROBE"
_MAX = "TOOLBOX_RATE_LIMIT_MAX_REQUESTS"
_PATH = "TOOLBOX_LOGIN_PATH"
_PATH_HINT = f"Set {_PATH} to the path of the app's login API (POST, JSON email and password)."


def _not_probed(most: int) -> Outcome:
    return Outcome(
        Status.SKIP,
        f"Not probed: {_ENABLE} is off, and finding the login limit takes a burst of failed "
        "logins.",
        hint=(
            f"Set {_ENABLE}=true to send up to {most} failed logins ({_MAX}) for the made-up "
            f"account {PROBE_EMAIL} to {_PATH}, one after the other, stopping at the first "
            "429. A limit per address may then refuse this host's logins for a minute or so."
        ),
    )


@check(
    id="sec.rate-limit",
    writes=True,
    pane=PANE,
    title="Login rate limit (opt-in probe)",
    timeout=CHECK_TIMEOUT,
    checklist=(SECURITY, "Rate limiting enabled"),
    partial="the login endpoint only (other endpoints are not probed)",
)
async def rate_limit(ctx: CheckContext) -> Outcome:
    most = ctx.config.rate_limit_max_requests
    if not ctx.config.rate_limit_probe:
        return _not_probed(most)
    where = target(ctx)
    if where is None:
        return no_target()
    budget = ctx.config.check_timeout or CHECK_TIMEOUT
    deadline = time.monotonic() + budget - min(_MARGIN_S, budget / 4)
    url = where.endpoint(ctx.config.login_path)
    ctx.log(f"up to {most} failed logins for {PROBE_EMAIL}, stopping at the first 429")
    answer = await first_failed_login(ctx, where)  # sec.cookies reads this one too
    sent, slowest = 1, answer.elapsed_ms / 1000
    async with await client(ctx) as session:
        while True:
            if answer.status_code == TOO_MANY:
                return _limited(answer, sent)
            if (verdict := _not_a_failed_login(answer, sent)) is not None:
                return verdict
            if sent == most:
                break
            # Stop while there is still time to say so, rather than be cut off mid-burst.
            if deadline - time.monotonic() < slowest:
                return _out_of_time(url, sent, most, budget, slowest)
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0)):
                    answer = await failed_login(ctx, where, session)
            except TimeoutError:
                return _out_of_time(url, sent, most, budget, slowest, unanswered=True)
            sent += 1
            slowest = max(slowest, answer.elapsed_ms / 1000)
    return failed(
        f"Not limited: {most} failed logins in a row, none refused with 429 Too Many "
        f"Requests, at {url}: passwords can be guessed at full speed.",
        "Limit failed logins per client address (say 5 a minute) in the app or its proxy, "
        f"answering 429 with Retry-After. If the limit is set above {most}, raise {_MAX}.",
        attempts=most,
        **answer.evidence(),
    )


def _out_of_time(
    url: str, sent: int, most: int, budget: float, slowest: float, *, unanswered: bool = False
) -> Outcome:
    """WARN: the check's time ran out after ``sent`` failed logins, none refused."""
    last = f", and attempt {sent + 1} had no answer yet" if unanswered else ""
    return warned(
        f"No limit seen before the check's {budget:g} s ran out: {url} took {sent} failed "
        f"logins in a row, none refused with 429{last} ({most} were allowed by {_MAX}): the "
        f"limit, if there is one, is above {sent}.",
        f"The slowest answer took {slowest * 1000:.0f} ms. Raise TOOLBOX_CHECK_TIMEOUT, or "
        f"lower {_MAX} to the most failed logins the app should allow.",
        attempts=sent + (1 if unanswered else 0),
    )


def _limited(answer: Answer, attempt: int) -> Outcome:
    retry = answer.header_values("Retry-After")
    sent = answer.shown(retry[0].strip()) if retry else ""
    # Seconds, or an HTTP date (RFC 9110 10.2.3): shown as sent.
    after = (
        (f", saying Retry-After: {sent} s" if sent.isdigit() else f", saying Retry-After: {sent}")
        if retry
        else " (without Retry-After, which tells a client how long to wait)"
    )
    facts = {"attempts": str(attempt), "retry_after": sent or "(not sent)", **answer.evidence()}
    if attempt == 1:
        return warned(
            f"429 Too Many Requests to the very first login attempt{after}, at "
            f"{answer.endpoint}: a lockout left by an earlier probe (or other failed logins from "
            "this address), or a firewall in front of the app; the limit cannot be told.",
            "Run this check again once the lockout has passed (Retry-After says when), or "
            "from another address.",
            **facts,
        )
    before = attempt - 1
    return passed(
        f"Failed logins are limited after {before} attempt{'s' if before != 1 else ''}: "
        f"{answer.endpoint} refused login attempt {attempt} with 429 Too Many Requests{after}.",
        **facts,
    )


def _not_a_failed_login(answer: Answer, attempt: int) -> Outcome | None:
    """FAIL when the answer is not what a wrong password gets (the probe then stops); None
    when it is (401, 403 or another 4xx), and the next attempt follows."""
    if (broken := server_error(answer, f"login attempt {attempt}")) is not None:
        return broken
    facts = {"attempts": str(attempt), **answer.evidence()}
    if answer.status_code in _NO_ROUTE:
        return failed(
            f"No login endpoint to probe: {answer.endpoint} answered {answer.status_text}.",
            _PATH_HINT,
            **facts,
        )
    if 300 <= answer.status_code < 400 or answer.status_code in _MALFORMED:
        to = f" (to {answer.shown(answer.location)})" if answer.location else ""
        return failed(
            f"Answered the login attempt with {answer.status_text}{to} at {answer.endpoint}: "
            "not a login endpoint, or it wants another body (this one is JSON with email and "
            "password); no password was tried, so the limit could not be probed: "
            f"{answer.excerpt()}",
            _PATH_HINT,
            **facts,
        )
    if 200 <= answer.status_code < 300:
        return failed(
            f"Accepts any login: {answer.endpoint} answered {answer.status_text} to a login "
            f"for the made-up account {PROBE_EMAIL} with a random password.",
            f"Check that {_PATH} is the login API, and that it checks passwords.",
            **facts,
        )
    return None
