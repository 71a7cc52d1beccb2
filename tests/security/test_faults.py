"""Every check of the running app, when no usable answer comes: a refused connection, a
server that accepts and never answers, a certificate for another name, a 5xx, and a target
in clear to another host. Each becomes a FAIL a person can act on, never a traceback, and
never shows the planted token or secret."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from checks.context import CheckContext
from checks.core import Status
from tests.security.running import (
    API_TOKEN,
    WEBHOOK_SECRET,
    SecurityContext,
    assert_status,
    check_with_log,
    everything,
)
from tests.web_servers import HANG, Reply, WebServer
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.tls import CertificateAuthority

# Each check, and the first path it asks.
FIRST_PATH = {
    "sec.hsts": "/",
    "sec.headers": "/",
    "sec.cookies": "/",
    "sec.cors": "/api/health",
    "sec.rate-limit": "/api/v1/auth/login",
    "sec.webhook-signature": "/api/v1/stripe/webhooks",
    "sec.token-revocation": "/api/v1/auth/token",
}
PATHS = (*dict.fromkeys(FIRST_PATH.values()), "/api/v1/auth/me", "/api/v1/auth/revoke")
every_check = pytest.mark.parametrize("check_id", list(FIRST_PATH))


def everywhere(reply: Reply) -> dict[str, Reply]:
    return dict.fromkeys(PATHS, reply)


def armed(context: SecurityContext, url: str, **config: object) -> CheckContext:
    """A context under which every check gets as far as the network."""
    return context(url, api_token=API_TOKEN, rate_limit_probe=True, **config)


@every_check
async def test_a_refused_connection(context: SecurityContext, check_id: str) -> None:
    url = f"https://127.0.0.1:{free_port()}"
    ran = await check_with_log(armed(context, url), check_id)
    assert_status(ran.result, Status.FAIL, f"{url}{FIRST_PATH[check_id]} refused the connection")


@every_check
async def test_a_server_that_never_answers(
    context: SecurityContext, tls: ssl.SSLContext, check_id: str
) -> None:
    async with WebServer(everywhere(HANG), tls) as server:
        ctx = armed(context, server.url, check_timeout=2)
        ran = await check_with_log(ctx, check_id)
    assert_status(
        ran.result,
        Status.FAIL,
        f"{server.url}{FIRST_PATH[check_id]} accepted the connection but sent no answer within 1 s",
    )


@every_check
async def test_a_certificate_for_another_name(
    context: SecurityContext, sandbox_ca: CertificateAuthority, tmp_path: Path, check_id: str
) -> None:
    other = sandbox_ca.issue("app.example.com").server_context(tmp_path)
    async with WebServer(everywhere(Reply()), other) as server:
        ran = await check_with_log(armed(context, server.url), check_id)
    assert_status(
        ran.result,
        Status.FAIL,
        f"The TLS certificate of {server.url}{FIRST_PATH[check_id]} is for another host name",
    )
    assert server.requests == []


@every_check
async def test_a_server_error(context: SecurityContext, tls: ssl.SSLContext, check_id: str) -> None:
    # The body echoes both secrets, as a careless error page might.
    body = f"upstream failed; token={API_TOKEN} secret={WEBHOOK_SECRET}".encode()
    async with WebServer(everywhere(Reply(503, body, "text/plain")), tls) as server:
        ran = await check_with_log(armed(context, server.url), check_id)
    assert_status(ran.result, Status.FAIL, "503 Service Unavailable", "upstream failed")
    shown = everything(ran)
    assert API_TOKEN not in shown and WEBHOOK_SECRET not in shown
    assert "Traceback" not in shown


@every_check
async def test_a_target_in_clear_to_another_host_is_never_asked(
    context: SecurityContext, check_id: str
) -> None:
    ran = await check_with_log(armed(context, "http://example.com"), check_id)
    assert_status(
        ran.result, Status.FAIL, "TOOLBOX_TARGET_URL (--target-url) is http:// to example.com"
    )
    assert ran.logs == []
