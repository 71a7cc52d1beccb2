"""The post-deployment health checks against real local HTTP(S) servers: each passes against
a healthy app, and fails for the reason its message names."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks.core import CheckFailed, CheckResult, Status
from checks.net import http_client, http_failures
from checks.settings import ToolboxConfig
from checks.urls import is_loopback
from tests.checks.db_helpers import run_check
from tests.conftest import MakeContext
from tests.web_servers import (
    HANG,
    Reply,
    WebServer,
    html_reply,
    json_reply,
    unanswered_port,
)
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.tls import CertificateAuthority

HEALTH, DASHBOARD, DB_HEALTH = "api.health", "api.dashboard", "api.db-health"
ALL_CHECKS = (HEALTH, DASHBOARD, DB_HEALTH)
PATHS = {HEALTH: "/api/health", DASHBOARD: "/", DB_HEALTH: "/api/v1/health/db"}
HEALTHY_ROUTES = {
    "/api/health": json_reply({"status": "healthy"}),
    "/": html_reply(),
    "/api/v1/health/db": json_reply({"database": "connected"}),
}
JSON_CHECKS = {HEALTH: ("status", "healthy"), DB_HEALTH: ("database", "connected")}
every_check = pytest.mark.parametrize("check_id", ALL_CHECKS)
json_check = pytest.mark.parametrize("check_id", list(JSON_CHECKS))


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority()


@pytest.fixture
def ca_bundle(ca: CertificateAuthority, tmp_path: Path) -> Path:
    return ca.write_bundle(tmp_path / "ca.pem")


@pytest.fixture
def tls(ca: CertificateAuthority, tmp_path: Path) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 and localhost, from ``ca``."""
    directory = tmp_path / "server"
    directory.mkdir()
    return ca.issue("127.0.0.1", "localhost").server_context(directory)


@pytest.fixture
async def app(tls: ssl.SSLContext) -> AsyncIterator[WebServer]:
    """A healthy deployed app over HTTPS; tests change ``app.routes`` to break it."""
    async with WebServer(HEALTHY_ROUTES, tls) as server:
        yield server


async def check_app(
    make_context: MakeContext, check_id: str, url: str, **config: object
) -> CheckResult:
    return await run_check(make_context("", target_url=url, **config), check_id)


def assert_fails(result: CheckResult, *phrases: str) -> None:
    assert result.status is Status.FAIL, (result.status, result.message, result.hint)
    said = result.message + " " + result.hint
    for phrase in phrases:
        assert phrase in said, (phrase, said)


# --- a healthy app, and no app at all ---------------------------------------------------


@every_check
async def test_passes_against_a_healthy_app(
    make_context: MakeContext, app: WebServer, ca_bundle: Path, check_id: str
) -> None:
    result = await check_app(make_context, check_id, app.url, ca_bundle=ca_bundle)
    assert result.status is Status.PASS, result.message
    assert app.url + PATHS[check_id] in result.message
    assert result.evidence["status code"] == "200"
    assert result.evidence["server"] == "test-server/1.0"
    assert float(result.evidence["response ms"]) >= 0


@every_check
async def test_skips_without_a_target_url(make_context: MakeContext, check_id: str) -> None:
    result = await run_check(make_context(""), check_id)
    assert result.status is Status.SKIP
    assert result.message.startswith("No TOOLBOX_TARGET_URL")
    assert "--target-url https://" in result.hint


async def test_requests_name_toolbox_tui_and_follow_no_redirect(
    make_context: MakeContext, app: WebServer, ca_bundle: Path
) -> None:
    app.routes["/"] = Reply(302, b"", "text/html", headers=(("Location", "/login"),))
    app.routes["/login"] = html_reply()
    result = await check_app(make_context, DASHBOARD, app.url, ca_bundle=ca_bundle)
    assert_fails(result, f"Answered 302 Found (to /login), not 200, at {app.url}/:")
    assert [r.path for r in app.requests] == ["/"]
    assert app.requests[0].headers["user-agent"].startswith("toolbox-tui/")


