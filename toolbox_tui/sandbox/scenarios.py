"""The sandbox's scenarios by name: what each breaks, for the command line's help and choices.

Kept apart from the sandbox itself (servers, alembic, the demo writer) so that building the
argument parser imports nothing but this table: ``toolbox-tui check`` must start fast.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    breaks: str  # the check it makes fail, for `sandbox up --help` and the tests
    description: str


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "pending-migration",
            "db.revision-state",
            "the database stays at the baseline: the release's migration is pending",
        ),
        Scenario(
            "multiple-heads",
            "db.single-head",
            "a second branch of migrations gives the scripts two heads",
        ),
        Scenario("db-down", "db.reachable", "PostgreSQL is stopped after set-up"),
        Scenario("vault-sealed", "vault.health", "Vault is sealed after set-up"),
        Scenario(
            "vault-approle",
            "vault.app-login",
            "the env file's VAULT_SECRET_ID is one Vault never issued",
        ),
        Scenario(
            "smtp-auth",
            "email.smtp-login",
            "the SMTP relay no longer accepts the env's SENDGRID_API_KEY (535)",
        ),
        Scenario(
            "sendgrid-scope",
            "email.sendgrid-key",
            "the SendGrid key has lost its Mail Send permission",
        ),
        Scenario(
            "stripe-test-key",
            "stripe.live-mode",
            "the env file's STRIPE_SECRET_KEY is a test key while APP_ENV=production",
        ),
        Scenario(
            "stripe-webhook-events",
            "stripe.webhook-endpoint",
            "the app's Stripe webhook endpoint does not subscribe to invoice.payment_failed",
        ),
        Scenario(
            "bucket-public",
            "storage.bucket-private",
            "the user-uploads bucket is public",
        ),
        Scenario(
            "bucket-missing",
            "storage.bucket-private",
            "there is no user-uploads bucket",
        ),
        Scenario(
            "pusher-secret",
            "pusher.credentials",
            "the env file's PUSHER_SECRET is not the Pusher app's",
        ),
        Scenario(
            "fernet-not-in-vault",
            "vault.fernet-backup",
            "Vault holds no backup of DATA_ENCRYPTION_KEY",
        ),
        Scenario(
            "health-degraded",
            "api.health",
            "the app's /api/health says degraded",
        ),
        Scenario("slow-api", "api.latency", "every API answer takes 400 ms longer"),
        Scenario(
            "cert-expiring",
            "tls.certificate",
            "the app's certificate expires in 5 days",
        ),
        Scenario(
            "no-https-redirect",
            "tls.https-redirect",
            "plain http serves the app in clear instead of redirecting to https",
        ),
        Scenario(
            "missing-hsts",
            "sec.hsts",
            "the app sends no Strict-Transport-Security header",
        ),
        Scenario(
            "cors-reflect",
            "sec.cors",
            "the API echoes any Origin back, with credentials allowed",
        ),
        Scenario(
            "webhook-no-verify",
            "sec.webhook-signature",
            "the app accepts Stripe webhooks without checking their signature",
        ),
        Scenario(
            "no-rate-limit",
            "sec.rate-limit",
            "the login endpoint never answers 429, however many attempts fail",
        ),
        Scenario(
            "service-down",
            "services.running",
            "toolboxai-celery-beat is stopped (supervisorctl stop)",
        ),
        Scenario(
            "log-errors",
            "logs.errors",
            "every request logs an ERROR with a traceback",
        ),
    )
}
DEMO_BREAKS = ("pending-migration",)
