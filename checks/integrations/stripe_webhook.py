"""Stripe's webhooks: an endpoint for the app's URL, enabled, with the checklist's six events,
and the fix that creates or completes it.

Provides check ``stripe.webhook-endpoint`` and action ``stripe.fix-webhook``. A new endpoint's
signing secret is written into STRIPE_WEBHOOK_SECRET (atomically, with a backup) and never
shown: Stripe shows it only once, when the endpoint is created.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from checks.checklist import DEPLOY
from checks.context import CheckContext
from checks.core import (
    ActionFailed,
    ActionRefused,
    CheckFailed,
    Outcome,
    Plan,
    Status,
    action,
    check,
    failed,
    passed,
    plan,
    refused_plan,
    warned,
)
from checks.environment.editing import current_env, unreadable_plan, write_planned
from checks.integrations import PANE
from checks.integrations.stripe_account import CHECK_TIMEOUT, KEY_CHECK, PAGE
from checks.integrations.stripe_client import (
    DEFAULT_API_URL,
    URL_SETTING,
    Session,
    api,
    session,
)
from checks.net import TARGET_SETTING
from checks.web import STRIPE_WEBHOOK_PATH

if TYPE_CHECKING:
    from stripe.params import (
        WebhookEndpointCreateParams,
        WebhookEndpointListParams,
        WebhookEndpointUpdateParams,
    )


FIX_WEBHOOK = "stripe.fix-webhook"
WEBHOOK_PATH = STRIPE_WEBHOOK_PATH
WEBHOOK_SECRET = "STRIPE_WEBHOOK_SECRET"
# The checklist's "Configure Stripe webhooks" step, in its order.
WEBHOOK_EVENTS = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
)
ALL_EVENTS = "*"
ENDPOINT_DESCRIPTION = "ToolboxAI app (created by toolbox-tui)"
MAX_ENDPOINT_PAGES = 10  # Stripe allows 16 endpoints per account: one page in practice
WEBHOOK_URL_SETTING = "TOOLBOX_STRIPE_WEBHOOK_URL"
_FIX_HINT = (
    "Run 'Configure Stripe webhook' (stripe.fix-webhook), or fix it in Stripe Dashboard > "
    "Developers > Webhooks."
)


@dataclass(frozen=True)
class Endpoint:
    """One of the account's webhook endpoints, as the checks read it."""

    id: str
    url: str
    events: tuple[str, ...]
    enabled: bool

    @property
    def missing(self) -> tuple[str, ...]:
        """The checklist's events it does not subscribe to (``*`` subscribes to all)."""
        if ALL_EVENTS in self.events:
            return ()
        return tuple(event for event in WEBHOOK_EVENTS if event not in self.events)

    @property
    def complete(self) -> bool:
        return self.enabled and not self.missing


def webhook_url(ctx: CheckContext) -> str | None:
    """Where the app takes Stripe's events: ``<TOOLBOX_TARGET_URL>/api/v1/stripe/webhooks``
    (the checklist's), or TOOLBOX_STRIPE_WEBHOOK_URL when the API has a host of its own; None
    when neither is set."""
    explicit = (ctx.config.stripe_webhook_url or "").strip()
    if explicit:
        return explicit
    target = (ctx.config.target_url or "").strip()
    return target.rstrip("/") + WEBHOOK_PATH if target else None


def same_url(a: str, b: str) -> bool:
    """Whether two URLs name the same place: scheme and host in any case, the default port
    written or not, a trailing slash or not."""

    def key(url: str) -> tuple[str, str, str, str]:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        netloc = parts.netloc.lower()
        for default in (":443",) if scheme == "https" else (":80",) if scheme == "http" else ():
            netloc = netloc.removesuffix(default)
        return scheme, netloc, parts.path.rstrip("/"), parts.query

    return key(a) == key(b)