async def test_a_base_url_with_a_path_is_followed_by_the_endpoint(
    make_context: MakeContext, app: WebServer, ca_bundle: Path
) -> None:
    app.routes["/app/api/health"] = app.routes.pop("/api/health")
    result = await check_app(make_context, HEALTH, app.url + "/app/", ca_bundle=ca_bundle)
    assert result.status is Status.PASS, result.message
    # The verdict leads (a narrow column shows only the start), the address follows.
    assert result.message.startswith('Healthy: {"status": "healthy"} in '), result.message
    assert result.message.endswith(f" ms from {app.url}/app/api/health."), result.message
    assert [r.path for r in app.requests] == ["/app/api/health"]


# --- what the app answers -------------------------------------------------------------------


@every_check
async def test_fails_on_another_status_code(
    make_context: MakeContext, app: WebServer, ca_bundle: Path, check_id: str
) -> None:
    app.routes[PATHS[check_id]] = Reply(503, b"upstream connect error", "text/plain")
    result = await check_app(make_context, check_id, app.url, ca_bundle=ca_bundle)
    assert_fails(
        result,
        f"Answered 503 Service Unavailable, not 200, at {app.url}{PATHS[check_id]}:",
        "upstream connect error",
    )
    assert result.evidence["status code"] == "503"


@json_check
async def test_fails_when_the_app_reports_another_value(
    make_context: MakeContext, app: WebServer, ca_bundle: Path, check_id: str
) -> None:
    key, wanted = JSON_CHECKS[check_id]
    app.routes[PATHS[check_id]] = json_reply({key: "degraded", "redis": "down"})
    result = await check_app(make_context, check_id, app.url, ca_bundle=ca_bundle)
    assert_fails(
        result,
        f'Not {wanted}: "{key}": "degraded", not "{wanted}", from {app.url}{PATHS[check_id]}:',
        '"redis": "down"',
    )


@json_check
async def test_fails_on_a_body_that_is_not_json(
    make_context: MakeContext, app: WebServer, ca_bundle: Path, check_id: str
) -> None:
    app.routes[PATHS[check_id]] = html_reply(body=b"<html>Welcome to nginx!</html>")
    result = await check_app(make_context, check_id, app.url, ca_bundle=ca_bundle)
    assert_fails(
        result,
        f"Answered 200, but not with JSON, at {app.url}{PATHS[check_id]}:",
        "Welcome to nginx!",
    )


@json_check
@pytest.mark.parametrize("document", [["healthy"], {"ok": True}, "healthy"])
async def test_fails_on_json_without_the_expected_key(
    make_context: MakeContext, app: WebServer, ca_bundle: Path, check_id: str, document: object
) -> None:
    key, wanted = JSON_CHECKS[check_id]
    app.routes[PATHS[check_id]] = json_reply(document)
    result = await check_app(make_context, check_id, app.url, ca_bundle=ca_bundle)
    assert_fails(
        result,
        f'Answered JSON without "{key}", not {{"{key}": "{wanted}"}}, at '
        f"{app.url}{PATHS[check_id]}:",
    )


@json_check
async def test_reads_no_more_than_a_short_answer(
    make_context: MakeContext, app: WebServer, ca_bundle: Path, check_id: str
) -> None:
    key, wanted = JSON_CHECKS[check_id]
    padding = "x" * (100 * 1024)
    app.routes[PATHS[check_id]] = json_reply({key: wanted, "padding": padding})
    result = await check_app(make_context, check_id, app.url, ca_bundle=ca_bundle)
    assert_fails(
        result,
        f"Answered more than 64 KiB, not a short JSON status, at {app.url}{PATHS[check_id]}:",
    )
    assert len(result.message) < 500


