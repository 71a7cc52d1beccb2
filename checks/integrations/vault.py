"""Vault, live: the server is up and unsealed, the app can log in and read its secrets, and the
database credentials there were rotated recently.

Provides checks ``vault.health``, ``vault.app-login``, ``vault.token-ttl``,
``vault.app-secret`` and ``vault.db-credentials-rotated``, and :func:`read_kv`, which the
encryption-key backup (vault_backup.py) shares. Every request goes through hvac as the app
would make it: AppRole login in VAULT_NAMESPACE, then kv v2 reads with the app's token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from checks.checklist import ENVIRONMENT, SECURITY, VAULT_AUTOMATION_GAP
from checks.context import CheckContext
from checks.core import CheckFailed, Outcome, check, failed, passed, warned
from checks.integrations import PANE
from checks.integrations.vault_client import (
    AppToken,
    app_login,
    call,
    new_client,
    vault_address,
    vault_message,
)

HEALTH = "vault.health"
LOGIN = "vault.app-login"

# sys/health's status codes (the same in Vault and OpenBao), with what each means for us.
_HEALTH_STATES = {
    429: ("a standby node", "Point VAULT_ADDR at the cluster's active address or balancer."),
    472: ("a disaster-recovery secondary", "Point VAULT_ADDR at the primary cluster."),
    473: ("a performance standby", "Point VAULT_ADDR at the cluster's active address."),
    501: ("not initialised", "Initialise it (`operator init`) and load the app's secrets."),
    503: ("sealed", "Unseal it (`operator unseal`, with the key holders) before deploying."),
}


@check(
    id=HEALTH,
    pane=PANE,
    title="Vault up and unsealed",
    needs=("env.vault",),
    checklist=(ENVIRONMENT, "Vault automation"),
    partial=VAULT_AUTOMATION_GAP,
)
async def vault_health(ctx: CheckContext) -> Outcome:
    address = vault_address(ctx)
    client = await new_client(ctx, address, namespaced=False)
    # GET, not HEAD: the body says why, and hvac returns it whatever the status code.
    answer = await call(address, lambda: client.sys.read_health_status(method="GET"))
    status, body = _status_and_body(answer)
    version, cluster = body.get("version"), body.get("cluster_name")
    if status == 200:
        return passed(
            f"Vault at {address.shown} is initialised, unsealed and active.",
            version=version,
            cluster=cluster,
        )
    state, hint = _HEALTH_STATES.get(
        status, (f"unhealthy (HTTP {status})", "Look at Vault's server log.")
    )
    verdict = warned if status in (429, 472, 473) else failed
    return verdict(f"Vault at {address.shown} is {state}.", hint, version=version, cluster=cluster)


def _status_and_body(answer: Any) -> tuple[int, dict[str, Any]]:
    """hvac gives the parsed body for 200 and the raw response for any other status."""
    if isinstance(answer, dict):
        return 200, answer
    try:
        body = answer.json()
    except ValueError:
        body = {}
    return int(answer.status_code), body if isinstance(body, dict) else {}


@check(
    id=LOGIN,
    pane=PANE,
    title="Vault AppRole login",
    needs=(HEALTH,),
    checklist=(ENVIRONMENT, "Vault automation"),
    partial=VAULT_AUTOMATION_GAP,
)
async def vault_app_login(ctx: CheckContext) -> Outcome:
    token = await app_login(ctx)
    address = vault_address(ctx)
    return passed(
        f"The app logs in to namespace {address.namespace} with VAULT_ROLE_ID and VAULT_SECRET_ID.",
        policies=", ".join(token.policies) or None,
    )


@check(
    id="vault.token-ttl",
    pane=PANE,
    title="Vault token lifetime",
    needs=(LOGIN,),
    checklist=(ENVIRONMENT, "Vault automation"),
    partial=VAULT_AUTOMATION_GAP,
)
async def vault_token_ttl(ctx: CheckContext) -> Outcome:
    token = await app_login(ctx)
    shortest = ctx.config.vault_min_token_ttl_minutes * 60
    ttl, renewable = _duration(token.ttl_seconds), token.renewable
    if token.ttl_seconds <= 0:
        return failed(
            "The app's Vault token never expires: a leaked token would work forever.",
            "Give the app's AppRole a token_ttl and token_max_ttl (e.g. 1h and 4h).",
            ttl=ttl,
            renewable=renewable,
        )
    if token.ttl_seconds < shortest:
        return warned(
            f"The app's Vault token lives only {_duration(token.ttl_seconds)}: the app must "
            "log in again that often, and a Vault outage bites at once.",
            f"Raise the role's token_ttl to at least {_duration(shortest)} "
            "(TOOLBOX_VAULT_MIN_TOKEN_TTL_MINUTES), or check that the app renews it.",
            ttl=ttl,
            renewable=renewable,
        )
    renewal = "renewable" if token.renewable else "not renewable (the app logs in again)"
    return passed(f"The app's Vault token lives {ttl}, {renewal}.", ttl=ttl, renewable=renewable)


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


@dataclass(frozen=True)
class KvSecret:
    """One kv v2 secret as the app's token reads it."""

    path: str
    """``mount/path`` as a person would name it."""
    data: dict[str, Any]
    version: int
    written_at: datetime | None


