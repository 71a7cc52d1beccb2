"""Security pane, the app's Stripe webhook checks signatures: ``sec.webhook-signature``.

POSTs a harmless test event (type ``toolbox.signature_probe``, which no app handles) to the
app's webhook URL twice: signed with STRIPE_WEBHOOK_SECRET from the env file exactly as
Stripe signs (:func:`sign`), then a changed copy, with an event id of its own, under the
first one's signature. The app must take the first (2xx) and refuse the second as a bad
signature (400, 401 or 403); another 4xx cannot be told from a refusal for another reason
(a rate limit, a conflict), so it is a warning. The URL is TOOLBOX_STRIPE_WEBHOOK_URL, or
``<TOOLBOX_TARGET_URL>/api/v1/stripe/webhooks`` (as ``stripe.webhook-endpoint`` reads it).
Skips when neither is set, or the secret is unset or a placeholder; the secret never shows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import replace

from checks.checklist import SECURITY
from checks.context import CheckContext
from checks.core import Outcome, Status, check, failed, passed, warned
from checks.findings import is_placeholder
from checks.net import service_base_url
from checks.security import PANE
from checks.security.asking import SEQUENCE_TIMEOUT, client
from checks.security.verdicts import server_error
from checks.web import STRIPE_WEBHOOK_PATH, Answer, Target, fetch, no_target, target

WEBHOOK_PATH = STRIPE_WEBHOOK_PATH
URL_SETTING = "TOOLBOX_STRIPE_WEBHOOK_URL"
SECRET = "STRIPE_WEBHOOK_SECRET"
EVENT_TYPE = "toolbox.signature_probe"
SIGNATURE_REFUSED = (400, 401, 403)


def sign(secret: str, timestamp: int, payload: bytes) -> str:
    """The ``Stripe-Signature`` header Stripe sends: ``t=<unix time>,v1=<hex HMAC-SHA256 of
    "<t>.<payload>" keyed with the endpoint's signing secret>``."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def probe_event(timestamp: int, *, tampered: bool = False) -> bytes:
    """A Stripe-shaped event that asks nothing of the app: its type is no Stripe event. Each
    has an id of its own, so an app that refuses an id it has seen (409) cannot pass for one
    that verifies signatures."""
    document = {
        "id": f"evt_toolbox_probe_{secrets.token_hex(12)}",
        "object": "event",
        "type": EVENT_TYPE,
        "created": timestamp,
        "livemode": False,
        "data": {
            "object": {
                "object": "toolbox_probe",
                "description": "toolbox-tui checks that this endpoint verifies signatures",
                "tampered": tampered,
            }
        },
    }
    return json.dumps(document).encode()


def webhook_target(ctx: CheckContext) -> Target | None:
    """The webhook URL as a target (its hints name the setting it came from); None when
    neither TOOLBOX_STRIPE_WEBHOOK_URL nor TOOLBOX_TARGET_URL is set."""
    explicit = (ctx.config.stripe_webhook_url or "").strip()
    if explicit:
        service_base_url(  # raises for a URL it must not post to
            explicit,
            URL_SETTING,
            carries="the signed test event",
            hint=f"Write {URL_SETTING} as https://your-domain.com{WEBHOOK_PATH}, or unset it.",
        )
        # Posted to exactly as written, as Stripe does: a trailing slash may matter to the app.
        return Target(explicit, URL_SETTING)
    where = target(ctx)
    return None if where is None else Target(where.endpoint(WEBHOOK_PATH), where.setting)


