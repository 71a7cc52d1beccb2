"""The env file itself and its rollback copy: env.file, env.file-syntax, env.file-permissions,
env.backup-present, and the actions env.tighten-permissions and env.snapshot-backup."""

from __future__ import annotations

import pytest
from fake_deployment import Deployment, RunAction, RunCheck, collect_check, env_text

from checks import audit
from checks.core import Status
from checks.events import ActionDone, Event, Finished, Log
from checks.settings import env_file_mode


def done(events: list[Event]) -> ActionDone:
    last = events[-1]
    assert isinstance(last, ActionDone), events
    return last


def log_text(events: list[Event]) -> str:
    return "\n".join(e.line for e in events if isinstance(e, Log))


# env.file


async def test_env_file_passes_with_the_variable_count(
    deployment: Deployment, check: RunCheck
) -> None:
    result = await check("env.file")
    assert result.status == Status.PASS
    assert result.evidence["variables"] == str(len(deployment.values))


async def test_env_file_fails_when_missing_and_its_dependents_are_skipped(
    deployment: Deployment,
) -> None:
    deployment.env_file.unlink()
    result, events = await collect_check("env.smtp", deployment.context())
    [file_result] = [
        e.result for e in events if isinstance(e, Finished) and e.result.id == "env.file"
    ]
    assert file_result.status == Status.FAIL
    assert "does not exist" in file_result.message
    assert "TOOLBOX_ENV_FILE" in file_result.hint
    assert result.status == Status.SKIP
    assert "env.file (fail)" in result.message


async def test_env_file_fails_for_a_directory(deployment: Deployment, check: RunCheck) -> None:
    deployment.env_file.unlink()
    deployment.env_file.mkdir()
    result = await check("env.file")
    assert result.status == Status.FAIL
    assert "is a directory" in result.message


# env.file-syntax


async def test_file_syntax_passes_on_a_well_formed_file(check: RunCheck) -> None:
    assert (await check("env.file-syntax")).status == Status.PASS


async def test_file_syntax_names_the_bad_line_by_number_never_its_content(
    deployment: Deployment,
) -> None:
    planted = "sk_live_PLANTEDs3cr3tValue0123456789"
    lines = env_text(deployment.values).splitlines(keepends=True)
    lines.insert(3, f"stripe key is {planted}\n")
    deployment.write("".join(lines))
    result, events = await collect_check("env.file-syntax", deployment.context())
    assert result.status == Status.FAIL
    assert result.message.startswith("Line 4 of .env cannot be parsed")
    assert planted not in repr(events)
    assert "PLANTED" not in repr(events)


async def test_file_syntax_lists_every_bad_line(deployment: Deployment, check: RunCheck) -> None:
    text = env_text(deployment.values) + "broken line\nAPI_TOKEN='unterminated\n"
    deployment.write(text)
    count = text.count("\n")
    result = await check("env.file-syntax")
    assert result.status == Status.FAIL
    assert f"Lines {count - 1}, {count} of .env cannot be parsed" in result.message


# env.file-permissions and env.tighten-permissions


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        (0o644, "readable by group and others (mode 0644)"),
        (0o640, "readable by group (mode 0640)"),
        (0o604, "readable by others (mode 0604)"),
        (0o620, "writable by group (mode 0620)"),
    ],
)
async def test_file_permissions_fail_when_others_have_access(
    deployment: Deployment, check: RunCheck, mode: int, says: str
) -> None:
    deployment.env_file.chmod(mode)
    result = await check("env.file-permissions")
    assert result.status == Status.FAIL
    assert f".env is {says}" in result.message
    assert result.actions == ("env.tighten-permissions",)


async def test_file_permissions_cover_the_backup_too(
    deployment: Deployment, check: RunCheck
) -> None:
    deployment.backup.chmod(0o644)
    result = await check("env.file-permissions")
    assert result.status == Status.FAIL
    assert ".env.backup is readable by group and others" in result.message
    assert ".env is" not in result.message


async def test_file_permissions_pass_at_0600(check: RunCheck) -> None:
    result = await check("env.file-permissions")
    assert result.status == Status.PASS
    assert result.evidence[".env"] == "0600"


