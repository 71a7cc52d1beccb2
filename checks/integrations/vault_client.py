"""Talking to the deployment's Vault through hvac, the way every check and action does.

Provides :func:`vault_address` (VAULT_ADDR and VAULT_NAMESPACE from the env file, or a
FAIL naming what is wrong), :func:`new_client` (an ``hvac.Client`` with explicit timeouts and
the same TLS trust as every other client: the system store plus TOOLBOX_CA_BUNDLE),
:func:`app_login` (the app's AppRole login, done once per run and shared), :func:`call` (one
blocking hvac call in a worker thread, its failure turned into a sentence) and
:class:`AppToken`.

hvac is synchronous and costs ~70 ms to import: it is imported here, inside the functions,
and every call runs in a thread so the dashboard keeps drawing.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from checks import net
from checks.context import CheckContext
from checks.core import CheckFailed
from checks.findings import Findings, require, require_https_url
from checks.offloop import import_off_loop

if TYPE_CHECKING:
    import hvac

T = TypeVar("T")
ADDRESS_SETTING = "VAULT_ADDR"
# Vault's multi-line error lists ("1 error occurred:\n\t* permission denied\n\n").
_ERROR_LIST = re.compile(r"\d+ errors? occurred:\s*|\s*\*\s*")


@dataclass(frozen=True)
class VaultAddress:
    url: str
    namespace: str
    shown: str
    """The URL as messages show it (credentials, if anyone wrote some, masked)."""
    timeouts: tuple[float, float]
    """Seconds to connect and to wait for an answer (TOOLBOX_CHECK_TIMEOUT caps them)."""

    @property
    def endpoint(self) -> str:
        """How messages name the server: ``https://vault:8200 (namespace toolboxai)``."""
        return f"{self.shown} (namespace {self.namespace})"


@dataclass(frozen=True)
class AppToken:
    """What the app's AppRole login gave: a client holding the token, and the token's terms."""

    client: hvac.Client
    ttl_seconds: int
    renewable: bool
    policies: tuple[str, ...]


def vault_address(ctx: CheckContext) -> VaultAddress:
    """VAULT_ADDR (https, as env.vault demands) and VAULT_NAMESPACE, or CheckFailed."""
    findings = Findings()
    url = require_https_url(ctx.env, ADDRESS_SETTING, findings)
    namespace = require(ctx.env, "VAULT_NAMESPACE", findings)
    if url is None or namespace is None:
        outcome = findings.outcome("")
        raise CheckFailed(outcome.message, outcome.hint)
    timeouts = (
        net.phase_timeout(ctx.config, net.CONNECT_TIMEOUT),
        net.phase_timeout(ctx.config, net.READ_TIMEOUT),
    )
    return VaultAddress(url.text.rstrip("/"), namespace.strip(), url.masked().rstrip("/"), timeouts)


async def new_client(
    ctx: CheckContext, address: VaultAddress, *, namespaced: bool = True
) -> hvac.Client:
    """An hvac client for ``address``, in its namespace unless ``namespaced`` is False (for
    ``sys/health``, which exists only at the root).

    Its TLS context is Vault's own, one per run: requests hands urllib3 its CA file
    (certifi's, or REQUESTS_CA_BUNDLE) to load into whatever context it is given, and that
    must not widen what the other checks of the run trust (:func:`net.run_tls_context`).
    """
    bundle = ctx.config.ca_bundle
    context = await ctx.shared(
        f"vault-tls-context:{bundle}", lambda: asyncio.to_thread(net.tls_context, bundle)
    )
    await import_off_loop("hvac", "requests")
    return await asyncio.to_thread(_client, address, context, namespaced)


def _client(address: VaultAddress, context: ssl.SSLContext, namespaced: bool) -> hvac.Client:
    import hvac
    import requests
    from requests.adapters import HTTPAdapter

    class TrustingAdapter(HTTPAdapter):
        # requests takes a CA file, not a context: this hands urllib3 ours (the system
        # store and TOOLBOX_CA_BUNDLE). requests still has urllib3 load its own CA file into
        # it (certifi's, or REQUESTS_CA_BUNDLE), so Vault trusts those too.
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = context
            super().init_poolmanager(*args, **kwargs)

    session = requests.Session()
    session.mount("https://", TrustingAdapter(max_retries=0))
    return hvac.Client(
        url=address.url,
        namespace=address.namespace if namespaced else None,
        session=session,
        timeout=address.timeouts,  # requests takes (connect, read)
    )


