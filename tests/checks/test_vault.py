"""The Vault checks and the key-backup action against a real OpenBao over TLS: each passes, and
fails for the reason its message names.

Each test lays the app's Vault out (AppRole, policy, secrets) in a namespace of its own on the
session's server, as the sandbox does for the demo; tests that seal or replace the server
start their own.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import checks.integrations  # noqa: F401  (registers the pane's checks and actions)
from checks.context import CheckContext
from checks.core import CheckResult, Status, registry
from checks.events import ActionDone
from checks.integrations.vault_client import call, new_client, vault_address
from checks.memo import RunMemo
from checks.net import run_tls_context
from checks.runner import build_plan, run_action
from tests.checks.db_helpers import run_check
from tests.conftest import MakeContext
from tests.web_servers import silent_port, unanswered_port
from toolbox_tui.sandbox.openbao import OpenBaoServer
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.tls import CertificateAuthority
from toolbox_tui.sandbox.vault_seed import (
    DATABASE_SECRET,
    ENCRYPTION_SECRET,
    ROLE,
    forget_secret,
    read_secret,
    seed_vault,
    write_secret,
)

STORE = "vault.store-fernet-key"


def fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@dataclass
class VaultApp:
    """The app's Vault in one namespace, and the env file that points at it."""

    server: OpenBaoServer
    namespace: str
    role_id: str
    secret_id: str
    key: str
    old_key: str
    bundle: Path

    def env_text(self, **changes: str) -> str:
        values = {
            "VAULT_ADDR": self.server.url,
            "VAULT_NAMESPACE": self.namespace,
            "VAULT_ROLE_ID": self.role_id,
            "VAULT_SECRET_ID": self.secret_id,
            "DATA_ENCRYPTION_KEY": self.key,
            "DATA_ENCRYPTION_KEY_OLD_1": self.old_key,
            **changes,
        }
        return "".join(f"{name}={value}\n" for name, value in values.items())

    def admin(self, method: str, path: str, body: dict[str, object] | None = None) -> dict:  # type: ignore[type-arg]
        return self.server.api(method, path, body, namespace=self.namespace)


def lay_out(server: OpenBaoServer, bundle: Path) -> VaultApp:
    namespace = f"app{uuid.uuid4().hex[:10]}"
    key, old_key = fernet_key(), fernet_key()
    login = seed_vault(server, key, "toolboxai", "db-password", namespace=namespace)
    return VaultApp(server, namespace, login.role_id, login.secret_id, key, old_key, bundle)


@pytest.fixture(scope="session")
def ca_bundle(sandbox_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sandbox_ca.write_bundle(tmp_path_factory.mktemp("ca") / "ca.pem")


@pytest.fixture
def vault(vault_server: OpenBaoServer, ca_bundle: Path) -> VaultApp:
    return lay_out(vault_server, ca_bundle)


def context(make_context: MakeContext, app: VaultApp, **config: object) -> CheckContext:
    env_changes = {k: v for k, v in config.items() if k.isupper()}
    settings = {k: v for k, v in config.items() if not k.isupper()}
    settings.setdefault("ca_bundle", app.bundle)
    return make_context(app.env_text(**env_changes), **settings)  # type: ignore[arg-type]


async def check_vault(
    make_context: MakeContext, app: VaultApp, check_id: str, **config: object
) -> CheckResult:
    return await run_check(context(make_context, app, **config), check_id)


# -- a healthy Vault ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check_id", "words"),
    [
        ("vault.health", "is initialised, unsealed and active"),
        ("vault.app-login", "logs in to namespace"),
        ("vault.token-ttl", "lives 1 h, renewable"),
        ("vault.app-secret", "reads secret/toolboxai/app (version 1, 2 keys)"),
        ("vault.fernet-backup", "DATA_ENCRYPTION_KEY equals its copy in Vault"),
        ("vault.db-credentials-rotated", "were rotated 0 days ago (within 30 days)"),
    ],
)
async def test_each_check_passes_on_the_app_vault_as_production_has_it(
    make_context: MakeContext, vault: VaultApp, check_id: str, words: str
) -> None:
    # Vault stamps the secrets with its own clock: judge their age by the real one.
    result = await run_check(_with_real_clock(context(make_context, vault)), check_id)
    assert result.status is Status.PASS, result.message
    assert words in result.message


