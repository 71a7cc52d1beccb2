"""Stripe, live: the key works, its mode fits APP_ENV, the account can take charges, and how
many payments failed.

Provides checks ``stripe.key-valid``, ``stripe.live-mode``, ``stripe.account-charges`` and
``stripe.failed-payments``, and the names the webhook module shares. Requests go to
TOOLBOX_STRIPE_API_URL (Stripe's own API unless set; the sandbox points it at its peer)
through the SDK, as :mod:`checks.integrations.stripe_client` builds it.

The checks need the env file (``env.file``), not ``env.stripe-keys``: that check fails on a
test key in production, and ``stripe.live-mode`` must then run to say what Stripe itself
answers. A key that is missing or is no secret key fails ``stripe.key-valid`` on its own.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from checks.checklist import ENVIRONMENT, MONITORING
from checks.context import CheckContext
from checks.core import (
    CheckFailed,
    Outcome,
    check,
    failed,
    passed,
    warned,
)
from checks.environment.values import ENV_FILE_CHECK
from checks.findings import is_production
from checks.integrations import PANE
from checks.integrations.stripe_client import (
    DEFAULT_API_URL,
    KEY,
    URL_SETTING,
    Api,
    Forbidden,
    Session,
    account,
    api,
    session,
)

if TYPE_CHECKING:
    from stripe.params import (
        ChargeListParams,
    )


KEY_CHECK = "stripe.key-valid"
CHECK_TIMEOUT = 20.0  # above connect (5 s) + read (10 s): the client's own sentence comes first
PAGE = 100  # Stripe's largest list page
MAX_CHARGE_PAGES = 50
WINDOW = timedelta(hours=24)
THRESHOLD_SETTING = "TOOLBOX_STRIPE_FAILED_PAYMENTS_MAX"
# What of "Stripe payment" no live check can see; env.stripe-keys checks their form.
STRIPE_ENV_GAP = (
    "the publishable key and the webhook secret, which the secret key cannot vouch for "
    "(env.stripe-keys checks their form)"
)
# What of "Payment processing" no check sees; every check of the item names this one gap.
PAYMENT_MONITORING_GAP = (
    "successful payments (revenue), subscription churn and webhook processing time, and the "
    "alerting itself: the checks look only when run"
)


# --- the key ------------------------------------------------------------------------------


@check(
    id=KEY_CHECK,
    pane=PANE,
    title="Stripe key accepted",
    timeout=CHECK_TIMEOUT,
    needs=(ENV_FILE_CHECK,),
    checklist=(ENVIRONMENT, "Stripe payment"),
    partial=STRIPE_ENV_GAP,
)
async def key_valid(ctx: CheckContext) -> Outcome:
    where = api(ctx)
    found = await account(ctx, where)
    named = f" ({found.name})" if found.name else ""
    return passed(
        f"Stripe accepts {KEY}, a {where.mode} key of account {found.id}{named}.",
        account=found.id,
        key_mode=where.mode,
        api=where.base,
    )


@check(
    id="stripe.live-mode",
    pane=PANE,
    title="Stripe live mode",
    timeout=CHECK_TIMEOUT,
    needs=(KEY_CHECK,),
    checklist=(ENVIRONMENT, "Stripe payment"),
    partial=STRIPE_ENV_GAP,
)
async def live_mode(ctx: CheckContext) -> Outcome:
    where = api(ctx)
    app_env = (ctx.env.get("APP_ENV") or "").strip() or "unset"
    answered = await _answered_mode(ctx, where)
    evidence = {"key_mode": where.mode, "answered_in": answered or "not known", "app_env": app_env}
    if answered is not None and answered != where.mode:
        return failed(
            f"{KEY} is a {where.mode} key, but the answer came in {answered} mode: whatever "
            f"answers at {where.base} is not Stripe, or not as the key says.",
            f"Is {URL_SETTING} Stripe's API ({DEFAULT_API_URL})?",
            (),
            **evidence,
        )
    seen = (
        f"Stripe answers in {answered} mode"
        if answered
        else "judged by the key's prefix (the key may not read the balance, where Stripe "
        "says its mode)"
    )
    if is_production(ctx.env) and not where.live:
        return failed(
            f"{KEY} is a test key ({seen}), but APP_ENV is production: no real payment would "
            "be taken.",
            "Use the live secret key (sk_live_, or a restricted rk_live_) with the live "
            "publishable key and the live endpoint's webhook secret. Copy them from Stripe "
            "Dashboard > Developers > API keys, with 'Test mode' off.",
            (),
            **evidence,
        )
    if where.live and not is_production(ctx.env):
        return warned(
            f"{KEY} is a live key ({seen}), but APP_ENV is {app_env}: this deployment would "
            "take real payments.",
            "Use test keys (sk_test_) outside production; if this is production, set "
            "APP_ENV=production.",
            (),
            **evidence,
        )
    return passed(f"{KEY} is a {where.mode} key, as APP_ENV {app_env} wants; {seen}.", **evidence)


async def _answered_mode(ctx: CheckContext, where: Api) -> str | None:
    """``live`` or ``test`` as Stripe's answer says (its balance carries ``livemode``; the
    account object does not); None when the key may not read the balance."""
    async with session(ctx, where) as stripe_api:
        try:
            balance = await stripe_api.call(
                "/v1/balance", stripe_api.client.v1.balance.retrieve_async
            )
        except Forbidden:
            ctx.log("The key may not read the balance: its mode is judged by its prefix")
            return None
    livemode = balance.to_dict().get("livemode")
    if not isinstance(livemode, bool):
        raise CheckFailed(
            f"{where.base}/v1/balance answered without saying its mode (livemode).",
            f"Is {URL_SETTING} Stripe's API ({DEFAULT_API_URL})?",
        )
    return "live" if livemode else "test"


# --- the account --------------------------------------------------------------------------

_ACCOUNT_HINT = (
    "Stripe Dashboard > Settings > Business > Account details (and the banner on the "
    "dashboard's home page) lists what Stripe needs; once it is provided, Stripe enables "
    "charges and payouts again."
)


@check(
    id="stripe.account-charges",
    pane=PANE,
    title="Stripe charges enabled",
    timeout=CHECK_TIMEOUT,
    needs=(KEY_CHECK,),
    checklist=(MONITORING, "Payment processing"),
    partial=PAYMENT_MONITORING_GAP,
)
async def account_charges(ctx: CheckContext) -> Outcome:
    where = api(ctx)
    found = await account(ctx, where)
    facts = {
        "account": found.id,
        "charges_enabled": found.charges_enabled,
        "payouts_enabled": found.payouts_enabled,
        "details_submitted": found.details_submitted,
    }
    wanted = _requirements(found.disabled_reason, found.past_due, found.currently_due)
    if not found.charges_enabled:
        payouts = "" if found.payouts_enabled else "; nor can it pay out: payouts_enabled is false"
        return failed(
            f"Stripe account {found.id} cannot take charges (charges_enabled is false"
            f"{payouts}){wanted}.",
            _ACCOUNT_HINT,
            (),
            **facts,
        )
    if not found.payouts_enabled:
        return warned(
            f"Stripe account {found.id} takes charges but cannot pay out (payouts_enabled is "
            f"false): the money stays in Stripe{wanted}.",
            _ACCOUNT_HINT,
            (),
            **facts,
        )
    if found.past_due or found.currently_due:
        return warned(
            f"Stripe account {found.id} takes charges and pays out, but Stripe asks for more"
            f"{wanted}; unanswered, Stripe disables charges or payouts at its deadline.",
            _ACCOUNT_HINT,
            (),
            **facts,
        )
    return passed(
        f"Stripe account {found.id} can take charges and pay out (charges_enabled and "
        "payouts_enabled are true).",
        **facts,
    )


def _requirements(reason: str | None, past_due: Iterable[str], due: Iterable[str]) -> str:
    """``: Stripe's reason is requirements.past_due; past due: external_account`` or ''."""
    parts = [f"Stripe's reason is {reason}"] if reason else []
    for label, names in (("past due", list(past_due)), ("due now", list(due))):
        if names:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            parts.append(f"{label}: {shown}")
    return ": " + "; ".join(parts) if parts else ""


