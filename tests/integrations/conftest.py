"""Fixtures for the Integrations pane's email checks: the sandbox's SMTP relay and SendGrid
stand-in (one of each for the whole session, put back in their healthy state before every
test), and contexts whose env file and settings point at them.

The SendGrid key is planted: recognisable, shaped like a real one, and it must show nowhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path

import pytest

from checks.context import CheckContext
from checks.redact import Redactor
from checks.settings import DeploymentEnv, ToolboxConfig
from tests.conftest import FIXED_NOW
from toolbox_tui.sandbox.sendgrid_api import DEFAULT_SCOPES, DayStats, Sender, SendGridApi
from toolbox_tui.sandbox.smtp import SmtpServer
from toolbox_tui.sandbox.tls import CertificateAuthority

KEY_ID = "PLANTED_key_id_0123456"  # 22 characters, as SendGrid's key ids
KEY = f"SG.{KEY_ID}.{'PLANTEDsecret' * 3}1234"  # and a 43-character secret
OTHER_KEY = f"SG.{'OTHER_key_id_000000000'}.{'x' * 43}"
FROM_EMAIL = "noreply@toolboxai.com"
TODAY = FIXED_NOW.date()
YESTERDAY = date.fromordinal(TODAY.toordinal() - 1)
HEALTHY_DAY = DayStats(requests=1000, delivered=985, bounces=5)

EmailContext = Callable[..., CheckContext]


@pytest.fixture(scope="session")
def ca_bundle(sandbox_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sandbox_ca.write_bundle(tmp_path_factory.mktemp("ca") / "ca.pem")


@pytest.fixture(scope="session")
def smtp_server(sandbox_ca: CertificateAuthority) -> Iterator[SmtpServer]:
    with SmtpServer(sandbox_ca, KEY) as server:
        yield server


@pytest.fixture(scope="session")
def sendgrid_server() -> Iterator[SendGridApi]:
    with SendGridApi(KEY) as server:
        yield server


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> SmtpServer:
    """The session's relay, healthy and with nothing recorded; a test may break it."""
    smtp_server.user, smtp_server.password = "apikey", KEY
    smtp_server.clear()
    return smtp_server


@pytest.fixture
def sendgrid(sendgrid_server: SendGridApi) -> SendGridApi:
    """The session's SendGrid stand-in: the planted key with every scope the checks use,
    FROM_EMAIL verified, and a day of healthy stats; nothing recorded. A test may break it."""
    api = sendgrid_server
    api.api_key = KEY
    api.scopes = list(DEFAULT_SCOPES)
    api.senders = []
    api.add_sender(Sender("support@toolboxai.com"))
    api.add_sender(Sender(FROM_EMAIL))
    api.stats = {YESTERDAY: HEALTHY_DAY}
    api.clear()
    return api


def write_env(path: Path, values: Mapping[str, str | None]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items() if v is not None))
    path.chmod(0o600)
    return path


@pytest.fixture
def email_context(
    tmp_path: Path, smtp: SmtpServer, sendgrid: SendGridApi, ca_bundle: Path
) -> EmailContext:
    """``email_context(env={"SMTP_PORT": "2"}, check_timeout=2)``: a context over an env file
    naming the session's relay and key (``env`` overrides values; None removes one), with
    the settings pointing at the SendGrid stand-in and trusting the test CA."""

    def make(*, env: Mapping[str, str | None] | None = None, **config: object) -> CheckContext:
        values: dict[str, str | None] = {
            "APP_ENV": "production",
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "SMTP_USER": "apikey",
            "SENDGRID_API_KEY": KEY,
            "SMTP_USE_TLS": "true",
            "FROM_EMAIL": FROM_EMAIL,
            "FROM_NAME": "ToolBoxAI",
            **(env or {}),
        }
        env_file = write_env(tmp_path / ".env", values)
        settings: dict[str, object] = {
            "env_file": env_file,
            "app_dir": tmp_path,
            "sendgrid_api_url": sendgrid.url,
            "ca_bundle": ca_bundle,
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
