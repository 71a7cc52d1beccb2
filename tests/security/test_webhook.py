"""sec.webhook-signature: a test event signed as Stripe signs must be taken, a changed copy
(with an id of its own) under the same signature refused with 400, 401 or 403; against the
reference app (verifying or not, another secret) and servers that take or refuse everything,
refuse repeated event ids, or refuse for another reason. The secret never shows."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import AsyncIterator

import pytest
import stripe

from checks.core import Status
from checks.security.webhook import EVENT_TYPE, probe_event, sign, webhook_target
from tests.conftest import MakeContext
from tests.security.running import (
    WEBHOOK_SECRET,
    InTurn,
    SecurityContext,
    assert_status,
    check,
    check_with_log,
    everything,
)
from tests.web_servers import Reply, WebServer, json_reply
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.reference_app import ReferenceApp

WEBHOOK = "sec.webhook-signature"
PATH = "/api/v1/stripe/webhooks"
ACCEPTED = json_reply({"received": True})


@pytest.fixture
async def site(tls: ssl.SSLContext) -> AsyncIterator[WebServer]:
    async with WebServer({PATH: ACCEPTED}, tls) as server:
        yield server


def test_signs_as_stripe_signs() -> None:
    now = int(time.time())
    body = probe_event(now)
    header = sign(WEBHOOK_SECRET, now, body)
    assert stripe.WebhookSignature.verify_header(body.decode(), header, WEBHOOK_SECRET, 300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body.decode(), header, "whsec_other", 300)
    event = json.loads(body)
    assert event["id"].startswith("evt_toolbox_probe_") and event["type"] == EVENT_TYPE


async def test_passes_when_the_reference_app_verifies_signatures(
    app: ReferenceApp, context: SecurityContext
) -> None:
    ran = await check_with_log(context(app.url), WEBHOOK)
    assert_status(
        ran.result,
        Status.PASS,
        f"Signatures are verified: {app.url}{PATH} took the event signed with "
        "STRIPE_WEBHOOK_SECRET (200 OK) and refused it tampered (400 Bad Request).",
    )
    assert WEBHOOK_SECRET not in everything(ran)


async def test_fails_when_the_reference_app_does_not_verify(
    app: ReferenceApp, context: SecurityContext
) -> None:
    app.settings.verify_webhooks = False
    result = await check(context(app.url), WEBHOOK)
    assert_status(
        result,
        Status.FAIL,
        f"Signatures are not verified: {app.url}{PATH} accepted a test event whose body was "
        "changed after signing (200 OK)",
        "stripe.Webhook.construct_event",
    )


async def test_fails_when_the_env_file_has_another_secret(
    app: ReferenceApp, context: SecurityContext
) -> None:
    other = "whsec_PLANTEDother" + "9" * 20
    ran = await check_with_log(context(app.url, env=f"STRIPE_WEBHOOK_SECRET={other}\n"), WEBHOOK)
    assert_status(
        ran.result,
        Status.FAIL,
        "Refused a test event correctly signed with STRIPE_WEBHOOK_SECRET (400 Bad Request), "
        f"at {app.url}{PATH}: the secret in the env file is not the one the app verifies with",
    )
    assert other not in everything(ran) and WEBHOOK_SECRET not in everything(ran)


async def test_sends_a_signed_then_a_tampered_event(
    site: WebServer, context: SecurityContext
) -> None:
    assert_status(
        await check(context(site.url), WEBHOOK), Status.FAIL, "Signatures are not verified: "
    )
    signed, tampered = site.requests
    assert (signed.method, signed.path) == ("POST", PATH)
    assert signed.headers["stripe-signature"] == tampered.headers["stripe-signature"]
    assert signed.headers["content-type"] == "application/json"
    header = signed.headers["stripe-signature"]
    stripe.WebhookSignature.verify_header(signed.body.decode(), header, WEBHOOK_SECRET, 300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(tampered.body.decode(), header, WEBHOOK_SECRET, 300)
    assert json.loads(tampered.body)["data"]["object"]["tampered"] is True
    # Its own id: an app that refuses an id it has seen must not pass for one that verifies.
    assert json.loads(tampered.body)["id"] != json.loads(signed.body)["id"]


class Deduplicating(dict[str, Reply]):
    """Routes of an app that verifies no signature, but refuses an event id it has already
    seen (409), as apps that make webhooks idempotent do."""

    def __init__(self, server: WebServer) -> None:
        super().__init__({PATH: ACCEPTED})
        self._server = server
        self._seen: set[str] = set()

    def get(self, path: str, default: Reply | None = None) -> Reply | None:  # type: ignore[override]
        event_id = json.loads(self._server.requests[-1].body)["id"]
        if event_id in self._seen:
            return Reply(409, b'{"error": "duplicate event"}')
        self._seen.add(event_id)
        return ACCEPTED


async def test_an_app_that_only_refuses_repeated_events_fails(
    site: WebServer, context: SecurityContext
) -> None:
    site.routes = Deduplicating(site)
    result = await check(context(site.url), WEBHOOK)
    assert_status(result, Status.FAIL, "Signatures are not verified: ")


@pytest.mark.parametrize(
    ("reply", "status_text"),
    [
        (Reply(409, b'{"error": "conflict"}'), "409 Conflict"),
        (Reply(429, b"slow down", "text/plain"), "429 Too Many Requests"),
    ],
)
async def test_a_refusal_for_another_reason_proves_nothing(
    site: WebServer, context: SecurityContext, reply: Reply, status_text: str
) -> None:
    site.routes = InTurn(PATH, ACCEPTED, reply)
    result = await check(context(site.url), WEBHOOK)
    assert_status(
        result,
        Status.WARN,
        f"Answered the tampered test event with {status_text}, not 400, 401 or 403, at "
        f"{site.url}{PATH}: it was not taken",
        "cannot be told from a refusal for another reason",
        "signature verification is not proven",
    )


@pytest.mark.parametrize("code", [400, 401, 403])
async def test_a_signature_refusal_passes(
    site: WebServer, context: SecurityContext, code: int
) -> None:
    site.routes = InTurn(PATH, ACCEPTED, Reply(code, b'{"error": "invalid signature"}'))
    result = await check(context(site.url), WEBHOOK)
    assert_status(result, Status.PASS, f"Signatures are verified: {site.url}{PATH} took")


@pytest.mark.parametrize(
    ("reply", "phrase"),
    [
        (
            Reply(400, b'{"error": "invalid signature"}'),
            "Refused a test event correctly signed with STRIPE_WEBHOOK_SECRET (400 Bad Request), "
            "at {url}: ",
        ),
        (
            Reply(404, b"not found", "text/plain"),
            "No webhook endpoint takes events there: {url} answered 404 Not Found.",
        ),
        (
            Reply(500, b"KeyError: 'object'", "text/plain"),
            "Answered the signed test event with 500 Internal Server Error at {url}, so it",
        ),
        (
            Reply(307, b"", headers=(("Location", "https://elsewhere.example/hook"),)),
            "Redirected the signed test event with 307 Temporary Redirect (to "
            "https://elsewhere.example/hook) at {url}: Stripe does not follow redirects",
        ),
    ],
)
async def test_other_answers(
    site: WebServer, context: SecurityContext, reply: Reply, phrase: str
) -> None:
    site.routes[PATH] = reply
    result = await check(context(site.url), WEBHOOK)
    assert_status(result, Status.FAIL, phrase.format(url=f"{site.url}{PATH}"))


async def test_a_secret_echoed_by_the_app_is_masked(
    site: WebServer, context: SecurityContext
) -> None:
    site.routes[PATH] = Reply(400, f"bad signature for {WEBHOOK_SECRET}".encode(), "text/plain")
    ran = await check_with_log(context(site.url), WEBHOOK)
    assert_status(ran.result, Status.FAIL, "bad signature for")
    assert WEBHOOK_SECRET not in everything(ran)
    assert WEBHOOK_SECRET[6:-4] not in everything(ran)


@pytest.mark.parametrize(
    ("env", "state"),
    [
        ("", "not set"),
        ("STRIPE_WEBHOOK_SECRET=\n", "not set"),
        ("STRIPE_WEBHOOK_SECRET=whsec_your_webhook_secret\n", "a placeholder"),
    ],
)
async def test_skips_without_a_usable_secret(
    site: WebServer, context: SecurityContext, env: str, state: str
) -> None:
    result = await check(context(site.url, env=env), WEBHOOK)
    assert_status(result, Status.SKIP, f"STRIPE_WEBHOOK_SECRET is {state} in .env", "whsec_")
    assert site.requests == []


async def test_skips_without_any_url(context: SecurityContext) -> None:
    result = await check(context(""), WEBHOOK)
    assert_status(result, Status.SKIP, "No TOOLBOX_TARGET_URL", "or set TOOLBOX_STRIPE_WEBHOOK_URL")


async def test_an_explicit_webhook_url_is_used(site: WebServer, context: SecurityContext) -> None:
    site.routes["/hooks/stripe"] = Reply(400, b"")
    result = await check(context("", stripe_webhook_url=f"{site.url}/hooks/stripe"), WEBHOOK)
    assert_status(
        result,
        Status.FAIL,
        "Refused a test event",
        f"(400 Bad Request), at {site.url}/hooks/stripe:",
    )
    assert {r.path for r in site.requests} == {"/hooks/stripe"}


async def test_an_explicit_url_in_clear_to_another_host_is_refused(
    context: SecurityContext,
) -> None:
    result = await check(context("", stripe_webhook_url="http://example.com" + PATH), WEBHOOK)
    assert_status(result, Status.FAIL, "TOOLBOX_STRIPE_WEBHOOK_URL is http:// to example.com")


async def test_connection_failures_name_the_webhook_setting(context: SecurityContext) -> None:
    url = f"https://127.0.0.1:{free_port()}/hook"
    result = await check(context("", stripe_webhook_url=url), WEBHOOK)
    assert_status(
        result, Status.FAIL, f"{url} refused the connection", "TOOLBOX_STRIPE_WEBHOOK_URL"
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"target_url": "https://app.example.com"},
        {"target_url": "https://app.example.com/"},
        {
            "target_url": "https://app.example.com",
            "stripe_webhook_url": "https://api.example.com/hook",
        },
        {"stripe_webhook_url": "https://api.example.com/hook"},
        {"stripe_webhook_url": " https://api.example.com/hook/ "},
    ],
)
def test_finds_the_url_as_the_integrations_pane_does(
    make_context: MakeContext, settings: dict[str, str]
) -> None:
    # Imported here: it loads (and registers) the Integrations and Environment panes.
    from checks.integrations.stripe_webhook import webhook_url

    ctx = make_context("", **settings)
    where = webhook_target(ctx)
    assert where is not None
    assert where.endpoint("") == webhook_url(ctx)
