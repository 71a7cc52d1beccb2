"""checks.net: failures recognised through exception groups (a dual-stack host), bodies asked
for uncompressed and read capped, and one rule for a bare base address."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from pathlib import Path

import httpx
import pytest

from checks.context import CheckContext
from checks.core import CheckFailed
from checks.memo import RunMemo
from checks.net import (
    bare_address,
    causes,
    explain,
    explain_transport,
    http_client,
    read_capped,
    run_tls_context,
)
from checks.settings import DeploymentEnv, ToolboxConfig
from tests.web_servers import Reply, WebServer
from toolbox_tui.sandbox.tls import CertificateAuthority

ENDPOINT = "https://app.example.com/api/health"


def dual_stack_refusal() -> httpx.ConnectError:
    """What httpx raises when ``localhost`` refuses on ::1 and on 127.0.0.1: anyio's
    ``OSError("All connection attempts failed")``, caused by a group of one error per address,
    wrapped by httpcore's and then httpx's ConnectError."""
    group = ExceptionGroup(
        "connection attempts",
        [
            ConnectionRefusedError(111, "Connect call failed ('::1', 443, 0, 0)"),
            ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 443)"),
        ],
    )
    anyio_error = OSError("All connection attempts failed")
    anyio_error.__cause__ = group
    core_error = Exception("httpcore.ConnectError: All connection attempts failed")
    core_error.__cause__ = anyio_error
    error = httpx.ConnectError("All connection attempts failed")
    error.__cause__ = core_error
    return error


def test_causes_steps_into_exception_groups_outermost_first() -> None:
    error = dual_stack_refusal()
    found = list(causes(error))
    kinds = [type(cause).__name__ for cause in found]
    assert kinds == [
        "ConnectError",
        "Exception",
        "OSError",
        "ExceptionGroup",
        "ConnectionRefusedError",
        "ConnectionRefusedError",
    ]


def test_causes_ends_on_a_cycle() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__cause__, second.__cause__ = second, first
    assert list(causes(first)) == [first, second]


def test_a_refusal_inside_a_group_is_still_a_refusal() -> None:
    found = explain(dual_stack_refusal(), ENDPOINT)
    assert str(found) == f"{ENDPOINT} refused the connection: nothing listens on that port."
    assert "TOOLBOX_TARGET_URL" in found.hint


def test_an_untrusted_certificate_inside_a_group_wins_over_the_rest() -> None:
    untrusted = ssl.SSLCertVerificationError(1, "certificate verify failed")
    untrusted.verify_code = 20
    untrusted.verify_message = "unable to get local issuer certificate"
    group = ExceptionGroup("attempts", [ConnectionResetError(104, "reset"), untrusted])
    outer = OSError("All connection attempts failed")
    outer.__cause__ = group
    found = explain_transport(outer, ENDPOINT)
    assert found is not None and "is not trusted" in str(found)


def test_the_client_asks_for_bodies_uncompressed() -> None:
    client = http_client(ToolboxConfig())
    assert client.headers["Accept-Encoding"] == "identity"


async def test_read_capped_counts_what_it_keeps() -> None:
    body = b"x" * 5000
    routes = {
        "/plain": Reply(200, body, "text/plain"),
        # A server that compresses anyway: cut at the limit all the same.
        "/gzip": Reply(200, gzip.compress(body), "text/plain", (("Content-Encoding", "gzip"),)),
    }
    async with WebServer(routes) as server, http_client(ToolboxConfig()) as client:
        for path in routes:
            async with client.stream("GET", server.url + path) as response:
                kept, whole = await read_capped(response, 1000)
            assert (kept, whole) == (b"x" * 1000, False)
            async with client.stream("GET", server.url + path) as response:
                assert await read_capped(response, 5000) == (body, True)
        assert {r.headers["accept-encoding"] for r in server.requests} == {"identity"}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("app.example.com", "is not a URL"),
        ("ftp://app.example.com", "must be an https:// address"),
        ("https://", "must be an https:// address"),
        ("https://deploy:hunter2@app.example.com", "must be a bare base address"),
        ("https://app.example.com/?next=/", "must be a bare base address"),
        ("https://app.example.com/#top", "must be a bare base address"),
    ],
)
def test_bare_address_refuses_what_is_not_one_without_quoting_it(raw: str, problem: str) -> None:
    with pytest.raises(CheckFailed) as caught:
        bare_address(raw, "TOOLBOX_SOME_URL", "Write it as https://host/")
    assert str(caught.value).startswith(f"TOOLBOX_SOME_URL {problem}")
    assert caught.value.hint == "Write it as https://host/"
    assert "hunter2" not in str(caught.value)


def test_bare_address_takes_the_schemes_it_is_given() -> None:
    assert bare_address(" http://App.example.com/ ", "S", "h", ("http",)).host == "App.example.com"
    with pytest.raises(CheckFailed, match="must be an http:// address"):
        bare_address("https://app.example.com/", "S", "h", ("http",))


async def test_a_run_builds_one_tls_context_and_the_next_run_reads_the_bundle_again(
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate\n", encoding="utf-8")
    config = ToolboxConfig(app_dir=tmp_path, ca_bundle=bundle)
    env = DeploymentEnv(path=tmp_path / ".env")

    def one_run() -> CheckContext:
        return CheckContext(env=env, config=config, memo=RunMemo())

    first = one_run()
    results = await asyncio.gather(
        run_tls_context(first), run_tls_context(first), return_exceptions=True
    )
    # Both checks of the run hear why the bundle cannot be used.
    assert all(isinstance(r, CheckFailed) and str(bundle) in str(r) for r in results)

    CertificateAuthority().write_bundle(bundle)  # mended between runs
    second = one_run()
    context = await run_tls_context(second)
    assert context is await run_tls_context(second)  # one context for the whole run
    assert len(context.get_ca_certs()) > len(ssl.create_default_context().get_ca_certs())
    assert await run_tls_context(one_run()) is not context
