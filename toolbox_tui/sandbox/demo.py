"""Writes a realistic demo deployment: an env file with fresh secrets and a few mistakes.

The mistakes are the kind a release engineer meets on deploy day, chosen so that some can
be fixed with one key (file mode, missing ``.env.backup``, a key due for rotation) and some
need a person (a frontend Pusher key that drifted, an outdated dependency).
"""

from __future__ import annotations

import base64
import random
import re
import secrets
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from checks.envfile import atomic_write
from toolbox_tui.sandbox.errors import NotADemoDirectory

# The checklist's dependencies, as the demo app's virtualenv has them. stripe is too old on
# purpose: env.dependencies names it.
DEMO_PACKAGES = {
    "fastapi": "0.115.6",
    "uvicorn": "0.32.1",
    "SQLAlchemy": "2.0.36",
    "alembic": "1.14.0",
    "cryptography": "43.0.3",
    "Jinja2": "3.1.4",
    "sendgrid": "6.11.0",
    "stripe": "6.7.0",
    "supabase": "2.10.0",
    "pusher": "3.3.2",
}


@dataclass(frozen=True)
class Demo:
    app_dir: Path

    @property
    def env_file(self) -> Path:
        return self.app_dir / ".env"

    @property
    def venv(self) -> Path:
        return self.app_dir / "venv"

    def config_overrides(self) -> dict[str, object]:
        return {
            "env_file": self.env_file,
            "app_dir": self.app_dir,
            "app_venv": self.venv,
            "audit_log": self.app_dir / "toolbox-audit.log",
            "alembic_ini": self.app_dir / "alembic.ini",
            "backup_dir": self.app_dir / "backups",
        }


class _Randomness:
    """Fresh secrets for a real demo; a seeded generator makes the same ones for snapshots."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed) if seed is not None else None

    def bytes(self, n: int) -> bytes:
        return self._rng.randbytes(n) if self._rng else secrets.token_bytes(n)

    def hex(self, n: int) -> str:
        return self.bytes(n).hex()

    def urlsafe(self, n: int) -> str:
        return base64.urlsafe_b64encode(self.bytes(n)).decode().rstrip("=")

    def fernet_key(self) -> str:
        return base64.urlsafe_b64encode(self.bytes(32)).decode()


def _supabase_key(role: str, signing_secret: str, now: datetime) -> str:
    claims = {
        "iss": "supabase",
        "ref": "toolboxai-demo",
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(days=3650)).timestamp()),
    }
    import jwt  # only the demo signs keys; the checks never load PyJWT

    return jwt.encode(claims, signing_secret, algorithm="HS256")


def demo_env_text(
    now: datetime | None = None,
    seed: int | None = None,
    database_url: str | None = None,
    redis_url: str | None = None,
) -> str:
    """The demo's env file; the Fernet key was last rotated 41 days before ``now``.

    ``database_url`` / ``redis_url`` point it at the sandbox's real servers; without them
    the URLs name hosts that do not exist here.
    """
    now = now or datetime.now(UTC)
    rand = _Randomness(seed)
    supabase_secret = rand.urlsafe(32)
    values = {
        "database_url": database_url
        or f"postgresql://toolboxai:{rand.urlsafe(18)}@db.internal:5432/toolboxai_prod",
        "redis_url": redis_url or f"redis://:{rand.urlsafe(18)}@cache.internal:6379/0",
        "secret_key": rand.hex(32),
        "jwt_secret": rand.hex(32),
        "sendgrid": f"SG.{rand.urlsafe(16)[:22]}.{rand.urlsafe(32)[:43]}",
        "stripe_sk": "sk_live_" + rand.hex(24),
        "stripe_pk": "pk_live_" + rand.hex(24),
        "whsec": "whsec_" + rand.hex(16),
        "fernet": rand.fernet_key(),
        "fernet_old": rand.fernet_key(),
        "supabase_anon": _supabase_key("anon", supabase_secret, now),
        "supabase_service": _supabase_key("service_role", supabase_secret, now),
        "virustotal": rand.hex(32),
        "pusher_key": rand.hex(10),
        # The frontend build still carries last release's key.
        "vite_pusher_key": rand.hex(10),
        "pusher_secret": rand.hex(10),
        "role_id": rand.hex(16),
        "secret_id": rand.hex(16),
        "rotated": (now - timedelta(days=41)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return _TEMPLATE.format(**values)


_TEMPLATE = """\
# ToolboxAI production environment (demo written by toolbox-tui)

