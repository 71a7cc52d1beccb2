"""The encryption key's backup in Vault: the checklist's "Store backup of key securely".

Provides check ``vault.fernet-backup`` (the env file's DATA_ENCRYPTION_KEY equals the copy in
Vault) and action ``vault.store-fernet-key`` (write the current key there when Vault has no
copy, or holds one of the older keys the env file still lists).

Keys are compared by a fingerprint keyed with a random key made for the comparison, so no
digest that could be matched elsewhere ever exists, and no key is ever shown: messages name
variables and paths only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from checks.checklist import SECURITY
from checks.context import CheckContext
from checks.core import (
    ActionFailed,
    ActionRefused,
    CheckFailed,
    Outcome,
    Plan,
    action,
    check,
    failed,
    nothing_to_do,
    passed,
    plan,
    refused_plan,
)
from checks.findings import Findings, require
from checks.integrations import PANE
from checks.integrations.vault import LOGIN, KvSecret, read_kv
from checks.integrations.vault_client import app_login, call, vault_address, vault_message

CURRENT = "DATA_ENCRYPTION_KEY"
OLD_SLOTS = ("DATA_ENCRYPTION_KEY_OLD_1", "DATA_ENCRYPTION_KEY_OLD_2")
STORE = "vault.store-fernet-key"


def same_secret(a: str, b: str) -> bool:
    """Whether two secrets are equal, compared by keyed fingerprints (constant time)."""
    key = secrets.token_bytes(32)
    return hmac.compare_digest(
        hmac.new(key, a.strip().encode(), hashlib.sha256).digest(),
        hmac.new(key, b.strip().encode(), hashlib.sha256).digest(),
    )


@dataclass(frozen=True)
class BackupState:
    """The env's current key against Vault's copy."""

    current: str
    secret: KvSecret | None
    stored: str | None
    """Vault's copy of the key, None when there is none."""
    older_slot: str | None
    """The env variable holding an older key that equals Vault's copy, if any."""

    @property
    def path(self) -> str:
        return self.secret.path if self.secret else "(none)"

    @property
    def backed_up(self) -> bool:
        return self.stored is not None and same_secret(self.stored, self.current)

    @property
    def storable(self) -> bool:
        """Writing the current key there loses nothing: no copy, or an older key's copy."""
        return self.stored is None or self.older_slot is not None


async def backup_state(ctx: CheckContext) -> BackupState:
    findings = Findings()
    current = require(ctx.env, CURRENT, findings)
    if current is None:
        outcome = findings.outcome("")
        raise CheckFailed(outcome.message, outcome.hint)
    token = await app_login(ctx)
    secret = await read_kv(ctx, token, ctx.config.vault_encryption_secret)
    stored = secret.data.get(CURRENT) if secret else None
    if stored is not None and not isinstance(stored, str):
        stored = str(stored)
    older = None
    if stored is not None:
        older = next(
            (
                slot
                for slot in OLD_SLOTS
                if (value := ctx.env.get(slot)) and same_secret(value, stored)
            ),
            None,
        )
    return BackupState(current.strip(), secret, stored, older)


@check(
    id="vault.fernet-backup",
    pane=PANE,
    title="Key backed up in Vault",
    needs=(LOGIN, "env.fernet-key"),
    checklist=(SECURITY, "Encryption keys backed up"),
)
async def fernet_backup(ctx: CheckContext) -> Outcome:
    state = await backup_state(ctx)
    where = f"{ctx.config.vault_kv_mount}/{ctx.config.vault_encryption_secret}"
    if state.backed_up:
        return passed(
            f"{CURRENT} equals its copy in Vault ({state.path}, version "
            f"{state.secret.version if state.secret else 0}).",
        )
    if state.stored is None:
        return failed(
            f"Vault has no copy of {CURRENT} at {where}: if this host is lost, data encrypted "
            "with it cannot be read again.",
            "Store it there with 'Back up encryption key to Vault'.",
            (STORE,),
        )
    if state.older_slot is not None:
        return failed(
            f"Vault holds an older key ({state.older_slot}), not the current {CURRENT}: the key "
            "was rotated but its backup was not.",
            "Store the current key with 'Back up encryption key to Vault' (the older one is "
            "kept beside it).",
            (STORE,),
        )
    return failed(
        f"The {CURRENT} in Vault ({where}) is not the env file's, nor any of its older keys.",
        "Find out which is right before anything is overwritten: data encrypted with the "
        "other key is unreadable without it. Decrypt a known record with each.",
    )