async def call(address: VaultAddress, what: Callable[[], T]) -> T:
    """``what()`` in a worker thread; its hvac or network failure becomes CheckFailed."""
    try:
        return await asyncio.to_thread(what)
    except Exception as exc:
        failure = explain(exc, address)
        if failure is None:
            raise
        raise failure from exc


def explain(exc: BaseException, address: VaultAddress) -> CheckFailed | None:
    """A failed Vault request as a sentence and a hint; None for what is not one."""
    import hvac.exceptions as vault_errors
    import requests

    endpoint = address.shown
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return net.connect_timed_out(endpoint, f"{address.timeouts[0]:g} s")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return net.read_timed_out(endpoint, f"{address.timeouts[1]:g} s")
    if isinstance(exc, requests.exceptions.RequestException):
        return net.explain_transport(exc, endpoint, ADDRESS_SETTING) or CheckFailed(
            f"The request to Vault at {endpoint} failed: {type(exc).__name__}.",
            "Try `curl $VAULT_ADDR/v1/sys/health` from this host to see more.",
        )
    if isinstance(exc, vault_errors.VaultDown):
        return CheckFailed(
            f"Vault at {endpoint} is sealed: it answers nothing until it is unsealed.",
            "Unseal it (`bao operator unseal` / `vault operator unseal`, with the key holders).",
        )
    if isinstance(exc, vault_errors.VaultError):
        return CheckFailed(
            f"Vault at {address.endpoint} answered {type(exc).__name__}: {vault_message(exc)}.",
            "Look at Vault's audit log for the request, and at the policy of the app's role.",
        )
    return None


def vault_message(exc: BaseException) -> str:
    """Vault's error text on one line, without the URL hvac appends (it holds no secret,
    but a person has it already)."""
    errors = getattr(exc, "errors", None)
    text = "; ".join(str(e) for e in errors) if isinstance(errors, list) and errors else str(exc)
    text = text.split(", on ", 1)[0]
    parts = [p.strip() for p in _ERROR_LIST.split(text) if p.strip() and p.strip() != "None"]
    return "; ".join(parts) or "no detail"


async def app_login(ctx: CheckContext) -> AppToken:
    """The app's AppRole login with VAULT_ROLE_ID / VAULT_SECRET_ID in its namespace, once
    per run; CheckFailed saying why it was refused."""
    return await ctx.shared("vault.app-login", lambda: _login(ctx))


async def _login(ctx: CheckContext) -> AppToken:
    import hvac.exceptions as vault_errors

    address = vault_address(ctx)
    findings = Findings()
    role_id = require(ctx.env, "VAULT_ROLE_ID", findings)
    secret_id = require(ctx.env, "VAULT_SECRET_ID", findings)
    if role_id is None or secret_id is None:
        outcome = findings.outcome("")
        raise CheckFailed(outcome.message, outcome.hint)
    client = await new_client(ctx, address)
    try:
        answer = await asyncio.to_thread(
            client.auth.approle.login, role_id.strip(), secret_id.strip()
        )
    except vault_errors.InvalidPath as exc:
        if "namespace" in vault_message(exc).lower():
            raise CheckFailed(
                f"Vault at {address.shown} has no namespace {address.namespace!r}.",
                "Check VAULT_NAMESPACE (namespaces are case-sensitive), or create it.",
            ) from exc
        raise CheckFailed(
            f"AppRole is not enabled in namespace {address.namespace!r} at {address.shown}.",
            "Enable it there (`auth enable approle`) or fix VAULT_NAMESPACE.",
        ) from exc
    except vault_errors.InvalidRequest as exc:
        raise CheckFailed(
            f"Vault refused the app's AppRole login at {address.endpoint}: {vault_message(exc)}.",
            "VAULT_ROLE_ID or VAULT_SECRET_ID is wrong, or the secret_id expired or was used "
            "up: issue a new one for the app's role and update the env file.",
        ) from exc
    except Exception as exc:
        failure = explain(exc, address)
        if failure is None:
            raise
        raise failure from exc
    auth = answer["auth"]
    return AppToken(
        client=client,
        ttl_seconds=int(auth.get("lease_duration") or 0),
        renewable=bool(auth.get("renewable")),
        policies=tuple(auth.get("policies") or ()),
    )
