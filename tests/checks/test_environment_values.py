"""The value checks of the Environment pane: each passes on a good production file and fails
(or warns) for each way a value can be wrong, naming the variable."""

from __future__ import annotations

import secrets

import pytest
from fake_deployment import SUPABASE_REF, Deployment, RunCheck, random_alnum, supabase_key

from checks.core import Status
from checks.findings import MAX_DIGITS, is_placeholder, parse_bool, parse_int
from checks.settings import ENV_GROUPS, vars_in_group

FAIL, WARN, PASS = Status.FAIL, Status.WARN, Status.PASS
# A password SQLAlchemy (so the app) accepts unencoded, and urllib reads as host and path.
SLASH_PASSWORD = "/Zq8xK2pL9vB4nM7qW1eR5tY3uI6oP0aS"
SLASH_URL = f"postgresql://toolboxai:{SLASH_PASSWORD}@db.internal:5432/toolboxai_prod"
FULL_WIDTH_30 = "\uff13\uff10"  # int() takes it; no one means it


def _resolve(deployment: Deployment, changes: dict[str, str | None]) -> dict[str, str | None]:
    """``"$NAME"`` stands for NAME's current value (e.g. a copy of one key into another)."""
    return {
        name: deployment.values[value[1:]] if value and value.startswith("$") else value
        for name, value in changes.items()
    }


