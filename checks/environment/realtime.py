"""Real-time messaging and secret rotation: Pusher's keys agree with the frontend's copies,
and Vault is reached over https.

Provides checks ``env.pusher`` and ``env.vault``.
"""

from __future__ import annotations

import re

from checks.checklist import ENVIRONMENT, VAULT_AUTOMATION_GAP
from checks.context import CheckContext
from checks.core import Outcome, check
from checks.environment.values import ENV_FILE_CHECK, PANE
from checks.findings import Findings, require, require_https_url

_DIGITS = re.compile(r"[0-9]+")
# Each frontend variable must equal its backend original, or the browser subscribes elsewhere.
FRONTEND_COPIES = (("VITE_PUSHER_KEY", "PUSHER_KEY"), ("VITE_PUSHER_CLUSTER", "PUSHER_CLUSTER"))


@check(
    id="env.pusher",
    pane=PANE,
    title="Pusher settings agree with the frontend",
    needs=(ENV_FILE_CHECK,),
    checklist=(ENVIRONMENT, "Real-time (Pusher)"),
)
async def pusher(ctx: CheckContext) -> Outcome:
    env, findings = ctx.env, Findings()
    app_id = require(env, "PUSHER_APP_ID", findings)
    if app_id is not None and not _DIGITS.fullmatch(app_id.strip()):
        findings.fail(
            "PUSHER_APP_ID is not numeric",
            "Copy the app_id from the Pusher dashboard > App Keys (digits only).",
        )
    values = {
        name: (require(env, name, findings) or "").strip()
        for pair in FRONTEND_COPIES
        for name in pair
    }
    for copy, original in FRONTEND_COPIES:
        if values[copy] and values[original] and values[copy] != values[original]:
            findings.fail(
                f"{copy} differs from {original}: the browser would listen on another app or "
                "cluster",
                "Set the VITE_ copies to the same values and rebuild the frontend.",
            )
    secret = require(env, "PUSHER_SECRET", findings)
    if secret is not None and secret.strip() == values["PUSHER_KEY"]:
        findings.fail(
            "PUSHER_SECRET equals PUSHER_KEY: the secret would be public",
            "Copy the secret (not the key) from the Pusher dashboard > App Keys.",
        )
    return findings.outcome(
        "Pusher app id is numeric and the frontend uses the same key and cluster.",
        cluster=values["PUSHER_CLUSTER"] or None,
    )


@check(
    id="env.vault",
    pane=PANE,
    title="Vault is reached over https",
    needs=(ENV_FILE_CHECK,),
    checklist=(ENVIRONMENT, "Vault automation"),
    partial=VAULT_AUTOMATION_GAP,
)
async def vault(ctx: CheckContext) -> Outcome:
    findings = Findings()
    url = require_https_url(ctx.env, "VAULT_ADDR", findings)
    namespace = require(ctx.env, "VAULT_NAMESPACE", findings)
    return findings.outcome(
        "VAULT_ADDR is https and VAULT_NAMESPACE is set.",
        host=url.host if url else None,
        namespace=namespace,
    )
