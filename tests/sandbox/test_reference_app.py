"""The reference ToolboxAI app keeps its contract (/work/briefs/reference_app_contract.md):
every route, header and flag, against the real sandbox PostgreSQL with the release's schema;
and its processes, as supervisord runs them, start, reread their settings and stop."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import asyncpg
import httpx
import pytest
from cryptography import x509

from tests.sandbox.procs import PROJECT_ROOT, wait_until
from toolbox_tui.sandbox.app_alembic import copy_alembic
from toolbox_tui.sandbox.foreground import threads_spared_stop_signals
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.postgres import PostgresServer
from toolbox_tui.sandbox.reference_app import ReferenceApp, ReferenceAppSettings, SettingsFile
from toolbox_tui.sandbox.stack import migrate
from toolbox_tui.sandbox.tls import CertificateAuthority

TOKEN = "tbx_api_PLANTED_" + "a" * 24
EMAIL = "smoke-test@toolboxai.com"
OTHER_TOKEN = "tbx_api_OTHER_" + "b" * 24
OTHER_EMAIL = "someone-else@toolboxai.com"
WEBHOOK_SECRET = "whsec_PLANTED_" + "c" * 24
ALLOWED = "https://toolboxai.example.com"
DEFAULTS = ReferenceAppSettings()
ACCESS_LINE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO toolboxai\.access (\S+) (\S+) (\d{3}) \d+ms"
)


@pytest.fixture(scope="module")
def app_database(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database with the release's schema (users, roblox_environments...), as the
    sandbox migrates it."""
    name = f"refapp_{uuid.uuid4().hex[:10]}"
    url = postgres_server.create_database(name)
    migrate(copy_alembic(tmp_path_factory.mktemp("alembic")), url)
    yield url
    postgres_server.drop_database(name)


def _settings(ca: CertificateAuthority, folder: Path, **values: object) -> ReferenceAppSettings:
    cert, key = ca.issue("127.0.0.1", "localhost").write(folder)
    base = ReferenceAppSettings(
        cert_file=str(cert),
        key_file=str(key),
        log_file=str(folder / "app.log"),
        api_tokens={TOKEN: EMAIL, OTHER_TOKEN: OTHER_EMAIL},
        webhook_secret=WEBHOOK_SECRET,
    )
    return replace(base, **values)  # type: ignore[arg-type]


@contextlib.contextmanager
def _serve(settings: ReferenceAppSettings) -> Iterator[ReferenceApp]:
    server = ReferenceApp(settings)
    with threads_spared_stop_signals():
        server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def app(
    sandbox_ca: CertificateAuthority, app_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReferenceApp]:
    """One app for the module; each test gets its flags back at their defaults."""
    settings = _settings(sandbox_ca, tmp_path_factory.mktemp("app"), database_url=app_database)
    with _serve(settings) as server:
        yield server


