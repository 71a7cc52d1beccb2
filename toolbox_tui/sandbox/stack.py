"""The sandbox: a demo deployment wired to real local PostgreSQL, Redis and Vault, the
integrations' stand-ins and the reference ToolboxAI app under supervisord, optionally broken.

``with Sandbox(app_dir, breaks=["pending-migration"]) as sandbox:`` starts the servers,
writes the demo's env file pointing at them, copies the release's migrations into the
app directory, makes it a git checkout of release v1.4.0 (see app_repo.py), brings the
database to head and then applies each scenario. Leaving the block stops every process it
started, whatever happened inside; if this process is killed instead, the servers' watchdog
does it (see local_server.py).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import ssl
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from pydantic import SecretStr

from checks.migrations.alembic_cli import alembic
from checks.postgres import parse_database_url
from checks.settings import DeploymentEnv
from checks.urls import parse_url
from toolbox_tui.sandbox.app_alembic import add_second_head, copy_alembic
from toolbox_tui.sandbox.app_repo import set_up_releases
from toolbox_tui.sandbox.demo import Demo, set_env_values, write_demo
from toolbox_tui.sandbox.errors import SandboxError
from toolbox_tui.sandbox.foreground import threads_spared_stop_signals
from toolbox_tui.sandbox.openbao import OpenBaoServer
from toolbox_tui.sandbox.postgres import PostgresServer
from toolbox_tui.sandbox.redis import RedisServer
from toolbox_tui.sandbox.reference_app import ReferenceAppSettings
from toolbox_tui.sandbox.scenarios import DEMO_BREAKS, SCENARIOS, Scenario
from toolbox_tui.sandbox.sendgrid_api import MAIL_SEND, DayStats, Sender, SendGridApi
from toolbox_tui.sandbox.smtp import SmtpServer
from toolbox_tui.sandbox.soketi import SoketiServer
from toolbox_tui.sandbox.stripe_peer import StripePeer
from toolbox_tui.sandbox.supabase_storage import Bucket, SupabaseStorage
from toolbox_tui.sandbox.supervisor import SupervisorServer
from toolbox_tui.sandbox.tls import CertificateAuthority
from toolbox_tui.sandbox.vault_seed import ENCRYPTION_SECRET, NAMESPACE, forget_secret, seed_vault
from toolbox_tui.sandbox.virustotal_api import VirusTotalApi

__all__ = ["DEMO_BREAKS", "SCENARIOS", "Sandbox", "Scenario"]

DATABASE = "toolboxai_prod"
UPLOADS = "user-uploads"  # the checklist's bucket (TOOLBOX_STORAGE_BUCKET's default)
# The reference app's: Stripe's webhook endpoint points at it.
WEBHOOK_PATH = "/api/v1/stripe/webhooks"
# The operator's test account, whose API token the smoke tests use (TOOLBOX_API_TOKEN).
TEST_ACCOUNT = "release-smoke@toolboxai.com"
# The app's certificate, renewed long before the 7 days tls.certificate warns at.
CERT_LIFETIME = timedelta(days=90)
EXPIRING_CERT_LIFETIME = timedelta(days=5)
# The checklist's six events (as checks.integrations.stripe_webhook requires them), repeated
# here so that starting the sandbox registers no checks.
STRIPE_EVENTS = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
)
BASELINE = "0001_baseline"


class Sandbox:
    def __init__(
        self,
        app_dir: Path,
        breaks: Iterable[str] = (),
        now: datetime | None = None,
        seed: int | None = None,
    ) -> None:
        self.breaks = tuple(breaks)
        unknown = [b for b in self.breaks if b not in SCENARIOS]
        if unknown:
            known = ", ".join(SCENARIOS)
            raise SandboxError(f"unknown scenario(s) {', '.join(unknown)}; known: {known}")
        self.app_dir = app_dir.resolve()
        self._now, self._seed = now, seed
        self.ca = CertificateAuthority()
        self.postgres = PostgresServer()
        self.redis = RedisServer()
        self.vault = OpenBaoServer(self.ca)
        # SendGrid's relay and API, started once the demo's key is known.
        self.smtp: SmtpServer | None = None
        self.sendgrid: SendGridApi | None = None
        self.storage: SupabaseStorage | None = None
        self.stripe: StripePeer | None = None
        self.virustotal: VirusTotalApi | None = None
        self.pusher: SoketiServer | None = None  # once the demo's app keys are known
        # The reference app, once the database is migrated.
        self.app: SupervisorServer | None = None
        self.api_token = "tbx_" + secrets.token_urlsafe(32)
        self.started_at: datetime | None = None
        self.demo: Demo | None = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the servers and set the scenarios up; on failure nothing is left running."""
        # Real time, not ``now``: the app's log lines, which count from here, carry real time.
        self.started_at = datetime.now(UTC)
        try:
            self.postgres.start()
            self.redis.start()
            self.vault.start()
            database_url = self.postgres.create_database(DATABASE)
            self.demo = write_demo(
                self.app_dir, self._now, self._seed, database_url, self.redis.url()
            )
            self.ca.write_bundle(self.ca_bundle)
            # The demo's secrets, read once: each peer is set up to accept the ones it serves.
            env = DeploymentEnv.load(self.demo.env_file)
            self._seed_vault(env, database_url)
            self._start_email(env)
            self._start_stripe(env)
            self._start_storage(env)
            self._start_pusher(env)
            ini = copy_alembic(self.app_dir)
            # The app's git history (HEAD at v1.4.0, whose migrations were just copied) and
            # its SDK's wheelhouse, for the Rollback pane and the release runbooks.
            set_up_releases(self.app_dir, self.demo.venv)
            revision = BASELINE if "pending-migration" in self.breaks else "heads"
            migrate(ini, database_url, revision)
            self._start_app(env, database_url)
            for name in self.breaks:
                _APPLY[name](self)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> list[str]:
        """Stop the servers and remove their directories; one sentence per server."""
        # The app first: it uses the others.
        servers = (self.app, self.pusher, self.vault, self.redis, self.postgres)
        done = [self._stop_in_process()] + [s.stop() for s in servers if s is not None]
        return [sentence for sentence in done if sentence is not None]

    @property
    def ca_bundle(self) -> Path:
        """The sandbox CA's certificate: what TOOLBOX_CA_BUNDLE names for its TLS servers."""
        return self.app_dir / "sandbox-ca.pem"

    @property
    def api_token_file(self) -> Path:
        """The test account's API token, private, for a shell to read (never printed)."""
        return self.app_dir / ".sandbox" / "api-token"

    def config_overrides(self) -> dict[str, object]:
        """The ToolboxConfig fields that point toolbox-tui at the sandbox, typed as the
        fields are (``model_copy(update=...)`` does not convert): the API token is a SecretStr."""
        assert self.demo is not None, "the sandbox is not started"
        overrides = {**self.demo.config_overrides(), "ca_bundle": self.ca_bundle}
        if self.sendgrid is not None:
            overrides["sendgrid_api_url"] = self.sendgrid.url
        if self.pusher is not None:
            overrides["pusher_api_url"] = self.pusher.url
        if self.stripe is not None:
            overrides["stripe_api_url"] = self.stripe.url
        if self.virustotal is not None:
            overrides["virustotal_api_url"] = self.virustotal.url
        if self.app is not None:
            overrides.update(
                target_url=self.app.url,
                target_http_url=self.app.http_url + "/",
                api_token=SecretStr(self.api_token),
                service_manager="supervisord",
                supervisor_config=self.app.config_file,
                app_log=self.app.app_log,
                deployed_at=self.started_at,
                rate_limit_probe=True,
                stripe_webhook_url=self.app.url + WEBHOOK_PATH,
            )
        return overrides

    def shell_exports(self) -> list[str]:
        """``export TOOLBOX_...=...`` lines for a POSIX shell; a secret is read from its
        private file there, so it never shows on the screen or in a scrollback."""
        lines = []
        for name, value in self.config_overrides().items():
            variable = f"TOOLBOX_{name.upper()}"
            if isinstance(value, SecretStr):
                lines.append(f'export {variable}="$(cat {shlex.quote(str(self.api_token_file))})"')
            else:
                lines.append(f"export {variable}={shlex.quote(_setting_text(value))}")
        return lines

    def _start_app(self, env: DeploymentEnv, database_url: str) -> None:
        """The reference app's four programs under supervisord, over TLS from the sandbox CA,
        accepting the demo's Stripe webhook secret and the test account's API token; then
        Stripe's webhook endpoint for the app, subscribed to the checklist's six events."""
        _write_private(self.api_token_file, self.api_token + "\n")
        settings = ReferenceAppSettings(
            database_url=database_url,
            api_tokens={self.api_token: TEST_ACCOUNT},
            webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or "",
        )
        certificate = self.ca.issue(
            "127.0.0.1", "localhost", not_after=datetime.now(UTC) + CERT_LIFETIME
        )
        self.app = SupervisorServer(settings, certificate)
        self.app.start()
        assert self.stripe is not None
        self.stripe.add_webhook_endpoint(
            self.app.url + WEBHOOK_PATH, STRIPE_EVENTS, secret=env.get("STRIPE_WEBHOOK_SECRET")
        )

    def _start_pusher(self, env: DeploymentEnv) -> None:
        """soketi, serving the demo's Pusher app (its id, key and secret)."""
        self.pusher = SoketiServer(
            env.get("PUSHER_APP_ID") or "",
            env.get("PUSHER_KEY") or "",
            env.get("PUSHER_SECRET") or "",
        )
        self.pusher.start()

    def _start_email(self, env: DeploymentEnv) -> None:
        """SendGrid's SMTP relay (STARTTLS, AUTH as ``apikey`` with the demo's key) and its
        API, with the demo's sender verified and a day of healthy delivery stats."""
        assert self.demo is not None
        key = env.get("SENDGRID_API_KEY") or ""
        tls = self.ca.issue("127.0.0.1").server_context(self._private_dir("sendgrid"))
        today = (self._now or datetime.now(UTC)).date()
        day = DayStats(requests=1200, delivered=1188, bounces=6)
        # Both serve from threads of this process: see threads_spared_stop_signals.
        with threads_spared_stop_signals():
            self.smtp = SmtpServer(self.ca, key).start()
            self.sendgrid = SendGridApi(
                key,
                senders=[Sender(env.get("FROM_EMAIL") or "noreply@toolboxai.com")],
                stats={today: day, today - timedelta(days=1): day},
                tls=tls,
            ).start()
        set_env_values(
            self.demo.env_file, {"SMTP_HOST": self.smtp.host, "SMTP_PORT": str(self.smtp.port)}
        )

    def _start_stripe(self, env: DeploymentEnv) -> None:
        """Stripe (localstripe) accepting the demo's live key, with a day of successful
        charges."""
        tls = self.ca.issue("127.0.0.1").server_context(self._private_dir("stripe"))
        with threads_spared_stop_signals():
            self.stripe = StripePeer(env.get("STRIPE_SECRET_KEY") or "", tls=tls).start()
        # Its webhook endpoint is added once the app it points at runs (_start_app).
        now = self._now or datetime.now(UTC)
        for hours_ago in (1, 5, 9, 20):
            self.stripe.add_charge(created=now - timedelta(hours=hours_ago))

    def _start_storage(self, env: DeploymentEnv) -> None:
        """Supabase Storage over TLS with the app's bucket, private and holding files; the env
        file gets its URL and keys signed with the stand-in's own JWT secret."""
        assert self.demo is not None
        tls = self.ca.issue("127.0.0.1").server_context(self._private_dir("supabase"))
        with threads_spared_stop_signals():
            self.storage = SupabaseStorage(secrets.token_urlsafe(32), tls=tls).start()
            self.virustotal = VirusTotalApi(env.get("VIRUSTOTAL_API_KEY") or "").start()
        self.storage.add_bucket(UPLOADS, objects=["tenant-1/welcome.pdf", "tenant-2/avatar.png"])
        set_env_values(
            self.demo.env_file,
            {
                "SUPABASE_URL": self.storage.url,
                "SUPABASE_KEY": self.storage.sign_key("anon", now=self._now),
                "SUPABASE_SERVICE_KEY": self.storage.sign_key("service_role", now=self._now),
            },
        )

    def _private_dir(self, name: str) -> Path:
        folder = self.app_dir / ".sandbox" / name
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder

    def _stop_in_process(self) -> str | None:
        """The stand-ins that serve from threads of ours: SMTP, SendGrid, Supabase Storage."""
        peers = (self.smtp, self.sendgrid, self.stripe, self.storage, self.virustotal)
        servers = [s for s in peers if s is not None]
        for server in servers:
            server.stop()
        self.smtp = self.sendgrid = self.stripe = self.storage = self.virustotal = None
        if not servers:
            return None
        return (
            "the SMTP relay and the SendGrid, Stripe, Supabase Storage and VirusTotal "
            "stand-ins stopped."
        )

    def _seed_vault(self, env: DeploymentEnv, database_url: str) -> None:
        """Vault as production's: the app's namespace, AppRole and secrets, with the backup of
        the demo's own Fernet key; the env file then points at it."""
        assert self.demo is not None
        database = parse_url(database_url)
        login = seed_vault(
            self.vault,
            env.get("DATA_ENCRYPTION_KEY") or "",
            database.username or "",
            database.password or "",
        )
        set_env_values(
            self.demo.env_file,
            {
                "VAULT_ADDR": self.vault.url,
                "VAULT_NAMESPACE": NAMESPACE,
                "VAULT_ROLE_ID": login.role_id,
                "VAULT_SECRET_ID": login.secret_id,
            },
        )