async def test_what_came_back_is_cut_and_never_drives_the_terminal(
    make_context: MakeContext, app: WebServer, ca_bundle: Path
) -> None:
    body = b"\x1b[2J\x1b]0;owned\x07" + b"A" * 5000
    app.routes["/api/health"] = Reply(500, body, "text/plain")
    result = await check_app(make_context, HEALTH, app.url, ca_bundle=ca_bundle)
    assert_fails(
        result, f"Answered 500 Internal Server Error, not 200, at {app.url}/api/health:", "\\x1b[2J"
    )
    assert "\x1b" not in result.message and "\x07" not in result.message
    assert result.message.endswith("…") and result.message.count("A") <= 200


async def test_server_header_is_shown_printable(
    make_context: MakeContext, tls: ssl.SSLContext, ca_bundle: Path
) -> None:
    async with WebServer(HEALTHY_ROUTES, tls, server_header="nginx\x1b[31m") as server:
        result = await check_app(make_context, HEALTH, server.url, ca_bundle=ca_bundle)
    assert result.evidence["server"] == "nginx\\x1b[31m"


async def test_a_secret_in_the_answer_is_masked(
    make_context: MakeContext, app: WebServer, ca_bundle: Path
) -> None:
    secret = "s3cr3t-" + "k" * 40
    app.routes["/api/health"] = Reply(500, f"SECRET_KEY={secret}".encode(), "text/plain")
    ctx = make_context(f"SECRET_KEY={secret}\n", target_url=app.url, ca_bundle=ca_bundle)
    result = await run_check(ctx, HEALTH)
    assert result.status is Status.FAIL and "SECRET_KEY=" in result.message
    assert secret not in result.message


async def test_a_secret_where_the_answer_is_cut_shows_no_part_of_it(
    make_context: MakeContext, app: WebServer, ca_bundle: Path
) -> None:
    secret = "Zq8vN2xLk4Rw7TpY3mHs9DcF6bJe1GuA"
    body = "x" * 190 + secret + "x" * 100  # the 200-character cut falls inside the secret
    app.routes["/api/health"] = Reply(500, body.encode(), "text/plain")
    ctx = make_context(f"SECRET_KEY={secret}\n", target_url=app.url, ca_bundle=ca_bundle)
    result = await run_check(ctx, HEALTH)
    assert result.status is Status.FAIL and result.message.endswith("…")
    assert secret[:6] not in result.message


async def test_dashboard_answering_json_is_a_warning(
    make_context: MakeContext, app: WebServer, ca_bundle: Path
) -> None:
    app.routes["/"] = json_reply({"detail": "Not Found"})
    result = await check_app(make_context, DASHBOARD, app.url, ca_bundle=ca_bundle)
    assert result.status is Status.WARN
    assert "with application/json, not an HTML page" in result.message


# --- when no answer comes -------------------------------------------------------------------


@every_check
async def test_fails_when_the_connection_is_refused(
    make_context: MakeContext, check_id: str
) -> None:
    url = f"https://127.0.0.1:{free_port()}"
    result = await check_app(make_context, check_id, url)
    assert_fails(result, f"{url}{PATHS[check_id]} refused the connection")


@every_check
async def test_fails_when_the_app_accepts_and_never_answers(
    make_context: MakeContext, app: WebServer, ca_bundle: Path, check_id: str
) -> None:
    app.routes[PATHS[check_id]] = HANG
    result = await check_app(make_context, check_id, app.url, ca_bundle=ca_bundle, check_timeout=2)
    assert_fails(result, f"{app.url}{PATHS[check_id]} accepted the connection but sent no answer")
    assert "within 1 s" in result.message


async def test_fails_when_nothing_answers_the_connection(make_context: MakeContext) -> None:
    with unanswered_port() as port:
        url = f"https://127.0.0.1:{port}"
        result = await check_app(make_context, HEALTH, url, check_timeout=2)
    assert_fails(result, f"No connection to {url}/api/health within 1 s", "firewall")