# --- the webhook endpoint -----------------------------------------------------------------


@check(
    id="stripe.failed-payments",
    pane=PANE,
    title="Stripe failed payments",
    timeout=CHECK_TIMEOUT,
    needs=(KEY_CHECK,),
    checklist=(MONITORING, "Payment processing"),
    partial=PAYMENT_MONITORING_GAP,
)
async def failed_payments(ctx: CheckContext) -> Outcome:
    # Charges, not invoices: every payment attempt leaves a charge, whichever way it came
    # (Checkout, a subscription's invoice, a PaymentIntent), and a failed one has status
    # "failed" with Stripe's failure_code. invoice.payment_failed covers subscriptions only.
    where = api(ctx)
    since = ctx.clock().astimezone(UTC) - WINDOW
    async with session(ctx, where) as stripe_api:
        charges, complete = await _charges_since(stripe_api, int(since.timestamp()))
    failures = [c for c in charges if c.get("status") == "failed"]
    limit = ctx.config.stripe_failed_payments_max
    codes = Counter(str(c.get("failure_code") or "no failure_code") for c in failures)
    by_code = ", ".join(f"{code} {count}" for code, count in codes.most_common())
    when = f"since {since.strftime('%Y-%m-%d %H:%M')} UTC"
    at_least = "" if complete else "at least "
    facts: dict[str, object] = {
        "charges": f"{at_least}{len(charges)}",
        "failed": len(failures),
        "alert_above": limit,
    }
    if by_code:
        facts["failure_codes"] = by_code
    if len(failures) > limit:
        return warned(
            f"{len(failures)} of {at_least}{len(charges)} charges {when} failed ({by_code}).",
            "Look at them in Stripe Dashboard > Payments (filter: Failed). A few declines are "
            "normal; a burst means a broken checkout, a fraud rule or an outage. The "
            f"checklist alerts on every failed payment ({THRESHOLD_SETTING} raises the bar).",
            (),
            **facts,
        )
    if not failures:
        return passed(f"No payment failed {when} ({at_least}{len(charges)} charges).", **facts)
    return passed(
        f"{len(failures)} of {at_least}{len(charges)} charges {when} failed ({by_code}), "
        f"within {THRESHOLD_SETTING} ({limit}).",
        **facts,
    )


async def _charges_since(stripe_api: Session, after: int) -> tuple[list[Mapping[str, Any]], bool]:
    """The charges created after ``after`` (epoch seconds), page by page; and whether that is
    all of them (False when the page limit stopped the count)."""
    found: list[Mapping[str, Any]] = []
    params: ChargeListParams = {"created": {"gt": after}, "limit": PAGE}
    listing = stripe_api.client.v1.charges.list_async
    for _ in range(MAX_CHARGE_PAGES):
        page = await stripe_api.call("/v1/charges", functools.partial(listing, params))
        document = page.to_dict()
        items = document.get("data")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise CheckFailed(
                "/v1/charges answered without a list of charges.",
                f"Is {URL_SETTING} Stripe's API ({DEFAULT_API_URL})?",
            )
        found.extend(items)
        if not document.get("has_more") or not items:
            return found, True
        params = {**params, "starting_after": str(items[-1].get("id", ""))}
    return found, False


# --- the fix ------------------------------------------------------------------------------
