"""SendGrid's v3 API, live: the key works and may send, the sender is verified, and mail
gets delivered.

Provides checks ``email.sendgrid-key``, ``email.sender-verified`` and
``email.delivery-rates``. Requests go to TOOLBOX_SENDGRID_API_URL (SendGrid's own API unless
set; the sandbox points it at its stand-in) through :mod:`checks.integrations.sendgrid_client`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, timedelta
from typing import Any

from checks.checklist import DEPLOY, MONITORING
from checks.context import CheckContext
from checks.core import CheckFailed, Outcome, Status, check, failed, passed, warned
from checks.findings import Findings, require
from checks.integrations import PANE
from checks.integrations.sendgrid_client import (
    DEFAULT_API_URL,
    KEY,
    URL_SETTING,
    Api,
    Forbidden,
    api,
    get,
    scopes,
)

KEY_CHECK = "email.sendgrid-key"
MAIL_SEND = "mail.send"
STATS_READ = "stats.read"
CHECK_TIMEOUT = 20.0  # above connect (5 s) + read (10 s): the client's own sentence comes first
SENDERS_PAGE = 100
MAX_SENDER_PAGES = 20
# The checklist's targets: "Delivery rate (target: >95%)", "Bounce rate (target: <2%)".
DELIVERED_TARGET_PCT = 95
BOUNCED_TARGET_PCT = 2
WINDOW = timedelta(hours=24)


@check(
    id=KEY_CHECK,
    pane=PANE,
    title="SendGrid key can send",
    timeout=CHECK_TIMEOUT,
    needs=("env.sendgrid-key",),
    checklist=(DEPLOY, "Configure SendGrid"),
    partial="the optional email templates",
)
async def sendgrid_key(ctx: CheckContext) -> Outcome:
    where = api(ctx)
    held = await scopes(ctx, where)
    if MAIL_SEND not in held:
        return failed(
            f"SendGrid accepts {KEY}, but the key lacks the {MAIL_SEND} scope (Mail Send "
            "permission): the app cannot send with it.",
            "In SendGrid > Settings > API Keys, give the key Mail Send: Full Access, or create "
            "one that has it.",
            scopes=len(held),
        )
    return passed(
        f"SendGrid accepts {KEY}, and the key has the {MAIL_SEND} scope.",
        scopes=len(held),
        api=where.base,
    )


@check(
    id="email.sender-verified",
    pane=PANE,
    title="FROM_EMAIL verified",
    timeout=CHECK_TIMEOUT,
    needs=(KEY_CHECK, "env.from-email"),
    checklist=(DEPLOY, "Configure SendGrid"),
    partial="the optional email templates",
)
async def sender_verified(ctx: CheckContext) -> Outcome:
    where = api(ctx)
    findings = Findings()
    address = (require(ctx.env, "FROM_EMAIL", findings) or "").strip()
    if not address:
        return findings.outcome("")
    try:
        senders = await _senders(ctx, where)
    except Forbidden as exc:
        return warned(
            f"{KEY} may not list the verified senders ({exc.endpoint} answered 403): "
            f"FROM_EMAIL {address} was not checked.",
            "Look for it in SendGrid > Settings > Sender Authentication. (A key with Mail "
            "Send alone is right for the app; this check needs one that may also read the "
            "senders.)",
        )
    ours = [s for s in senders if str(s.get("from_email", "")).lower() == address.lower()]
    facts = {"senders": len(senders), "verified": sum(s.get("verified") is True for s in senders)}
    if any(s.get("verified") is True for s in ours):
        return passed(f"FROM_EMAIL {address} is a verified sender in SendGrid.", **facts)
    if ours:
        return failed(
            f"FROM_EMAIL {address} is a sender in SendGrid, but not verified yet: SendGrid "
            "refuses mail from it until it is.",
            f"Follow the link in the email SendGrid sent to {address}, or resend it from "
            "SendGrid > Settings > Sender Authentication.",
            (),
            **facts,
        )
    return failed(
        f"FROM_EMAIL {address} is not among the {len(senders)} senders in SendGrid: SendGrid "
        "refuses mail from an address it has not verified.",
        "Add and verify it in SendGrid > Settings > Sender Authentication (Single Sender "
        "Verification). If you authenticated its whole domain instead, this check cannot see "
        "that: confirm it there.",
        (),
        **facts,
    )


async def _senders(ctx: CheckContext, where: Api) -> list[Mapping[str, Any]]:
    """Every Single Sender, page by page (``limit`` and ``lastSeenID``)."""
    found: list[Mapping[str, Any]] = []
    params = {"limit": str(SENDERS_PAGE)}
    for _ in range(MAX_SENDER_PAGES):
        document = await get(ctx, where, "/v3/verified_senders", params)
        page = document.get("results") if isinstance(document, dict) else None
        if not isinstance(page, list) or not all(isinstance(s, dict) for s in page):
            raise CheckFailed(
                f"{where.base}/v3/verified_senders answered without a list of senders.",
                f"Is {URL_SETTING} SendGrid's API ({DEFAULT_API_URL})?",
            )
        found.extend(page)
        if len(page) < SENDERS_PAGE:
            break
        params = {**params, "lastSeenID": str(page[-1].get("id", ""))}
    return found


@check(
    id="email.delivery-rates",
    pane=PANE,
    title="Email delivery rates",
    timeout=CHECK_TIMEOUT,
    needs=(KEY_CHECK,),
    checklist=(MONITORING, "Email delivery"),
    partial="the send failures per hour (the alert above 10 an hour)",
)
async def delivery_rates(ctx: CheckContext) -> Outcome:
    where = api(ctx)
    now = ctx.clock().astimezone(UTC)
    # SendGrid counts by UTC day: yesterday and today hold the last 24 hours (and up to a
    # day more), the finest window its stats API gives.
    start, end = (now - WINDOW).date(), now.date()
    if STATS_READ not in await scopes(ctx, where):
        return _no_stats(f"the key lacks the {STATS_READ} scope")
    params = {"start_date": start.isoformat(), "end_date": end.isoformat(), "aggregated_by": "day"}
    try:
        document = await get(ctx, where, "/v3/stats", params)
    except Forbidden as exc:
        return _no_stats(f"{exc.endpoint} answered 403")
    totals = _totals(where, document)
    requests, delivered, bounces = totals["requests"], totals["delivered"], totals["bounces"]
    since = f"since {start.isoformat()} UTC"
    if requests == 0:
        # Not a pass: no mail shows nothing about the targets. Not a failure either: a new
        # deployment, or a quiet day, has sent nothing yet.
        return Outcome(
            Status.SKIP,
            f"No mail was requested {since}: no delivery or bounce rate to judge.",
            hint="Send some (the action email.send-test sends one) and run it again.",
            evidence={"requests": "0"},
        )
    delivered_pct, bounced_pct = 100 * delivered / requests, 100 * bounces / requests
    facts = {
        "requests": requests,
        "delivered": delivered,
        "bounces": bounces,
        "delivered_pct": f"{delivered_pct:.1f}",
        "bounced_pct": f"{bounced_pct:.1f}",
    }
    hint = (
        "Look at SendGrid > Activity for the bounced and dropped messages: a stale list, an "
        "unauthenticated domain or a blocked IP are the usual causes."
    )
    problems = []
    # Whole numbers compared, so that 95.0% is not above 95% by a rounding error.
    if delivered * 100 <= requests * DELIVERED_TARGET_PCT:
        problems.append(
            f"only {delivered_pct:.1f}% were delivered (target: more than {DELIVERED_TARGET_PCT}%)"
        )
    if bounces * 100 >= requests * BOUNCED_TARGET_PCT:
        problems.append(f"{bounced_pct:.1f}% bounced (target: less than {BOUNCED_TARGET_PCT}%)")
    if problems:
        return failed(
            f"Of {requests:,} requests {since}, {' and '.join(problems)}.", hint, (), **facts
        )
    return passed(
        f"{delivered_pct:.1f}% of {requests:,} requests delivered and {bounced_pct:.1f}% "
        f"bounced {since} (targets: >{DELIVERED_TARGET_PCT}%, <{BOUNCED_TARGET_PCT}%).",
        **facts,
    )


def _no_stats(why: str) -> Outcome:
    return warned(
        f"{KEY} may not read SendGrid's stats ({why}): the delivery and bounce rates were "
        "not judged.",
        "Read them in SendGrid's dashboard (Stats > Overview). (A key with Mail Send alone is "
        f"right for the app; this check needs one with {STATS_READ} too.)",
    )


def _totals(where: Api, document: Any) -> dict[str, int]:
    """requests, delivered and bounces summed over the days of ``GET /v3/stats``."""
    totals = {"requests": 0, "delivered": 0, "bounces": 0}
    try:
        for day in document:
            for entry in day["stats"]:
                metrics = entry["metrics"]
                for name in totals:
                    totals[name] += int(metrics.get(name, 0))
    except (TypeError, KeyError, ValueError, AttributeError):
        raise CheckFailed(
            f"{where.base}/v3/stats answered with something else than SendGrid's daily stats.",
            f"Is {URL_SETTING} SendGrid's API ({DEFAULT_API_URL})?",
        ) from None
    return totals