async def test_fails_when_the_host_name_does_not_resolve(make_context: MakeContext) -> None:
    # .invalid never resolves (RFC 6761).
    result = await check_app(make_context, HEALTH, "https://no-such-host.invalid")
    assert_fails(result, "Cannot resolve the host name of https://no-such-host.invalid/api")


async def test_fails_when_the_port_speaks_plain_http(make_context: MakeContext) -> None:
    async with WebServer(HEALTHY_ROUTES) as plain:
        url = f"https://127.0.0.1:{plain.port}"
        result = await check_app(make_context, HEALTH, url)
    assert_fails(result, "does not speak TLS on that port")


# --- certificates ---------------------------------------------------------------------------


@every_check
async def test_fails_on_a_certificate_from_an_unknown_ca(
    make_context: MakeContext, app: WebServer, check_id: str
) -> None:
    result = await check_app(make_context, check_id, app.url)
    assert_fails(result, "is not trusted", "set TOOLBOX_CA_BUNDLE")


@every_check
async def test_fails_on_a_certificate_for_another_host(
    make_context: MakeContext,
    ca: CertificateAuthority,
    ca_bundle: Path,
    tmp_path: Path,
    check_id: str,
) -> None:
    other = ca.issue("app.example.com").server_context(tmp_path)
    async with WebServer(HEALTHY_ROUTES, other) as server:
        for host in ("127.0.0.1", "localhost"):
            url = server.url_for(host)
            result = await check_app(make_context, check_id, url, ca_bundle=ca_bundle)
            assert_fails(result, f"certificate of {url}{PATHS[check_id]} is for another host")


async def test_fails_on_an_expired_certificate(
    make_context: MakeContext, ca: CertificateAuthority, ca_bundle: Path, tmp_path: Path
) -> None:
    past = datetime.now(UTC) - timedelta(days=10)
    old = ca.issue("127.0.0.1", not_before=past, not_after=past + timedelta(days=1))
    async with WebServer(HEALTHY_ROUTES, old.server_context(tmp_path)) as server:
        result = await check_app(make_context, HEALTH, server.url, ca_bundle=ca_bundle)
    assert_fails(result, "is not valid now", "Renew the certificate")


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "no-such-ca.pem"


def _directory(tmp_path: Path) -> Path:
    return tmp_path


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "ca.fifo"
    os.mkfifo(path)  # nothing ever writes: reading it would hang
    return path


