"""``tls.certificate`` and ``tls.https-redirect`` against real local servers: certificates
from the sandbox CA with chosen names and dates, and plain-http ports that redirect, serve in
clear, refuse or hang. Each check passes, and fails (or warns) for the reason it names."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from checks.core import CheckFailed, CheckResult, Outcome, Status
from checks.health.certificate import _plain_address, _refused
from tests.checks.db_helpers import run_check
from tests.checks.reference import reference_app, reset_flags
from tests.conftest import MakeContext
from tests.web_servers import HANG, Reply, WebServer, html_reply, json_reply, silent_port
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.reference_app import ReferenceApp
from toolbox_tui.sandbox.tls import CertificateAuthority, IssuedCertificate

CERTIFICATE, REDIRECT = "tls.certificate", "tls.https-redirect"
ROUTES = {"/": html_reply(), "/api/health": json_reply({"status": "healthy"})}


@pytest.fixture
def ca_bundle(sandbox_ca: CertificateAuthority, tmp_path: Path) -> Path:
    return sandbox_ca.write_bundle(tmp_path / "ca.pem")


Serve = Callable[..., contextlib.AbstractAsyncContextManager[str]]


@pytest.fixture
def serve(sandbox_ca: CertificateAuthority, tmp_path: Path) -> Serve:
    """``async with serve(days=30) as url``: an HTTPS server whose certificate has ``days``
    left (negative: expired that long ago) and names ``names``."""
    count = 0

    @contextlib.asynccontextmanager
    async def start(
        days: float = 90, names: tuple[str, ...] = ("127.0.0.1", "localhost")
    ) -> AsyncIterator[str]:
        nonlocal count
        count += 1
        directory = tmp_path / f"server{count}"
        directory.mkdir()
        now = datetime.now(UTC)
        issued = sandbox_ca.issue(
            *names,
            not_before=min(now, now + timedelta(days=days)) - timedelta(days=30),
            not_after=now + timedelta(days=days),
        )
        async with WebServer(ROUTES, issued.server_context(directory)) as server:
            yield server.url

    return start


async def certificate_of(
    make_context: MakeContext, url: str, ca_bundle: Path | None = None, **config: object
) -> CheckResult:
    ctx = make_context("", target_url=url, ca_bundle=ca_bundle, **config)
    # The certificates are dated from the real clock, as OpenSSL judges them.
    return await run_check(replace(ctx, clock=lambda: datetime.now(UTC)), CERTIFICATE)


def said(result: CheckResult) -> str:
    return result.message + " " + result.hint


# --- tls.certificate ------------------------------------------------------------------------


async def test_a_trusted_certificate_far_from_expiry_passes(
    make_context: MakeContext, serve: Serve, ca_bundle: Path
) -> None:
    async with serve(days=90) as url:
        result = await certificate_of(make_context, url, ca_bundle)
    assert result.status is Status.PASS, said(result)
    assert result.message.startswith(
        f"Trusted, 89 days left: the TLS certificate of {url} is trusted and valid for 127.0.0.1"
    ), result.message
    assert "issued by toolbox-tui sandbox CA" in result.message
    assert result.evidence["days left"] == "89"
    assert result.evidence["verified"] == "yes"
    assert result.evidence["names"] == "localhost, 127.0.0.1"


@pytest.mark.parametrize(
    ("days", "status", "phrase"),
    [
        (15, Status.WARN, "Expires in 14 days, under 21 days: the TLS certificate of "),
        (3.5, Status.FAIL, "Expires in 3 days, under 7 days: the TLS certificate of "),
        (21.5, Status.PASS, "Trusted, 21 days left: the TLS certificate of "),
        (7.5, Status.WARN, "Expires in 7 days, under 21 days: the TLS certificate of "),
    ],
)
async def test_days_to_expiry_warn_under_21_and_fail_under_7(
    make_context: MakeContext,
    serve: Serve,
    ca_bundle: Path,
    days: float,
    status: Status,
    phrase: str,
) -> None:
    async with serve(days=days) as url:
        result = await certificate_of(make_context, url, ca_bundle)
    assert result.status is status, said(result)
    assert result.message.startswith(phrase + url), result.message
    if status is not Status.PASS:
        assert "Renew the certificate" in result.hint


async def test_an_expired_certificate_fails_and_still_says_what_it_is(
    make_context: MakeContext, serve: Serve, ca_bundle: Path
) -> None:
    async with serve(days=-2) as url:
        result = await certificate_of(make_context, url, ca_bundle)
    assert result.status is Status.FAIL
    assert result.message.startswith(f"Expired: the TLS certificate of {url} has expired")
    assert "subject 127.0.0.1, issued by toolbox-tui sandbox CA" in result.message
    assert "days ago" in result.message or "1 day ago" in result.message
    assert "certificate has expired" in result.evidence["verified"]


async def test_a_certificate_for_another_host_fails_naming_the_mismatch(
    make_context: MakeContext, serve: Serve, ca_bundle: Path
) -> None:
    async with serve(names=("app.example.com",)) as url:
        result = await certificate_of(make_context, url, ca_bundle)
    assert result.status is Status.FAIL
    assert "is for another host name: it does not name 127.0.0.1" in result.message
    assert "for app.example.com" in result.message
    assert "subjectAltName" in result.hint
    assert result.evidence["names"] == "app.example.com"


async def test_a_certificate_from_an_untrusted_issuer_fails_naming_it(
    make_context: MakeContext, serve: Serve
) -> None:
    async with serve(days=60) as url:
        result = await certificate_of(make_context, url)  # no CA bundle: unknown CA
    assert result.status is Status.FAIL
    assert "is from an untrusted issuer" in result.message
    assert "trust toolbox-tui sandbox CA" in result.message
    assert "TOOLBOX_CA_BUNDLE" in result.hint
    assert result.evidence["days left"] == "59"


async def test_skips_without_a_target_and_for_plain_http(make_context: MakeContext) -> None:
    none = await run_check(make_context(""), CERTIFICATE)
    assert none.status is Status.SKIP and "TOOLBOX_TARGET_URL" in none.message
    plain = await run_check(make_context("", target_url="http://127.0.0.1:8000"), CERTIFICATE)
    assert plain.status is Status.SKIP and "no certificate to check" in plain.message


async def test_fails_when_the_connection_is_refused(make_context: MakeContext) -> None:
    url = f"https://127.0.0.1:{free_port()}"
    result = await certificate_of(make_context, url)
    assert result.status is Status.FAIL
    assert f"{url} refused the connection" in result.message


async def test_fails_when_the_port_accepts_and_never_speaks_tls(
    make_context: MakeContext,
) -> None:
    with silent_port() as port:
        url = f"https://127.0.0.1:{port}"
        result = await certificate_of(make_context, url, check_timeout=2)
    assert result.status is Status.FAIL, said(result)
    assert f"No connection to {url} within 1 s" in result.message


async def test_fails_when_the_port_speaks_plain_http(make_context: MakeContext) -> None:
    async with WebServer(ROUTES) as plain:
        url = f"https://127.0.0.1:{plain.port}"
        result = await certificate_of(make_context, url)
    assert result.status is Status.FAIL
    assert "does not speak TLS on that port" in result.message


async def test_fails_on_a_ca_bundle_it_cannot_use(
    make_context: MakeContext, serve: Serve, tmp_path: Path
) -> None:
    async with serve() as url:
        result = await certificate_of(make_context, url, tmp_path / "missing.pem")
    assert result.status is Status.FAIL
    assert "cannot be used: it does not exist" in result.message


# --- tls.https-redirect ---------------------------------------------------------------------


@pytest.fixture
async def plain() -> AsyncIterator[WebServer]:
    """The app's plain-http port; tests set what ``/`` answers."""
    async with WebServer({}) as server:
        yield server