async def _endpoints(stripe_api: Session) -> list[Endpoint]:
    """Every webhook endpoint of the account, page by page."""
    found: list[Endpoint] = []
    params: WebhookEndpointListParams = {"limit": PAGE}
    listing = stripe_api.client.v1.webhook_endpoints.list_async
    for _ in range(MAX_ENDPOINT_PAGES):
        page = await stripe_api.call("/v1/webhook_endpoints", functools.partial(listing, params))
        document = page.to_dict()
        items = document.get("data")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise CheckFailed(
                "/v1/webhook_endpoints answered without a list of webhook endpoints.",
                f"Is {URL_SETTING} Stripe's API ({DEFAULT_API_URL})?",
            )
        found.extend(_endpoint(item) for item in items)
        if not document.get("has_more") or not items:
            break
        params = {"limit": PAGE, "starting_after": str(items[-1].get("id", ""))}
    return found


def _endpoint(item: Mapping[str, Any]) -> Endpoint:
    events = item.get("enabled_events") or ()
    return Endpoint(
        id=str(item.get("id", "")),
        url=str(item.get("url", "")),
        events=tuple(str(event) for event in events),
        enabled=item.get("status") == "enabled",
    )


def _best(ours: list[Endpoint]) -> Endpoint:
    """The endpoint closest to what the checklist asks: enabled first, then fewest missing."""
    return min(ours, key=lambda e: (not e.enabled, len(e.missing)))


def _no_target() -> str:
    return (
        f"{TARGET_SETTING} is not set: the webhook URL (<{TARGET_SETTING}>{WEBHOOK_PATH}) is "
        "not known"
    )


_TARGET_HINT = (
    f"Set {TARGET_SETTING} to the app's public base URL (https://your-domain.com), or "
    f"{WEBHOOK_URL_SETTING} to the webhook URL itself."
)


@check(
    id="stripe.webhook-endpoint",
    pane=PANE,
    title="Stripe webhook endpoint",
    timeout=CHECK_TIMEOUT,
    needs=(KEY_CHECK,),
    checklist=(DEPLOY, "Configure Stripe webhooks"),
    partial=(
        f"that {WEBHOOK_SECRET} is the endpoint's signing secret (Stripe shows it only when "
        "the endpoint is created)"
    ),
)
async def webhook_endpoint(ctx: CheckContext) -> Outcome:
    url = webhook_url(ctx)
    if url is None:
        return Outcome(
            Status.SKIP,
            _no_target() + ".",
            hint=_TARGET_HINT,
        )
    where = api(ctx)
    async with session(ctx, where) as stripe_api:
        endpoints = await _endpoints(stripe_api)
    ours = [e for e in endpoints if same_url(e.url, url)]
    facts = {"url": url, "endpoints": len(endpoints), "for_this_url": len(ours)}
    if not ours:
        elsewhere = sorted({e.url for e in endpoints})
        others = (
            f" (the account's {len(endpoints)} endpoint(s) send to {', '.join(elsewhere[:3])}"
            f"{', ...' if len(elsewhere) > 3 else ''})"
            if endpoints
            else ""
        )
        return failed(
            f"No Stripe webhook endpoint sends to {url}{others}: the app never hears of "
            "checkouts, subscriptions or invoices.",
            _FIX_HINT,
            (FIX_WEBHOOK,),
            **facts,
        )
    complete = [e for e in ours if e.complete]
    if complete:
        endpoint = complete[0]
        enabled = [e for e in ours if e.enabled]
        if len(enabled) > 1:
            return warned(
                f"{len(enabled)} enabled Stripe webhook endpoints send to {url} "
                f"({', '.join(e.id for e in enabled)}): the app receives each event they "
                "share more than once.",
                "Delete the extra endpoint(s) in Stripe Dashboard > Developers > Webhooks, "
                f"keeping the one whose signing secret is in {WEBHOOK_SECRET}.",
                (),
                **facts,
            )
        every = "every event" if ALL_EVENTS in endpoint.events else "the six checklist events"
        return passed(
            f"Stripe sends {every} to {url} (endpoint {endpoint.id}, enabled).",
            endpoint=endpoint.id,
            **facts,
        )
    endpoint = _best(ours)
    missing = ", ".join(endpoint.missing)
    if not endpoint.enabled:
        also = f"; nor does it subscribe to {missing}" if missing else ""
        return failed(
            f"The Stripe webhook endpoint {endpoint.id} for {url} is disabled: Stripe sends it "
            f"nothing{also}.",
            "Stripe disables an endpoint whose deliveries keep failing: make sure the app "
            f"answers at {url}, then enable it. " + _FIX_HINT,
            (FIX_WEBHOOK,),
            endpoint=endpoint.id,
            **facts,
        )
    return failed(
        f"The Stripe webhook endpoint {endpoint.id} for {url} does not subscribe to {missing}: "
        "the app never hears of those events.",
        _FIX_HINT,
        (FIX_WEBHOOK,),
        endpoint=endpoint.id,
        **facts,
    )


