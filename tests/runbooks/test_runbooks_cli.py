"""``toolbox-tui release`` / ``rollback`` and ``fix --param`` as a person types them: what runs,
what is printed, the exit codes, plain refusals, and a signal mid-step."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys

import pytest

from checks import audit
from checks.runbooks import journal
from checks.runbooks.lock import lock_path
from tests.checks.db_helpers import fetchval, slow_revision
from tests.checks.test_migration_actions import wait_until_running
from tests.runbooks.conftest import App
from toolbox_tui.cli import main
from toolbox_tui.sandbox.app_alembic import add_revision
from toolbox_tui.sandbox.stack import migrate


def flags(app: App) -> list[str]:
    config = app.config
    return [
        f"--app-dir={config.app_dir}",
        f"--env-file={config.env_file}",
        f"--app-venv={config.venv_path}",
        f"--audit-log={config.audit_path}",
        f"--alembic-ini={config.alembic_ini_path}",
        f"--backup-dir={config.backup_path}",
    ]


def tool(app: App, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args, *flags(app)])
    out, err = capsys.readouterr()
    return code, out, err


def test_fix_param_sets_the_actions_input(repo: App, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = tool(repo, capsys, "fix", "code.checkout", "--param", "tag=v1.5.0", "--yes")
    assert code == 0, out
    assert "git checkout --detach v1.5.0" in out and repo.head_tag() == "v1.5.0"
    code, _, err = tool(repo, capsys, "fix", "code.checkout", "--param", "tag")
    assert code == 2
    assert "--param wants KEY=VALUE (e.g. --param tag=v1.5.0), not 'tag'" in err


def test_release_without_yes_shows_the_steps_and_runs_nothing(
    repo: App, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = tool(repo, capsys, "release", "--to", "v1.5.0")
    assert code == 3
    assert out.startswith("Release v1.4.0 -> v1.5.0 (journal: ")
    assert "  code        pending  dangerous Check out v1.5.0" in out
    assert "== gate: Gate: every check passes (next)" in out
    assert "Run the checks of environment, migrations, integrations, health, security." in out
    assert "Nothing was run: a release takes dangerous steps." in err
    assert "`toolbox-tui release --to v1.5.0 --yes`" in err
    assert not repo.config.audit_path.exists()


def test_refusals_are_plain_sentences(repo: App, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = tool(repo, capsys, "release", "--to", "v9.9.9", "--yes")
    assert code == 3 and "There is no release tag v9.9.9 in " in err
    code, _, err = tool(repo, capsys, "release", "--to", "v1.5.0", "--yes", "--resume")
    assert code == 3 and "There is no unfinished release to resume" in err
    code, _, err = tool(repo, capsys, "release", "--to", "v1.5.0", "--yes", "--read-only")
    assert code == 3 and "release refused: toolbox-tui is in read-only mode" in err
    assert "Traceback" not in err
    fd = os.open(lock_path(repo.config.audit_path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # Another process's lock: flock locks of two descriptors exclude each other too.
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, b"4242\n")
        code, _, err = tool(repo, capsys, "rollback", "--yes")
        assert code == 3 and "Another runbook is running (pid 4242): one at a time" in err
    finally:
        os.close(fd)
    assert not repo.config.audit_path.exists()


def test_a_rollback_prints_each_step_and_the_wall_times(
    repo: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A supervisord config that is not there: the restart cannot ask supervisord.
    missing = repo.dir / "no-supervisord.conf"
    monkeypatch.setenv("TOOLBOX_SUPERVISOR_CONFIG", str(missing))
    ctx = repo.context()
    release = journal.RunbookRun("r1", "release", "v1.4.0 -> v1.5.0")
    for step, outcome in (("", "started"), ("code", "started"), ("code", "ok"), ("", "failed")):
        journal.write(ctx, release, outcome, "", step=step, attempt=1 if step else 0)
    repo.git("checkout", "--quiet", "--detach", "v1.5.0")
    code, out, _ = tool(repo, capsys, "rollback", "--yes")
    # The restart refuses (its preview cannot ask supervisord), and the rollback stops there.
    assert code == 3
    assert repo.head_tag() == "v1.4.0"
    lines = out.splitlines()
    assert lines[0].startswith("Rollback v1.5.0 -> v1.4.0 (journal: ")
    assert "== code: Check out v1.4.0" in lines
    assert "  git checkout --detach v1.4.0" in out  # the step's preview, then its outcome
    assert any(line.startswith("done: ") for line in lines)
    assert (
        f"failed: Refused: TOOLBOX_SUPERVISOR_CONFIG names {missing}, which is not a file." in out
    )
    steps = lines[lines.index("Steps:") + 1 :]
    assert steps[0] == "  db-backup   skipped"
    assert steps[2].startswith("  code        done       ") and steps[2].endswith(" s")
    assert steps[5].startswith("  restart     failed ")
    assert lines[-2].startswith("Rollback v1.5.0 -> v1.4.0: stopped at step 'restart' (failed)")
    assert lines[-1] == "Continue with `toolbox-tui rollback --resume --yes`."
    records = audit.read(ctx.config.audit_path)
    rollback = [(r.step, r.outcome) for r in records if r.action == "runbook.rollback"]
    assert rollback[:6] == [
        ("", "started"),
        *[(step, "skipped") for step in ("db-backup", "migrations", "deps", "env")],
        ("code", "started"),
    ]
    assert rollback[-3:] == [("restart", "started"), ("restart", "failed"), ("", "failed")]


def test_fail_level_warn_stops_the_gate_on_warnings_and_a_resume_keeps_it(
    repo: App, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = tool(repo, capsys, "release", "--to", "v1.5.0", "--fail-level", "warn")
    assert code == 3
    assert "A warning or worse that is not waived stops the release here." in out
    # Stopped at its gate with --fail-level warn, then resumed without it: still warn.
    code, out, err = tool(
        repo, capsys, "release", "--to", "v1.5.0", "--fail-level", "warn", "--yes"
    )
    assert code == 3, out + err
    assert "  STOPS  warn  env.key-rotation: " in out  # a warning stops it
    assert "A warning or worse that is not waived stops the release here." in out
    # The gate changed nothing: there is nothing to undo, and no rollback is offered.
    assert out.splitlines()[-1] == "Continue with `toolbox-tui release --to v1.5.0 --resume --yes`."
    code, out, _ = tool(repo, capsys, "release", "--to", "v1.5.0", "--resume")
    assert code == 3
    assert "A warning or worse that is not waived stops the release here." in out
    code, _, err = tool(repo, capsys, "rollback", "--yes")
    assert code == 3
    assert "changed nothing (it stopped at the gate): nothing to roll back." in err


def test_rollback_to_a_named_release(repo: App, capsys: pytest.CaptureFixture[str]) -> None:
    repo.git("checkout", "--quiet", "--detach", "v1.5.0")
    code, out, err = tool(repo, capsys, "rollback", "--to", "v1.3.0")
    assert code == 3, out + err
    assert out.startswith("Rollback v1.5.0 -> v1.3.0 (journal: ")
    assert "  migrations  pending  dangerous Downgrade the schema to v1.3.0" in out
    assert "  code        pending  dangerous Check out v1.3.0" in out
    assert "`toolbox-tui rollback --to v1.3.0 --yes`" in err
    code, _, err = tool(repo, capsys, "rollback", "--to", "v9.9.9")
    assert code == 3 and "There is no release tag v9.9.9 in " in err


@pytest.mark.parametrize("hangup", [False, True], ids=["sigterm", "sighup-terminal-gone"])
async def test_a_signal_mid_step_stops_it_cleanly_and_the_journal_says_so(
    app: App, hangup: bool
) -> None:
    """SIGTERM; or SIGHUP with the terminal gone, where every line printed after it fails:
    the step still winds down, and the exit code is still 130."""
    # An untracked revision on top (the tree stays clean), applied: the rollback's downgrade
    # runs it backwards, slowly.
    add_revision(app.dir, "0009_slow_down", slow_revision(slow="downgrade"))
    migrate(app.config.alembic_ini_path, app.database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
    rollback = subprocess.Popen(
        [sys.executable, "-m", "toolbox_tui.cli", "rollback", "--yes", *flags(app)],
        cwd=app.dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    await wait_until_running(app.database_url, "pg_sleep")
    if hangup:
        assert rollback.stdout is not None and rollback.stderr is not None
        rollback.stdout.close()  # nobody reads any more: its writes fail (EPIPE)
        rollback.stderr.close()
        rollback.send_signal(signal.SIGHUP)
        assert rollback.wait(timeout=60) == 130
    else:
        rollback.send_signal(signal.SIGTERM)
        out, err = rollback.communicate(timeout=60)
        assert rollback.returncode == 130, out + err
        assert "SIGTERM: interrupting." in err
        lines = out.splitlines()
        assert lines[lines.index("Steps:") - 1].startswith("interrupted: Interrupted: ")
        assert re.search(r"^  migrations  pending +\d+\.\d\d s$", out, re.MULTILINE)
        assert lines[-2].startswith("Rollback v1.4.0 -> v1.3.0: stopped at step 'migrations' ")
    revision = await fetchval(app.database_url, "SELECT version_num FROM alembic_version")
    assert revision == "0009_slow_down"  # the downgrade rolled back
    records = audit.read(app.config.audit_path)
    rollback_records = [(r.step, r.outcome) for r in records if r.action == "runbook.rollback"]
    assert rollback_records[-2:] == [("migrations", "cancelled"), ("", "cancelled")]
    assert not audit.unfinished(records)