async def read_kv(ctx: CheckContext, token: AppToken, path: str) -> KvSecret | None:
    """The current version of kv v2 secret ``path`` in the configured mount; None when there
    is none (never written, or its current version deleted). CheckFailed when the app's
    policy does not allow the read."""
    import hvac.exceptions as vault_errors

    mount = ctx.config.vault_kv_mount
    address = vault_address(ctx)
    kv = token.client.secrets.kv.v2

    def read() -> dict[str, Any] | None:
        try:
            answer: dict[str, Any] = kv.read_secret_version(
                path=path, mount_point=mount, raise_on_deleted_version=True
            )
        except vault_errors.InvalidPath:
            return None
        return answer

    try:
        answer = await call(address, read)
    except CheckFailed as failure:
        if isinstance(failure.__cause__, vault_errors.Forbidden):
            raise CheckFailed(
                f"The app's Vault policy does not allow reading {mount}/{path} "
                f"({vault_message(failure.__cause__)}).",
                f"Grant the app's role read on {mount}/data/{path} in namespace "
                f"{address.namespace}.",
            ) from failure
        raise
    if answer is None:
        return None
    metadata = answer["data"].get("metadata") or {}
    return KvSecret(
        path=f"{mount}/{path}",
        data=answer["data"].get("data") or {},
        version=int(metadata.get("version") or 0),
        written_at=_vault_time(metadata.get("created_time")),
    )


def _vault_time(value: object) -> datetime | None:
    """Vault's RFC 3339 times carry nanoseconds, which ``fromisoformat`` does not take."""
    if not isinstance(value, str) or not value:
        return None
    head, dot, tail = value.partition(".")
    if dot:
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits) :]
        value = f"{head}.{digits[:6]}{zone}"
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@check(
    id="vault.app-secret",
    pane=PANE,
    title="App secret in Vault",
    needs=(LOGIN,),
    checklist=(ENVIRONMENT, "Vault automation"),
    partial=VAULT_AUTOMATION_GAP,
)
async def vault_app_secret(ctx: CheckContext) -> Outcome:
    token = await app_login(ctx)
    path = ctx.config.vault_app_secret
    secret = await read_kv(ctx, token, path)
    if secret is None:
        return failed(
            f"There is no secret at {ctx.config.vault_kv_mount}/{path} (or its current version "
            "is deleted): the app would start without its Vault settings.",
            "Write the app's secret there, or point TOOLBOX_VAULT_APP_SECRET at where it is.",
        )
    return passed(
        f"The app reads {secret.path} (version {secret.version}, {len(secret.data)} keys).",
        keys=", ".join(sorted(secret.data)) or None,
    )


@check(
    id="vault.db-credentials-rotated",
    pane=PANE,
    title="DB credentials rotated",
    needs=(LOGIN,),
    checklist=(SECURITY, "Database credentials rotated"),
    partial="that the database and DATABASE_URL use the rotated credentials",
)
async def vault_db_credentials_rotated(ctx: CheckContext) -> Outcome:
    token = await app_login(ctx)
    secret = await read_kv(ctx, token, ctx.config.vault_database_secret)
    window = ctx.config.db_credentials_max_age_days
    if secret is None:
        return failed(
            f"There are no database credentials at {ctx.config.vault_kv_mount}/"
            f"{ctx.config.vault_database_secret}: rotation has nothing to renew.",
            "Store the credentials there (or set TOOLBOX_VAULT_DATABASE_SECRET) and enable "
            "the vault-rotation workflow.",
        )
    if secret.written_at is None:
        return failed(
            f"Vault does not say when {secret.path} was written.",
            "Read its metadata with `vault kv metadata get` to see why.",
        )
    age = ctx.clock() - secret.written_at
    when = secret.written_at.strftime("%Y-%m-%d %H:%M UTC")
    if age.days >= window:
        return failed(
            f"The database credentials in {secret.path} were last rotated {age.days} days ago "
            f"(policy: every {window} days).",
            "Run the vault-rotation workflow now and find out why its schedule did not run.",
            written=when,
            version=secret.version,
        )
    return passed(
        f"The database credentials in {secret.path} were rotated {age.days} days ago "
        f"(within {window} days).",
        written=when,
        version=secret.version,
    )
