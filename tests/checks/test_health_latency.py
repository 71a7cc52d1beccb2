"""``api.latency`` against real local HTTPS servers: it passes against an app that answers at
once, fails against one that answers far slower than the target, and fails for each fault
its message names. Timings themselves are never asserted: a slow server is slower than the
target by a factor no busy machine can blur. The p95 maths is tested as a pure function."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.core import CheckResult, Status
from checks.health.latency import Sampling, judge, percentile
from checks.web import Answer
from tests.checks.db_helpers import run_check
from tests.checks.reference import reference_app, reset_flags
from tests.conftest import MakeContext
from tests.web_servers import HANG, Reply, WebServer, json_reply, silent_port
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.reference_app import ReferenceApp
from toolbox_tui.sandbox.tls import CertificateAuthority

LATENCY = "api.latency"
HEALTHY = json_reply({"status": "healthy"})


@pytest.fixture
def ca_bundle(sandbox_ca: CertificateAuthority, tmp_path: Path) -> Path:
    return sandbox_ca.write_bundle(tmp_path / "ca.pem")


@pytest.fixture
def tls(sandbox_ca: CertificateAuthority, tmp_path: Path) -> ssl.SSLContext:
    directory = tmp_path / "server"
    directory.mkdir()
    return sandbox_ca.issue("127.0.0.1", "localhost").server_context(directory)


async def measure(
    make_context: MakeContext, url: str, ca_bundle: Path | None = None, **config: object
) -> CheckResult:
    config.setdefault("latency_samples", 5)
    ctx = make_context("", target_url=url, ca_bundle=ca_bundle, **config)
    return await run_check(ctx, LATENCY)


# --- the p95 maths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        (list(range(1, 21)), 95, 19),  # rank ceil(0.95 * 20) = 19
        (list(range(1, 101)), 95, 95),
        (list(range(1, 101)), 50, 50),
        ([5.0], 95, 5.0),
        ([3, 1, 2], 50, 2),  # unsorted input
        ([1, 2, 3, 4], 50, 2),  # nearest rank: a measured value, never an average
        ([10] * 19 + [1000], 95, 10),  # one outlier in 20 is above the p95
        ([10] * 18 + [1000, 1000], 95, 1000),  # two are not
        ([1, 2, 3], 100, 3),
    ],
)
def test_percentile_by_nearest_rank(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == expected


@pytest.mark.parametrize(("values", "pct"), [([], 95), ([1.0], 0), ([1.0], 101)])
def test_percentile_refuses_what_has_none(values: list[float], pct: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, pct)


def test_the_verdict_is_on_the_p95_not_the_worst() -> None:
    timings = (10.0,) * 19 + (900.0,)
    sampling = Sampling("https://app/api/health", 20, timings, 30.0, 40.0, answers=21)
    outcome = judge(sampling, 200)
    assert outcome.status is Status.PASS
    assert "answered with p95 10 ms (p50 10 ms, max 900 ms) over 20 requests" in outcome.message
    assert judge(sampling, 10).status is Status.FAIL  # the target is "below", not "at most"


# --- against a real server ------------------------------------------------------------------


async def test_passes_when_the_api_answers_at_once(
    make_context: MakeContext, tls: ssl.SSLContext, ca_bundle: Path
) -> None:
    async with WebServer({"/api/health": HEALTHY}, tls) as app:
        result = await measure(make_context, app.url, ca_bundle, api_p95_ms=5000)
    assert result.status is Status.PASS, result.message
    assert f"{app.url}/api/health answered with p95 " in result.message
    assert result.message.startswith("Below the 5000 ms target: ")
    assert result.message.endswith("over 5 requests.")
    assert {"p50 ms", "p95 ms", "max ms"} <= result.evidence.keys()
    assert result.evidence["samples"] == "5 of 5"
    # One warm-up request, not counted, then the five timed ones.
    assert [r.path for r in app.requests] == ["/api/health"] * 6


async def test_fails_when_the_api_answers_slower_than_the_target(
    make_context: MakeContext, tls: ssl.SSLContext, ca_bundle: Path
) -> None:
    slow = Reply(200, b'{"status": "healthy"}', delay=0.25)
    async with WebServer({"/api/health": slow}, tls) as app:
        result = await measure(make_context, app.url, ca_bundle, api_p95_ms=20)
    assert result.status is Status.FAIL, result.message
    assert result.message.startswith("Not below the 20 ms target (TOOLBOX_API_P95_MS): ")
    assert result.message.endswith("over 5 requests.")
    assert "backend's workers" in result.hint
    assert float(result.evidence["p95 ms"]) >= 250


async def test_stops_within_its_time_budget_and_says_how_many_it_measured(
    make_context: MakeContext, tls: ssl.SSLContext, ca_bundle: Path
) -> None:
    slow = Reply(200, b'{"status": "healthy"}', delay=0.4)
    async with WebServer({"/api/health": slow}, tls) as app:
        result = await measure(
            make_context, app.url, ca_bundle, latency_samples=50, check_timeout=3
        )
    assert result.status is Status.FAIL, result.message  # not ERROR: it ended in time
    assert "of 50 requests (the check's 3 s ran out before the rest)" in result.message
    measured = int(result.evidence["samples"].split(" of ")[0])
    assert 1 <= measured < 50
    assert len(app.requests) < 51


async def test_fails_on_an_answer_that_is_not_200(
    make_context: MakeContext, tls: ssl.SSLContext, ca_bundle: Path
) -> None:
    broken = Reply(503, b"upstream connect error", "text/plain")
    async with WebServer({"/api/health": broken}, tls) as app:
        result = await measure(make_context, app.url, ca_bundle)
    assert result.status is Status.FAIL, result.message
    assert "6 of 6 answers of" in result.message and "were not 200" in result.message
    assert (
        f"Answered 503 Service Unavailable, not 200, at {app.url}/api/health: "
        "upstream connect error" in result.message
    )
    assert result.evidence["first status"] == "503"


async def test_skips_without_a_target_url(make_context: MakeContext) -> None:
    result = await run_check(make_context(""), LATENCY)
    assert result.status is Status.SKIP
    assert "TOOLBOX_TARGET_URL" in result.message


async def test_fails_when_the_connection_is_refused(make_context: MakeContext) -> None:
    url = f"https://127.0.0.1:{free_port()}"
    result = await measure(make_context, url)
    assert result.status is Status.FAIL
    assert f"{url}/api/health refused the connection" in result.message


async def test_fails_when_the_app_accepts_and_never_answers(
    make_context: MakeContext, tls: ssl.SSLContext, ca_bundle: Path
) -> None:
    async with WebServer({"/api/health": HANG}, tls) as app:
        result = await measure(make_context, app.url, ca_bundle, check_timeout=2)
    assert result.status is Status.FAIL, result.message
    assert f"{app.url}/api/health accepted the connection but sent no answer" in result.message


async def test_fails_when_the_port_accepts_and_never_speaks_tls(
    make_context: MakeContext,
) -> None:
    with silent_port() as port:
        url = f"https://127.0.0.1:{port}"
        result = await measure(make_context, url, check_timeout=2)
    assert result.status is Status.FAIL, result.message
    assert f"No connection to {url}/api/health within 1 s" in result.message


async def test_fails_on_a_certificate_for_another_host(
    make_context: MakeContext, sandbox_ca: CertificateAuthority, ca_bundle: Path, tmp_path: Path
) -> None:
    other = sandbox_ca.issue("app.example.com").server_context(tmp_path)
    async with WebServer({"/api/health": HEALTHY}, other) as app:
        result = await measure(make_context, app.url, ca_bundle)
    assert result.status is Status.FAIL
    assert "is for another host name" in result.message


# --- against the reference app --------------------------------------------------------------


@pytest.fixture(scope="module")
def app(
    sandbox_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReferenceApp]:
    with reference_app(sandbox_ca, tmp_path_factory.mktemp("app")) as server:
        yield server


async def test_the_reference_app_passes_and_its_slow_api_scenario_fails(
    make_context: MakeContext, app: ReferenceApp, ca_bundle: Path
) -> None:
    # A generous target for the healthy app: a busy test machine must not fail it.
    result = await measure(make_context, app.url, ca_bundle, api_p95_ms=2000)
    assert result.status is Status.PASS, result.message
    app.settings.delay_ms = 400  # what `sandbox up --break slow-api` sets
    try:
        result = await measure(make_context, app.url, ca_bundle)
    finally:
        reset_flags(app)
    assert result.status is Status.FAIL, result.message
    assert "Not below the 200 ms target (TOOLBOX_API_P95_MS)" in result.message


@pytest.mark.parametrize("warm_up_ms", [4200.0, 150.0])  # above and below the target
def test_warns_when_only_the_warm_up_fit_in_the_time(warm_up_ms: float) -> None:
    # The warm-up pays for the handshakes: alone, it neither passes nor fails the API.
    sampling = Sampling("https://app/api/health", 20, (), warm_up_ms, 5.0, answers=1)
    outcome = judge(sampling, 200)
    assert outcome.status is Status.WARN
    assert outcome.message.startswith("https://app/api/health answered only the warm-up request")
    assert (
        "no timed request fit in the time allowed (the check's 5 s, TOOLBOX_CHECK_TIMEOUT), "
        "so the p95 is not known."
    ) in outcome.message
    assert "Raise TOOLBOX_CHECK_TIMEOUT" in outcome.hint
    assert outcome.evidence["samples"] == "0 of 20"
    assert "p95 ms" not in outcome.evidence  # no p95 was measured


def test_an_error_on_the_warm_up_alone_still_fails() -> None:
    answer = Answer("https://app/api/health", 503, "text/plain", "", "", b"down", True, 40.0)
    sampling = Sampling("https://app/api/health", 20, (), 40.0, 5.0, (answer,), answers=1)
    outcome = judge(sampling, 200)
    assert outcome.status is Status.FAIL
    assert "1 of 1 answers of https://app/api/health were not 200" in outcome.message
    assert "over the warm-up request only" in outcome.message
