"""The Stripe checks and the webhook fix against a real local peer: localstripe, with the routes
it lacks (the account, webhook endpoints) added by the sandbox's StripePeer, spoken to by the
real Stripe SDK. Each check passes against a healthy peer and fails against a broken one for
the reason its message names; the fix runs for real."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

import checks.environment
import checks.integrations.stripe_account
import checks.integrations.stripe_webhook
from checks.context import CheckContext
from checks.core import CheckFailed, CheckResult, Outcome, Plan, Status, registry
from checks.events import ActionDone
from checks.integrations.stripe_webhook import WEBHOOK_EVENTS
from checks.redact import Redactor
from checks.runner import build_plan
from checks.settings import DeploymentEnv
from tests.conftest import FIXED_NOW
from tests.web_servers import silent_port, unanswered_port
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.stripe_peer import Account, StripePeer
from toolbox_tui.sandbox.tls import CertificateAuthority

from .running import assert_fails, check, fix, run
from .stripe_fixtures import (
    KEY,
    OTHER_KEY,
    TARGET,
    TEST_KEY,
    WEBHOOK_SECRET,
    WEBHOOK_URL,
    StripeContext,
    stripe_context,
    stripe_peer,
)

assert checks.environment and checks.integrations.stripe_webhook  # registered: env.*, stripe.*
assert stripe_context and stripe_peer  # the fixtures, made this module's

KEY_CHECK = "stripe.key-valid"
LIVE = "stripe.live-mode"
ACCOUNT = "stripe.account-charges"
WEBHOOK = "stripe.webhook-endpoint"
FAILED = "stripe.failed-payments"
STRIPE_CHECKS = (KEY_CHECK, LIVE, ACCOUNT, WEBHOOK, FAILED)
FIX = "stripe.fix-webhook"
SINCE = "since 2026-11-27 12:00 UTC"


def env_value(ctx: CheckContext, name: str) -> str | None:
    return DeploymentEnv.load(ctx.config.env_file).get(name)


def backups(ctx: CheckContext) -> list[Path]:
    env_file = ctx.config.env_file
    return sorted(env_file.parent.glob(f"{env_file.name}.*.bak"))


# --- stripe.key-valid ---------------------------------------------------------------------


async def act(ctx: CheckContext, plan: Plan | None = None) -> tuple[list[str], ActionDone]:
    return await fix(ctx, FIX, plan)


async def test_key_valid_passes_through_the_sdk(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    ran = (await run(stripe_context(), KEY_CHECK))[KEY_CHECK]
    result = ran.result
    assert result.status is Status.PASS, (result.message, result.hint)
    assert result.message == (
        "Stripe accepts STRIPE_SECRET_KEY, a live key of account acct_1SandboxToolboxAI "
        "(ToolBoxAI)."
    )
    [request] = stripe_peer.requests
    assert (request.method, request.path, request.authorized) == ("GET", "/v1/account", True)
    assert request.user_agent.startswith("Stripe/v1 PythonBindings/16.")
    assert "toolbox-tui" in request.user_agent
    assert ran.logs == [f"GET {stripe_peer.url}/v1/account", "200 OK"]


async def test_the_sdk_keeps_no_telemetry_and_describes_no_host(
    stripe_context: StripeContext,
    stripe_peer: StripePeer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its telemetry would write ~/.config/stripe/telemetry_id on the production host, from a
    read-only check, and send the host's platform with every request."""
    import stripe._telemetry_id as telemetry

    monkeypatch.setattr(telemetry, "_loaded", False)  # as in a fresh process
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert (await check(stripe_context(), KEY_CHECK)).status is Status.PASS
    assert not (tmp_path / "config").exists()
    [request] = stripe_peer.requests
    said = json.loads(request.client_user_agent)
    assert said["lang"] == "python" and not {"platform", "telemetry_id"} & set(said)


