"""``logs.errors`` on real log files in the app's format: it counts entries (a traceback
belongs to the line above it) since the deploy or the last 24 hours, passes without errors,
warns on a few, fails above the limit, shows the first errors with their secrets masked, and
fails when it cannot read the log, saying why. The context's clock is tests.conftest's
FIXED_NOW (2026-11-28 12:00 UTC)."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from checks.core import CheckResult, Status
from checks.health import logs
from checks.health.logs import read_tail, tally
from tests.checks.db_helpers import run_check
from tests.checks.reference import reference_app, reset_flags
from tests.conftest import MakeContext
from toolbox_tui.sandbox.reference_app import ReferenceApp
from toolbox_tui.sandbox.tls import CertificateAuthority

LOGS = "logs.errors"
SECRET = "Zq8vN2xLk4Rw7TpY3mHs9DcF6bJe1GuA"
TRACEBACK = (
    "    Traceback (most recent call last):",
    '      File "/srv/toolboxai/app/api.py", line 42, in create',
    "        raise ValueError(reason)",
    "    ValueError: roblox quota exceeded",
)


def info(minute: int, message: str = "GET /api/health 200 3ms") -> str:
    return f"2026-11-28T11:{minute:02d}:00.000Z INFO toolboxai.access {message}"


def error(minute: int, message: str = "Unhandled exception in POST /api/v1/x") -> str:
    return f"2026-11-28T11:{minute:02d}:30.000Z ERROR toolboxai.app {message}"


def write_log(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


async def check_log(
    make_context: MakeContext, log: Path, env: str = "", **config: object
) -> CheckResult:
    return await run_check(make_context(env, app_log=log, **config), LOGS)


def said(result: CheckResult) -> str:
    return " ".join([result.message, result.hint, *result.evidence.values()])


# --- the verdicts ---------------------------------------------------------------------------


async def test_passes_without_errors(make_context: MakeContext, tmp_path: Path) -> None:
    log = write_log(tmp_path / "app.log", *(info(m) for m in range(5)))
    result = await check_log(make_context, log)
    assert result.status is Status.PASS, result.message
    assert f"No errors among 5 entries in {log} in the last 24 h" in result.message
    assert "TOOLBOX_DEPLOYED_AT is unset" in result.message
    assert result.evidence["errors"] == "0"
    assert result.evidence["read"] == f"all {log.stat().st_size} bytes"


async def test_fails_above_the_rate_and_shows_the_first_errors(
    make_context: MakeContext, tmp_path: Path
) -> None:
    lines = [info(m) for m in range(10)]
    lines += [error(m, f"crash number {m}") for m in range(4)]
    log = write_log(tmp_path / "app.log", *lines)
    result = await check_log(make_context, log)
    assert result.status is Status.FAIL, result.message
    assert "4 of 14 entries" in result.message and "are errors (28.57 %" in result.message
    assert "above the 0.5 % limit, TOOLBOX_LOG_ERROR_RATE_MAX" in result.message
    # The first three are shown, in message and evidence; the fourth is only counted.
    for m in range(3):
        assert f"crash number {m}" in result.message
        assert f"crash number {m}" in result.evidence[f"error {m + 1}"]
    assert "crash number 3" not in said(result)
    assert result.evidence["error rate"] == "28.57 %"


async def test_a_few_errors_within_the_limit_warn(
    make_context: MakeContext, tmp_path: Path
) -> None:
    lines = [info(m % 60, f"GET /x {n}") for n, m in enumerate(range(999))]
    log = write_log(tmp_path / "app.log", *lines, error(59, "one slip"))
    result = await check_log(make_context, log)
    assert result.status is Status.WARN, result.message
    assert "1 of 1,000 entries" in result.message and "(0.10 %, within the 0.5 % limit)" in (
        result.message
    )
    assert "one slip" in result.message


async def test_any_error_fails_when_the_limit_is_zero(
    make_context: MakeContext, tmp_path: Path
) -> None:
    log = write_log(tmp_path / "app.log", *(info(m) for m in range(50)), error(55))
    result = await check_log(make_context, log, log_error_rate_max=0)
    assert result.status is Status.FAIL and "above the 0 % limit" in result.message


async def test_a_traceback_belongs_to_its_error_and_counts_once(
    make_context: MakeContext, tmp_path: Path
) -> None:
    log = write_log(tmp_path / "app.log", info(1), error(2), *TRACEBACK, info(3))
    result = await check_log(make_context, log)
    assert result.evidence["entries"] == "3" and result.evidence["errors"] == "1"
    # The error line, then the traceback's last line: what went wrong.
    assert (
        "Unhandled exception in POST /api/v1/x … ValueError: roblox quota exceeded"
        in (result.evidence["error 1"])
    )


async def test_counts_only_since_the_deploy(make_context: MakeContext, tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "app.log", error(1, "before"), *TRACEBACK, info(20), info(40), error(45)
    )
    deployed = datetime(2026, 11, 28, 11, 10, tzinfo=UTC)
    result = await check_log(make_context, log, deployed_at=deployed)
    assert result.evidence["entries"] == "3" and result.evidence["errors"] == "1"
    assert "since the deploy at 2026-11-28 11:10 UTC (TOOLBOX_DEPLOYED_AT)" in result.message
    assert "before" not in said(result)


async def test_without_a_deploy_time_counts_the_last_24_hours(
    make_context: MakeContext, tmp_path: Path
) -> None:
    yesterday = "2026-11-27T11:59:00.000Z ERROR toolboxai.app yesterday's error"
    log = write_log(tmp_path / "app.log", yesterday, info(1))
    result = await check_log(make_context, log)
    assert result.status is Status.PASS, result.message
    assert "since 2026-11-27 12:00 UTC" in result.message


def test_reads_the_timestamps_and_levels_of_common_formats() -> None:
    lines = [
        b"2026-11-28T11:00:00Z ERROR app utc",
        b"2026-11-28 11:00:00,123 CRITICAL app python logging's default",
        b"2026-11-28T12:30:00+01:00 [error] app an offset, a bracketed lower-case level",
        b"2026-11-28T11:00:00.123456 FATAL app no offset: UTC",
        b"2026-11-28T11:00:00Z WARNING app not an error",
        b"2026-13-45T11:00:00Z ERROR app not a date: part of the entry above",
        b"ERROR no timestamp: part of the entry above",
        b"2026-11-28T10:59:59Z ERROR app before the moment",
    ]
    found = tally(iter(lines), datetime(2026, 11, 28, 11, 0, tzinfo=UTC))
    assert (found.entries, found.errors, found.stamped) == (5, 4, 6)


# --- what is shown --------------------------------------------------------------------------


async def test_secrets_in_error_lines_are_masked(make_context: MakeContext, tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "app.log",
        info(1),
        error(2, f"login to the database failed: password={SECRET}"),
        f"    RuntimeError: SECRET_KEY={SECRET}",
        error(3, "x" * 150 + SECRET + "y" * 100),  # the 200-character cut falls inside it
    )
    result = await check_log(make_context, log, env=f"SECRET_KEY={SECRET}\n")
    assert result.status is Status.FAIL
    assert "password=" in result.message and "SECRET_KEY=" in result.evidence["error 1"]
    assert SECRET[:6] not in said(result)


# Credentials this tool was never told: not in the env file, nor in its settings.
BEARER = "tbx_live_UNKNOWNbearerTOKEN9f8e7d6c"
PASSWORD = "hunter2-Unknown-Pass"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJlLWJ5dGVz"
URL_PASSWORD = "dbPassUnknown77"


async def test_what_looks_like_a_credential_is_masked_in_the_lines_shown(
    make_context: MakeContext, tmp_path: Path
) -> None:
    log = write_log(
        tmp_path / "app.log",
        error(1, f"upstream refused Authorization: Bearer {BEARER}"),
        error(2, f"login failed for user=bob passwd={PASSWORD} from 10.0.0.7"),
        f'    ValueError: {{"api_key": "{PASSWORD}", "token": "{BEARER}"}}',
        error(3, f"cannot decode session {JWT} (expired)"),
    )
    result = await check_log(make_context, log, log_error_rate_max=100)
    assert result.status is Status.WARN  # 3 errors of 3 entries, within a 100 % limit
    shown = said(result)
    for planted in (BEARER, PASSWORD, JWT, JWT.split(".")[1]):
        assert planted not in shown
    # What is around them still shows: enough to know what failed.
    assert "Authorization: Bearer ••••" in result.evidence["error 1"]
    assert "user=bob passwd=•••• from 10.0.0.7" in result.evidence["error 2"]
    assert '{"api_key": "•••• "token": "••••' in result.evidence["error 2"]
    assert "cannot decode session •••• (expired)" in result.evidence["error 3"]


def test_mask_credentials_knows_the_common_forms() -> None:
    mask = logs.mask_credentials
    assert mask(f"postgresql://app:{URL_PASSWORD}@db:5432/toolbox") == (
        "postgresql://app:••••@db:5432/toolbox"
    )
    assert mask(f"retry with token={BEARER}&page=2") == "retry with token=••••"
    assert mask(f"SECRET: {PASSWORD}") == "SECRET: ••••"
    assert mask(f"bearer {BEARER}") == "bearer ••••"
    assert mask("GET /api/health 200 3ms") == "GET /api/health 200 3ms"  # nothing to mask


async def test_control_characters_in_the_log_never_reach_the_terminal(
    make_context: MakeContext, tmp_path: Path
) -> None:
    log = write_log(tmp_path / "app.log", error(2, "\x1b[2J\x1b]0;owned\x07 gone"))
    result = await check_log(make_context, log)
    assert "\x1b" not in said(result) and "\\x1b[2J" in result.message


# --- what it reads --------------------------------------------------------------------------


def test_reads_a_bounded_tail_from_a_line_start(tmp_path: Path) -> None:
    lines = [info(m % 60, f"request {n:04d}") for n, m in enumerate(range(2000))]
    log = write_log(tmp_path / "app.log", *lines, error(59, "the last line"))
    data = log.read_bytes()
    tail = read_tail(log, datetime(2026, 11, 28, tzinfo=UTC), max_bytes=1000)
    assert (tail.size, tail.start) == (len(data), len(data) - 1000)
    # The line cut at the start is dropped: every line counted is whole, and an entry.
    assert data[-1001:-1000] != b"\n"
    assert tail.found.lines == data[-1000:].count(b"\n") - 1
    assert tail.found.entries == tail.found.stamped == tail.found.lines
    assert tail.found.errors == 1


async def test_says_when_the_tail_begins_after_the_deploy(
    make_context: MakeContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "MAX_TAIL_BYTES", 500)
    log = write_log(tmp_path / "app.log", *(info(m) for m in range(50)))
    result = await check_log(make_context, log)
    assert result.status is Status.PASS
    assert "Only the last 500 bytes of 3.5 KiB was read: it begins at 2026-11-28 11:" in (
        result.message
    )
    assert "earlier entries were not counted" in result.message


async def test_skips_without_a_log(make_context: MakeContext) -> None:
    result = await run_check(make_context(""), LOGS)
    assert result.status is Status.SKIP
    assert "No TOOLBOX_APP_LOG" in result.message and "TOOLBOX_APP_LOG=" in result.hint


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "app.log"
    os.mkfifo(path)  # nothing ever writes: reading it would hang
    return path


@pytest.mark.parametrize(
    ("make_path", "why"),
    [
        (lambda tmp: tmp / "missing.log", "it does not exist"),
        (lambda tmp: tmp, "it is not a regular file (a directory, a FIFO or a device)"),
        (_fifo, "it is not a regular file (a directory, a FIFO or a device)"),
    ],
)
async def test_fails_when_the_log_cannot_be_read(
    make_context: MakeContext,
    tmp_path: Path,
    make_path: Callable[[Path], Path],
    why: str,
) -> None:
    path = make_path(tmp_path)
    result = await check_log(make_context, path)
    assert result.status is Status.FAIL
    assert f"The app log {path} cannot be read: {why}." in result.message
    assert "TOOLBOX_APP_LOG" in result.hint


async def test_fails_when_the_log_is_not_readable(
    make_context: MakeContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = write_log(tmp_path / "app.log", info(1))
    log.chmod(0)
    if os.geteuid() == 0:
        # Root reads a mode-0 file: the kernel's refusal is what another user meets.
        real_open = os.open

        def refuse(path: object, *args: object, **kwargs: object) -> int:
            if Path(str(path)) == log:
                raise PermissionError(13, "Permission denied")
            return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(logs.os, "open", refuse)
    result = await check_log(make_context, log)
    assert result.status is Status.FAIL and "is not readable by this user" in result.message


async def test_a_log_in_another_format_or_empty_or_quiet_warns(
    make_context: MakeContext, tmp_path: Path
) -> None:
    other = write_log(tmp_path / "other.log", "GET /api/health 200", "GET / 200")
    result = await check_log(make_context, other)
    assert result.status is Status.WARN
    assert "None of the 2 lines read" in result.message and "ISO 8601" in result.message
    empty = write_log(tmp_path / "empty.log")
    result = await check_log(make_context, empty)
    assert result.status is Status.WARN and "is empty" in result.message
    old = write_log(tmp_path / "old.log", "2026-10-01T00:00:00Z ERROR app long ago")
    result = await check_log(make_context, old)
    assert result.status is Status.WARN and "has no entries in the last 24 h" in result.message


# --- the reference app's own log -------------------------------------------------------------


@pytest.fixture(scope="module")
def app(
    sandbox_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReferenceApp]:
    with reference_app(sandbox_ca, tmp_path_factory.mktemp("app")) as server:
        yield server


async def test_the_reference_app_log_passes_then_fails_with_log_errors(
    make_context: MakeContext, app: ReferenceApp, sandbox_ca: CertificateAuthority
) -> None:
    started = datetime.now(UTC)
    log = Path(app.settings.log_file)
    context = ssl.create_default_context(cadata=sandbox_ca.cert_pem.decode())
    async with httpx.AsyncClient(verify=context) as client:
        for _ in range(3):
            assert (await client.get(app.url + "/api/health")).status_code == 200
        result = await check_log(make_context, log, deployed_at=started)
        assert result.status is Status.PASS, result.message
        assert result.evidence["entries"] == "3"
        app.settings.log_errors = True  # `sandbox up --break log-errors`
        try:
            assert (await client.get(app.url + "/api/health")).status_code == 200
        finally:
            reset_flags(app)
    result = await check_log(make_context, log, deployed_at=started)
    assert result.status is Status.FAIL, result.message
    assert "1 of 5 entries" in result.message and "(20 %, above the 0.5 % limit" in result.message
    # The error's line, then its traceback's last line: what went wrong.
    assert "ERROR toolboxai.app error while handling GET /api/health" in result.evidence["error 1"]
    assert "… ConnectionResetError: recommendation cache" in result.evidence["error 1"]
