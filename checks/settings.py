"""The two kinds of configuration: the app's deployment env file and the tool's own settings.

``DeploymentEnv`` is what we inspect: the ``.env`` of the application being released. It is
read tolerantly — a malformed line is remembered by its number and a bad value stays a
string — because one mistake must fail one check, never stop the others.

``ToolboxConfig`` is how the tool itself is pointed at a deployment (``TOOLBOX_*`` variables,
overridden by command-line flags), read with pydantic-settings. It lives in
:mod:`checks.config` and is still importable from here, but only loaded when asked for:
every check imports this module, and registering checks must not cost pydantic.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checks.envfile import (
    DEFAULT_MAX_ENV_BYTES,
    EnvFileError,
    decode_env,
    digest_of,
    parse_env_text,
    read_env_bytes,
)
from checks.urls import URLError, parse_url, password_readings

if TYPE_CHECKING:
    from checks.config import ToolboxConfig as ToolboxConfig


def __getattr__(name: str) -> Any:
    # ``from checks.settings import ToolboxConfig`` keeps working, and costs pydantic only there.
    if name == "ToolboxConfig":
        from checks.config import ToolboxConfig

        return ToolboxConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class EnvVar:
    """One variable of the deployment checklist's environment section."""

    name: str
    group: str
    description: str
    secret: bool = False
    required: bool = True


@dataclass(frozen=True)
class EnvGroup:
    id: str
    title: str


ENV_GROUPS: tuple[EnvGroup, ...] = (
    EnvGroup("core", "Core application"),
    EnvGroup("database", "Database and cache"),
    EnvGroup("jwt", "JWT authentication"),
    EnvGroup("email", "Email (SendGrid)"),
    EnvGroup("stripe", "Stripe payments"),
    EnvGroup("encryption", "Data encryption (Fernet)"),
    EnvGroup("storage", "File storage (Supabase)"),
    EnvGroup("realtime", "Real-time (Pusher)"),
    EnvGroup("vault", "Vault automation"),
)

ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar("APP_ENV", "core", "Deployment mode; must be 'production' on production hosts."),
    EnvVar("DEBUG", "core", "Debug mode; must be false in production."),
    EnvVar("LOG_LEVEL", "core", "Log level; INFO or quieter in production."),
    EnvVar("SECRET_KEY", "core", "Application signing key, >= 32 random bytes.", secret=True),
    EnvVar("DATABASE_URL", "database", "PostgreSQL URL with a password.", secret=True),
    EnvVar("REDIS_URL", "database", "Redis URL with a password.", secret=True),
    EnvVar("JWT_SECRET_KEY", "jwt", "JWT signing key, >= 32 random bytes.", secret=True),
    EnvVar("JWT_ALGORITHM", "jwt", "JWT signing algorithm, e.g. HS256."),
    EnvVar("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "jwt", "Access-token lifetime in minutes."),
    EnvVar("JWT_REFRESH_TOKEN_EXPIRE_DAYS", "jwt", "Refresh-token lifetime in days."),
    EnvVar("SMTP_HOST", "email", "SMTP relay host (smtp.sendgrid.net)."),
    EnvVar("SMTP_PORT", "email", "SMTP port: 587 with STARTTLS, 465 with implicit TLS."),
    EnvVar("SMTP_USER", "email", "SMTP user; 'apikey' for SendGrid."),
    EnvVar("SENDGRID_API_KEY", "email", "SendGrid API key with Mail Send permission.", secret=True),
    EnvVar("SMTP_USE_TLS", "email", "Use TLS for SMTP; true in production."),
    EnvVar("FROM_EMAIL", "email", "Verified sender address."),
    EnvVar("FROM_NAME", "email", "Sender display name."),
    EnvVar(
        "STRIPE_SECRET_KEY", "stripe", "Stripe secret key (sk_live_ in production).", secret=True
    ),
    EnvVar("STRIPE_PUBLISHABLE_KEY", "stripe", "Stripe publishable key, same mode as the secret."),
    EnvVar("STRIPE_WEBHOOK_SECRET", "stripe", "Webhook signing secret (whsec_).", secret=True),
    EnvVar("ENABLE_STRIPE_WEBHOOKS", "stripe", "Process Stripe webhooks; true in production."),
    EnvVar(
        "DATA_ENCRYPTION_KEY", "encryption", "Current Fernet key (urlsafe base64).", secret=True
    ),
    EnvVar(
        "DATA_ENCRYPTION_KEY_OLD_1",
        "encryption",
        "Previous Fernet key, kept to decrypt old data.",
        secret=True,
        required=False,
    ),
    EnvVar(
        "DATA_ENCRYPTION_KEY_OLD_2",
        "encryption",
        "Key before that, kept to decrypt old data.",
        secret=True,
        required=False,
    ),
    EnvVar("LAST_KEY_ROTATION", "encryption", "When the Fernet key was last rotated (ISO 8601)."),
    EnvVar("SUPABASE_URL", "storage", "Supabase project URL (https)."),
    EnvVar("SUPABASE_KEY", "storage", "Supabase anon key (safe for browsers).", secret=True),
    EnvVar(
        "SUPABASE_SERVICE_KEY", "storage", "Supabase service-role key (server only).", secret=True
    ),
    EnvVar(
        "VIRUSTOTAL_API_KEY",
        "storage",
        "VirusTotal key; needed when virus scanning is on.",
        secret=True,
        required=False,
    ),
    EnvVar("ENABLE_VIRUS_SCANNING", "storage", "Scan uploads for viruses; true in production."),
    EnvVar("PUSHER_APP_ID", "realtime", "Pusher app id (numeric)."),
    EnvVar("PUSHER_KEY", "realtime", "Pusher key (public)."),
    EnvVar("PUSHER_SECRET", "realtime", "Pusher secret.", secret=True),
    EnvVar("PUSHER_CLUSTER", "realtime", "Pusher cluster, e.g. eu."),
    EnvVar("VITE_PUSHER_KEY", "realtime", "Frontend copy of PUSHER_KEY; must be equal."),
    EnvVar("VITE_PUSHER_CLUSTER", "realtime", "Frontend copy of PUSHER_CLUSTER; must be equal."),
    EnvVar("VAULT_ADDR", "vault", "Vault address (https)."),
    EnvVar("VAULT_NAMESPACE", "vault", "Vault namespace."),
    EnvVar("VAULT_ROLE_ID", "vault", "AppRole role_id.", secret=True),
    EnvVar("VAULT_SECRET_ID", "vault", "AppRole secret_id.", secret=True),
)
ENV_VARS_BY_NAME: Mapping[str, EnvVar] = {var.name: var for var in ENV_VARS}