async def test_key_valid_fails_with_a_revoked_key(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    stripe_peer.keys = {OTHER_KEY, TEST_KEY}  # the account no longer knows the env's key
    result = await check(stripe_context(), KEY_CHECK)
    assert_fails(
        result,
        f"Stripe refused STRIPE_SECRET_KEY (authentication failed): {stripe_peer.url}/v1/account "
        "answered 401 (Invalid API Key provided: sk_live_",
        "wrong, revoked or rolled",
        "Developers > API keys",
    )
    assert not stripe_peer.requests[-1].authorized


async def test_key_valid_names_an_expired_key(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    stripe_peer.expired_keys = {KEY}
    result = await check(stripe_context(), KEY_CHECK)
    assert_fails(result, "answered 401 (Expired API Key provided", "The key has expired")


async def test_key_valid_sends_nothing_but_a_secret_key(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    ctx = stripe_context(env={"STRIPE_SECRET_KEY": "pk_live_51PLANTEDswappedPublishableKey00"})
    result = await check(ctx, KEY_CHECK)
    assert_fails(result, "STRIPE_SECRET_KEY is not a Stripe secret key (sk_ or rk_)")
    assert stripe_peer.requests == []


async def test_key_valid_fails_when_nothing_listens(stripe_context: StripeContext) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = await check(stripe_context(stripe_api_url=url), KEY_CHECK)
    assert_fails(
        result,
        f"{url}/v1/account refused the connection: nothing listens on that port",
        "TOOLBOX_STRIPE_API_URL",
    )


async def test_key_valid_fails_in_time_when_the_api_never_answers(
    stripe_context: StripeContext,
) -> None:
    with silent_port() as port:
        url = f"http://127.0.0.1:{port}"
        result = await check(stripe_context(stripe_api_url=url, check_timeout=2), KEY_CHECK)
    assert_fails(result, f"{url}/v1/account accepted the connection but sent no answer within 1 s")


async def test_key_valid_fails_in_time_when_nothing_answers_the_connection(
    stripe_context: StripeContext,
) -> None:
    with unanswered_port() as port:
        url = f"http://127.0.0.1:{port}"
        result = await check(stripe_context(stripe_api_url=url, check_timeout=2), KEY_CHECK)
    assert_fails(result, f"No connection to {url}/v1/account within 1 s")


async def test_an_api_url_that_is_not_stripe_s(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    url = f"{stripe_peer.url}/elsewhere"
    result = await check(stripe_context(stripe_api_url=url), KEY_CHECK)
    assert_fails(
        result,
        f"{url}/v1/account answered 404 Not Found: Unrecognized request URL",
        "Is TOOLBOX_STRIPE_API_URL Stripe's API (https://api.stripe.com)?",
    )


async def test_the_api_url_must_not_carry_the_key_in_clear(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    result = await check(stripe_context(stripe_api_url="http://api.example.com"), KEY_CHECK)
    assert_fails(result, "TOOLBOX_STRIPE_API_URL is http:// to api.example.com", "https://")
    assert stripe_peer.requests == []


async def test_the_api_over_https_needs_the_ca_bundle(
    stripe_context: StripeContext,
    sandbox_ca: CertificateAuthority,
    ca_bundle: Path,
    tmp_path: Path,
) -> None:
    tls = sandbox_ca.issue("127.0.0.1").server_context(tmp_path)
    with StripePeer(KEY, tls=tls) as secure:
        assert secure.url.startswith("https://")
        trusted = await check(
            stripe_context(stripe_api_url=secure.url, ca_bundle=ca_bundle), KEY_CHECK
        )
        untrusted = await check(stripe_context(stripe_api_url=secure.url), KEY_CHECK)
    assert trusted.status is Status.PASS, trusted.message
    assert_fails(untrusted, f"{secure.url}/v1/account is not trusted", "TOOLBOX_CA_BUNDLE")


async def test_the_other_checks_wait_for_a_working_key(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    stripe_peer.keys = {OTHER_KEY}
    ran = await run(stripe_context(), *STRIPE_CHECKS)
    assert ran[KEY_CHECK].result.status is Status.FAIL
    for check_id in (LIVE, ACCOUNT, WEBHOOK, FAILED):
        assert ran[check_id].result.status is Status.SKIP
        assert "needs stripe.key-valid (fail)" in ran[check_id].result.message
    assert [r.path for r in stripe_peer.requests] == ["/v1/account"]


# --- stripe.live-mode ---------------------------------------------------------------------


async def test_live_mode_passes_in_production_with_a_live_key(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    result = await check(stripe_context(), LIVE)
    assert result.status is Status.PASS, (result.message, result.hint)
    assert result.message == (
        "STRIPE_SECRET_KEY is a live key, as APP_ENV production wants; Stripe answers in live mode."
    )
    balance = [r for r in stripe_peer.requests if r.path == "/v1/balance"]
    assert [r.livemode for r in balance] == [True]


async def test_live_mode_fails_with_a_test_key_in_production(
    stripe_context: StripeContext,
) -> None:
    ran = await run(stripe_context(env={"STRIPE_SECRET_KEY": TEST_KEY}), LIVE)
    assert ran[KEY_CHECK].result.status is Status.PASS  # Stripe accepts it: a test key
    assert_fails(
        ran[LIVE].result,
        "STRIPE_SECRET_KEY is a test key (Stripe answers in test mode), but APP_ENV is "
        "production: no real payment would be taken.",
        "sk_live_",
    )
    assert ran[LIVE].result.evidence["answered in"] == "test"


async def test_live_mode_warns_of_a_live_key_outside_production(
    stripe_context: StripeContext,
) -> None:
    result = await check(stripe_context(env={"APP_ENV": "staging"}), LIVE)
    assert result.status is Status.WARN, result.message
    assert result.message.startswith(
        "STRIPE_SECRET_KEY is a live key (Stripe answers in live mode), but APP_ENV is staging"
    )


async def test_live_mode_passes_with_a_test_key_in_development(
    stripe_context: StripeContext,
) -> None:
    ctx = stripe_context(env={"APP_ENV": "development", "STRIPE_SECRET_KEY": TEST_KEY})
    result = await check(ctx, LIVE)
    assert result.status is Status.PASS, result.message
    assert "a test key, as APP_ENV development wants" in result.message


async def test_live_mode_judges_by_the_prefix_when_the_balance_is_forbidden(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    stripe_peer.forbidden = {"GET /v1/balance"}  # a restricted key without balance read
    ran = (await run(stripe_context(), LIVE))[LIVE]
    assert ran.result.status is Status.PASS, ran.result.message
    assert "judged by the key's prefix" in ran.result.message
    assert ran.result.evidence["answered in"] == "not known"
    assert "403 Forbidden" in ran.logs


async def test_live_mode_fails_when_the_answer_is_in_another_mode(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    stripe_peer.answer_livemode = False  # a test double (stripe-mock) in front of the app
    ran = await run(stripe_context(), LIVE)
    assert ran[KEY_CHECK].result.status is Status.PASS
    assert_fails(
        ran[LIVE].result,
        "STRIPE_SECRET_KEY is a live key, but the answer came in test mode: whatever answers "
        f"at {stripe_peer.url} is not Stripe",
        "Is TOOLBOX_STRIPE_API_URL Stripe's API",
    )


# --- stripe.account-charges ---------------------------------------------------------------


async def test_account_charges_pass(stripe_context: StripeContext) -> None:
    result = await check(stripe_context(), ACCOUNT)
    assert result.status is Status.PASS, (result.message, result.hint)
    assert result.message == (
        "Stripe account acct_1SandboxToolboxAI can take charges and pay out (charges_enabled "
        "and payouts_enabled are true)."
    )


async def test_account_charges_fail_naming_what_stripe_wants(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    stripe_peer.account = Account(
        charges_enabled=False,
        payouts_enabled=False,
        details_submitted=False,
        disabled_reason="requirements.past_due",
        past_due=["external_account", "tos_acceptance.date"],
    )
    result = await check(stripe_context(), ACCOUNT)
    assert_fails(
        result,
        "Stripe account acct_1SandboxToolboxAI cannot take charges (charges_enabled is false; "
        "nor can it pay out: payouts_enabled is false): Stripe's reason is "
        "requirements.past_due; past due: external_account, tos_acceptance.date.",
        "Account details",
    )
    assert result.evidence["details submitted"] == "False"


async def test_account_charges_warn_when_payouts_are_off(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    stripe_peer.account = Account(payouts_enabled=False, currently_due=["external_account"])
    result = await check(stripe_context(), ACCOUNT)
    assert result.status is Status.WARN, result.message
    assert result.message == (
        "Stripe account acct_1SandboxToolboxAI takes charges but cannot pay out (payouts_enabled "
        "is false): the money stays in Stripe: due now: external_account."
    )


async def test_account_charges_warn_of_requirements_coming_due(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    stripe_peer.account = Account(currently_due=["company.tax_id"])
    result = await check(stripe_context(), ACCOUNT)
    assert result.status is Status.WARN, result.message
    assert "Stripe asks for more: due now: company.tax_id" in result.message


async def test_the_account_is_asked_once_per_run(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    ran = await run(stripe_context(), *STRIPE_CHECKS)
    statuses = {i: ran[i].result.status for i in STRIPE_CHECKS}
    assert statuses == dict.fromkeys(STRIPE_CHECKS, Status.PASS), [
        (i, ran[i].result.message) for i in STRIPE_CHECKS
    ]
    assert [r.path for r in stripe_peer.requests].count("/v1/account") == 1


# --- stripe.webhook-endpoint --------------------------------------------------------------


async def test_webhook_endpoint_passes(stripe_context: StripeContext) -> None:
    result = await check(stripe_context(), WEBHOOK)
    assert result.status is Status.PASS, (result.message, result.hint)
    assert result.message.startswith(f"Stripe sends the six checklist events to {WEBHOOK_URL}")
    assert result.evidence["for this url"] == "1"


async def test_webhook_endpoint_fails_naming_the_missing_event(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    [endpoint] = stripe_peer.webhook_endpoints
    fewer = [e for e in WEBHOOK_EVENTS if e != "invoice.payment_failed"]
    stripe_peer.update_webhook_endpoint(endpoint.id, enabled_events=[*fewer, "charge.refunded"])
    result = await check(stripe_context(), WEBHOOK)
    assert_fails(
        result,
        f"The Stripe webhook endpoint {endpoint.id} for {WEBHOOK_URL} does not subscribe to "
        "invoice.payment_failed: the app never hears of those events.",
        "Configure Stripe webhook",
    )
    assert result.actions == ("stripe.fix-webhook",)


async def test_webhook_endpoint_counts_every_event_for_a_star(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    [endpoint] = stripe_peer.webhook_endpoints
    stripe_peer.update_webhook_endpoint(endpoint.id, enabled_events=["*"])
    result = await check(stripe_context(), WEBHOOK)
    assert result.status is Status.PASS, result.message
    assert result.message.startswith(f"Stripe sends every event to {WEBHOOK_URL}")


async def test_webhook_endpoint_fails_when_disabled(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    [endpoint] = stripe_peer.webhook_endpoints
    stripe_peer.update_webhook_endpoint(endpoint.id, status="disabled")
    result = await check(stripe_context(), WEBHOOK)
    assert_fails(result, f"{endpoint.id} for {WEBHOOK_URL} is disabled: Stripe sends it nothing")


async def test_webhook_endpoint_fails_when_none_sends_to_the_app(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    [endpoint] = stripe_peer.webhook_endpoints
    stripe_peer.update_webhook_endpoint(endpoint.id, url="https://old.toolboxai.test/hooks")
    result = await check(stripe_context(), WEBHOOK)
    assert_fails(
        result,
        f"No Stripe webhook endpoint sends to {WEBHOOK_URL} (the account's 1 endpoint(s) send "
        "to https://old.toolboxai.test/hooks)",
    )


async def test_webhook_endpoint_matches_the_url_as_stripe_keeps_it(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    [endpoint] = stripe_peer.webhook_endpoints
    written = "HTTPS://App.ToolboxAI.test:443/api/v1/stripe/webhooks/"
    stripe_peer.update_webhook_endpoint(endpoint.id, url=written)
    result = await check(stripe_context(target_url=TARGET + "/"), WEBHOOK)
    assert result.status is Status.PASS, result.message


async def test_webhook_endpoint_warns_of_two_endpoints_for_the_url(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    stripe_peer.add_webhook_endpoint(WEBHOOK_URL, ["invoice.paid"])
    result = await check(stripe_context(), WEBHOOK)
    assert result.status is Status.WARN, result.message
    assert "2 enabled Stripe webhook endpoints send to" in result.message


async def test_webhook_endpoint_skips_without_a_target_url(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    result = await check(stripe_context(target_url=None), WEBHOOK)
    assert result.status is Status.SKIP, result.message
    assert result.message == (
        "TOOLBOX_TARGET_URL is not set: the webhook URL "
        "(<TOOLBOX_TARGET_URL>/api/v1/stripe/webhooks) is not known."
    )
    assert "/v1/webhook_endpoints" not in [r.path for r in stripe_peer.requests]


async def test_webhook_endpoint_takes_its_own_url_setting(
    stripe_context: StripeContext,
) -> None:
    ctx = stripe_context(target_url=None, stripe_webhook_url=WEBHOOK_URL)
    result = await check(ctx, WEBHOOK)
    assert result.status is Status.PASS, result.message


async def test_webhook_endpoint_reads_every_page(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    [ours] = stripe_peer.webhook_endpoints
    for n in range(100):  # newer than the app's: it is on the second page
        stripe_peer.add_webhook_endpoint(f"https://hooks{n}.example.com/", ["invoice.paid"])
    result = await check(stripe_context(), WEBHOOK)
    assert result.status is Status.PASS, result.message
    pages = [r.query for r in stripe_peer.requests if r.path == "/v1/webhook_endpoints"]
    assert len(pages) == 2 and pages[0] == {"limit": "100"}
    assert set(pages[1]) == {"limit", "starting_after"}
    assert result.evidence["endpoints"] == "101" and result.evidence["endpoint"] == ours.id


async def test_webhook_endpoint_fails_when_the_key_may_not_list_them(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    stripe_peer.forbidden = {"GET /v1/webhook_endpoints"}
    result = await check(stripe_context(), WEBHOOK)
    assert_fails(
        result,
        f"{stripe_peer.url}/v1/webhook_endpoints answered 403",
        "STRIPE_SECRET_KEY lacks the permission it needs",
        "restricted key",
    )


# --- stripe.failed-payments ---------------------------------------------------------------


async def test_failed_payments_pass_with_the_count(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    stripe_peer.add_charge(failed=True, created=FIXED_NOW - timedelta(hours=30))  # too old
    result = await check(stripe_context(), FAILED)
    assert result.status is Status.PASS, (result.message, result.hint)
    assert result.message == f"No payment failed {SINCE} (3 charges)."
    [listing] = [r for r in stripe_peer.requests if r.path == "/v1/charges"]
    since = int((FIXED_NOW - timedelta(hours=24)).timestamp())
    assert listing.query == {"created[gt]": str(since), "limit": "100"}


async def test_failed_payments_warn_naming_the_failure_codes(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    for code in ("card_declined", "expired_card", "card_declined"):
        stripe_peer.add_charge(
            failed=True, created=FIXED_NOW - timedelta(hours=2), failure_code=code
        )
    result = await check(stripe_context(), FAILED)
    assert result.status is Status.WARN, result.message
    assert result.message == (f"3 of 6 charges {SINCE} failed (card_declined 2, expired_card 1).")
    assert "Payments (filter: Failed)" in result.hint
    assert result.evidence["failed"] == "3"


async def test_failed_payments_within_the_threshold_pass(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    stripe_peer.add_charge(failed=True, created=FIXED_NOW - timedelta(minutes=5))
    result = await check(stripe_context(stripe_failed_payments_max=1), FAILED)
    assert result.status is Status.PASS, result.message
    assert result.message == (
        f"1 of 4 charges {SINCE} failed (card_declined 1), within "
        "TOOLBOX_STRIPE_FAILED_PAYMENTS_MAX (1)."
    )


async def test_failed_payments_read_every_page(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    for _ in range(120):
        stripe_peer.add_charge(created=FIXED_NOW - timedelta(hours=1))
    stripe_peer.add_charge(failed=True, created=FIXED_NOW - timedelta(hours=1))
    result = await check(stripe_context(), FAILED)
    assert result.status is Status.WARN, result.message
    assert result.message.startswith(f"1 of 124 charges {SINCE} failed")
    pages = [r.query for r in stripe_peer.requests if r.path == "/v1/charges"]
    assert len(pages) == 2 and "starting_after" in pages[1]


# --- stripe.fix-webhook -------------------------------------------------------------------


async def test_the_fix_creates_the_endpoint_and_keeps_its_secret(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    [old] = stripe_peer.webhook_endpoints
    stripe_peer.remove_webhook_endpoint(old.id)
    ctx = stripe_context()
    ctx.config.env_file.chmod(0o640)  # the group may read it: the rewrite keeps that
    before = ctx.config.env_file.read_bytes()
    assert_fails(await check(ctx, WEBHOOK), "No Stripe webhook endpoint sends to")

    lines, done = await act(ctx)

    assert done.outcome == "ok", done.message
    [endpoint] = stripe_peer.webhook_endpoints
    assert (endpoint.url, endpoint.enabled_events) == (WEBHOOK_URL, list(WEBHOOK_EVENTS))
    assert endpoint.status == "enabled" and "toolbox-tui" in (endpoint.description or "")
    # The plan, shown first, names the URL, the events, and that the secret is replaced.
    assert lines[0] == (
        f"Create a Stripe webhook endpoint for {WEBHOOK_URL} (live mode) with the events "
        f"{', '.join(WEBHOOK_EVENTS)}."
    )
    assert lines[1].startswith(
        "Write its signing secret, which Stripe shows only once, to STRIPE_WEBHOOK_SECRET in "
        ".env, replacing its current value; a timestamped backup of the file is kept."
    )
    # The env file holds the new secret, with its mode, and a backup holds the old file.
    assert env_value(ctx, "STRIPE_WEBHOOK_SECRET") == endpoint.secret != WEBHOOK_SECRET
    assert stat.S_IMODE(os.stat(ctx.config.env_file).st_mode) == 0o640
    [backup] = backups(ctx)
    assert backup.read_bytes() == before
    assert done.changes[0] == f"created Stripe webhook endpoint {endpoint.id} for {WEBHOOK_URL}"
    assert done.changes[1].startswith("wrote STRIPE_WEBHOOK_SECRET to .env (the previous file")
    assert done.message.startswith(f"Created the Stripe webhook endpoint {endpoint.id}")
    # The new secret is nowhere: not in the plan, the log, the result or the audit log.
    audit = ctx.config.audit_path.read_text()
    for text in [*lines, done.message, *done.changes, audit]:
        assert endpoint.secret not in text and endpoint.secret[6:] not in text, text
    # And the check now passes, on the reloaded env.
    assert (await check(ctx.reloaded(), WEBHOOK)).status is Status.PASS


async def test_the_fix_adds_the_missing_events_and_keeps_the_secret(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    [endpoint] = stripe_peer.webhook_endpoints
    fewer = [e for e in WEBHOOK_EVENTS if e != "invoice.payment_failed"]
    stripe_peer.update_webhook_endpoint(endpoint.id, enabled_events=[*fewer, "charge.refunded"])
    ctx = stripe_context()
    before = ctx.config.env_file.read_bytes()

    lines, done = await act(ctx)

    assert done.outcome == "ok", done.message
    assert lines[:3] == [
        f"Update the Stripe webhook endpoint {endpoint.id} for {WEBHOOK_URL} (live mode):",
        "add the event invoice.payment_failed, keeping its others.",
        "STRIPE_WEBHOOK_SECRET is not replaced: the endpoint keeps its signing secret.",
    ]
    [after] = stripe_peer.webhook_endpoints
    assert after.id == endpoint.id and after.secret == WEBHOOK_SECRET
    assert set(after.enabled_events) == {*WEBHOOK_EVENTS, "charge.refunded"}
    assert ctx.config.env_file.read_bytes() == before and backups(ctx) == []
    assert done.changes == (f"set the events of Stripe webhook endpoint {endpoint.id}",)
    assert (await check(ctx, WEBHOOK)).status is Status.PASS


async def test_the_fix_enables_a_disabled_endpoint(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    [endpoint] = stripe_peer.webhook_endpoints
    stripe_peer.update_webhook_endpoint(endpoint.id, status="disabled")
    lines, done = await act(stripe_context())
    assert done.outcome == "ok", done.message
    assert any(line.startswith("enable it again") for line in lines)
    assert [e.status for e in stripe_peer.webhook_endpoints] == ["enabled"]
    [update] = [r for r in stripe_peer.requests if r.method == "POST"]
    assert update.form is not None and update.form["disabled"] == "false"


async def test_the_fix_refuses_when_the_endpoints_changed_since_the_preview(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    [old] = stripe_peer.webhook_endpoints
    stripe_peer.remove_webhook_endpoint(old.id)
    ctx = stripe_context()
    planned = await build_plan(registry.actions[FIX], ctx)
    assert planned.refusal is None, planned.text
    stripe_peer.add_webhook_endpoint("https://someone.else/hooks", ["invoice.paid"])

    _, done = await act(ctx, planned)

    assert done.outcome == "refused", done.message
    assert "webhook endpoints changed since the preview; nothing was changed" in done.message
    assert [e.url for e in stripe_peer.webhook_endpoints] == ["https://someone.else/hooks"]
    assert env_value(ctx, "STRIPE_WEBHOOK_SECRET") == WEBHOOK_SECRET


async def test_the_fix_refuses_when_the_env_file_changed_since_the_preview(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    [old] = stripe_peer.webhook_endpoints
    stripe_peer.remove_webhook_endpoint(old.id)
    ctx = stripe_context()
    planned = await build_plan(registry.actions[FIX], ctx)
    with ctx.config.env_file.open("a") as env_file:
        env_file.write("LOG_LEVEL=INFO\n")  # a person edits the file meanwhile

    _, done = await act(ctx, planned)

    assert done.outcome == "refused", done.message
    assert ".env changed since the preview; nothing was changed" in done.message
    assert stripe_peer.webhook_endpoints == []


async def test_the_fix_deletes_the_endpoint_again_when_its_secret_cannot_be_kept(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    [old] = stripe_peer.webhook_endpoints
    stripe_peer.remove_webhook_endpoint(old.id)
    ctx = stripe_context()
    ctx.config.env_file.chmod(0o400)  # read-only on purpose: the write is refused

    _, done = await act(ctx)

    assert done.outcome == "failed", done.message
    assert ".env is read-only" in done.message
    assert "was deleted again; nothing else changed" in done.message
    assert stripe_peer.webhook_endpoints == []
    assert [c.split(" we_")[0] for c in done.changes] == [
        "created Stripe webhook endpoint",
        "deleted Stripe webhook endpoint",
    ]
    assert env_value(ctx, "STRIPE_WEBHOOK_SECRET") == WEBHOOK_SECRET


async def test_the_fix_has_nothing_to_do_on_a_healthy_endpoint(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    _, done = await act(stripe_context())
    assert done.outcome == "refused"
    assert "nothing to do: Stripe already sends the six checklist events" in done.message
    assert not [r for r in stripe_peer.requests if r.method == "POST"]


async def test_the_fix_needs_the_target_url(
    stripe_context: StripeContext, stripe_peer: StripePeer
) -> None:
    _, done = await act(stripe_context(target_url=None))
    assert done.outcome == "refused"
    assert "TOOLBOX_TARGET_URL is not set" in done.message
    assert stripe_peer.requests == []


# --- secrets ------------------------------------------------------------------------------


def _texts(outcome: Outcome | CheckResult) -> list[str]:
    return [outcome.message, outcome.hint, *outcome.evidence.keys(), *outcome.evidence.values()]


async def _direct(ctx: CheckContext, check_id: str) -> list[str]:
    """What a check itself writes (result and log), with no redactor to hide a slip."""
    lines: list[str] = []
    bare = replace(ctx, redactor=Redactor()).bound(lines.append)
    try:
        outcome = await registry.checks[check_id].func(bare)
    except CheckFailed as exc:
        return [str(exc), exc.hint, *lines]
    return [*_texts(outcome), *lines]


@pytest.mark.parametrize("broken", ["nothing", "key", "events", "no endpoint", "url"])
async def test_the_secrets_show_nowhere(
    stripe_context: StripeContext, stripe_peer: StripePeer, broken: str
) -> None:
    [endpoint] = stripe_peer.webhook_endpoints
    config: dict[str, object] = {}
    if broken == "key":
        stripe_peer.keys = {OTHER_KEY}
    elif broken == "events":
        stripe_peer.update_webhook_endpoint(endpoint.id, enabled_events=["invoice.paid"])
    elif broken == "no endpoint":
        stripe_peer.remove_webhook_endpoint(endpoint.id)
    elif broken == "url":
        config["stripe_api_url"] = f"http://127.0.0.1:{free_port()}"
    stripe_peer.add_charge(failed=True, created=FIXED_NOW - timedelta(hours=1))
    ctx = stripe_context(**config)
    said: list[str] = []
    for ran in (await run(ctx, *STRIPE_CHECKS)).values():
        said += [*_texts(ran.result), *ran.logs]
    for check_id in STRIPE_CHECKS:
        said += await _direct(ctx, check_id)
    # The fix, bare: what it writes itself, with no redactor between it and the screen.
    bare_lines: list[str] = []
    bare = replace(ctx, redactor=Redactor())
    planned = await build_plan(registry.actions[FIX], bare)
    said += list(planned.lines)
    if planned.refusal is None:
        with contextlib.suppress(Exception):
            said.append(await registry.actions[FIX].run(bare.bound(bare_lines.append), planned))
    said += bare_lines
    created = [e.secret for e in stripe_peer.webhook_endpoints if e.secret != WEBHOOK_SECRET]
    assert len(said) > 30
    for text in said:
        for secret in (KEY, WEBHOOK_SECRET, OTHER_KEY, *created):
            assert secret not in text and secret[8:-4] not in text, (secret[:8], text)


# --- the peer itself ----------------------------------------------------------------------


def test_the_peer_stops_cleanly_and_peers_keep_their_own_charges() -> None:
    before = set(threading.enumerate())
    with StripePeer(KEY) as one, StripePeer(TEST_KEY) as two:
        ports = (one.port, two.port)
        one.add_charge(failed=True)
        started = set(threading.enumerate()) - before
        assert len(started) == 2

        import stripe

        client = stripe.StripeClient(
            TEST_KEY, base_addresses={"api": two.url}, max_network_retries=0
        )
        assert client.v1.charges.list().data == []  # the other peer's charge is not here
        client = stripe.StripeClient(KEY, base_addresses={"api": one.url}, max_network_retries=0)
        [charge] = client.v1.charges.list().data
        assert (charge.status, charge.livemode, charge.failure_code) == (
            "failed",
            True,
            "card_declined",
        )
    assert not any(thread.is_alive() for thread in started)
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_the_peer_gives_the_secret_only_on_creation(stripe_peer: StripePeer) -> None:
    import stripe

    client = stripe.StripeClient(
        KEY, base_addresses={"api": stripe_peer.url}, max_network_retries=0
    )
    made = client.v1.webhook_endpoints.create(
        {"url": "https://x.example/hook", "enabled_events": ["invoice.paid"]}
    )
    assert made.secret.startswith("whsec_") and made.livemode is True
    listed = client.v1.webhook_endpoints.list({"limit": 100}).data
    assert {e.id for e in listed} == {e.id for e in stripe_peer.webhook_endpoints}
    assert all("secret" not in e.to_dict() for e in listed)
    with pytest.raises(stripe.InvalidRequestError, match="No such webhook endpoint"):
        client.v1.webhook_endpoints.retrieve("we_missing")


def test_registering_the_stripe_checks_imports_no_sdk() -> None:
    code = (
        "import sys, checks.environment, checks.integrations.stripe_webhook\n"
        "sdks = ('stripe', 'httpx', 'localstripe', 'aiohttp')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(sdks)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_stripe_titles_fit_the_table() -> None:
    titles = {i: registry.checks[i].title for i in STRIPE_CHECKS}
    assert all(len(title) <= 23 for title in titles.values()), titles