def _garbage(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text("this is not a certificate\n")
    return path


def _damaged(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
    return path


def _huge(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    with path.open("wb") as out:
        out.truncate(9 * 1024 * 1024)  # sparse: no time spent writing it
    return path


@every_check
@pytest.mark.parametrize(
    ("make_bundle", "reason"),
    [
        (_missing, "it does not exist"),
        (_directory, "it is not a regular file"),
        (_fifo, "it is not a regular file"),
        (_garbage, "it holds no certificate"),
        (_damaged, "a PEM certificate it holds is damaged"),
        (_huge, "it is larger than 8,388,608 bytes"),
    ],
)
async def test_fails_on_a_ca_bundle_it_cannot_use(
    make_context: MakeContext,
    app: WebServer,
    tmp_path: Path,
    check_id: str,
    make_bundle: Callable[[Path], Path],
    reason: str,
) -> None:
    bundle = make_bundle(tmp_path)
    result = await check_app(make_context, check_id, app.url, ca_bundle=bundle)
    assert_fails(result, f"The CA bundle {bundle} cannot be used: {reason}", "TOOLBOX_CA_BUNDLE")
    assert app.requests == []


async def test_a_ca_bundle_with_comments_and_other_cas_is_trusted(
    make_context: MakeContext, ca: CertificateAuthority, app: WebServer, tmp_path: Path
) -> None:
    other = CertificateAuthority("Another CA").cert_pem.decode()
    bundle = tmp_path / "bundle.pem"
    text = f"# Főtanúsítvány\n{other}\n# ours\n{ca.cert_pem.decode()}"
    bundle.write_text(text, encoding="utf-8")
    result = await check_app(make_context, HEALTH, app.url, ca_bundle=bundle)
    assert result.status is Status.PASS, result.message


async def test_a_der_ca_certificate_is_trusted(
    make_context: MakeContext, ca: CertificateAuthority, app: WebServer, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.der"
    bundle.write_bytes(ssl.PEM_cert_to_DER_cert(ca.cert_pem.decode()))
    result = await check_app(make_context, HEALTH, app.url, ca_bundle=bundle)
    assert result.status is Status.PASS, result.message


# --- the target URL -------------------------------------------------------------------------


@every_check
async def test_http_to_a_remote_host_fails_before_any_request(
    make_context: MakeContext, check_id: str
) -> None:
    result = await run_check(make_context("", target_url="http://example.com"), check_id)
    assert_fails(result, "is http:// to example.com", "in clear", "Use https://example.com")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_http_to_a_loopback_address_is_allowed(make_context: MakeContext, host: str) -> None:
    async with WebServer(HEALTHY_ROUTES) as plain:
        result = await check_app(make_context, HEALTH, plain.url_for(host))
    assert result.status is Status.PASS, result.message


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LocalHost", True),
        ("127.0.0.1", True),
        ("127.200.3.4", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("128.0.0.1", False),
        ("10.0.0.1", False),
        ("::2", False),
        ("localhost.example.com", False),
        ("example.com", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("your-domain.com", "is not a URL"),
        ("ftp://files.example.com", "must start with https://"),
        ("https://deploy:hunter2@example.com", "holds a user name or password"),
        ("https://example.com/?token=abc", "must be the site's base address, without ?query"),
        ("https://example.com:https", "is not a URL"),
    ],
)
async def test_a_target_url_it_cannot_use_fails_clearly(
    make_context: MakeContext, url: str, problem: str
) -> None:
    result = await run_check(make_context("", target_url=url), HEALTH)
    assert_fails(result, f"TOOLBOX_TARGET_URL (--target-url) {problem}", "https://")
    assert "hunter2" not in result.message + result.hint


# --- the client itself ----------------------------------------------------------------------


async def test_client_timeouts_are_short_and_fit_in_the_check_timeout(tmp_path: Path) -> None:
    async with http_client(ToolboxConfig(app_dir=tmp_path)) as default:
        assert (default.timeout.connect, default.timeout.read) == (5.0, 10.0)
        assert default.follow_redirects is False
    # A second (or half of a short check timeout) is left for the client and the handshakes.
    for check_timeout, phase in ((2, 1.0), (1, 0.5), (5, 4.0), (30, None)):
        config = ToolboxConfig(app_dir=tmp_path, check_timeout=check_timeout)
        async with http_client(config) as capped:
            timeouts = (capped.timeout.connect, capped.timeout.read, capped.timeout.write)
        assert timeouts == ((phase, phase, phase) if phase else (5.0, 10.0, 10.0))


async def test_a_redirect_loop_is_named(tls: ssl.SSLContext, ca_bundle: Path) -> None:
    loop = Reply(302, b"", "text/html", headers=(("Location", "/loop"),))
    async with WebServer({"/loop": loop}, tls) as server:
        config = ToolboxConfig(ca_bundle=ca_bundle)
        async with http_client(config, follow_redirects=True) as client:
            with pytest.raises(CheckFailed) as failure, http_failures(server.url + "/loop"):
                await client.get(server.url + "/loop")
    assert f"{server.url}/loop redirected more than 5 times" in str(failure.value)
    assert len(server.requests) == 6


def test_loading_the_checks_does_not_import_httpx() -> None:
    code = "import sys; from checks import catalog; catalog.load(); print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
