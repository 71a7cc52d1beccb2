"""A fake deployment of the app for the environment checks' tests.

``Deployment`` is the app's checkout in a temporary directory: the env file (0600), an
identical ``.env.backup`` and a virtualenv whose site-packages hold the checklist's
dependencies, with a clock fixed at 2026-11-28 12:00 UTC. ``collect_check`` and
``collect_action`` run one check or action through the real runner.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jwt
from cryptography.fernet import Fernet

from checks import catalog
from checks.context import CheckContext
from checks.core import CheckResult, registry
from checks.events import Event, Finished
from checks.runner import run_action, run_checks
from checks.settings import ToolboxConfig

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SUPABASE_REF = "abcdefghijklmnopqrst"

GOOD_VERSIONS = {
    "fastapi": "0.110.0",
    "uvicorn": "0.29.0",
    "SQLAlchemy": "2.0.30",
    "alembic": "1.13.1",
    "cryptography": "42.0.5",
    "Jinja2": "3.1.4",
    "sendgrid": "6.11.0",
    "stripe": "9.6.0",
    "supabase": "2.4.0",
    "pusher": "3.3.2",
}

catalog.load()


def supabase_key(role: str, ref: str = SUPABASE_REF) -> str:
    """A legacy Supabase API key: an HS256 JWT saying its role and project."""
    claims = {"iss": "supabase", "ref": ref, "role": role, "iat": 1700000000}
    return jwt.encode(claims, secrets.token_hex(32), algorithm="HS256")


def random_alnum(length: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def good_values() -> dict[str, str]:
    """Every variable of the checklist with a real-looking production value."""
    pusher_key = secrets.token_hex(10)
    return {
        "APP_ENV": "production",
        "DEBUG": "false",
        "LOG_LEVEL": "INFO",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": (
            f"postgresql://toolbox:{random_alnum(24)}@db.internal:5432/toolboxai_prod"
        ),
        "REDIS_URL": f"redis://:{random_alnum(24)}@cache.internal:6379/0",
        "JWT_SECRET_KEY": secrets.token_hex(32),
        "JWT_ALGORITHM": "HS256",
        "JWT_ACCESS_TOKEN_EXPIRE_MINUTES": "30",
        "JWT_REFRESH_TOKEN_EXPIRE_DAYS": "7",
        "SMTP_HOST": "smtp.sendgrid.net",
        "SMTP_PORT": "587",
        "SMTP_USER": "apikey",
        "SENDGRID_API_KEY": f"SG.{random_alnum(22)}.{random_alnum(43)}",
        "SMTP_USE_TLS": "true",
        "FROM_EMAIL": "noreply@toolboxai.com",
        "FROM_NAME": "ToolBoxAI",
        "STRIPE_SECRET_KEY": f"sk_live_{random_alnum(99)}",
        "STRIPE_PUBLISHABLE_KEY": f"pk_live_{random_alnum(99)}",
        "STRIPE_WEBHOOK_SECRET": f"whsec_{random_alnum(32)}",
        "ENABLE_STRIPE_WEBHOOKS": "true",
        "DATA_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DATA_ENCRYPTION_KEY_OLD_1": Fernet.generate_key().decode(),
        "LAST_KEY_ROTATION": "2026-11-20T00:00:00Z",
        "SUPABASE_URL": f"https://{SUPABASE_REF}.supabase.co",
        "SUPABASE_KEY": supabase_key("anon"),
        "SUPABASE_SERVICE_KEY": supabase_key("service_role"),
        "VIRUSTOTAL_API_KEY": secrets.token_hex(32),
        "ENABLE_VIRUS_SCANNING": "true",
        "PUSHER_APP_ID": "1234567",
        "PUSHER_KEY": pusher_key,
        "PUSHER_SECRET": secrets.token_hex(10),
        "PUSHER_CLUSTER": "eu",
        "VITE_PUSHER_KEY": pusher_key,
        "VITE_PUSHER_CLUSTER": "eu",
        "VAULT_ADDR": "https://vault.toolboxai.local:8200",
        "VAULT_NAMESPACE": "toolboxai",
        "VAULT_ROLE_ID": str(uuid.uuid4()),
        "VAULT_SECRET_ID": str(uuid.uuid4()),
    }


HEADER = "# ToolboxAI production environment\n# Managed by hand; see the deployment checklist.\n"


def env_text(values: Mapping[str, str]) -> str:
    """The env file as a person writes it: a comment header, blank line, one line per value."""
    return HEADER + "\n" + "".join(f"{name}={value}\n" for name, value in values.items())


def write_site_packages(venv: Path, versions: Mapping[str, str], python: str = "3.11") -> Path:
    """Real ``name-version.dist-info/METADATA`` files, as pip leaves them."""
    site = venv / "lib" / f"python{python}" / "site-packages"
    for name, version in versions.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
        )
    return site


@dataclass
class Deployment:
    """The app's checkout as toolbox-tui sees it."""

    root: Path
    values: dict[str, str]
    config: ToolboxConfig

    @classmethod
    def create(cls, root: Path) -> Deployment:
        """A complete, valid production deployment under ``root``."""
        values = good_values()
        for path in (root / ".env", root / ".env.backup"):
            path.write_text(env_text(values))
            path.chmod(0o600)
        venv = root / "venv"
        write_site_packages(venv, GOOD_VERSIONS)
        config = ToolboxConfig(env_file=root / ".env", app_dir=root, app_venv=venv)
        return cls(root, values, config)

    @property
    def env_file(self) -> Path:
        return self.config.env_file

    @property
    def backup(self) -> Path:
        return self.config.env_backup_path

    def write(self, text: str | None = None, **changes: str | None) -> None:
        """Rewrite the env file: ``NAME=value`` changes it, ``NAME=None`` removes it."""
        for name, value in changes.items():
            if value is None:
                self.values.pop(name, None)
            else:
                self.values[name] = value
        self.env_file.write_text(text if text is not None else env_text(self.values))

    def context(self, **config_changes: object) -> CheckContext:
        if config_changes:
            self.config = self.config.model_copy(update=config_changes)
        return CheckContext.create(self.config, clock=lambda: NOW)

    def timestamped_backups(self, of: Path | None = None) -> list[Path]:
        """The ``.env.<UTC stamp>.bak`` copies left by rewrites of ``of`` (the env file)."""
        stamped = re.compile(re.escape((of or self.env_file).name) + r"\.\d{8}T\d+Z\.bak")
        return sorted(p for p in self.root.iterdir() if stamped.fullmatch(p.name))


RunCheck = Callable[..., Awaitable[CheckResult]]
RunAction = Callable[..., Awaitable[list[Event]]]


async def collect_check(check_id: str, ctx: CheckContext) -> tuple[CheckResult, list[Event]]:
    """Run ``check_id`` (and what it needs) through the real runner; its result and all events."""
    events = [event async for event in run_checks(registry.select(ids=[check_id]), ctx)]
    results = [e.result for e in events if isinstance(e, Finished) and e.result.id == check_id]
    assert len(results) == 1, events
    return results[0], events


async def collect_action(
    action_id: str, ctx: CheckContext, *, confirmed: bool = True, dry_run: bool = False
) -> list[Event]:
    """Run ``action_id`` through the real runner (preview, refusal rules, audit); all events."""
    action = registry.actions[action_id]
    return [e async for e in run_action(action, ctx, confirmed=confirmed, dry_run=dry_run)]