# --- failed payments ----------------------------------------------------------------------


def _revision(endpoints: Iterable[Endpoint]) -> tuple[tuple[str, str, bool, tuple[str, ...]], ...]:
    """The endpoint set as the plan saw it: any change (one added, an event, a status) shows."""
    return tuple(sorted((e.id, e.url, e.enabled, tuple(sorted(e.events))) for e in endpoints))


async def _plan_fix_webhook(ctx: CheckContext) -> Plan:
    url = webhook_url(ctx)
    if url is None:
        return refused_plan(f"Refused: {_no_target()}. {_TARGET_HINT}")
    where = api(ctx)
    async with session(ctx, where) as stripe_api:
        endpoints = await _endpoints(stripe_api)
    ours = [e for e in endpoints if same_url(e.url, url)]
    revision = _revision(endpoints)
    done = next((e for e in ours if e.complete), None)
    if done is not None:
        return refused_plan(
            f"Refused: nothing to do: Stripe already sends the six checklist events to {url} "
            f"(endpoint {done.id}, enabled)."
        )
    if ours:
        endpoint = _best(ours)
        lines = [f"Update the Stripe webhook endpoint {endpoint.id} for {url} ({where.mode} mode):"]
        if endpoint.missing:
            events = "the event" if len(endpoint.missing) == 1 else "the events"
            lines.append(f"add {events} {', '.join(endpoint.missing)}, keeping its others.")
        if not endpoint.enabled:
            lines.append(
                "enable it again (Stripe disables an endpoint whose deliveries keep failing: "
                "make sure the app answers there)."
            )
        lines += [
            f"{WEBHOOK_SECRET} is not replaced: the endpoint keeps its signing secret.",
            "Refused if the account's webhook endpoints change before it runs.",
        ]
        return plan(
            *lines,
            create=False,
            endpoint=endpoint.id,
            events=(*endpoint.events, *endpoint.missing),
            enable=not endpoint.enabled,
            url=url,
            revision=revision,
        )
    env = current_env(ctx)
    if (refusal := unreadable_plan(env)) is not None:
        return refusal
    replaced = (
        "replacing its current value"
        if env.get(WEBHOOK_SECRET) is not None
        else "where it is not set yet"
    )
    return plan(
        f"Create a Stripe webhook endpoint for {url} ({where.mode} mode) with the events "
        f"{', '.join(WEBHOOK_EVENTS)}.",
        f"Write its signing secret, which Stripe shows only once, to {WEBHOOK_SECRET} in "
        f"{env.path.name}, {replaced}; a timestamped backup of the file is kept. The secret "
        "is not shown.",
        "Restart the app afterwards, so that it verifies Stripe's signatures with it.",
        f"Refused if the account's webhook endpoints or {env.path.name} change before it runs.",
        create=True,
        url=url,
        revision=revision,
        path=env.path,
        digest=env.digest,
    )


@action(
    id=FIX_WEBHOOK,
    title="Configure Stripe webhook",
    pane=PANE,
    key="w",
    plan=_plan_fix_webhook,
    description=(
        f"Create the Stripe webhook endpoint for <{TARGET_SETTING}>{WEBHOOK_PATH} with the "
        f"checklist's six events and write its signing secret to {WEBHOOK_SECRET}; or add "
        "the missing events to the endpoint already there."
    ),
)
async def fix_webhook(ctx: CheckContext, planned: Plan) -> str:
    where = api(ctx)
    payload = planned.payload
    url: str = payload["url"]
    if payload["create"] and current_env(ctx).digest != payload["digest"]:
        # Checked before anything is created: the secret is shown once, and must be kept.
        raise ActionRefused(
            f"{payload['path'].name} changed since the preview; nothing was changed. Preview again."
        )
    async with session(ctx, where) as stripe_api:
        if _revision(await _endpoints(stripe_api)) != payload["revision"]:
            raise ActionRefused(
                "The account's Stripe webhook endpoints changed since the preview; nothing "
                "was changed. Preview again."
            )
        if not payload["create"]:
            return await _update(ctx, stripe_api, payload)
        return await _create(ctx, stripe_api, planned, url)