# (check id, changes to the good file, expected status, what the message must say)
PROBLEMS: list[tuple[str, dict[str, str | None], Status, str]] = [
    ("env.app-mode", {"APP_ENV": None}, FAIL, "APP_ENV is not set"),
    ("env.app-mode", {"APP_ENV": "staging"}, WARN, "not a production env file"),
    ("env.app-mode", {"DEBUG": "true"}, FAIL, "DEBUG is true in production"),
    ("env.app-mode", {"DEBUG": "1"}, FAIL, "DEBUG is true in production"),
    ("env.app-mode", {"DEBUG": "maybe"}, FAIL, "DEBUG is not a boolean"),
    ("env.app-mode", {"LOG_LEVEL": "DEBUG"}, FAIL, "LOG_LEVEL is DEBUG in production"),
    ("env.app-mode", {"LOG_LEVEL": "CHATTY"}, FAIL, "LOG_LEVEL is not a log level"),
    ("env.jwt-settings", {"JWT_ALGORITHM": "none"}, FAIL, "JWT_ALGORITHM is 'none'"),
    ("env.jwt-settings", {"JWT_ALGORITHM": "HS999"}, FAIL, "JWT_ALGORITHM 'HS999' is not"),
    ("env.jwt-settings", {"JWT_ACCESS_TOKEN_EXPIRE_MINUTES": "0"}, FAIL, "MINUTES is 0"),
    ("env.jwt-settings", {"JWT_ACCESS_TOKEN_EXPIRE_MINUTES": "half"}, FAIL, "not a whole number"),
    ("env.jwt-settings", {"JWT_ACCESS_TOKEN_EXPIRE_MINUTES": "90"}, WARN, "MINUTES is 90"),
    ("env.jwt-settings", {"JWT_ACCESS_TOKEN_EXPIRE_MINUTES": "2"}, WARN, "MINUTES is 2"),
    ("env.jwt-settings", {"JWT_REFRESH_TOKEN_EXPIRE_DAYS": "45"}, WARN, "DAYS is 45"),
    ("env.jwt-settings", {"JWT_REFRESH_TOKEN_EXPIRE_DAYS": "-1"}, FAIL, "DAYS is -1"),
    ("env.jwt-settings", {"JWT_REFRESH_TOKEN_EXPIRE_DAYS": "7.5"}, FAIL, "DAYS is not a whole"),
    ("env.database-url", {"DATABASE_URL": "mysql://u:pw@db/app"}, FAIL, "not PostgreSQL"),
    (
        "env.database-url",
        {"DATABASE_URL": "postgresql://toolbox@db.internal:5432/toolboxai_prod"},
        FAIL,
        "DATABASE_URL has no password",
    ),
    ("env.database-url", {"DATABASE_URL": "postgresql://u:pw@db:5432/"}, FAIL, "no database"),
    ("env.database-url", {"DATABASE_URL": "postgresql://u:pw@db:pg/app"}, FAIL, "cannot be parsed"),
    ("env.database-url", {"DATABASE_URL": "postgresql://u:pw@:5432/app"}, FAIL, "has no host"),
    (
        "env.database-url",
        {"DATABASE_URL": "postgresql://user:password@host:5432/toolboxai_prod"},
        FAIL,
        "DATABASE_URL is still the checklist's placeholder",
    ),
    ("env.redis-url", {"REDIS_URL": "http://:pw@cache:6379/0"}, FAIL, "not redis://"),
    ("env.redis-url", {"REDIS_URL": "redis://cache.internal:6379/0"}, FAIL, "no password"),
    ("env.redis-url", {"REDIS_URL": "redis://:pw@cache:6379/zero"}, FAIL, "index is not a number"),
    ("env.redis-url", {"REDIS_URL": "redis://:pw@cache:port/0"}, FAIL, "cannot be parsed"),
    (
        "env.database-url",
        {"DATABASE_URL": "postgresql://app:toolboxai_prod@db.internal:5432/toolboxai_prod"},
        FAIL,
        "DATABASE_URL's password equals its database name",
    ),
    (
        "env.database-url",
        {"DATABASE_URL": "postgresql://toolbox:toolbox@db.internal/toolboxai_prod"},
        FAIL,
        "DATABASE_URL's password equals its user name",
    ),
    (
        "env.database-url",
        {"DATABASE_URL": "postgresql://app:first@second@db.internal/toolboxai_prod"},
        FAIL,
        "DATABASE_URL has an unencoded @ in its password",
    ),
    (
        "env.database-url",
        {"DATABASE_URL": "postgresql://app:pw@db.internal:70000/toolboxai_prod"},
        FAIL,
        "port is not between 1 and 65535",
    ),
    (
        "env.database-url",
        {"DATABASE_URL": "postgresql://app:pw@/toolboxai_prod?host=db1:5432&host=db2:5432"},
        FAIL,
        "names several servers",
    ),
    (
        "env.redis-url",
        {"REDIS_URL": "redis://:pass/word-long@cache.internal:6379/0"},
        FAIL,
        "REDIS_URL's password must be percent-encoded",
    ),
    (
        "env.redis-url",
        {"REDIS_URL": "redis://:pass?word-long@cache.internal:6379/0"},
        FAIL,
        "REDIS_URL's password must be percent-encoded",
    ),
    (
        "env.redis-url",
        {"REDIS_URL": "redis://:pass#word-long@cache.internal:6379/0"},
        FAIL,
        "REDIS_URL's password must be percent-encoded",
    ),
    (
        "env.redis-url",
        {"REDIS_URL": "redis://:cache.internal@cache.internal:6379/0"},
        FAIL,
        "REDIS_URL's password equals its host name",
    ),
    (
        "env.redis-url",
        {"REDIS_URL": "redis://:pw@cache.internal:6379/" + "1" * 5000},
        FAIL,
        "index is not a number",
    ),
    (
        "env.jwt-settings",
        {"JWT_ACCESS_TOKEN_EXPIRE_MINUTES": "9" * 5000},
        FAIL,
        "JWT_ACCESS_TOKEN_EXPIRE_MINUTES is not a sensible number",
    ),
    (
        "env.jwt-settings",
        {"JWT_REFRESH_TOKEN_EXPIRE_DAYS": "1" * (MAX_DIGITS + 1)},
        FAIL,
        "JWT_REFRESH_TOKEN_EXPIRE_DAYS is not a sensible number",
    ),
    ("env.jwt-settings", {"JWT_ACCESS_TOKEN_EXPIRE_MINUTES": FULL_WIDTH_30}, FAIL, "not a whole"),
    ("env.smtp", {"SMTP_PORT": "5" * 4301}, FAIL, "SMTP_PORT is not a sensible number"),
    ("env.vault", {"VAULT_ADDR": "vault.toolboxai.local:8200"}, FAIL, "no scheme://"),
    ("env.smtp", {"SMTP_USE_TLS": "false"}, FAIL, "SMTP_PORT 587 needs SMTP_USE_TLS=true"),
    (
        "env.smtp",
        {"SMTP_PORT": "465", "SMTP_USE_TLS": "false"},
        FAIL,
        "SMTP_USE_TLS is false in production",
    ),
    ("env.smtp", {"SMTP_PORT": "25"}, WARN, "SMTP_PORT is 25"),
    ("env.smtp", {"SMTP_PORT": "2525"}, WARN, "SMTP_PORT 2525 is unusual"),
    ("env.smtp", {"SMTP_PORT": "70000"}, FAIL, "SMTP_PORT 70000 is not a port"),
    ("env.smtp", {"SMTP_PORT": "submission"}, FAIL, "SMTP_PORT is not a whole number"),
    ("env.smtp", {"SMTP_USE_TLS": "sometimes"}, FAIL, "SMTP_USE_TLS is not a boolean"),
    ("env.smtp", {"SMTP_USER": "postmaster"}, FAIL, "SMTP_USER must be 'apikey'"),
    ("env.smtp", {"SMTP_HOST": None}, FAIL, "SMTP_HOST is not set"),
    ("env.sendgrid-key", {"SENDGRID_API_KEY": "SG.short.key"}, FAIL, "SENDGRID_API_KEY is not"),
    (
        "env.sendgrid-key",
        {"SENDGRID_API_KEY": "<your_sendgrid_api_key>"},
        FAIL,
        "SENDGRID_API_KEY is still the checklist's placeholder",
    ),
    ("env.from-email", {"FROM_EMAIL": "noreply"}, FAIL, "is not an email address"),
    ("env.from-email", {"FROM_EMAIL": "noreply@localhost"}, FAIL, "no domain with a dot"),
    (
        "env.from-email",
        {"FROM_EMAIL": '"ToolBoxAI <noreply@toolboxai.com>"'},
        FAIL,
        "is not an email address",
    ),
    ("env.from-email", {"FROM_EMAIL": ""}, FAIL, "FROM_EMAIL is not set"),
    (
        "env.stripe-keys",
        {"STRIPE_SECRET_KEY": f"sk_test_{'a1' * 40}", "STRIPE_PUBLISHABLE_KEY": "pk_test_x1"},
        FAIL,
        "STRIPE_SECRET_KEY is a test key in production",
    ),
    (
        "env.stripe-keys",
        {"STRIPE_PUBLISHABLE_KEY": "pk_test_b2c3"},
        FAIL,
        "STRIPE_PUBLISHABLE_KEY is a test key but STRIPE_SECRET_KEY is a live key",
    ),
    ("env.stripe-keys", {"STRIPE_SECRET_KEY": "$STRIPE_PUBLISHABLE_KEY"}, FAIL, "publishable key"),
    ("env.stripe-keys", {"STRIPE_SECRET_KEY": "stripe-key-1"}, FAIL, "not a Stripe secret key"),
    ("env.stripe-keys", {"STRIPE_PUBLISHABLE_KEY": "pub-1"}, FAIL, "not a publishable key"),
    ("env.stripe-keys", {"STRIPE_WEBHOOK_SECRET": "abc123"}, FAIL, "does not start with whsec_"),
    ("env.stripe-keys", {"ENABLE_STRIPE_WEBHOOKS": "false"}, WARN, "ENABLE_STRIPE_WEBHOOKS is"),
    (
        "env.stripe-keys",
        {"STRIPE_SECRET_KEY": "sk_live_<your_live_key>"},
        FAIL,
        "STRIPE_SECRET_KEY is still the checklist's placeholder",
    ),
    ("env.supabase", {"SUPABASE_URL": f"http://{'q' * 20}.supabase.co"}, FAIL, "uses http"),
    (
        "env.supabase",
        {"SUPABASE_URL": "https://your-project.supabase.co"},
        FAIL,
        "SUPABASE_URL is still the checklist's placeholder",
    ),
    (
        "env.supabase",
        {"SUPABASE_KEY": "$SUPABASE_SERVICE_KEY", "SUPABASE_SERVICE_KEY": "$SUPABASE_KEY"},
        FAIL,
        "swapped: the service key would reach browsers",
    ),
    ("env.supabase", {"SUPABASE_KEY": "$SUPABASE_SERVICE_KEY"}, FAIL, "the same key"),
    (
        "env.supabase",
        {"SUPABASE_KEY": supabase_key("service_role")},
        FAIL,
        "SUPABASE_KEY is a service-role key",
    ),
    (
        "env.supabase",
        {"SUPABASE_SERVICE_KEY": supabase_key("anon")},
        FAIL,
        "SUPABASE_SERVICE_KEY is an anon key",
    ),
    (
        "env.supabase",
        {"SUPABASE_SERVICE_KEY": f"sb_publishable_{'k' * 30}"},
        FAIL,
        "SUPABASE_SERVICE_KEY is an anon key",
    ),
    ("env.supabase", {"SUPABASE_KEY": "not-a-jwt-at-all"}, FAIL, "SUPABASE_KEY is not a Supabase"),
    (
        "env.supabase",
        {"SUPABASE_KEY": supabase_key("anon", ref="zyxwvutsrqponmlkjihg")},
        FAIL,
        "SUPABASE_KEY belongs to another Supabase project",
    ),
    ("env.virus-scanning", {"ENABLE_VIRUS_SCANNING": "false"}, WARN, "SCANNING is false"),
    (
        "env.virus-scanning",
        {"ENABLE_VIRUS_SCANNING": "false", "VIRUSTOTAL_API_KEY": None},
        WARN,
        "ENABLE_VIRUS_SCANNING is false",
    ),
    ("env.virus-scanning", {"VIRUSTOTAL_API_KEY": None}, FAIL, "VIRUSTOTAL_API_KEY is not set"),
    ("env.virus-scanning", {"VIRUSTOTAL_API_KEY": "vt-123"}, FAIL, "VIRUSTOTAL_API_KEY is not"),
    ("env.virus-scanning", {"ENABLE_VIRUS_SCANNING": "perhaps"}, FAIL, "not a boolean"),
    ("env.pusher", {"PUSHER_APP_ID": "app-42"}, FAIL, "PUSHER_APP_ID is not numeric"),
    ("env.pusher", {"VITE_PUSHER_KEY": "f" * 20}, FAIL, "VITE_PUSHER_KEY differs from PUSHER_KEY"),
    ("env.pusher", {"VITE_PUSHER_CLUSTER": "us2"}, FAIL, "VITE_PUSHER_CLUSTER differs"),
    ("env.pusher", {"PUSHER_SECRET": "$PUSHER_KEY"}, FAIL, "PUSHER_SECRET equals PUSHER_KEY"),
    ("env.pusher", {"VITE_PUSHER_KEY": None}, FAIL, "VITE_PUSHER_KEY is not set"),
    ("env.vault", {"VAULT_ADDR": "http://vault.toolboxai.local:8200"}, FAIL, "VAULT_ADDR uses"),
    ("env.vault", {"VAULT_ADDR": "https://"}, FAIL, "VAULT_ADDR has no host"),
    ("env.vault", {"VAULT_NAMESPACE": None}, FAIL, "VAULT_NAMESPACE is not set"),
]