def redirect(status: int, location: str) -> Reply:
    return Reply(status, b"", "text/html", headers=(("Location", location),))


async def redirect_of(make_context: MakeContext, http_url: str) -> CheckResult:
    ctx = make_context("", target_url="https://127.0.0.1:8443", target_http_url=http_url)
    return await run_check(ctx, REDIRECT)


async def test_a_permanent_redirect_to_https_on_the_same_host_passes(
    make_context: MakeContext, plain: WebServer
) -> None:
    plain.routes["/"] = redirect(301, "https://127.0.0.1:8443/")
    result = await redirect_of(make_context, plain.url + "/")
    assert result.status is Status.PASS, said(result)
    assert result.message.startswith(
        f"Permanent redirect (301) to https: {plain.url}/ answered 301 Moved Permanently to "
        "https://127.0.0.1:8443/"
    ), result.message
    assert [r.path for r in plain.requests] == ["/"]  # not followed
    plain.routes["/"] = redirect(308, "https://127.0.0.1/")
    assert (await redirect_of(make_context, plain.url + "/")).status is Status.PASS


@pytest.mark.parametrize("status", [302, 307])
async def test_a_temporary_redirect_warns(
    make_context: MakeContext, plain: WebServer, status: int
) -> None:
    plain.routes["/"] = redirect(status, "https://127.0.0.1:8443/")
    result = await redirect_of(make_context, plain.url + "/")
    assert result.status is Status.WARN
    assert result.message.startswith(f"Temporary redirect ({status} "), result.message
    assert f"{plain.url}/ redirects to https://127.0.0.1:8443/" in result.message
    assert "301" in result.hint