async def _plan_store(ctx: CheckContext) -> Plan:
    try:
        address = vault_address(ctx)
        state = await backup_state(ctx)
    except CheckFailed as exc:
        return refused_plan(f"Cannot reach the key's copy in Vault: {exc}")
    where = f"{ctx.config.vault_kv_mount}/{ctx.config.vault_encryption_secret}"
    head = f"Write {CURRENT} from {ctx.env.path.name} to Vault: {where} in namespace " + (
        f"{address.namespace} ({address.shown})."
    )
    if state.backed_up:
        return nothing_to_do("Vault already holds the current key; nothing to do.", head)
    if not state.storable:
        return refused_plan(
            "Vault holds a different key that the env file does not know: refusing to "
            "overwrite what may be the only copy of it.",
            head,
        )
    version = state.secret.version if state.secret else 0
    lines = [head, f"As version {version + 1}; refused if anyone writes it first."]
    if state.older_slot is not None:
        lines.append(f"The key stored now (the env's {state.older_slot}) is kept beside it.")
    return plan(*lines, version=version, key=state.current, older=state.older_slot)


@action(
    id=STORE,
    title="Back up encryption key to Vault",
    pane=PANE,
    key="v",
    plan=_plan_store,
    description="Write DATA_ENCRYPTION_KEY to the app's encryption secret in Vault.",
)
async def store_fernet_key(ctx: CheckContext, planned: Plan) -> str:
    import hvac.exceptions as vault_errors

    address = vault_address(ctx)
    path = ctx.config.vault_encryption_secret
    mount = ctx.config.vault_kv_mount
    try:
        token = await app_login(ctx)
        secret = await read_kv(ctx, token, path)
    except CheckFailed as exc:
        raise ActionFailed(str(exc)) from exc
    version = secret.version if secret else 0
    if version != planned.payload["version"]:
        raise ActionRefused(
            f"{mount}/{path} changed since the preview (version {version}, not "
            f"{planned.payload['version']}); nothing was written. Preview again."
        )
    data = dict(secret.data) if secret else {}
    older = planned.payload["older"]
    if older is not None:
        data[older] = data.get(CURRENT)
    data[CURRENT] = planned.payload["key"]
    kv = token.client.secrets.kv.v2
    try:
        # Check-and-set: Vault itself refuses if another writer got there since our read.
        answer = await call(
            address,
            lambda: kv.create_or_update_secret(
                path=path, secret=data, cas=version, mount_point=mount
            ),
        )
    except CheckFailed as exc:
        cause = exc.__cause__
        if isinstance(cause, vault_errors.InvalidRequest) and "check-and-set" in str(cause):
            raise ActionRefused(
                f"{mount}/{path} was written by someone else meanwhile; nothing was written."
            ) from exc
        if isinstance(cause, vault_errors.Forbidden):
            raise ActionFailed(
                f"The app's Vault policy does not allow writing {mount}/{path} "
                f"({vault_message(cause)}); ask a Vault admin to store the key."
            ) from exc
        raise ActionFailed(str(exc)) from exc
    written = int((answer.get("data") or {}).get("version") or version + 1)
    ctx.changed(f"stored {CURRENT} in Vault at {mount}/{path}, version {written}")
    return f"{CURRENT} is backed up in Vault ({mount}/{path}, version {written})."