@pytest.mark.parametrize(
    ("check_id", "changes", "status", "says"),
    PROBLEMS,
    ids=[f"{c}:{','.join(ch)}={s.value}" for c, ch, s, _ in PROBLEMS],
)
async def test_value_check_reports_the_problem(
    deployment: Deployment,
    check: RunCheck,
    check_id: str,
    changes: dict[str, str | None],
    status: Status,
    says: str,
) -> None:
    deployment.write(**_resolve(deployment, changes))
    result = await check(check_id)
    assert result.status == status, result
    assert says in result.message
    assert result.hint, "a failing or doubtful check must say what to do"


# Other good ways to write the same settings.
ALSO_GOOD: list[tuple[str, dict[str, str | None]]] = [
    ("env.app-mode", {"DEBUG": "no", "LOG_LEVEL": "warning"}),
    ("env.app-mode", {"DEBUG": "0", "LOG_LEVEL": "ERROR"}),
    ("env.jwt-settings", {"JWT_ALGORITHM": "EdDSA", "JWT_ACCESS_TOKEN_EXPIRE_MINUTES": "60"}),
    ("env.jwt-settings", {"JWT_ALGORITHM": "RS256", "JWT_REFRESH_TOKEN_EXPIRE_DAYS": "30"}),
    ("env.database-url", {"DATABASE_URL": "postgres://app:s3cret@db.internal/toolboxai_prod"}),
    (
        "env.database-url",
        {"DATABASE_URL": "postgresql+asyncpg://app:s3cret@db.internal:6432/toolboxai_prod"},
    ),
    ("env.redis-url", {"REDIS_URL": "rediss://default:s3cret@cache.internal:6380"}),
    ("env.redis-url", {"REDIS_URL": "redis://:pa%2Fss%3Fw%23rd%40@cache.internal:6379/0"}),
    ("env.database-url", {"DATABASE_URL": SLASH_URL}),
    (
        "env.database-url",
        {"DATABASE_URL": "postgresql+asyncpg://app:s3cret@/toolboxai_prod?host=/run/postgresql"},
    ),
    ("env.supabase", {"SUPABASE_URL": f"https://{SUPABASE_REF.upper()}.supabase.co"}),
    ("env.smtp", {"SMTP_PORT": "465"}),
    ("env.smtp", {"SMTP_HOST": "smtp.mailgun.org", "SMTP_USER": "postmaster@toolboxai.com"}),
    ("env.from-email", {"FROM_EMAIL": "no-reply+deploy@mail.toolboxai.com"}),
    (
        "env.stripe-keys",
        {
            "APP_ENV": "staging",
            "STRIPE_SECRET_KEY": f"sk_test_{random_alnum(99)}",
            "STRIPE_PUBLISHABLE_KEY": f"pk_test_{random_alnum(99)}",
        },
    ),
    ("env.stripe-keys", {"STRIPE_SECRET_KEY": f"rk_live_{random_alnum(99)}"}),
    (
        "env.supabase",
        {
            "SUPABASE_KEY": f"sb_publishable_{random_alnum(30)}",
            "SUPABASE_SERVICE_KEY": f"sb_secret_{random_alnum(30)}",
        },
    ),
    ("env.supabase", {"SUPABASE_URL": "https://storage.toolboxai.com"}),
    ("env.virus-scanning", {"VIRUSTOTAL_API_KEY": secrets.token_hex(32).upper()}),
    ("env.vault", {"VAULT_ADDR": "https://vault.toolboxai.local"}),
]


