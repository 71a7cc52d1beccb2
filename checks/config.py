"""``ToolboxConfig``: how toolbox-tui itself is pointed at a deployment, read with
pydantic-settings from ``TOOLBOX_*`` variables and overridden by command-line flags.

Kept apart from :mod:`checks.settings` (the app's env file and its variables, which every check
imports) because pydantic-settings is the dearest import of the engine: the commands that need
no configuration (``--help``, ``list``) and the registration of checks never load it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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
    read_only: bool = Field(False, description="Disable every action; only look.")
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
        True, description="Refuse to upgrade the database without a backup from this session."
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
    def audit_path(self) -> Path:
        return self.audit_log if self.audit_log is not None else self.app_dir / "toolbox-audit.log"

    @property
    def env_backup_path(self) -> Path:
        """The checklist's rollback copy: ``cp .env.backup .env``."""
        return self.env_file.with_name(self.env_file.name + ".backup")
