"""Stripe keys: live keys in production, both keys in the same mode, a webhook secret.

Provides check ``env.stripe-keys``.
"""

from __future__ import annotations

import re

from checks.checklist import ENVIRONMENT
from checks.context import CheckContext
from checks.core import Outcome, check
from checks.environment.values import ENV_FILE_CHECK, PANE
from checks.findings import Findings, is_production, require, require_bool

_SECRET = re.compile(r"(?:sk|rk)_(live|test)_\S+")
_PUBLISHABLE = re.compile(r"pk_(live|test)_\S+")
WEBHOOK_PREFIX = "whsec_"


def key_mode(pattern: re.Pattern[str], value: str) -> str | None:
    """``live`` or ``test`` for a key of the given kind; None when it is not one."""
    match = pattern.fullmatch(value.strip())
    return match.group(1) if match else None


@check(
    id="env.stripe-keys",
    pane=PANE,
    title="Stripe keys are live and consistent",
    needs=(ENV_FILE_CHECK,),
    checklist=(ENVIRONMENT, "Stripe payment"),
)
async def stripe_keys(ctx: CheckContext) -> Outcome:
    env, findings = ctx.env, Findings()
    dashboard = "Copy the keys from Stripe Dashboard > Developers > API keys."
    secret = require(env, "STRIPE_SECRET_KEY", findings)
    secret_mode = key_mode(_SECRET, secret) if secret else None
    if secret is not None and secret_mode is None:
        swapped = key_mode(_PUBLISHABLE, secret) is not None
        findings.fail(
            "STRIPE_SECRET_KEY is a publishable key (pk_), not a secret key"
            if swapped
            else "STRIPE_SECRET_KEY is not a Stripe secret key (sk_live_ or rk_live_)",
            dashboard,
        )
    if secret_mode == "test" and is_production(env):
        findings.fail(
            "STRIPE_SECRET_KEY is a test key in production: no real payment would be taken",
            "Use the live secret key (sk_live_ or a restricted rk_live_). " + dashboard,
        )

    publishable = require(env, "STRIPE_PUBLISHABLE_KEY", findings)
    publishable_mode = key_mode(_PUBLISHABLE, publishable) if publishable else None
    if publishable is not None and publishable_mode is None:
        findings.fail("STRIPE_PUBLISHABLE_KEY is not a publishable key (pk_live_)", dashboard)
    if secret_mode and publishable_mode and secret_mode != publishable_mode:
        findings.fail(
            f"STRIPE_PUBLISHABLE_KEY is a {publishable_mode} key but STRIPE_SECRET_KEY is a "
            f"{secret_mode} key: checkout would fail",
            "Take both keys from the same mode of the Stripe dashboard.",
        )

    webhook = require(env, "STRIPE_WEBHOOK_SECRET", findings)
    if webhook is not None and not webhook.strip().startswith(WEBHOOK_PREFIX):
        findings.fail(
            f"STRIPE_WEBHOOK_SECRET does not start with {WEBHOOK_PREFIX}",
            "Copy the endpoint's signing secret from Stripe Dashboard > Developers > Webhooks.",
        )
    if require_bool(env, "ENABLE_STRIPE_WEBHOOKS", findings) is False:
        findings.warn(
            "ENABLE_STRIPE_WEBHOOKS is false: subscriptions will not be updated after checkout",
            "Set ENABLE_STRIPE_WEBHOOKS=true once the webhook endpoint is configured.",
        )
    return findings.outcome(
        f"Stripe keys are {secret_mode} keys of the same mode, with a webhook secret.",
        mode=secret_mode,
    )