def _with_real_clock(ctx: CheckContext, ahead: timedelta = timedelta(0)) -> CheckContext:
    return replace(ctx, clock=lambda: datetime.now(UTC) + ahead)


# -- vault.health -------------------------------------------------------------------------------


class UninitialisedOpenBao(OpenBaoServer):
    """An OpenBao that was never initialised, as right after installation."""

    def _initialise(self) -> None:
        pass


async def test_health_fails_when_vault_is_sealed(
    make_context: MakeContext, sandbox_ca: CertificateAuthority, ca_bundle: Path
) -> None:
    with OpenBaoServer(sandbox_ca) as server:
        app = lay_out(server, ca_bundle)
        server.seal()
        result = await check_vault(make_context, app, "vault.health")
        login = await check_vault(make_context, app, "vault.app-login")
    assert result.status is Status.FAIL
    assert result.message == f"Vault at {server.url} is sealed."
    assert "Unseal it" in result.hint
    assert login.status is Status.SKIP  # nothing more to learn from a sealed Vault


async def test_health_fails_when_vault_was_never_initialised(
    make_context: MakeContext, sandbox_ca: CertificateAuthority, ca_bundle: Path
) -> None:
    with UninitialisedOpenBao(sandbox_ca) as server:
        ctx = make_context(
            f"VAULT_ADDR={server.url}\nVAULT_NAMESPACE=toolboxai\n", ca_bundle=ca_bundle
        )
        result = await run_check(ctx, "vault.health")
    assert result.status is Status.FAIL
    assert result.message.endswith("is not initialised.")


async def test_health_fails_when_nothing_listens(
    make_context: MakeContext, vault: VaultApp
) -> None:
    url = f"https://127.0.0.1:{free_port()}"
    result = await check_vault(make_context, vault, "vault.health", VAULT_ADDR=url)
    assert result.status is Status.FAIL
    assert result.message == f"{url} refused the connection: nothing listens on that port."
    assert "VAULT_ADDR" in result.hint


async def test_health_fails_when_the_certificate_is_not_trusted(
    make_context: MakeContext, vault: VaultApp
) -> None:
    # No TOOLBOX_CA_BUNDLE: the system's CAs do not know the sandbox's.
    result = await check_vault(make_context, vault, "vault.health", ca_bundle=None)
    assert result.status is Status.FAIL
    assert "TLS certificate" in result.message and "is not trusted" in result.message
    assert "TOOLBOX_CA_BUNDLE" in result.hint


async def test_health_fails_when_the_certificate_names_another_host(
    make_context: MakeContext, ca_bundle: Path
) -> None:
    other_ca = CertificateAuthority()
    bundle = other_ca.write_bundle(ca_bundle.with_name("other-ca.pem"))
    with _tls_server(other_ca, "vault.example.org") as port:
        ctx = make_context(
            f"VAULT_ADDR=https://127.0.0.1:{port}\nVAULT_NAMESPACE=toolboxai\n", ca_bundle=bundle
        )
        result = await run_check(ctx, "vault.health")
    assert result.status is Status.FAIL
    assert "is for another host name" in result.message
    assert "VAULT_ADDR" in result.hint


async def test_health_fails_in_time_when_vault_never_answers(
    make_context: MakeContext, vault: VaultApp
) -> None:
    with unanswered_port() as port:
        url = f"https://127.0.0.1:{port}"
        result = await check_vault(
            make_context, vault, "vault.health", VAULT_ADDR=url, check_timeout=2
        )
    assert result.status is Status.FAIL
    assert result.message.startswith(f"No connection to {url} within 1 s")


async def test_health_fails_in_time_when_vault_accepts_and_says_nothing(
    make_context: MakeContext, vault: VaultApp
) -> None:
    with silent_port() as port:
        url = f"https://127.0.0.1:{port}"
        result = await check_vault(
            make_context, vault, "vault.health", VAULT_ADDR=url, check_timeout=2
        )
    assert result.status is Status.FAIL  # not ERROR: the check's own limit never came
    assert url in result.message and "within 1 s" in result.message


@contextlib.contextmanager
def _tls_server(ca: CertificateAuthority, name: str) -> Iterator[int]:
    """A TLS server whose certificate is for ``name`` only; it completes handshakes."""
    import tempfile

    folder = Path(tempfile.mkdtemp())
    context = ca.issue(name).server_context(folder)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


# -- vault.app-login and vault.token-ttl --------------------------------------------------------


