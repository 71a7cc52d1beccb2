"""Security pane, cross-origin access to the API: ``sec.cors``.

Asks ``/api/health`` below TOOLBOX_TARGET_URL twice as a page of a foreign site would: a
preflight (OPTIONS) and a GET, both with ``Origin: https://toolbox-cors-probe.invalid`` (a
name that cannot exist, RFC 6761). The app must not let that origin read its answers: it
fails when the origin (or ``null``) is echoed in Access-Control-Allow-Origin, or when ``*``
comes with credentials allowed; ``*`` alone is a warning. A GET answered with anything but a
2xx (a redirect to a login, 401, 404) is a warning too: the app's policy shows on its real
answers, so it could not be judged. Skips without TOOLBOX_TARGET_URL.
"""

from __future__ import annotations

from checks.checklist import SECURITY
from checks.context import CheckContext
from checks.core import Outcome, check
from checks.findings import Findings
from checks.security import PANE
from checks.security.asking import SEQUENCE_TIMEOUT, client
from checks.security.verdicts import said_once, server_error
from checks.web import Answer, fetch, no_target, target

PROBE_ORIGIN = "https://toolbox-cors-probe.invalid"
PATH = "/api/health"
ALLOW_ORIGIN = "Access-Control-Allow-Origin"
ALLOW_CREDENTIALS = "Access-Control-Allow-Credentials"
_ALLOWLIST_HINT = (
    f"Let the app answer {ALLOW_ORIGIN} only for its own origins (an allowlist such as "
    "https://your-domain.com), never by echoing the request's Origin."
)


def _problems(answer: Answer) -> list[tuple[bool, str, str]]:
    """``(fatal, problem, hint)`` for one answer; ``{where}`` stands for the requests."""
    allowed = [value.strip() for value in answer.header_values(ALLOW_ORIGIN)]
    credentials = any(v.strip().lower() == "true" for v in answer.header_values(ALLOW_CREDENTIALS))
    with_cookies = f" with {ALLOW_CREDENTIALS}: true" if credentials else ""
    reader = "as the logged-in user (cookies included)" if credentials else "in a visitor's browser"
    if any(value.lower() == PROBE_ORIGIN for value in allowed):
        return [
            (
                True,
                f"{{where}} echoed the foreign origin {PROBE_ORIGIN} in {ALLOW_ORIGIN}"
                f"{with_cookies}: any site can read the API's answers {reader}",
                _ALLOWLIST_HINT,
            )
        ]
    if any(value.lower() == "null" for value in allowed):
        return [
            (
                True,
                f"{{where}} allowed the origin null{with_cookies}: any site can take that "
                f"origin (a sandboxed frame) and read the API's answers {reader}",
                _ALLOWLIST_HINT,
            )
        ]
    if "*" in allowed and credentials:
        return [
            (
                True,
                f"{{where}} sent {ALLOW_ORIGIN}: * with {ALLOW_CREDENTIALS}: true: every "
                "site is meant to read the API with the user's cookies (browsers refuse that "
                "pair; the usual way round it, echoing the Origin, would let them)",
                _ALLOWLIST_HINT + f" Send {ALLOW_CREDENTIALS} only for those.",
            )
        ]
    if "*" in allowed:
        # Without credentials browsers send no cookies, so no session is exposed: a warning,
        # since the API's public answers are still open to every site and no allowlist is
        # in force.
        return [
            (
                False,
                f"{{where}} sent {ALLOW_ORIGIN}: *: every site may read the API's answers "
                "(without cookies)",
                _ALLOWLIST_HINT,
            )
        ]
    return []


@check(
    id="sec.cors",
    pane=PANE,
    title="CORS refuses foreign origins",
    timeout=SEQUENCE_TIMEOUT,
    checklist=(SECURITY, "CORS configured"),
)
async def cors(ctx: CheckContext) -> Outcome:
    where = target(ctx)
    if where is None:
        return no_target()
    preflight_headers = {
        "Origin": PROBE_ORIGIN,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    async with await client(ctx) as session:
        preflight = await fetch(
            ctx, where, PATH, method="OPTIONS", headers=preflight_headers, client=session
        )
        simple = await fetch(ctx, where, PATH, headers={"Origin": PROBE_ORIGIN}, client=session)
    asked = (("the preflight (OPTIONS)", preflight), ("the GET", simple))
    for what, answer in asked:
        if (broken := server_error(answer, what)) is not None:
            return broken
    findings = Findings()
    said_once(
        (
            (what, fatal, problem.replace("{where}", f"{{where}} to {answer.endpoint}", 1), hint)
            for what, answer in asked
            for fatal, problem, hint in _problems(answer)
        ),
        findings,
    )
    if not 200 <= simple.status_code < 300:
        # A warning, not a failure: nothing shows a foreign site being let in, but the
        # headers of a redirect, a refusal or a missing route say nothing about the policy
        # on the API's real answers (api.health says why /api/health does not answer).
        to = f" (to {simple.shown(simple.location)})" if simple.location else ""
        findings.warn(
            f"The CORS policy could not be judged: {simple.endpoint} answered the GET with "
            f"{simple.status_text}{to} and the preflight with {preflight.status_text}, not a "
            "2xx success",
            f"Is TOOLBOX_TARGET_URL the app? {PATH} must answer 200 without a login.",
        )
    # Origins it does allow (its own), as sent: the foreign one is refused when absent.
    allowed = simple.shown(
        ", ".join(sorted({v for _, a in asked for v in a.header_values(ALLOW_ORIGIN)}))
    )
    only = f"; it allows only {allowed}" if allowed else ""
    return findings.outcome(
        f"Foreign origin refused: {simple.endpoint} sent no {ALLOW_ORIGIN} for "
        f"{PROBE_ORIGIN}, in the preflight or the GET{only}.",
        origin_sent=PROBE_ORIGIN,
        preflight=preflight.status_text,
        allow_origin=allowed or "(not sent)",
        **simple.evidence(),
    )
