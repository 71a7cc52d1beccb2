"""Fixtures for the Integrations pane's Stripe checks: a :class:`StripePeer` per test (localstripe
behind Stripe's missing routes, in healthy state: the planted keys accepted, the app's webhook
endpoint with the six events, a few charges of the last day), and contexts whose env file and
settings point at it.

The keys and the webhook secret are planted: recognisable, shaped like real ones, and they
must show nowhere. Imported by test_stripe.py, which makes the fixtures its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path

import pytest

from checks.config import ToolboxConfig
from checks.context import CheckContext
from checks.integrations.stripe_webhook import WEBHOOK_EVENTS, WEBHOOK_PATH
from checks.redact import Redactor
from checks.settings import DeploymentEnv
from tests.conftest import FIXED_NOW
from toolbox_tui.sandbox.stripe_peer import StripePeer

from .conftest import write_env

KEY = "sk_live_51PLANTEDstripeLiveSecretKey0123456789abcdefGHIJ"
TEST_KEY = "sk_test_51PLANTEDstripeTestSecretKey0123456789abcdefKLMN"
OTHER_KEY = "sk_live_51OTHERstripeLiveSecretKey00000000000000000000000"
PUBLISHABLE_KEY = "pk_live_51PLANTEDstripePublishableKey0123456789abcdef"
WEBHOOK_SECRET = "whsec_PLANTEDwebhookSigningSecret0123456789ab"
TARGET = "https://app.toolboxai.test"
WEBHOOK_URL = TARGET + WEBHOOK_PATH
HEALTHY_CHARGES = 3

StripeContext = Callable[..., CheckContext]


@pytest.fixture
def stripe_peer() -> Iterator[StripePeer]:
    """A fresh peer: both planted secret keys accepted, the app's webhook endpoint enabled
    with the six events and the env file's signing secret, three charges of the last hours."""
    with StripePeer(KEY, TEST_KEY) as peer:
        peer.add_webhook_endpoint(WEBHOOK_URL, WEBHOOK_EVENTS, secret=WEBHOOK_SECRET)
        for hours in range(1, HEALTHY_CHARGES + 1):
            peer.add_charge(created=FIXED_NOW - timedelta(hours=hours))
        peer.clear()
        yield peer


@pytest.fixture
def stripe_context(tmp_path: Path, stripe_peer: StripePeer) -> StripeContext:
    """``stripe_context(env={"APP_ENV": "staging"}, check_timeout=2)``: a context over an env
    file with the planted Stripe values (``env`` overrides them; None removes one), the
    settings pointing at the peer and at the app's target URL."""

    def make(*, env: Mapping[str, str | None] | None = None, **config: object) -> CheckContext:
        values: dict[str, str | None] = {
            "APP_ENV": "production",
            "STRIPE_SECRET_KEY": KEY,
            "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "ENABLE_STRIPE_WEBHOOKS": "true",
            **(env or {}),
        }
        env_file = write_env(tmp_path / ".env", values)
        settings: dict[str, object] = {
            "env_file": env_file,
            "app_dir": tmp_path,
            "stripe_api_url": stripe_peer.url,
            "target_url": TARGET,
            **config,
        }
        loaded = DeploymentEnv.load(env_file)
        return CheckContext(
            loaded,
            ToolboxConfig(**settings),  # type: ignore[arg-type]
            Redactor(loaded.secret_values()),
            clock=lambda: FIXED_NOW,
        )

    return make