@check(
    id="sec.webhook-signature",
    writes=True,
    pane=PANE,
    title="Stripe webhook verifies signatures",
    timeout=SEQUENCE_TIMEOUT,
    checklist=(SECURITY, "Stripe webhook signature verification"),
)
async def webhook_signature(ctx: CheckContext) -> Outcome:
    secret = ctx.env.get(SECRET)
    if secret is None or not secret.strip() or is_placeholder(secret):
        state = "not set" if secret is None or not secret.strip() else "a placeholder"
        return Outcome(
            Status.SKIP,
            f"{SECRET} is {state} in {ctx.env.path.name}: no test event can be signed.",
            hint=f"Set {SECRET} to the webhook endpoint's signing secret (whsec_...); "
            "the stripe.fix-webhook fix creates the endpoint and writes it.",
        )
    ctx.redactor.add(secret)
    where = webhook_target(ctx)
    if where is None:
        skipped = no_target()
        return replace(skipped, hint=f"{skipped.hint}; or set {URL_SETTING} to the webhook URL.")
    # The real clock, not ctx.clock: the app compares the signed time with its own.
    timestamp = int(time.time())
    body = probe_event(timestamp)
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": sign(secret, timestamp, body),
    }
    ctx.log(
        f"a {EVENT_TYPE} event signed with {SECRET}, then a changed one (its own id) under the "
        "first one's signature"
    )
    async with await client(ctx) as session:
        signed = await fetch(
            ctx, where, "", method="POST", content=body, headers=headers, client=session
        )
        tampered = await fetch(
            ctx,
            where,
            "",
            method="POST",
            content=probe_event(timestamp, tampered=True),
            headers=headers,
            client=session,
        )
    return judge(signed, tampered)


def judge(signed: Answer, tampered: Answer) -> Outcome:
    """The verdict on the answers to the signed and the tampered event."""
    facts = {
        "url": signed.endpoint,
        "signed_event": signed.status_text,
        "tampered_event": tampered.status_text,
    }
    for answer, what in ((signed, "the signed test event"), (tampered, "the tampered one")):
        if (broken := server_error(answer, what)) is not None:
            return broken
    if 300 <= signed.status_code < 400:
        to = f" (to {signed.shown(signed.location)})" if signed.location else ""
        return failed(
            f"Redirected the signed test event with {signed.status_text}{to} at "
            f"{signed.endpoint}: Stripe does not follow redirects, so its events are lost: "
            f"{signed.excerpt()}",
            f"Set the webhook URL (and {URL_SETTING}) to the address it redirects to.",
            **facts,
        )
    if signed.status_code in (404, 405):
        return failed(
            f"No webhook endpoint takes events there: {signed.endpoint} answered "
            f"{signed.status_text}.",
            f"Set {URL_SETTING} to the app's Stripe webhook URL.",
            **facts,
        )
    accepted_tampered = 200 <= tampered.status_code < 300
    if not 200 <= signed.status_code < 300:
        also = " (yet it accepted the tampered one)" if accepted_tampered else ""
        return failed(
            f"Refused a test event correctly signed with {SECRET} ({signed.status_text}){also}, "
            f"at {signed.endpoint}: the secret in the env file is not the one the app "
            f"verifies with: {signed.excerpt()}",
            f"Put the endpoint's signing secret (Stripe Dashboard > Developers > Webhooks) in "
            f"{SECRET} of the env file and of the app, and restart the app. Also check this "
            "host's clock (Stripe allows 5 minutes), and that the app answers 2xx to event "
            f"types it does not handle ({EVENT_TYPE}).",
            **facts,
        )
    if accepted_tampered:
        return failed(
            f"Signatures are not verified: {signed.endpoint} accepted a test event whose body "
            f"was changed after signing ({tampered.status_text}), so anyone can send it fake "
            "payments.",
            "Verify every event with stripe.Webhook.construct_event(payload, "
            f"Stripe-Signature header, {SECRET}) on the raw body, and answer 400 when it raises.",
            **facts,
        )
    if not 400 <= tampered.status_code < 500:
        return failed(
            f"Answered the tampered test event with {tampered.status_text}, not a 4xx refusal, "
            f"at {signed.endpoint}.",
            "Answer 400 to an event whose signature does not verify.",
            **facts,
        )
    if tampered.status_code not in SIGNATURE_REFUSED:
        # Not taken, but maybe for another reason (too many requests, a conflict): whether
        # the signature was checked cannot be told.
        return warned(
            f"Answered the tampered test event with {tampered.status_text}, not 400, 401 or "
            f"403, at {signed.endpoint}: it was not taken, but a {tampered.status_code} cannot be "
            "told from a refusal for another reason (a rate limit, a conflict), so signature "
            f"verification is not proven: {tampered.excerpt()}",
            "Answer 400 to an event whose signature does not verify (as "
            "stripe.Webhook.construct_event raising tells), then run this check again.",
            **facts,
        )
    return passed(
        f"Signatures are verified: {signed.endpoint} took the event signed with {SECRET} "
        f"({signed.status_text}) and refused it tampered ({tampered.status_text}).",
        **facts,
    )
