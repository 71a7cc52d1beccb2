"""``ToolboxConfig``: how toolbox-tui itself is pointed at a deployment, read with
pydantic-settings from ``TOOLBOX_*`` variables and overridden by command-line flags.

Kept apart from :mod:`checks.settings` (the app's env file and its variables, which every check
imports) because pydantic-settings is the dearest import of the engine: the commands that need
no configuration (``--help``, ``list``) and the registration of checks never load it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from checks.envfile import DEFAULT_MAX_ENV_BYTES


class ToolboxConfig(BaseSettings):
    """How toolbox-tui is pointed at a deployment. Every field is also a ``TOOLBOX_*`` variable."""

    model_config = SettingsConfigDict(env_prefix="TOOLBOX_", extra="ignore")

    env_file: Path = Field(Path(".env"), description="The app's env file to check and fix.")
    app_dir: Path = Field(Path("."), description="The app's checkout (alembic.ini, .env.backup).")
    app_venv: Path | None = Field(
        None, description="The app's virtualenv; defaults to APP_DIR/venv as in the checklist."
    )
    target_url: str | None = Field(None, description="Base URL of the deployed app for health.")
    read_only: bool = Field(
        False,
        description="Disable every action, and skip the checks that write to the app; only look.",
    )
    check_timeout: float | None = Field(
        None,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="Seconds (at most an hour); overrides every check's own timeout when set.",
    )
    audit_log: Path | None = Field(
        None, description="Where actions are recorded; defaults to APP_DIR/toolbox-audit.log."
    )
    ca_bundle: Path | None = Field(None, description="CA bundle for TLS to private endpoints.")
    alembic_ini: Path | None = Field(
        None, description="The app's alembic.ini; defaults to APP_DIR/alembic.ini."
    )
    backup_dir: Path | None = Field(
        None, description="Where database backups go; defaults to APP_DIR/backups."
    )
    require_backup: bool = Field(
        True,
        description="Refuse to upgrade or downgrade the database without a verified backup.",
    )
    key_rotation_days: int = Field(
        30,
        gt=0,
        le=3650,
        description="Maximum age of DATA_ENCRYPTION_KEY in days, at most ten years "
        "(the checklist rotates monthly).",
    )
    max_env_bytes: int = Field(
        DEFAULT_MAX_ENV_BYTES,
        gt=0,
        le=1024 * 1024 * 1024,
        description="Largest env file read, in bytes; a bigger one is refused, not read.",
    )
    allow_read_only_env: bool = Field(
        False,
        description="Rewrite an env file whose mode says read-only (e.g. 0400); refused otherwise.",
    )
    backup_max_age_minutes: int = Field(
        240,
        gt=0,
        le=7 * 24 * 60,
        description="How old a verified database backup may be for db.upgrade to accept it.",
    )
    release_env_changes: str = Field(
        "",
        description="The env variables this release changes on purpose, comma-separated: "
        "rollback.env-backup expects .env.backup to differ from .env in those (names only).",
    )
    next_env_file: Path | None = Field(
        None,
        description="The release's staged env file that env.apply-staged puts in place of the "
        "env file; defaults to APP_DIR/.env.next.",
    )

    sendgrid_api_url: str = Field(
        "https://api.sendgrid.com",
        min_length=1,
        description="SendGrid's v3 API base URL; https, or http only to a loopback address.",
    )
    pusher_api_url: str | None = Field(
        None,
        description="Pusher's HTTP API; unset, api-<PUSHER_CLUSTER>.pusher.com over https.",
    )
    stripe_api_url: str = Field(
        "https://api.stripe.com",
        min_length=1,
        description="Stripe's API base URL; https, or http only to a loopback address.",
    )
    stripe_webhook_url: str | None = Field(
        None,
        description="The app's Stripe webhook URL; unset, TARGET_URL/api/v1/stripe/webhooks.",
    )
    stripe_failed_payments_max: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description="Failed charges in the last 24 h that stripe.failed-payments tolerates.",
    )
    storage_bucket: str = Field(
        "user-uploads", min_length=1, description="The Supabase Storage bucket the app uploads to."
    )
    virustotal_api_url: str = Field(
        "https://www.virustotal.com",
        min_length=1,
        description="VirusTotal's API base URL; https, or http only to a loopback address.",
    )
    test_email_to: str | None = Field(
        None, description="Recipient of the 'Send a test email' fix (email.send-test)."
    )
    vault_kv_mount: str = Field(
        "secret", min_length=1, description="The kv v2 mount that holds the app's Vault secrets."
    )
    vault_app_secret: str = Field(
        "toolboxai/app", min_length=1, description="The app's own secret in that mount."
    )
    vault_encryption_secret: str = Field(
        "toolboxai/encryption",
        min_length=1,
        description="The secret holding the backup copy of DATA_ENCRYPTION_KEY.",
    )
    vault_database_secret: str = Field(
        "toolboxai/database",
        min_length=1,
        description="The secret holding the database credentials that rotation renews.",
    )
    db_credentials_max_age_days: int = Field(
        30,
        gt=0,
        le=3650,
        description="How long ago the database credentials in Vault may have been rotated.",
    )
    vault_min_token_ttl_minutes: int = Field(
        15,
        gt=0,
        le=7 * 24 * 60,
        description="Shortest lifetime of the app's Vault token that is not called too short.",
    )

    # -- Health and Security panes: the running app, its host and its repository ----------
    target_http_url: str | None = Field(
        None,
        description="The app's plain-http address, which must redirect to https; "
        "unset, http://<TARGET_URL's host>/.",
    )
    api_token: SecretStr | None = Field(
        None,
        description="An API token of a test account, for the smoke tests and the token "
        "revocation check (never shown); unset, they are skipped.",
    )
    api_p95_ms: int = Field(
        200, gt=0, le=60_000, description="The API's p95 response time target, in ms."
    )
    latency_samples: int = Field(
        20, ge=5, le=200, description="Requests sent to measure the API's p95 response time."
    )
    services: str = Field(
        "toolboxai-backend,toolboxai-dashboard,toolboxai-celery-worker,toolboxai-celery-beat",
        min_length=1,
        description="The app's services (systemd units or supervisord programs), comma-separated.",
    )
    service_manager: Literal["auto", "systemd", "supervisord"] = Field(
        "auto",
        description="Who runs the services; auto: supervisord when SUPERVISOR_CONFIG is set, "
        "else systemd when present.",
    )
    supervisor_config: Path | None = Field(
        None, description="supervisord's config file, for supervisorctl -c."
    )
    app_volume: Path | None = Field(
        None, description="The app's data volume whose disk usage is watched; defaults to APP_DIR."
    )
    app_log: Path | None = Field(
        None, description="The app's log file, read for errors since the deploy."
    )
    deployed_at: datetime | None = Field(
        None,
        description="When the release went out (ISO 8601, UTC when no offset is given); log "
        "errors count from then. Unset: the last 24 hours.",
    )
    log_error_rate_max: float = Field(
        0.5,
        ge=0,
        le=100,
        allow_inf_nan=False,
        description="Percentage of error lines in the app log tolerated since the deploy.",
    )
    rate_limit_probe: bool = Field(
        False,
        description="Let sec.rate-limit send a burst of failed logins (at most "
        "RATE_LIMIT_MAX_REQUESTS) to the login endpoint.",
    )
    rate_limit_max_requests: int = Field(
        30, gt=0, le=500, description="The most login attempts that burst may send."
    )
    login_path: str = Field(
        "/api/v1/auth/login",
        pattern=r"^/",
        description="The app's login endpoint, below TARGET_URL.",
    )
    code_dir: Path | None = Field(
        None,
        description="The app's git repository scanned for API keys in code; defaults to APP_DIR.",
    )
    signoff_days: int = Field(
        30, gt=0, le=366, description="How long a manual sign-off counts, in days."
    )
    watch_interval: float = Field(
        30.0,
        ge=1,
        le=3600,
        allow_inf_nan=False,
        description="Seconds between the runs of watch mode.",
    )
    watch_debounce: int = Field(
        3, ge=1, le=100, description="Failures in a row before watch mode turns a check red."
    )
    waivers_file: Path | None = Field(
        None,
        description="Accepted failures (TOML: check, reason, by, expires); defaults to "
        "APP_DIR/toolbox-waivers.toml.",
    )

    @property
    def service_names(self) -> tuple[str, ...]:
        """TOOLBOX_SERVICES as a tuple, blanks dropped, order kept."""
        return tuple(dict.fromkeys(n.strip() for n in self.services.split(",") if n.strip()))

    @property
    def app_volume_path(self) -> Path:
        return self.app_volume if self.app_volume is not None else self.app_dir

    @property
    def code_path(self) -> Path:
        return self.code_dir if self.code_dir is not None else self.app_dir

    def secret_values(self) -> tuple[str, ...]:
        """The settings that are secrets, for the redactor: as given, and stripped of the
        blanks around it, as the checks send it."""
        token = self.api_token.get_secret_value() if self.api_token is not None else ""
        return tuple(value for value in dict.fromkeys((token, token.strip())) if value)

    @property
    def venv_path(self) -> Path:
        return self.app_venv if self.app_venv is not None else self.app_dir / "venv"

    @property
    def alembic_ini_path(self) -> Path:
        return self.alembic_ini if self.alembic_ini is not None else self.app_dir / "alembic.ini"

    @property
    def backup_path(self) -> Path:
        return self.backup_dir if self.backup_dir is not None else self.app_dir / "backups"

    @property
    def waivers_path(self) -> Path:
        return (
            self.waivers_file
            if self.waivers_file is not None
            else self.app_dir / "toolbox-waivers.toml"
        )

    @property
    def audit_path(self) -> Path:
        return self.audit_log if self.audit_log is not None else self.app_dir / "toolbox-audit.log"

    @property
    def release_env_names(self) -> tuple[str, ...]:
        """TOOLBOX_RELEASE_ENV_CHANGES as a tuple, blanks dropped, order kept."""
        names = (n.strip() for n in self.release_env_changes.split(","))
        return tuple(dict.fromkeys(n for n in names if n))

    @property
    def next_env_path(self) -> Path:
        """The release's staged env file (TOOLBOX_NEXT_ENV_FILE, else APP_DIR/.env.next)."""
        return self.next_env_file if self.next_env_file is not None else self.app_dir / ".env.next"

    @property
    def env_backup_path(self) -> Path:
        """The checklist's rollback copy: ``cp .env.backup .env``."""
        return self.env_file.with_name(self.env_file.name + ".backup")