async def test_login_fails_with_a_secret_id_vault_never_issued(
    make_context: MakeContext, vault: VaultApp
) -> None:
    planted = "a1b2c3d4e5f6" * 3
    result = await check_vault(make_context, vault, "vault.app-login", VAULT_SECRET_ID=planted)
    assert result.status is Status.FAIL
    assert "refused the app's AppRole login" in result.message
    assert "invalid role or secret ID" in result.message
    assert "VAULT_SECRET_ID" in result.hint
    assert planted not in result.message + result.hint + str(result.evidence)


async def test_login_fails_naming_a_namespace_that_does_not_exist(
    make_context: MakeContext, vault: VaultApp
) -> None:
    result = await check_vault(make_context, vault, "vault.app-login", VAULT_NAMESPACE="nosuchns")
    assert result.status is Status.FAIL
    assert result.message == f"Vault at {vault.server.url} has no namespace 'nosuchns'."


async def test_a_token_that_lives_minutes_is_too_short(
    make_context: MakeContext, vault: VaultApp
) -> None:
    vault.admin(
        "POST", f"auth/approle/role/{ROLE}", {"token_policies": [ROLE], "token_ttl": "300s"}
    )
    result = await check_vault(make_context, vault, "vault.token-ttl")
    assert result.status is Status.WARN
    assert "lives only 5 min" in result.message
    assert "TOOLBOX_VAULT_MIN_TOKEN_TTL_MINUTES" in result.hint
    # The threshold is a setting: with 5 minutes allowed, it passes.
    allowed = await check_vault(
        make_context, vault, "vault.token-ttl", vault_min_token_ttl_minutes=5
    )
    assert allowed.status is Status.PASS


# -- vault.app-secret ---------------------------------------------------------------------------


async def test_app_secret_fails_when_it_is_not_there(
    make_context: MakeContext, vault: VaultApp
) -> None:
    result = await check_vault(
        make_context, vault, "vault.app-secret", vault_app_secret="toolboxai/nothing-here"
    )
    assert result.status is Status.FAIL
    assert result.message.startswith("There is no secret at secret/toolboxai/nothing-here")


async def test_app_secret_fails_when_the_policy_forbids_reading_it(
    make_context: MakeContext, vault: VaultApp
) -> None:
    write_secret(vault.server, "billing/app", {"x": "y"}, vault.namespace)
    result = await check_vault(
        make_context, vault, "vault.app-secret", vault_app_secret="billing/app"
    )
    assert result.status is Status.FAIL
    assert result.message.startswith(
        "The app's Vault policy does not allow reading secret/billing/app (permission denied)"
    )


# -- vault.db-credentials-rotated ---------------------------------------------------------------


async def test_credentials_older_than_the_policy_fail(
    make_context: MakeContext, vault: VaultApp
) -> None:
    ctx = _with_real_clock(context(make_context, vault), ahead=timedelta(days=31))
    result = await run_check(ctx, "vault.db-credentials-rotated")
    assert result.status is Status.FAIL
    assert "were last rotated 31 days ago (policy: every 30 days)" in result.message
    assert "vault-rotation workflow" in result.hint


async def test_credentials_missing_from_vault_fail(
    make_context: MakeContext, vault: VaultApp
) -> None:
    forget_secret(vault.server, DATABASE_SECRET, vault.namespace)
    result = await check_vault(make_context, vault, "vault.db-credentials-rotated")
    assert result.status is Status.FAIL
    assert result.message.startswith("There are no database credentials at secret/toolboxai/")


# -- vault.fernet-backup and vault.store-fernet-key ---------------------------------------------


async def store(ctx: CheckContext) -> ActionDone:
    ends: list[ActionDone] = []
    async for _ in run_action(registry.actions[STORE], ctx, confirmed=True, on_end=ends.append):
        pass
    return ends[-1]


async def test_a_missing_backup_fails_and_the_fix_stores_the_key(
    make_context: MakeContext, vault: VaultApp
) -> None:
    forget_secret(vault.server, ENCRYPTION_SECRET, vault.namespace)
    ctx = context(make_context, vault)
    result = await run_check(ctx, "vault.fernet-backup")
    assert result.status is Status.FAIL
    assert result.message.startswith("Vault has no copy of DATA_ENCRYPTION_KEY")
    assert result.actions == (STORE,)

    done = await store(ctx)
    assert done.outcome == "ok", done.message
    assert read_secret(vault.server, ENCRYPTION_SECRET, vault.namespace) == {
        "DATA_ENCRYPTION_KEY": vault.key
    }
    assert (await run_check(ctx, "vault.fernet-backup")).status is Status.PASS
    assert vault.key not in done.message + " ".join(done.changes)


