"""The reference ToolboxAI app (toolbox_tui/sandbox/reference_app.py) for the Health pane's
tests: served from a thread, with a certificate from the sandbox CA (or one passed in), an
app log in the test's folder, the planted test-account token, and, when asked, a database
with the release's schema."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from toolbox_tui.sandbox.app_alembic import copy_alembic
from toolbox_tui.sandbox.foreground import threads_spared_stop_signals
from toolbox_tui.sandbox.postgres import PostgresServer
from toolbox_tui.sandbox.reference_app import ReferenceApp, ReferenceAppSettings
from toolbox_tui.sandbox.stack import migrate
from toolbox_tui.sandbox.tls import CertificateAuthority, IssuedCertificate

API_TOKEN = "tbx_api_PLANTED_" + "hea1th" * 5
USER_EMAIL = "smoke-test@toolboxai.com"
DEFAULTS = ReferenceAppSettings()
FLAGS = (
    "health",
    "delay_ms",
    "https_redirect",
    "hsts",
    "cors_origins",
    "cors_reflect",
    "verify_webhooks",
    "login_limit",
    "log_errors",
)


@contextlib.contextmanager
def reference_app(
    ca: CertificateAuthority,
    folder: Path,
    certificate: IssuedCertificate | None = None,
    **values: object,
) -> Iterator[ReferenceApp]:
    """The app's backend, serving until the block ends; ``values`` set its settings."""
    issued = certificate or ca.issue("127.0.0.1", "localhost")
    cert, key = issued.write(folder)
    settings = ReferenceAppSettings(
        cert_file=str(cert),
        key_file=str(key),
        log_file=str(folder / "app.log"),
        api_tokens={API_TOKEN: USER_EMAIL},
    )
    server = ReferenceApp(replace(settings, **values))  # type: ignore[arg-type]
    with threads_spared_stop_signals():
        server.start()
    try:
        yield server
    finally:
        server.stop()


def reset_flags(app: ReferenceApp) -> None:
    """Every flag back at its default (healthy) value, for the next test."""
    for name in FLAGS:
        setattr(app.settings, name, getattr(DEFAULTS, name))


@contextlib.contextmanager
def migrated_database(server: PostgresServer, folder: Path) -> Iterator[str]:
    """A new database with the release's schema (users, roblox_environments...), as the
    sandbox migrates it; dropped at the end."""
    name = f"health_{uuid.uuid4().hex[:10]}"
    url = server.create_database(name)
    try:
        migrate(copy_alembic(folder), url)
        yield url
    finally:
        server.drop_database(name)