@pytest.mark.parametrize(
    ("check_id", "changes"), ALSO_GOOD, ids=[f"{c}:{','.join(ch)}" for c, ch in ALSO_GOOD]
)
async def test_value_check_accepts_other_good_spellings(
    deployment: Deployment, check: RunCheck, check_id: str, changes: dict[str, str | None]
) -> None:
    deployment.write(**changes)
    result = await check(check_id)
    assert result.status == PASS, result


@pytest.mark.parametrize("group", [group.id for group in ENV_GROUPS])
async def test_required_group_names_missing_and_placeholder_variables(
    deployment: Deployment, check: RunCheck, group: str
) -> None:
    required = [var.name for var in vars_in_group(group) if var.required]
    missing, *rest = required
    changes: dict[str, str | None] = {missing: None}
    if rest:
        changes[rest[0]] = "<your_value_here>"
    deployment.write(**changes)
    result = await check(f"env.required-{group}")
    assert result.status == FAIL
    assert f"Not set in .env: {missing}" in result.message
    if rest:
        assert f"still the checklist's placeholder: {rest[0]}" in result.message


async def test_required_group_treats_an_empty_value_as_missing(
    deployment: Deployment, check: RunCheck
) -> None:
    deployment.write(SECRET_KEY="", DEBUG="")
    result = await check("env.required-core")
    assert result.status == FAIL
    assert "DEBUG, SECRET_KEY" in result.message