async def test_after_a_rotation_the_fix_stores_the_new_key_and_keeps_the_old(
    make_context: MakeContext, vault: VaultApp
) -> None:
    rotated = fernet_key()
    # The env's current key moved to _OLD_1; Vault still holds it.
    ctx = context(
        make_context, vault, DATA_ENCRYPTION_KEY=rotated, DATA_ENCRYPTION_KEY_OLD_1=vault.key
    )
    result = await run_check(ctx, "vault.fernet-backup")
    assert result.status is Status.FAIL
    assert "Vault holds an older key (DATA_ENCRYPTION_KEY_OLD_1)" in result.message
    assert result.actions == (STORE,)

    done = await store(ctx)
    assert done.outcome == "ok", done.message
    assert read_secret(vault.server, ENCRYPTION_SECRET, vault.namespace) == {
        "DATA_ENCRYPTION_KEY": rotated,
        "DATA_ENCRYPTION_KEY_OLD_1": vault.key,
    }


async def test_an_unknown_key_in_vault_fails_and_is_never_overwritten(
    make_context: MakeContext, vault: VaultApp
) -> None:
    stranger = fernet_key()
    write_secret(
        vault.server, ENCRYPTION_SECRET, {"DATA_ENCRYPTION_KEY": stranger}, vault.namespace
    )
    ctx = context(make_context, vault)
    result = await run_check(ctx, "vault.fernet-backup")
    assert result.status is Status.FAIL
    assert "is not the env file's, nor any of its older keys" in result.message
    assert result.actions == ()

    done = await store(ctx)
    assert done.outcome == "refused"
    assert "refusing to overwrite what may be the only copy" in done.message
    stored = read_secret(vault.server, ENCRYPTION_SECRET, vault.namespace)
    assert stored == {"DATA_ENCRYPTION_KEY": stranger}


async def test_the_fix_refuses_when_vault_changed_after_the_preview(
    make_context: MakeContext, vault: VaultApp
) -> None:
    forget_secret(vault.server, ENCRYPTION_SECRET, vault.namespace)
    ctx = context(make_context, vault)
    planned = await build_plan(registry.actions[STORE], ctx)
    assert "As version 1; refused if anyone writes it first." in planned.text
    write_secret(vault.server, ENCRYPTION_SECRET, {"note": "someone else"}, vault.namespace)
    ends: list[ActionDone] = []
    async for _ in run_action(
        registry.actions[STORE], ctx, confirmed=True, plan=planned, on_end=ends.append
    ):
        pass
    assert ends[-1].outcome == "refused"
    assert "changed since the preview" in ends[-1].message
    assert read_secret(vault.server, ENCRYPTION_SECRET, vault.namespace) == {"note": "someone else"}


async def test_the_preview_never_shows_the_key(make_context: MakeContext, vault: VaultApp) -> None:
    forget_secret(vault.server, ENCRYPTION_SECRET, vault.namespace)
    ctx = context(make_context, vault)
    planned = await build_plan(registry.actions[STORE], ctx)
    assert planned.refusal is None
    assert vault.key not in planned.text
    assert f"namespace {vault.namespace}" in planned.text


async def test_vault_s_tls_context_widens_nothing_the_other_checks_trust(
    make_context: MakeContext, vault: VaultApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests loads REQUESTS_CA_BUNDLE into the context it is handed: into Vault's own, never
    into the one every other check of the run verifies with."""
    other = CertificateAuthority("another CA requests would add")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other.write_bundle(tmp_path / "other.pem")))
    ctx = replace(context(make_context, vault), memo=RunMemo())
    address = vault_address(ctx)
    client = await new_client(ctx, address, namespaced=False)
    await call(address, lambda: client.sys.read_health_status(method="GET"))

    def subjects(context: ssl.SSLContext) -> set[str]:
        return {str(cert["subject"]) for cert in context.get_ca_certs()}

    vault_trusts = subjects(
        client.session.get_adapter(address.url).poolmanager.connection_pool_kw["ssl_context"]
    )
    assert any("another CA" in subject for subject in vault_trusts)  # requests did add it
    assert not any("another CA" in subject for subject in subjects(await run_tls_context(ctx)))