async def test_tighten_permissions_makes_both_files_private(
    deployment: Deployment, check: RunCheck, act: RunAction
) -> None:
    deployment.env_file.chmod(0o644)
    deployment.backup.chmod(0o640)
    before = deployment.env_file.read_text()
    events = await act("env.tighten-permissions", confirmed=False)
    assert done(events).outcome == "ok", events
    assert "chmod 0644 -> 0600" in log_text(events)
    assert env_file_mode(deployment.env_file) == 0o600
    assert env_file_mode(deployment.backup) == 0o600
    assert deployment.env_file.read_text() == before
    assert (await check("env.file-permissions")).status == Status.PASS
    [record] = audit.endings(audit.read(deployment.config.audit_path))
    assert (record.action, record.outcome, record.dangerous) == (
        "env.tighten-permissions",
        "ok",
        False,
    )


async def test_tighten_permissions_with_nothing_to_do(act: RunAction) -> None:
    events = await act("env.tighten-permissions")
    assert "already 0600" in done(events).message


# env.backup-present and env.snapshot-backup


async def test_backup_present_passes_when_identical(check: RunCheck) -> None:
    assert (await check("env.backup-present")).status == Status.PASS


async def test_backup_present_fails_when_missing(deployment: Deployment, check: RunCheck) -> None:
    deployment.backup.unlink()
    result = await check("env.backup-present")
    assert result.status == Status.FAIL
    assert "There is no .env.backup" in result.message
    assert result.actions == ("env.snapshot-backup",)


async def test_backup_present_warns_naming_the_variables_that_differ(
    deployment: Deployment, check: RunCheck
) -> None:
    old_key = deployment.values["SECRET_KEY"]
    deployment.write(SECRET_KEY="f" * 30 + "0123456789abcdef" * 2, NEW_FLAG="on")
    result = await check("env.backup-present")
    assert result.status == Status.WARN
    assert "The backup differs from .env (NEW_FLAG, SECRET_KEY)" in result.message
    assert "snapshot again after your last change" in result.message
    assert old_key not in repr(result)
    assert result.actions == ("env.snapshot-backup",)


async def test_backup_present_ignores_comment_changes(
    deployment: Deployment, check: RunCheck
) -> None:
    deployment.write("# reworded\n" + env_text(deployment.values))
    assert (await check("env.backup-present")).status == Status.PASS


async def test_backup_present_fails_when_the_backup_cannot_be_read(
    deployment: Deployment, check: RunCheck
) -> None:
    deployment.backup.unlink()
    deployment.backup.mkdir()
    result = await check("env.backup-present")
    assert result.status == Status.FAIL
    assert ".env.backup is a directory" in result.message


async def test_snapshot_backup_creates_a_private_copy(
    deployment: Deployment, check: RunCheck, act: RunAction
) -> None:
    deployment.backup.unlink()
    events = await act("env.snapshot-backup")
    assert done(events).outcome == "ok", events
    assert ".env.backup is new" in log_text(events)
    assert deployment.backup.read_text() == deployment.env_file.read_text()
    assert env_file_mode(deployment.backup) == 0o600
    assert (await check("env.backup-present")).status == Status.PASS


async def test_snapshot_backup_keeps_the_previous_backup(
    deployment: Deployment, check: RunCheck, act: RunAction
) -> None:
    stale = deployment.backup.read_text()
    deployment.write(LOG_LEVEL="WARNING")
    current = deployment.env_file.read_text()
    events = await act("env.snapshot-backup")
    assert done(events).outcome == "ok", events
    assert deployment.backup.read_text() == current
    [kept] = deployment.timestamped_backups(of=deployment.backup)
    assert kept.read_text() == stale
    assert env_file_mode(kept) == 0o600
    assert env_file_mode(deployment.backup) == 0o600
    assert deployment.env_file.read_text() == current
    assert (await check("env.backup-present")).status == Status.PASS
    for value in deployment.values.values():
        if len(value) > 20:
            assert value not in repr(events)
