"""``toolbox-tui report`` on a demo deployment with an audit log of fixes, sign-offs and a
release runbook: what the release ticket gets, and that no secret gets there."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks.redact import mask
from checks.settings import DeploymentEnv
from tests.cli.test_cli import args_for
from toolbox_tui.cli import main
from toolbox_tui.sandbox.demo import Demo, write_demo


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    return write_demo(tmp_path / "app")


def secrets_of(demo: Demo) -> list[str]:
    return sorted(set(DeploymentEnv.load(demo.env_file).secret_values()))


def record(at: datetime, action: str, outcome: str, message: str, **more: str) -> str:
    """One audit line as the tool writes it (runbook fields included)."""
    fields = {
        "at": at.isoformat(timespec="seconds"),
        "action": action,
        "outcome": outcome,
        "message": message,
        "dangerous": False,
        "env_file": ".env",
        "user": more.pop("user", "alice"),
        "host": "deploy-1",
        **more,
    }
    return json.dumps(fields) + "\n"


def plant(demo: Demo) -> tuple[str, str]:
    """A history with secrets in it, as an older tool or a careless hand might have left it:
    a waiver, fixes, a sign-off, a release runbook, and a line that is not a record."""
    values = DeploymentEnv.load(demo.env_file).values
    stripe, jwt = values["STRIPE_SECRET_KEY"], values["JWT_SECRET_KEY"]
    (demo.app_dir / "toolbox-waivers.toml").write_text(
        '[[waiver]]\ncheck = "env.file-permissions"\n'
        f'reason = "OPS-12 fixes the mode; key {stripe} stays"\nby = "alice"\n'
        "expires = 2099-12-31\n"
    )
    now = datetime.now(UTC)
    lines = [
        record(now - timedelta(days=30), "env.tighten-permissions", "ok", "An old fix."),
        record(now - timedelta(days=100), "sec.pentest", "signed-off", f"Acme report {jwt}"),
        record(now - timedelta(hours=3), "db.backup", "started", "Started.", run_id="r1"),
        record(
            now - timedelta(hours=3), "db.backup", "ok", f"Backed up with {stripe}", run_id="r1"
        ),
        "{not a record\n",
        record(
            now - timedelta(hours=2),
            "runbook.release",
            "started",
            "Release v1.4.0 -> v1.5.0",
            runbook="rb1",
            release="v1.4.0 -> v1.5.0",
        ),
        record(
            now - timedelta(hours=1),
            "runbook.release",
            "ok",
            "Upgraded to 0003",
            runbook="rb1",
            step="migrations",
            release="v1.4.0 -> v1.5.0",
        ),
    ]
    (demo.app_dir / "audit.log").write_text("".join(lines))
    return stripe, jwt


def test_markdown_report_for_the_ticket_with_no_secret_in_it(demo: Demo, tmp_path: Path) -> None:
    stripe, jwt = plant(demo)
    out = tmp_path / "release.md"
    assert main(["report", "--output", str(out), *args_for(demo)]) == 3  # the demo's failures
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text()
    for secret in [stripe, jwt, *secrets_of(demo)]:
        assert secret not in text
    assert mask(stripe) in text  # the planted secrets are masked, where they were
    # The verdict, and each pane's checks with the waiver where one applies.
    assert "**Not ready:" in text
    assert "## Environment" in text and "## Rollback" in text
    assert "| FAIL (waived) | `env.file-permissions` |" in text
    # The waiver file's entries; the newest sign-off of each check, however old.
    assert "| `env.file-permissions` | alice | 2099-12-31 | active |" in text
    assert "| `sec.pentest` | alice |" in text
    # Fixes and runbook steps of the last 7 days; the older fix only outside the window.
    fixes = text.split("## Fixes run", 1)[1].split("## Runbook steps", 1)[0]
    assert "`db.backup` | ok | alice@deploy-1 | Backed up with" in fixes
    assert "env.tighten-permissions" not in fixes and "started" not in fixes
    steps = text.split("## Runbook steps", 1)[1].split("## Timeline", 1)[0]
    assert "| `runbook.release` | v1.4.0 -> v1.5.0 | migrations | ok | Upgraded to 0003 |" in steps
    timeline = text.split("## Timeline", 1)[1]
    assert "1 line is not a record" in timeline
    order = [timeline.index(s) for s in ("`db.backup`", "`runbook.release`", "release/migrations")]
    assert order == sorted(order)


def test_json_report_has_every_part_and_no_secret(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    stripe, jwt = plant(demo)
    assert main(["report", "--format", "json", "--since", "1d", *args_for(demo)]) == 3
    out = capsys.readouterr().out
    for secret in [stripe, jwt, *secrets_of(demo)]:
        assert secret not in out
    doc = json.loads(out)
    assert doc["verdict"] == "not ready"
    assert doc["checks"]["waived"] == 1
    waived = next(r for r in doc["checks"]["results"] if r["id"] == "env.file-permissions")
    assert waived["status"] == "fail" and waived["waiver"].startswith("by alice until 2099-12-31")
    assert [w["state"] for w in doc["waivers"]["entries"]] == ["active"]
    [signoff] = doc["signoffs"]
    assert signoff["check"] == "sec.pentest" and signoff["counts"] is True  # a year's cadence
    assert [f["action"] for f in doc["fixes"]] == ["db.backup"]
    assert [(s["step"], s["outcome"]) for s in doc["runbooks"]] == [
        ("", "started"),
        ("migrations", "ok"),
    ]
    assert doc["runbooks"][1]["runbook"] == "rb1"
    assert len(doc["timeline"]) == 4  # the last day: backup started/ok, the runbook's two


def test_every_failure_waived_makes_the_release_ready(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--format", "json", *args_for(demo)]) == 3
    before = json.loads(capsys.readouterr().out)
    failing = [r["id"] for r in before["checks"]["results"] if r["status"] in ("fail", "error")]
    assert before["verdict"] == "not ready" and failing
    (demo.app_dir / "toolbox-waivers.toml").write_text(
        "".join(
            f'[[waiver]]\ncheck = "{check_id}"\nreason = "OPS-7"\nby = "alice"\n'
            "expires = 2099-12-31\n"
            for check_id in failing
        )
    )

    assert main(["report", "--format", "json", *args_for(demo)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "ready"
    assert doc["checks"]["waived"] == len(failing)
    out = tmp_path / "release.md"
    assert main(["report", "--output", str(out), *args_for(demo)]) == 0
    assert "**Ready: no check fails that is not waived" in out.read_text()


def test_output_to_a_fifo_is_refused_before_any_check_runs(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert main(["report", "--output", str(fifo), *args_for(demo)]) == 2
    assert "FIFO" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["last week", "999999d"])
def test_a_bad_since_is_bad_usage(
    demo: Demo, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["report", "--since", value, *args_for(demo)])
    assert exc.value.code == 2
    assert f"{value!r} is not a time" in capsys.readouterr().err