async def test_required_group_ignores_optional_variables(
    deployment: Deployment, check: RunCheck
) -> None:
    deployment.write(DATA_ENCRYPTION_KEY_OLD_1=None, VIRUSTOTAL_API_KEY=None)
    assert (await check("env.required-encryption")).status == PASS
    assert (await check("env.required-storage")).status == PASS


async def test_a_problem_list_reports_every_problem_at_once(
    deployment: Deployment, check: RunCheck
) -> None:
    deployment.write(DEBUG="true", LOG_LEVEL="DEBUG")
    result = await check("env.app-mode")
    assert "DEBUG is true" in result.message
    assert "LOG_LEVEL is DEBUG" in result.message
    assert "Set DEBUG=false." in result.hint
    assert "Set LOG_LEVEL=INFO." in result.hint


async def test_a_failure_also_mentions_warnings(deployment: Deployment, check: RunCheck) -> None:
    deployment.write(JWT_ALGORITHM="none", JWT_REFRESH_TOKEN_EXPIRE_DAYS="90")
    result = await check("env.jwt-settings")
    assert result.status == FAIL
    assert "Also: JWT_REFRESH_TOKEN_EXPIRE_DAYS is 90 days" in result.message


SEED_SAMPLES = [
    "<generate_with_openssl_rand_hex_32>",
    "postgresql://user:password@host:5432/toolboxai_prod",
    "redis://:password@host:6379/0",
    "<your_sendgrid_api_key>",
    "sk_live_<your_live_key>",
    "whsec_<your_webhook_secret>",
    "<fernet_key_base64>",
    "https://your-project.supabase.co",
    "<approle_role_id>",
    "changeme",
    "Change-Me",
    "PLACEHOLDER",
    "TODO",
    "todo: ask ops",
    "sk_live_xxxxxxxxxxxx",
    "your_key",
]
REAL_VALUES = [
    "noreply@toolboxai.com",
    "https://vault.toolboxai.local:8200",
    "postgresql://toolbox:s3cret@db.internal:5432/toolboxai_prod",
    "todolist-service",
    "production",
    "a7XxXx9b",
]


