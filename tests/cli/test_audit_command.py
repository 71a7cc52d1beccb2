"""``toolbox-tui audit [--since WHEN]``: the audit log one line a record, in time order, with
malformed lines counted, not fatal; a bad WHEN or an unreadable log is bad usage."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks import audit
from toolbox_tui.cli import main
from toolbox_tui.since import BadSince, parse_since

SECRET = "whsec_" + "A1b2C3d4" * 4


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text(f"STRIPE_WEBHOOK_SECRET={SECRET}\n")
    return tmp_path


def args(app_dir: Path, *more: str) -> list[str]:
    return [
        "audit",
        "--env-file",
        str(app_dir / ".env"),
        "--app-dir",
        str(app_dir),
        *more,
    ]


def write(
    app_dir: Path, at: datetime, action: str, outcome: str, message: str, **more: str
) -> None:
    audit.append(
        app_dir / "toolbox-audit.log",
        audit.AuditRecord(
            at=at.isoformat(timespec="seconds"),
            action=action,
            outcome=outcome,
            message=message,
            dangerous=False,
            env_file=".env",
            user="alice",
            host="deploy-1",
            **more,  # type: ignore[arg-type]
        ),
    )


def history(app_dir: Path) -> datetime:
    """Records 2 days, 3 hours and 10 minutes old (written out of order), and a torn line."""
    now = datetime.now(UTC).replace(microsecond=0)
    write(app_dir, now - timedelta(hours=3), "db.backup", "ok", f"Backed up, key {SECRET}")
    write(app_dir, now - timedelta(days=2), "env.tighten-permissions", "ok", "Mode 0600.")
    with (app_dir / "toolbox-audit.log").open("a") as log:
        log.write('{"at": "torn\n')
    write(
        app_dir,
        now - timedelta(minutes=10),
        "runbook.release",
        "failed",
        "alembic upgrade failed",
        runbook="rb1",
        step="migrations",
        release="v1.4.0 -> v1.5.0",
    )
    return now


def test_every_record_one_line_in_time_order(
    app_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = history(app_dir)
    assert main(args(app_dir)) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 3
    first = (now - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    assert lines[0].startswith(f"{first}  ok ")
    assert "env.tighten-permissions" in lines[0] and "alice@deploy-1  Mode 0600." in lines[0]
    assert "db.backup" in lines[1]
    assert "failed" in lines[2] and "runbook.release/migrations" in lines[2]
    # The secret is masked; the torn line is counted on stderr, not fatal.
    assert SECRET not in out and "whsec_••••" in lines[1]
    assert "1 line is not a record" in err


@pytest.mark.parametrize(
    ("since", "expected"),
    [("1d", 2), ("2h", 1), ("30m", 1), ("4h", 2), ("3d", 3)],
)
def test_since_a_span_back_from_now(
    app_dir: Path, capsys: pytest.CaptureFixture[str], since: str, expected: int
) -> None:
    history(app_dir)
    assert main(args(app_dir, "--since", since)) == 0
    assert len(capsys.readouterr().out.splitlines()) == expected


def test_since_an_iso_date_or_date_and_time(
    app_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(app_dir, datetime(2026, 11, 27, 23, 0, tzinfo=UTC), "db.backup", "ok", "before")
    write(app_dir, datetime(2026, 11, 28, 9, 0, tzinfo=UTC), "db.backup", "ok", "morning")
    write(app_dir, datetime(2026, 11, 28, 15, 0, tzinfo=UTC), "db.upgrade", "ok", "afternoon")
    assert main(args(app_dir, "--since", "2026-11-28")) == 0
    assert [line.split()[-1] for line in capsys.readouterr().out.splitlines()] == [
        "morning",
        "afternoon",
    ]
    assert main(args(app_dir, "--since", "2026-11-28T12:00")) == 0
    assert capsys.readouterr().out.split()[-1] == "afternoon"
    # An offset is honoured: 12:00 at +05:00 is 07:00 UTC.
    assert main(args(app_dir, "--since", "2026-11-28T12:00+05:00")) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_nothing_since_then_says_so(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args(app_dir, "--since", "2h")) == 0
    out, err = capsys.readouterr()
    assert out == "" and "no audit records since 2h" in err


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "5y", "-2h", "", "999999d"])
def test_a_bad_since_is_bad_usage_with_a_clear_message(
    app_dir: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args(app_dir, f"--since={value}"))  # "=": argparse would take "-2h" for an option
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "is not a time: give an ISO date (2026-11-28)" in err and "30m, 2h, 1d" in err
    with pytest.raises(BadSince):
        parse_since(value)


def test_a_fifo_for_a_log_is_refused_without_hanging(
    app_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(app_dir / "toolbox-audit.log")
    assert main(args(app_dir)) == 2
    assert "cannot be read (it is a FIFO, not a regular file)" in capsys.readouterr().err