# Application
APP_ENV=production
DEBUG=false
LOG_LEVEL=INFO
SECRET_KEY={secret_key}

# Database
DATABASE_URL={database_url}
REDIS_URL={redis_url}

# JWT Authentication
JWT_SECRET_KEY={jwt_secret}
JWT_ALGORITHM=HS256
JWT_ACCESS_TOKEN_EXPIRE_MINUTES=30
JWT_REFRESH_TOKEN_EXPIRE_DAYS=7

# SendGrid
SMTP_HOST=smtp.sendgrid.net
SMTP_PORT=587
SMTP_USER=apikey
SENDGRID_API_KEY={sendgrid}
SMTP_USE_TLS=true
FROM_EMAIL=noreply@toolboxai.com
FROM_NAME=ToolBoxAI

# Stripe
STRIPE_SECRET_KEY={stripe_sk}
STRIPE_PUBLISHABLE_KEY={stripe_pk}
STRIPE_WEBHOOK_SECRET={whsec}
ENABLE_STRIPE_WEBHOOKS=true

# Data encryption
DATA_ENCRYPTION_KEY={fernet}
DATA_ENCRYPTION_KEY_OLD_1={fernet_old}
LAST_KEY_ROTATION={rotated}

# Supabase storage
SUPABASE_URL=https://toolboxai-demo.supabase.co
SUPABASE_KEY={supabase_anon}
SUPABASE_SERVICE_KEY={supabase_service}
VIRUSTOTAL_API_KEY={virustotal}
ENABLE_VIRUS_SCANNING=true

# Pusher
PUSHER_APP_ID=1874321
PUSHER_KEY={pusher_key}
PUSHER_SECRET={pusher_secret}
PUSHER_CLUSTER=eu
VITE_PUSHER_KEY={vite_pusher_key}
VITE_PUSHER_CLUSTER=eu

# Vault
VAULT_ADDR=https://vault.toolboxai.local:8200
VAULT_NAMESPACE=toolboxai
VAULT_ROLE_ID={role_id}
VAULT_SECRET_ID={secret_id}
"""


# The app repository's nightly rotation, as the checklist asks for it (vault.rotation-workflow).
ROTATION_WORKFLOW = """\
name: vault-rotation
on:
  schedule:
    - cron: "0 3 * * *"
  workflow_dispatch: {}
jobs:
  rotate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Rotate database credentials and keys
        run: ./scripts/rotate-secrets.sh
        env:
          VAULT_ADDR: ${{ secrets.VAULT_ADDR }}
          VAULT_NAMESPACE: ${{ secrets.VAULT_NAMESPACE }}
          VAULT_ROLE_ID: ${{ secrets.VAULT_ROLE_ID }}
          VAULT_SECRET_ID: ${{ secrets.VAULT_SECRET_ID }}
"""


def set_env_values(env_file: Path, values: dict[str, str]) -> None:
    """Replace the values of existing ``NAME=`` lines (the sandbox's real addresses)."""
    lines = env_file.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, line in enumerate(lines):
        name = line.split("=", 1)[0]
        if "=" in line and name in values:
            lines[i] = f"{name}={values[name]}\n"
    atomic_write(env_file, "".join(lines), backup=False)  # keeps the file's mode


def site_packages(venv: Path) -> Path:
    """The site-packages of a virtualenv made by this Python (``lib/python3.X/site-packages``)."""
    return venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"


def make_venv(venv: Path) -> None:
    """A real virtualenv, as ``python -m venv --without-pip`` makes it (in-process: a few ms)."""
    import venv as venvs  # only the demo makes one

    venvs.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(venv)


def write_site_packages(venv: Path, packages: dict[str, str]) -> Path:
    """A virtualenv's site-packages holding just the distributions' metadata."""
    site = site_packages(venv)
    site.mkdir(parents=True, exist_ok=True)
    for name, version in packages.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
        )
    return site