def vars_in_group(group: str) -> list[EnvVar]:
    return [var for var in ENV_VARS if var.group == group]


@dataclass(frozen=True)
class DeploymentEnv:
    """The values of the app's env file, as written, plus what went wrong reading it.

    ``load`` never raises and never blocks: an unreadable file (a FIFO, a device, one over
    the size limit) sets ``load_error``; malformed lines are listed by number in
    ``malformed_lines`` (their content may hold a secret). ``digest`` is the sha256 of the
    bytes read ("" when unreadable): a fix compares it with the file before writing.
    """

    path: Path
    # repr=False: a crash report that prints locals must never print the env file's values.
    values: Mapping[str, str] = field(default_factory=dict, repr=False)
    malformed_lines: tuple[int, ...] = ()
    load_error: str | None = None
    digest: str = ""

    @classmethod
    def load(cls, path: Path, max_bytes: int = DEFAULT_MAX_ENV_BYTES) -> DeploymentEnv:
        try:
            data = read_env_bytes(path, max_bytes)
            text = decode_env(data, path)
        except FileNotFoundError:
            return cls(path, load_error=f"{path} does not exist")
        except IsADirectoryError:
            return cls(path, load_error=f"{path} is a directory, not an env file")
        except PermissionError:
            return cls(path, load_error=f"{path} is not readable by this user")
        except EnvFileError as exc:
            # Its message is a whole sentence; load_error is a clause the checks build on.
            return cls(path, load_error=str(exc).rstrip("."))
        except OSError as exc:
            return cls(path, load_error=f"{path} could not be read: {exc.strerror}")
        parsed = parse_env_text(text)
        return cls(path, parsed.values, parsed.malformed_lines, digest=digest_of(data))

    def get(self, name: str) -> str | None:
        """The value as written, or None when the variable is absent or empty."""
        value = self.values.get(name)
        return value if value not in (None, "") else None

    def secret_values(self) -> Iterator[str]:
        """Every value that must never be shown: secret variables and URL passwords.

        A URL's password comes in every form a client may read it as (SQLAlchemy's and
        urllib's reading, decoded and as written): error messages quote any of them.
        """
        for name, value in self.values.items():
            if value and is_secret_name(name):
                yield value
            yield from password_readings(value)
            yield from password_readings(name)  # a single-quoted name can hold anything
            for text in (name, value):
                if "\n" in text or "\r" in text:
                    # An unclosed quote makes the lines after it part of this value (or of
                    # this single-quoted name), which a check may show: a secret assigned on
                    # those lines must stay masked. (Each level down needs another level of
                    # escaped quotes, so this stays shallow.)
                    swallowed = DeploymentEnv(self.path, parse_env_text(text).values)
                    yield from swallowed.secret_values()


_SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "PRIVATE", "CREDENTIAL")


def is_secret_name(name: str) -> bool:
    """Schema-flagged secrets, and by name anything that looks like one (API keys too)."""
    known = ENV_VARS_BY_NAME.get(name)
    if known is not None:
        return known.secret
    upper = name.upper()
    return any(word in upper for word in _SECRET_WORDS) or upper.endswith("_KEY")


def url_password(value: str) -> str | None:
    """The password inside a URL such as ``postgresql://user:pw@host/db``, if any, decoded
    and read as the app's SQLAlchemy reads it (see :mod:`checks.urls`)."""
    if "://" not in value:
        return None
    try:
        return parse_url(value.strip()).password or None
    except URLError:
        return None


def env_file_mode(path: Path) -> int | None:
    """Permission bits of the env file, or None when it cannot be stat'ed."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return None