async def test_serving_the_app_in_clear_fails(make_context: MakeContext, plain: WebServer) -> None:
    plain.routes["/"] = html_reply()
    result = await redirect_of(make_context, plain.url + "/")
    assert result.status is Status.FAIL
    assert f"Answered 200 in clear at {plain.url}/: the app is served without TLS" in (
        result.message
    )
    assert "return 301 https://" in result.hint


@pytest.mark.parametrize(
    ("location", "shown"),
    [("http://127.0.0.1:8080/", "http://127.0.0.1:8080/"), ("/login", "/login")],
)
async def test_a_redirect_to_anything_but_https_fails(
    make_context: MakeContext, plain: WebServer, location: str, shown: str
) -> None:
    plain.routes["/"] = redirect(301, location)
    result = await redirect_of(make_context, plain.url + "/")
    assert result.status is Status.FAIL
    assert f"Not a redirect to https: {plain.url}/ redirects to " in result.message
    assert shown in result.message


async def test_a_redirect_to_another_host_warns(
    make_context: MakeContext, plain: WebServer
) -> None:
    plain.routes["/"] = redirect(301, "https://www.example.com/")
    result = await redirect_of(make_context, plain.url + "/")
    assert result.status is Status.WARN
    assert result.message.startswith(
        f"Redirects to https on another host: {plain.url}/ redirects to "
        "https://www.example.com/, not to 127.0.0.1"
    ), result.message


async def test_a_5xx_fails(make_context: MakeContext, plain: WebServer) -> None:
    plain.routes["/"] = Reply(503, b"maintenance", "text/plain")
    result = await redirect_of(make_context, plain.url + "/")
    assert result.status is Status.FAIL
    assert (
        f"Answered 503 Service Unavailable, not a redirect to https, at {plain.url}/: maintenance"
        in result.message
    )