MARKER = ".toolbox-demo"


def _claim(app_dir: Path) -> None:
    """Refuse a non-empty directory the demo did not make: it may be a real app."""
    if app_dir.is_dir() and any(app_dir.iterdir()) and not (app_dir / MARKER).exists():
        raise NotADemoDirectory(
            f"{app_dir} is not empty and was not made by `toolbox-tui demo`; the demo "
            "replaces .env and venv/ there, so choose another --dir"
        )
    app_dir.mkdir(parents=True, exist_ok=True)
    (app_dir / MARKER).write_text("written by toolbox-tui demo; safe to delete\n")


def write_demo(
    app_dir: Path,
    now: datetime | None = None,
    seed: int | None = None,
    database_url: str | None = None,
    redis_url: str | None = None,
) -> Demo:
    """A fresh demo deployment in ``app_dir`` (anything of an earlier demo there is replaced)."""
    demo = Demo(app_dir.resolve())
    _claim(demo.app_dir)
    if demo.venv.exists():
        shutil.rmtree(demo.venv)
    demo.app_dir.mkdir(parents=True, exist_ok=True)
    for stale in (demo.env_file.with_name(".env.backup"),):
        stale.unlink(missing_ok=True)
    atomic_write(demo.env_file, demo_env_text(now, seed, database_url, redis_url), backup=False)
    # Group- and world-readable, as a hurried `cp` leaves it: env.file-permissions fails.
    demo.env_file.chmod(0o644)
    make_venv(demo.venv)
    write_site_packages(demo.venv, DEMO_PACKAGES)
    workflows = demo.app_dir / ".github" / "workflows"
    workflows.mkdir(parents=True, exist_ok=True)
    (workflows / "vault-rotation.yml").write_text(ROTATION_WORKFLOW, encoding="utf-8")
    return demo


# What the release engineer readies for v1.5.0 (see ``ready_the_release``).
STAGED_SETTING = ("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "15")
DEMO_WAIVERS = (
    ("env.dependencies", "stripe 7 ships with the next release"),
    ("env.pusher", "the frontend is deployed separately"),
)
WAIVER_DAYS = 30


def ready_the_release(app_dir: Path, today: date) -> None:
    """What a release engineer readies before deploy day, so that the demo's ``D`` can take
    v1.4.0 to v1.5.0: the env file v1.5.0 runs with, staged as ``.env.next`` (one setting
    changes), and the two deliberate findings no key fixes accepted for this release as
    waivers. The other findings (the env file's mode, the pending migration) are left for a
    person to fix with ``f`` first; the release's own steps write .env.backup and the
    database backup."""
    env = app_dir / ".env"
    name, value = STAGED_SETTING
    text = env.read_text(encoding="utf-8")
    staged = re.sub(rf"^{name}=.*$", f"{name}={value}", text, flags=re.MULTILINE)
    atomic_write(app_dir / ".env.next", staged, backup=False)
    (app_dir / ".env.next").chmod(0o600)
    expires = today + timedelta(days=WAIVER_DAYS)
    (app_dir / "toolbox-waivers.toml").write_text(
        "".join(
            f'[[waiver]]\ncheck = "{check}"\nreason = "{reason}"\nby = "release-engineer"\n'
            f"expires = {expires.isoformat()}\n\n"
            for check, reason in DEMO_WAIVERS
        ),
        encoding="utf-8",
    )