@pytest.fixture(autouse=True)
def default_flags(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "app" in request.fixturenames:
        served: ReferenceApp = request.getfixturevalue("app")
        for name in (
            "health",
            "delay_ms",
            "https_redirect",
            "hsts",
            "cors_origins",
            "cors_reflect",
            "verify_webhooks",
            "login_limit",
            "log_errors",
        ):
            setattr(served.settings, name, getattr(DEFAULTS, name))


@pytest.fixture(scope="module")
def client(sandbox_ca: CertificateAuthority) -> Iterator[httpx.Client]:
    context = ssl.create_default_context(cadata=sandbox_ca.cert_pem.decode())
    with httpx.Client(verify=context, timeout=10) as http:
        yield http


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_text(app: ReferenceApp) -> str:
    return Path(app.settings.log_file).read_text(encoding="utf-8")


# -- health --------------------------------------------------------------------------------------


def test_health_says_healthy_then_degraded_with_a_reason(
    app: ReferenceApp, client: httpx.Client
) -> None:
    assert client.get(f"{app.url}/api/health").json() == {"status": "healthy"}

    app.settings.health = "degraded"

    answer = client.get(f"{app.url}/api/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "degraded" and answer.json()["reason"]


def test_db_health_is_connected_to_the_real_database(
    app: ReferenceApp, client: httpx.Client
) -> None:
    answer = client.get(f"{app.url}/api/v1/health/db")
    assert (answer.status_code, answer.json()) == (200, {"database": "connected"})


def test_db_health_says_disconnected_when_the_database_is_away(
    sandbox_ca: CertificateAuthority, client: httpx.Client, tmp_path: Path
) -> None:
    nowhere = f"postgresql://toolboxai:secret@127.0.0.1:{free_port()}/toolboxai_prod"
    with _serve(_settings(sandbox_ca, tmp_path, database_url=nowhere)) as away:
        answer = client.get(f"{away.url}/api/v1/health/db")
    assert answer.status_code == 503
    assert answer.json()["database"] == "disconnected" and answer.json()["error"]
    assert "secret" not in answer.text


def test_the_dashboard_is_html_with_a_secure_session_cookie(
    app: ReferenceApp, client: httpx.Client
) -> None:
    answer = client.get(f"{app.url}/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    cookie = answer.headers["set-cookie"]
    assert re.fullmatch(r"session=[\w-]+; Secure; HttpOnly; SameSite=Lax; Path=/", cookie)


# -- headers, redirect, CORS -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/api/health", "/api/v1/auth/me", "/no-such-page"])
def test_every_https_answer_carries_the_security_headers(
    app: ReferenceApp, client: httpx.Client, path: str
) -> None:
    headers = client.get(f"{app.url}{path}").headers
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert headers["content-security-policy"] == "default-src 'self'; frame-ancestors 'none'"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_hsts_off_drops_only_that_header(app: ReferenceApp, client: httpx.Client) -> None:
    app.settings.hsts = False
    headers = client.get(f"{app.url}/api/health").headers
    assert "strict-transport-security" not in headers
    assert headers["x-frame-options"] == "DENY"


def test_plain_http_redirects_to_https_keeping_the_path(
    app: ReferenceApp, client: httpx.Client
) -> None:
    answer = client.get(f"{app.http_url}/api/health?x=1")
    assert answer.status_code == 301
    assert answer.headers["location"] == f"{app.url}/api/health?x=1"


def test_without_the_redirect_plain_http_serves_the_app_in_clear(
    app: ReferenceApp, client: httpx.Client
) -> None:
    app.settings.https_redirect = False
    answer = client.get(f"{app.http_url}/api/health")
    assert (answer.status_code, answer.json()) == (200, {"status": "healthy"})
    assert "strict-transport-security" not in answer.headers  # meaningless in clear


def test_cors_allows_the_listed_origin_with_credentials(
    app: ReferenceApp, client: httpx.Client
) -> None:
    headers = client.get(f"{app.url}/api/health", headers={"Origin": ALLOWED}).headers
    assert headers["access-control-allow-origin"] == ALLOWED
    assert headers["access-control-allow-credentials"] == "true"
    assert "Origin" in headers["vary"]


def test_cors_gives_another_origin_nothing(app: ReferenceApp, client: httpx.Client) -> None:
    evil = "https://evil.example.net"
    answer = client.get(f"{app.url}/api/health", headers={"Origin": evil})
    preflight = client.options(
        f"{app.url}/api/v1/auth/me",
        headers={"Origin": evil, "Access-Control-Request-Method": "GET"},
    )
    for headers in (answer.headers, preflight.headers):
        assert "access-control-allow-origin" not in headers
        assert "access-control-allow-credentials" not in headers


def test_a_preflight_from_the_listed_origin_gets_methods_and_headers(
    app: ReferenceApp, client: httpx.Client
) -> None:
    answer = client.options(
        f"{app.url}/api/v1/roblox/environment/list",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    assert "GET" in answer.headers["access-control-allow-methods"]
    assert "Authorization" in answer.headers["access-control-allow-headers"]


def test_cors_reflect_echoes_any_origin_with_credentials(
    app: ReferenceApp, client: httpx.Client
) -> None:
    app.settings.cors_reflect = True
    evil = "https://evil.example.net"
    headers = client.get(f"{app.url}/api/health", headers={"Origin": evil}).headers
    assert headers["access-control-allow-origin"] == evil
    assert headers["access-control-allow-credentials"] == "true"


def test_delay_is_added_to_api_answers(app: ReferenceApp, client: httpx.Client) -> None:
    app.settings.delay_ms = 250
    start = time.monotonic()
    client.get(f"{app.url}/api/health")
    assert time.monotonic() - start >= 0.25  # a floor the app sleeps for: never flaky


# -- the Stripe webhook ----------------------------------------------------------------------------


def stripe_signature(body: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    stamp = str(at if at is not None else int(time.time()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


EVENT = json.dumps({"id": "evt_1", "type": "invoice.payment_failed"}).encode()


def post_webhook(
    app: ReferenceApp, client: httpx.Client, body: bytes, signature: str | None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post(f"{app.url}/api/v1/stripe/webhooks", content=body, headers=headers)


def test_a_correctly_signed_webhook_is_received(app: ReferenceApp, client: httpx.Client) -> None:
    answer = post_webhook(app, client, EVENT, stripe_signature(EVENT))
    assert (answer.status_code, answer.json()) == (200, {"received": True})


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(stripe_signature(EVENT + b" "), id="tampered body"),
        pytest.param(stripe_signature(EVENT, "whsec_other"), id="another secret"),
        pytest.param(stripe_signature(EVENT, at=int(time.time()) - 600), id="stale"),
        pytest.param("t=1,v1=00", id="garbage"),
        pytest.param(None, id="missing"),
    ],
)
def test_a_webhook_not_signed_with_the_secret_is_refused(
    app: ReferenceApp, client: httpx.Client, signature: str | None
) -> None:
    answer = post_webhook(app, client, EVENT, signature)
    assert (answer.status_code, answer.json()) == (400, {"error": "invalid signature"})


def test_with_verification_off_any_webhook_is_received(
    app: ReferenceApp, client: httpx.Client
) -> None:
    app.settings.verify_webhooks = False
    answer = post_webhook(app, client, EVENT, "t=1,v1=00")
    assert (answer.status_code, answer.json()) == (200, {"received": True})


# -- login and tokens ------------------------------------------------------------------------------


def test_logins_are_refused_then_limited_with_retry_after(
    sandbox_ca: CertificateAuthority, client: httpx.Client, tmp_path: Path
) -> None:
    with _serve(_settings(sandbox_ca, tmp_path, login_limit=3)) as fresh:
        login = f"{fresh.url}/api/v1/auth/login"
        credentials = {"email": EMAIL, "password": "wrong"}
        refused = [client.post(login, json=credentials) for _ in range(3)]
        limited = client.post(login, json=credentials)
    assert [(r.status_code, r.json()) for r in refused] == [
        (401, {"error": "invalid credentials"})
    ] * 3
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60


def test_a_limit_of_zero_never_limits(
    sandbox_ca: CertificateAuthority, client: httpx.Client, tmp_path: Path
) -> None:
    with _serve(_settings(sandbox_ca, tmp_path, login_limit=0)) as fresh:
        codes = {
            client.post(f"{fresh.url}/api/v1/auth/login", json={"email": EMAIL}).status_code
            for _ in range(12)
        }
    assert codes == {401}


def test_an_access_token_works_until_revoked(app: ReferenceApp, client: httpx.Client) -> None:
    assert client.get(f"{app.url}/api/v1/auth/me", headers=bearer()).json() == {"email": EMAIL}
    issued = client.post(f"{app.url}/api/v1/auth/token", headers=bearer()).json()
    assert issued["token_type"] == "bearer" and issued["expires_in"] == 3600
    access = issued["access_token"]
    assert client.get(f"{app.url}/api/v1/auth/me", headers=bearer(access)).json() == {
        "email": EMAIL
    }

    revoked = client.post(f"{app.url}/api/v1/auth/revoke", headers=bearer(), data={"token": access})

    assert (revoked.status_code, revoked.json()) == (200, {})
    after = client.get(f"{app.url}/api/v1/auth/me", headers=bearer(access))
    assert (after.status_code, after.json()) == (401, {"error": "invalid or revoked token"})
    # The API token itself is untouched.
    assert client.get(f"{app.url}/api/v1/auth/me", headers=bearer()).status_code == 200


def test_revoke_takes_json_too(app: ReferenceApp, client: httpx.Client) -> None:
    access = client.post(f"{app.url}/api/v1/auth/token", headers=bearer()).json()["access_token"]
    client.post(f"{app.url}/api/v1/auth/revoke", headers=bearer(), json={"token": access})
    assert client.get(f"{app.url}/api/v1/auth/me", headers=bearer(access)).status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/auth/me"),
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/auth/revoke"),
        ("POST", "/api/v1/uploads/multipart/init"),
        ("POST", "/api/v1/roblox/environment/create"),
        ("GET", "/api/v1/roblox/environment/list"),
        ("DELETE", "/api/v1/roblox/environment/1"),
    ],
)
@pytest.mark.parametrize("token", [None, "not-a-token"], ids=["no token", "unknown token"])
def test_the_token_routes_refuse_without_a_valid_token(
    app: ReferenceApp, client: httpx.Client, method: str, path: str, token: str | None
) -> None:
    headers = bearer(token) if token else {}
    answer = client.request(method, f"{app.url}{path}", headers=headers, json={})
    assert (answer.status_code, answer.json()) == (401, {"error": "invalid or revoked token"})


def test_an_access_token_cannot_mint_tokens(app: ReferenceApp, client: httpx.Client) -> None:
    access = client.post(f"{app.url}/api/v1/auth/token", headers=bearer()).json()["access_token"]
    assert client.post(f"{app.url}/api/v1/auth/token", headers=bearer(access)).status_code == 401


# -- uploads and Roblox environments ---------------------------------------------------------------


def test_multipart_init_counts_the_parts(app: ReferenceApp, client: httpx.Client) -> None:
    body = {"filename": "level.rbxl", "size": 12 * 1024 * 1024, "content_type": "application/zip"}
    answer = client.post(f"{app.url}/api/v1/uploads/multipart/init", headers=bearer(), json=body)
    assert answer.status_code == 200
    document = answer.json()
    assert document["part_size"] == 5242880 and document["part_count"] == 3
    assert isinstance(document["upload_id"], str) and document["upload_id"]


@pytest.mark.parametrize(
    "body",
    [
        {"filename": "a.zip", "size": "12", "content_type": "application/zip"},
        {"size": 12, "content_type": "application/zip"},
        {"filename": "a.zip", "size": 0, "content_type": "application/zip"},
        {"filename": "a.zip", "size": 12},
        ["not", "an", "object"],
    ],
)
def test_multipart_init_refuses_a_bad_body(
    app: ReferenceApp, client: httpx.Client, body: object
) -> None:
    answer = client.post(f"{app.url}/api/v1/uploads/multipart/init", headers=bearer(), json=body)
    assert answer.status_code == 422 and answer.json()["error"]


async def _rows(database_url: str) -> list[tuple[int, str, str]]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT e.id, e.name, u.email FROM roblox_environments e "
            "JOIN users u ON u.id = e.owner_id ORDER BY e.id"
        )
    finally:
        await connection.close()
    return [(row["id"], row["name"], row["email"]) for row in rows]


def rows(database_url: str) -> list[tuple[int, str, str]]:
    return asyncio.run(_rows(database_url))


def test_roblox_environments_are_created_listed_and_deleted_in_the_table(
    app: ReferenceApp, client: httpx.Client, app_database: str
) -> None:
    base = f"{app.url}/api/v1/roblox/environment"
    name = f"obby-{uuid.uuid4().hex[:6]}"

    created = client.post(f"{base}/create", headers=bearer(), json={"name": name})

    assert created.status_code == 201
    env = created.json()
    assert env == {"id": env["id"], "name": name, "status": "draft"}
    assert (env["id"], name, EMAIL) in rows(app_database)  # owned by the token's user
    listed = client.get(f"{base}/list", headers=bearer()).json()["environments"]
    assert env in listed
    others = client.get(f"{base}/list", headers=bearer(OTHER_TOKEN)).json()["environments"]
    assert env not in others

    assert client.delete(f"{base}/{env['id']}", headers=bearer(OTHER_TOKEN)).status_code == 404
    assert client.delete(f"{base}/{env['id']}", headers=bearer()).status_code == 204

    assert env["id"] not in [row[0] for row in rows(app_database)]
    assert client.delete(f"{base}/{env['id']}", headers=bearer()).status_code == 404


def test_an_environment_needs_a_name(app: ReferenceApp, client: httpx.Client) -> None:
    answer = client.post(
        f"{app.url}/api/v1/roblox/environment/create", headers=bearer(), json={"description": "x"}
    )
    assert answer.status_code == 422


# -- the log --------------------------------------------------------------------------------


def test_each_request_logs_one_access_line(app: ReferenceApp, client: httpx.Client) -> None:
    path = f"/api/nothing-{uuid.uuid4().hex}"
    client.get(f"{app.url}{path}", headers=bearer())
    lines = [line for line in log_text(app).splitlines() if path in line]
    assert len(lines) == 1
    match = ACCESS_LINE.fullmatch(lines[0])
    assert match is not None, lines[0]
    assert match.groups() == ("GET", path, "404")


def test_log_errors_adds_an_error_with_an_indented_traceback(
    app: ReferenceApp, client: httpx.Client
) -> None:
    app.settings.log_errors = True
    path = f"/api/nothing-{uuid.uuid4().hex}"
    client.get(f"{app.url}{path}")
    lines = log_text(app).splitlines()
    [first] = [
        i for i, line in enumerate(lines) if " ERROR toolboxai.app " in line and path in line
    ]
    assert re.match(r"\d{4}-\d\d-\d\dT[\d:.]+Z ERROR toolboxai\.app ", lines[first])
    following = lines[first + 1 :]
    traceback_lines = following[
        : next(i for i, line in enumerate(following) if not line.startswith(" "))
    ]
    assert traceback_lines[0].strip() == "Traceback (most recent call last):"
    assert traceback_lines[-1].strip().startswith("ConnectionResetError:")


def test_no_token_or_secret_reaches_the_log(app: ReferenceApp, client: httpx.Client) -> None:
    app.settings.log_errors = True
    client.get(f"{app.url}/api/v1/auth/me", headers=bearer())
    post_webhook(app, client, EVENT, stripe_signature(EVENT))
    text = log_text(app)
    assert TOKEN not in text and WEBHOOK_SECRET not in text
    assert TOKEN not in repr(app.settings) and WEBHOOK_SECRET not in repr(app.settings)


# -- the certificate and the settings file --------------------------------------------------


def _served_expiry(app: ReferenceApp, ca: CertificateAuthority) -> object:
    context = ssl.create_default_context(cadata=ca.cert_pem.decode())
    address = (app.settings.host, app.settings.https_port)
    with (
        socket.create_connection(address) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).not_valid_after_utc


def test_a_replaced_certificate_is_served_from_the_next_connection(
    sandbox_ca: CertificateAuthority, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    settings = _settings(sandbox_ca, tmp_path)
    with _serve(settings) as fresh:
        soon = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
        cert, key = sandbox_ca.issue("127.0.0.1", not_after=soon).write(tmp_path, "expiring")
        os.replace(cert, settings.cert_file)
        os.replace(key, settings.key_file)

        assert _served_expiry(fresh, sandbox_ca) == soon  # the very next handshake


def test_settings_round_trip_through_a_private_file(tmp_path: Path) -> None:
    settings = ReferenceAppSettings(api_tokens={TOKEN: EMAIL}, webhook_secret=WEBHOOK_SECRET)
    path = settings.save(tmp_path / "app.json")
    assert path.stat().st_mode & 0o777 == 0o600
    assert ReferenceAppSettings.load(path) == settings
    assert json.loads(path.read_text())["login_limit"] == 5


def test_unknown_settings_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.json"
    path.write_text(json.dumps({**asdict(ReferenceAppSettings()), "hstss": False}))
    with pytest.raises(ValueError, match="hstss"):
        ReferenceAppSettings.load(path)


def test_a_settings_file_is_reread_once_replaced(tmp_path: Path) -> None:
    path = ReferenceAppSettings().save(tmp_path / "app.json")
    source = SettingsFile(path)
    assert source.current().hsts is True
    for value in (False, True, False):  # saves within one clock tick are told apart too
        replace(source.current(), hsts=value).save(path)
        assert source.current().hsts is value


# -- the processes supervisord runs ----------------------------------------------------------


def _role(config: Path, role: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "toolbox_tui.sandbox.reference_app",
            "--config",
            str(config),
            "--role",
            role,
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_worker_role_says_ready_and_stops_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    config = ReferenceAppSettings(log_file=str(log)).save(tmp_path / "app.json")
    proc = _role(config, "celery-beat")
    try:
        wait_until(lambda: log.exists() and "celery-beat ready" in log.read_text(), 30, "ready")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()
    assert re.search(r"Z INFO toolboxai\.celery-beat celery-beat ready$", log.read_text(), re.M)


def test_the_backend_process_serves_and_rereads_its_settings(
    sandbox_ca: CertificateAuthority, client: httpx.Client, tmp_path: Path
) -> None:
    settings = _settings(sandbox_ca, tmp_path, https_port=free_port(), http_port=free_port())
    config = settings.save(tmp_path / "app.json")
    url = f"https://127.0.0.1:{settings.https_port}"
    proc = _role(config, "backend")
    try:
        wait_until(
            lambda: (
                "backend ready" in Path(settings.log_file).read_text()
                if Path(settings.log_file).exists()
                else proc.poll() is not None
            ),
            30,
            "ready",
        )
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert client.get(f"{url}/api/health").json() == {"status": "healthy"}
        assert client.get(f"http://127.0.0.1:{settings.http_port}/").status_code == 301

        replace(settings, health="degraded").save(config)

        assert client.get(f"{url}/api/health").json()["status"] == "degraded"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()