async def _update(ctx: CheckContext, stripe_api: Session, payload: Mapping[str, Any]) -> str:
    endpoint_id: str = payload["endpoint"]
    # The events are Stripe's names, as read from it or from the checklist: cast, not
    # checked against the SDK's list of every event type.
    params = cast("WebhookEndpointUpdateParams", {"enabled_events": list(payload["events"])})
    if payload["enable"]:
        params["disabled"] = False
    path = f"/v1/webhook_endpoints/{endpoint_id}"
    await stripe_api.call(
        path,
        lambda: stripe_api.client.v1.webhook_endpoints.update_async(endpoint_id, params),
    )
    enabled = " and enabled it" if payload["enable"] else ""
    ctx.changed(f"set the events of Stripe webhook endpoint {endpoint_id}{enabled}")
    return (
        f"The Stripe webhook endpoint {endpoint_id} for {payload['url']} now subscribes to the "
        f"six checklist events{' and is enabled' if payload['enable'] else ''}; "
        f"{WEBHOOK_SECRET} is unchanged."
    )


async def _create(ctx: CheckContext, stripe_api: Session, planned: Plan, url: str) -> str:
    params = cast(
        "WebhookEndpointCreateParams",
        {"url": url, "enabled_events": list(WEBHOOK_EVENTS), "description": ENDPOINT_DESCRIPTION},
    )
    created = await stripe_api.call(
        "/v1/webhook_endpoints",
        lambda: stripe_api.client.v1.webhook_endpoints.create_async(params),
    )
    document = created.to_dict()
    endpoint_id = str(document.get("id", ""))
    secret = document.get("secret")
    if isinstance(secret, str) and secret:
        ctx.redactor.add(secret)  # before any line could carry it
    ctx.changed(f"created Stripe webhook endpoint {endpoint_id} for {url}")
    if not isinstance(secret, str) or not secret.startswith("whsec_"):
        raise ActionFailed(
            await _undone(
                ctx,
                stripe_api,
                endpoint_id,
                f"Stripe created the webhook endpoint {endpoint_id} but sent no signing secret "
                "with it.",
            )
        )
    try:
        await write_planned(
            ctx, Plan(planned.lines, {**planned.payload, "updates": {WEBHOOK_SECRET: secret}})
        )
    except ActionFailed as exc:
        raise ActionFailed(await _undone(ctx, stripe_api, endpoint_id, str(exc))) from None
    path = planned.payload["path"]
    return (
        f"Created the Stripe webhook endpoint {endpoint_id} for {url} with the six checklist "
        f"events; its signing secret is in {WEBHOOK_SECRET} ({path.name}). Restart the app so "
        "that it verifies Stripe's signatures with it."
    )


async def _undone(ctx: CheckContext, stripe_api: Session, endpoint_id: str, problem: str) -> str:
    """``problem``, and the endpoint deleted again: without its secret (shown once) the app
    cannot verify what Stripe sends it, and a new endpoint is better made afresh."""
    path = f"/v1/webhook_endpoints/{endpoint_id}"
    try:
        await stripe_api.call(
            path, lambda: stripe_api.client.v1.webhook_endpoints.delete_async(endpoint_id)
        )
    except CheckFailed as exc:
        return (
            f"{problem} The endpoint {endpoint_id} could not be deleted again ({exc}): delete "
            "it in Stripe Dashboard > Developers > Webhooks, then run this again."
        )
    ctx.changed(f"deleted Stripe webhook endpoint {endpoint_id} again")
    return f"{problem} The endpoint {endpoint_id} was deleted again; nothing else changed."