async def test_a_closed_http_port_warns_that_the_bare_name_errors(
    make_context: MakeContext,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    result = await redirect_of(make_context, url)
    assert result.status is Status.WARN, said(result)
    assert result.message.startswith(f"Connection refused: nothing listens on {url}, so ")
    assert "bare name 127.0.0.1 gets an error" in result.message


def test_a_refusal_on_every_address_of_a_dual_stack_host_is_still_a_refusal() -> None:
    # What anyio raises when ::1 and 127.0.0.1 both refuse, under httpx's error and ours.
    group = ExceptionGroup(
        "multiple connection attempts failed",
        [ConnectionRefusedError(111, "::1 refused"), ConnectionRefusedError(111, "127 refused")],
    )
    anyio_error = OSError("All connection attempts failed")
    anyio_error.__cause__ = group
    httpx_error = httpx.ConnectError("All connection attempts failed")
    httpx_error.__cause__ = anyio_error
    ours = CheckFailed("http://app.example.com/ could not be reached")
    ours.__cause__ = httpx_error
    assert _refused(ours)
    other = ExceptionGroup("attempts", [TimeoutError(), OSError(101, "unreachable")])
    anyio_error.__cause__ = other
    assert not _refused(ours)


async def test_a_port_that_accepts_and_never_answers_fails(
    make_context: MakeContext, plain: WebServer
) -> None:
    plain.routes["/"] = HANG
    ctx = make_context("", target_http_url=plain.url + "/", check_timeout=2)
    result = await run_check(ctx, REDIRECT)
    assert result.status is Status.FAIL
    assert "accepted the connection but sent no answer within 1 s" in result.message


def test_the_http_address_defaults_to_the_target_host(make_context: MakeContext) -> None:
    ctx = make_context("", target_url="https://App.Example.com:8443/base")
    assert _plain_address(ctx) == ("http://App.Example.com/", "app.example.com")
    ipv6 = make_context("", target_url="https://[2001:db8::1]/")
    assert _plain_address(ipv6) == ("http://[2001:db8::1]/", "2001:db8::1")


def test_skips_without_any_address_or_for_a_plain_http_target(make_context: MakeContext) -> None:
    for ctx in (make_context(""), make_context("", target_url="http://127.0.0.1:8000")):
        outcome = _plain_address(ctx)
        assert isinstance(outcome, Outcome) and outcome.status is Status.SKIP


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("https://app.example.com/", "must be an http:// address"),
        ("http://deploy:hunter2@app.example.com/", "must be a bare base address, without"),
        ("app.example.com", "is not a URL"),
    ],
)
async def test_an_http_address_it_cannot_use_fails_clearly(
    make_context: MakeContext, value: str, problem: str
) -> None:
    result = await run_check(make_context("", target_http_url=value), REDIRECT)
    assert result.status is Status.FAIL
    assert f"TOOLBOX_TARGET_HTTP_URL {problem}" in result.message
    assert "hunter2" not in said(result)


# --- against the reference app --------------------------------------------------------------


def lasting(ca: CertificateAuthority, days: float) -> IssuedCertificate:
    return ca.issue("127.0.0.1", "localhost", not_after=datetime.now(UTC) + timedelta(days=days))


@pytest.fixture(scope="module")
def app(
    sandbox_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReferenceApp]:
    """The reference app with a certificate for 90 days, as the sandbox issues it."""
    folder = tmp_path_factory.mktemp("app")
    with reference_app(sandbox_ca, folder, lasting(sandbox_ca, 90)) as server:
        yield server


async def test_the_reference_app_passes_both(
    make_context: MakeContext, app: ReferenceApp, ca_bundle: Path
) -> None:
    result = await certificate_of(make_context, app.url, ca_bundle)
    assert result.status is Status.PASS, said(result)
    ctx = make_context("", target_url=app.url, target_http_url=app.http_url + "/")
    result = await run_check(ctx, REDIRECT)
    assert result.status is Status.PASS, said(result)
    assert f"answered 301 Moved Permanently to {app.url}/" in result.message


async def test_the_reference_app_without_its_redirect_fails(
    make_context: MakeContext, app: ReferenceApp
) -> None:
    app.settings.https_redirect = False  # `sandbox up --break no-https-redirect`
    try:
        ctx = make_context("", target_url=app.url, target_http_url=app.http_url + "/")
        result = await run_check(ctx, REDIRECT)
    finally:
        reset_flags(app)
    assert result.status is Status.FAIL
    assert f"Answered 200 in clear at {app.http_url}/: the app is served without TLS" in (
        result.message
    )


async def test_the_reference_app_with_a_certificate_about_to_expire_fails(
    make_context: MakeContext, sandbox_ca: CertificateAuthority, ca_bundle: Path, tmp_path: Path
) -> None:
    # `sandbox up --break cert-expiring`: the CA's certificate for 5 days.
    with reference_app(sandbox_ca, tmp_path, lasting(sandbox_ca, 5)) as app:
        result = await certificate_of(make_context, app.url, ca_bundle)
    assert result.status is Status.FAIL, said(result)
    assert "is trusted and valid for 127.0.0.1" in result.message
    assert result.message.startswith(
        f"Expires in 4 days, under 7 days: the TLS certificate of {app.url}"
    ), result.message