def migrate(ini: Path, database_url: str, revision: str = "heads") -> None:
    """Bring the database at ``database_url`` to ``revision`` with the alembic of ``ini``."""
    target = parse_database_url(database_url)
    # In a thread with its own loop, so the sandbox can start from async code (tests) too.
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(
            asyncio.run, alembic(ini, ini.parent / "venv", target, ["upgrade", revision])
        ).result()
    if not result.ok:
        raise SandboxError("alembic upgrade failed: " + " ".join(result.stderr_lines[-3:]))


_APPLY: dict[str, Callable[[Sandbox], object]] = {
    # The database was left at the baseline by start(); nothing more to do.
    "pending-migration": lambda sandbox: None,
    "multiple-heads": lambda sandbox: add_second_head(sandbox.app_dir),
    # Halted, not removed: `sandbox.postgres.start()` brings it back, data included.
    "db-down": lambda sandbox: sandbox.postgres.halt(),
    "vault-sealed": lambda sandbox: sandbox.vault.seal(),
    # A secret_id from another role, or one revoked: Vault refuses the login.
    "vault-approle": lambda sandbox: _set_env(sandbox, VAULT_SECRET_ID=secrets.token_hex(18)),
    "fernet-not-in-vault": lambda sandbox: forget_secret(sandbox.vault, ENCRYPTION_SECRET),
    "smtp-auth": lambda sandbox: _break_smtp_login(sandbox),
    "sendgrid-scope": lambda sandbox: _drop_mail_send(sandbox),
    "stripe-test-key": lambda sandbox: _use_stripe_test_key(sandbox),
    "stripe-webhook-events": lambda sandbox: _drop_webhook_event(sandbox, "invoice.payment_failed"),
    "bucket-public": lambda sandbox: _uploads(sandbox).__setattr__("public", True),
    "bucket-missing": lambda sandbox: _storage(sandbox).buckets.pop(UPLOADS),
    # The env file holds a secret the Pusher app never had (a paste from another app).
    "pusher-secret": lambda sandbox: _set_env(sandbox, PUSHER_SECRET=secrets.token_hex(10)),
    # The reference app, changed while it runs: its backend rereads its settings file.
    "health-degraded": lambda sandbox: _app(sandbox).change(health="degraded"),
    "slow-api": lambda sandbox: _app(sandbox).change(delay_ms=400),
    "cert-expiring": lambda sandbox: _expiring_certificate(sandbox),
    "no-https-redirect": lambda sandbox: _app(sandbox).change(https_redirect=False),
    "missing-hsts": lambda sandbox: _app(sandbox).change(hsts=False),
    "cors-reflect": lambda sandbox: _app(sandbox).change(cors_reflect=True),
    "webhook-no-verify": lambda sandbox: _app(sandbox).change(verify_webhooks=False),
    "no-rate-limit": lambda sandbox: _app(sandbox).change(login_limit=0),
    "service-down": lambda sandbox: _app(sandbox).stop_program("toolboxai-celery-beat"),
    "log-errors": lambda sandbox: _log_errors(sandbox),
}