@pytest.mark.parametrize("value", SEED_SAMPLES)
def test_the_checklists_samples_are_placeholders(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", REAL_VALUES)
def test_real_values_are_not_placeholders(value: str) -> None:
    assert not is_placeholder(value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        (" yes ", True),
        ("1", True),
        ("on", True),
        ("false", False),
        ("No", False),
        ("0", False),
        ("off", False),
        ("maybe", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_bool(raw: str | None, expected: bool | None) -> None:
    assert parse_bool(raw) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("30", 30),
        (" 7 ", 7),
        ("-1", -1),
        ("3.0", None),
        ("1_000", None),
        ("", None),
        (None, None),
        ("9" * MAX_DIGITS, int("9" * MAX_DIGITS)),
        ("-" + "9" * MAX_DIGITS, -int("9" * MAX_DIGITS)),
        ("1" * (MAX_DIGITS + 1), None),
        ("9" * 5000, None),  # int() would raise: "Exceeds the limit (4300 digits)"
        (FULL_WIDTH_30, None),
    ],
)
def test_parse_int(raw: str | None, expected: int | None) -> None:
    assert parse_int(raw) == expected


async def test_slash_password_url_shows_where_it_points_and_never_the_password(
    deployment: Deployment, check: RunCheck
) -> None:
    deployment.write(DATABASE_URL=SLASH_URL)
    result = await check("env.database-url")
    assert result.status == PASS, result
    assert (result.evidence["host"], result.evidence["port"]) == ("db.internal", "5432")
    assert result.evidence["database"] == "toolboxai_prod"
    assert SLASH_PASSWORD[1:] not in repr(result)
