"""How the app runs: production mode, debug off, quiet logs, and sane JWT settings.

Provides checks ``env.app-mode`` and ``env.jwt-settings``.
"""

from __future__ import annotations

from checks.checklist import ENVIRONMENT
from checks.context import CheckContext
from checks.core import Outcome, check
from checks.environment.values import ENV_FILE_CHECK, PANE
from checks.findings import Findings, is_production, require, require_bool, require_int
from checks.settings import DeploymentEnv

PRODUCTION_LOG_LEVELS = ("INFO", "WARNING", "ERROR", "CRITICAL")
KNOWN_LOG_LEVELS = ("DEBUG", "WARN", *PRODUCTION_LOG_LEVELS)

JWT_ALGORITHMS = frozenset(
    f"{family}{bits}" for family in ("HS", "RS", "ES", "PS") for bits in (256, 384, 512)
) | {"EdDSA"}
ACCESS_MINUTES = range(5, 61)
REFRESH_DAYS = range(1, 31)


@check(
    id="env.app-mode",
    pane=PANE,
    title="Production mode: debug off, quiet logs",
    needs=(ENV_FILE_CHECK,),
    checklist=(ENVIRONMENT, "Core application"),
)
async def app_mode(ctx: CheckContext) -> Outcome:
    env, findings = ctx.env, Findings()
    app_env = require(env, "APP_ENV", findings)
    debug = require_bool(env, "DEBUG", findings)
    level_raw = require(env, "LOG_LEVEL", findings)
    level = level_raw.strip().upper() if level_raw else None
    if level is not None and level not in KNOWN_LOG_LEVELS:
        findings.fail(
            "LOG_LEVEL is not a log level",
            f"Use one of {', '.join(PRODUCTION_LOG_LEVELS)}.",
        )
    if is_production(env):
        if debug:
            findings.fail(
                "DEBUG is true in production: tracebacks and settings would reach users",
                "Set DEBUG=false.",
            )
        if level == "DEBUG":
            findings.fail(
                "LOG_LEVEL is DEBUG in production: logs would fill with request details",
                "Set LOG_LEVEL=INFO.",
            )
    elif app_env is not None:
        findings.warn(
            f"APP_ENV is {app_env.strip()!r}: not a production env file",
            "If this is the production host, set APP_ENV=production; otherwise point "
            "TOOLBOX_ENV_FILE at the production env file.",
        )
    return findings.outcome(
        "APP_ENV=production with DEBUG off and LOG_LEVEL at INFO or quieter.",
        app_env=app_env,
        log_level=level,
    )


@check(
    id="env.jwt-settings",
    pane=PANE,
    title="JWT algorithm and token lifetimes",
    needs=(ENV_FILE_CHECK,),
    checklist=(ENVIRONMENT, "JWT authentication"),
)
async def jwt_settings(ctx: CheckContext) -> Outcome:
    env, findings = ctx.env, Findings()
    algorithm = require(env, "JWT_ALGORITHM", findings)
    if algorithm is not None:
        algorithm = algorithm.strip()
        if algorithm.lower() == "none":
            findings.fail(
                "JWT_ALGORITHM is 'none': tokens would be accepted without a signature",
                "Set JWT_ALGORITHM=HS256 (or the asymmetric algorithm the app is set up for).",
            )
        elif algorithm not in JWT_ALGORITHMS:
            findings.fail(
                f"JWT_ALGORITHM {algorithm!r} is not a known signing algorithm",
                "Use HS256/384/512, RS*, ES*, PS* or EdDSA (names are case-sensitive).",
            )
    _lifetime(env, "JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "minutes", ACCESS_MINUTES, findings)
    _lifetime(env, "JWT_REFRESH_TOKEN_EXPIRE_DAYS", "days", REFRESH_DAYS, findings)
    return findings.outcome(
        "JWT algorithm and token lifetimes are sane.",
        algorithm=algorithm,
        access_minutes=env.get("JWT_ACCESS_TOKEN_EXPIRE_MINUTES"),
        refresh_days=env.get("JWT_REFRESH_TOKEN_EXPIRE_DAYS"),
    )


def _lifetime(env: DeploymentEnv, name: str, unit: str, sane: range, findings: Findings) -> None:
    """Fail a lifetime that is not a positive number; warn one outside the checklist's range."""
    value = require_int(env, name, findings)
    if value is None:
        return
    advice = f"Keep {name} between {sane.start} and {sane.stop - 1} {unit}."
    if value <= 0:
        findings.fail(f"{name} is {value}: tokens would expire at once", advice)
    elif value > sane.stop - 1:
        findings.warn(f"{name} is {value} {unit}: a stolen token stays valid that long", advice)
    elif value < sane.start:
        findings.warn(f"{name} is {value} {unit}: users will be signed out often", advice)
