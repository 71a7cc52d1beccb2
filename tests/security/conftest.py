"""Fixtures for the Security pane's checks of the running app: the reference ToolboxAI app
(a fresh one per test, at its healthy defaults), a server context for HTTPS test servers set
up otherwise (tests/web_servers.py), and contexts aimed at either."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.context import CheckContext
from tests.conftest import MakeContext
from tests.security.running import API_TOKEN, USER_EMAIL, WEBHOOK_SECRET, SecurityContext
from toolbox_tui.sandbox.foreground import threads_spared_stop_signals
from toolbox_tui.sandbox.reference_app import ReferenceApp, ReferenceAppSettings
from toolbox_tui.sandbox.tls import CertificateAuthority


@pytest.fixture(scope="session")
def ca_bundle(sandbox_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sandbox_ca.write_bundle(tmp_path_factory.mktemp("ca") / "ca.pem")


@pytest.fixture(scope="session")
def certificate(
    sandbox_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """Certificate and key files for 127.0.0.1 and localhost."""
    return sandbox_ca.issue("127.0.0.1", "localhost").write(tmp_path_factory.mktemp("cert"))


@pytest.fixture
def tls(sandbox_ca: CertificateAuthority, tmp_path: Path) -> ssl.SSLContext:
    """A server context for a WebServer, for 127.0.0.1 and localhost."""
    directory = tmp_path / "server"
    directory.mkdir()
    return sandbox_ca.issue("127.0.0.1", "localhost").server_context(directory)


@pytest.fixture
def app(certificate: tuple[Path, Path], tmp_path: Path) -> Iterator[ReferenceApp]:
    """The reference app, healthy; a fresh one per test, so its login counter starts at 0."""
    cert, key = certificate
    settings = ReferenceAppSettings(
        cert_file=str(cert),
        key_file=str(key),
        log_file=str(tmp_path / "app.log"),
        api_tokens={API_TOKEN: USER_EMAIL},
        webhook_secret=WEBHOOK_SECRET,
    )
    server = ReferenceApp(settings)
    with threads_spared_stop_signals():
        server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def context(make_context: MakeContext, ca_bundle: Path) -> SecurityContext:
    """``context(url, env=..., **settings)``: a context aimed at ``url`` (TOOLBOX_TARGET_URL),
    trusting the test CA, with STRIPE_WEBHOOK_SECRET in its env file (``env``, when given,
    is the file's whole text instead), masking its secrets as a real run does."""

    def make(url: str, env: str | None = None, **config: object) -> CheckContext:
        text = f"STRIPE_WEBHOOK_SECRET={WEBHOOK_SECRET}\n" if env is None else env
        ctx = make_context(text, target_url=url, ca_bundle=ca_bundle, **config)
        # As CheckContext.create does: TOOLBOX_API_TOKEN is masked like the env file's secrets.
        ctx.redactor.add(*ctx.config.secret_values())
        return ctx

    return make