def _app(sandbox: Sandbox) -> SupervisorServer:
    assert sandbox.app is not None
    return sandbox.app


def _expiring_certificate(sandbox: Sandbox) -> None:
    """The certificate was not renewed: it expires in 5 days."""
    expires = datetime.now(UTC) + EXPIRING_CERT_LIFETIME
    _app(sandbox).replace_certificate(sandbox.ca.issue("127.0.0.1", "localhost", not_after=expires))


def _log_errors(sandbox: Sandbox) -> None:
    """Every request logs an ERROR with a traceback, and a few came in since the deploy."""
    app = _app(sandbox)
    app.change(log_errors=True)
    context = ssl.create_default_context(cafile=str(sandbox.ca_bundle))
    for _ in range(3):
        with urllib.request.urlopen(f"{app.url}/api/health", context=context, timeout=10):
            pass


def _setting_text(value: object) -> str:
    """A setting as its TOOLBOX_* variable spells it."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _break_smtp_login(sandbox: Sandbox) -> None:
    """The relay now expects another key: the env's SENDGRID_API_KEY was revoked for SMTP."""
    assert sandbox.smtp is not None
    sandbox.smtp.password = "SG." + secrets.token_urlsafe(48)


def _drop_mail_send(sandbox: Sandbox) -> None:
    """The key lost its Mail Send permission (a key made for stats only)."""
    assert sandbox.sendgrid is not None
    sandbox.sendgrid.scopes = [s for s in sandbox.sendgrid.scopes if s != MAIL_SEND]


def _use_stripe_test_key(sandbox: Sandbox) -> None:
    """A test key pasted into production's env file (Stripe accepts it: in test mode)."""
    assert sandbox.stripe is not None
    key = "sk_test_" + secrets.token_hex(24)
    sandbox.stripe.keys.add(key)
    _set_env(sandbox, STRIPE_SECRET_KEY=key)


def _drop_webhook_event(sandbox: Sandbox, event: str) -> None:
    """The endpoint was made by hand and one of the six events was forgotten."""
    assert sandbox.stripe is not None
    [endpoint] = sandbox.stripe.webhook_endpoints
    events = [e for e in endpoint.enabled_events if e != event]
    sandbox.stripe.update_webhook_endpoint(endpoint.id, enabled_events=events)


def _storage(sandbox: Sandbox) -> SupabaseStorage:
    assert sandbox.storage is not None
    return sandbox.storage


def _uploads(sandbox: Sandbox) -> Bucket:
    return _storage(sandbox).buckets[UPLOADS]


def _set_env(sandbox: Sandbox, **values: str) -> None:
    assert sandbox.demo is not None
    set_env_values(sandbox.demo.env_file, values)
