"""Sets the sandbox's Vault up as production's would be: the app's namespace, a kv v2 mount,
an AppRole for the app with a policy of just what it needs, and the app's secrets: its own
settings, the database credentials that rotation renews, and the backup of its Fernet key.

The paths are the tool's defaults (TOOLBOX_VAULT_*), so the checks need no settings to find
them. Also provides what the Vault scenarios break.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolbox_tui.sandbox.openbao import OpenBaoServer

NAMESPACE = "toolboxai"
MOUNT = "secret"
APP_SECRET = "toolboxai/app"
DATABASE_SECRET = "toolboxai/database"
ENCRYPTION_SECRET = "toolboxai/encryption"
ROLE = "toolboxai-app"

# What the app may do: read its secrets, and keep the key backup current (the store action).
_POLICY = f"""
path "{MOUNT}/data/toolboxai/*" {{ capabilities = ["read"] }}
path "{MOUNT}/data/{ENCRYPTION_SECRET}" {{ capabilities = ["create", "read", "update"] }}
"""


@dataclass(frozen=True)
class AppRoleLogin:
    role_id: str
    secret_id: str


def seed_vault(
    vault: OpenBaoServer,
    fernet_key: str,
    db_user: str,
    db_password: str,
    namespace: str = NAMESPACE,
) -> AppRoleLogin:
    """Lay the app's Vault out in ``namespace`` and return the AppRole login to put in the
    env file."""
    vault.api("POST", f"sys/namespaces/{namespace}")

    def api(method: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
        return vault.api(method, path, body, namespace=namespace)

    api("POST", f"sys/mounts/{MOUNT}", {"type": "kv", "options": {"version": "2"}})
    api("POST", "sys/auth/approle", {"type": "approle"})
    api("PUT", f"sys/policies/acl/{ROLE}", {"policy": _POLICY})
    api(
        "POST",
        f"auth/approle/role/{ROLE}",
        {"token_policies": [ROLE], "token_ttl": "1h", "token_max_ttl": "4h"},
    )
    role_id = api("GET", f"auth/approle/role/{ROLE}/role-id")["data"]
    secret_id = api("POST", f"auth/approle/role/{ROLE}/secret-id")["data"]
    assert isinstance(role_id, dict) and isinstance(secret_id, dict)
    app_settings = {"feature_flags": "roblox,uploads", "sentry_env": "production"}
    write_secret(vault, APP_SECRET, app_settings, namespace)
    write_secret(vault, DATABASE_SECRET, {"username": db_user, "password": db_password}, namespace)
    write_secret(vault, ENCRYPTION_SECRET, {"DATA_ENCRYPTION_KEY": fernet_key}, namespace)
    return AppRoleLogin(str(role_id["role_id"]), str(secret_id["secret_id"]))


def write_secret(
    vault: OpenBaoServer, path: str, data: dict[str, str], namespace: str = NAMESPACE
) -> None:
    vault.api("POST", f"{MOUNT}/data/{path}", {"data": data}, namespace=namespace)


def read_secret(vault: OpenBaoServer, path: str, namespace: str = NAMESPACE) -> dict[str, object]:
    """The current data of secret ``path``, as root sees it."""
    answer = vault.api("GET", f"{MOUNT}/data/{path}", namespace=namespace)
    data = answer["data"]
    assert isinstance(data, dict)
    return dict(data["data"])


def forget_secret(vault: OpenBaoServer, path: str, namespace: str = NAMESPACE) -> None:
    """Every version of ``path`` gone: the ``fernet-not-in-vault`` scenario's "never stored"."""
    vault.api("DELETE", f"{MOUNT}/metadata/{path}", namespace=namespace)
