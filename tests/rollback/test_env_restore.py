"""rollback.env-backup, env.restore-backup and env.apply-staged on real files, with planted
values that must never show: not in a plan, a log line, a message, a result or the audit log."""

from __future__ import annotations

import os
from pathlib import Path

from checks.context import CheckContext
from checks.core import CheckResult, Status, registry
from checks.events import ActionDone
from checks.rollback.env_restore import APPLY, RESTORE
from checks.runner import build_plan
from tests.checks.db_helpers import run_check
from tests.conftest import MakeContext
from tests.integrations.running import fix

SECRET_NOW = "planted-jwt-secret-NOW-7f3a9c"
SECRET_THEN = "planted-jwt-secret-THEN-b21e44"
SECRET_NEXT = "planted-jwt-secret-NEXT-99d0aa"
# Not secret by name: only never printing values keeps these out of sight.
VERSION_NOW = "planted-version-1.5.0-c0ffee"
VERSION_THEN = "planted-version-1.4.0-decade"
PLANTED = (SECRET_NOW, SECRET_THEN, SECRET_NEXT, VERSION_NOW, VERSION_THEN)

BASE = "APP_NAME=toolboxai\nDEBUG=false\n"
RELEASED = f"{BASE}JWT_SECRET_KEY={SECRET_NOW}\nAPP_VERSION={VERSION_NOW}\n"
PREVIOUS = f"{BASE}JWT_SECRET_KEY={SECRET_NOW}\nAPP_VERSION={VERSION_THEN}\n"


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def shown_text(ctx: CheckContext, *things: object) -> str:
    """Everything a person or the audit log could read after these results and events."""
    parts = [ctx.config.audit_path.read_text()] if ctx.config.audit_path.exists() else []
    for thing in things:
        if isinstance(thing, CheckResult):
            parts += [thing.message, thing.hint, *thing.evidence.keys(), *thing.evidence.values()]
        elif isinstance(thing, str):  # a log line
            parts.append(thing)
        elif isinstance(thing, ActionDone):
            parts += [thing.message, *thing.changes]
    return "\n".join(parts)


def assert_no_value_shows(ctx: CheckContext, *things: object) -> None:
    text = shown_text(ctx, *things)
    for value in PLANTED:
        assert value not in text


# -- rollback.env-backup -------------------------------------------------------------------------


async def test_a_backup_holding_the_same_values_is_restorable(make_context: MakeContext) -> None:
    ctx = make_context(RELEASED)
    write(ctx.config.env_backup_path, RELEASED + "# a comment changes nothing\n")
    result = await run_check(ctx, "rollback.env-backup")
    assert result.status is Status.PASS, result.message
    assert result.message == "Restorable: .env.backup holds the same 4 values as .env."


async def test_a_backup_differing_only_in_the_release_names_is_restorable(
    make_context: MakeContext,
) -> None:
    ctx = make_context(RELEASED, release_env_changes=" APP_VERSION , ")
    write(ctx.config.env_backup_path, PREVIOUS)
    result = await run_check(ctx, "rollback.env-backup")
    assert result.status is Status.PASS, result.message
    assert result.message == (
        "Restorable: .env.backup differs from .env only in the release's APP_VERSION."
    )
    assert_no_value_shows(ctx, result)


async def test_the_names_the_staged_file_changes_are_expected_too(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(RELEASED)
    write(ctx.config.env_backup_path, PREVIOUS)
    write(tmp_path / ".env.next", RELEASED)  # the release's env step applied this
    result = await run_check(ctx, "rollback.env-backup")
    assert result.status is Status.PASS, result.message


async def test_an_unexpected_difference_fails_naming_it_never_its_value(
    make_context: MakeContext,
) -> None:
    ctx = make_context(RELEASED, release_env_changes="APP_VERSION")
    write(
        ctx.config.env_backup_path,
        PREVIOUS.replace(SECRET_NOW, SECRET_THEN) + "LEGACY_FLAG=1\n",
    )
    result = await run_check(ctx, "rollback.env-backup")
    assert result.status is Status.FAIL
    assert result.message == (
        "Differs beyond the release: JWT_SECRET_KEY, LEGACY_FLAG; a restore would change "
        "those in .env too."
    )
    assert "TOOLBOX_RELEASE_ENV_CHANGES" in result.hint
    assert result.evidence["unexpected"] == "JWT_SECRET_KEY, LEGACY_FLAG"
    assert_no_value_shows(ctx, result)


async def test_a_missing_backup_fails_offering_the_snapshot(make_context: MakeContext) -> None:
    result = await run_check(make_context(RELEASED), "rollback.env-backup")
    assert result.status is Status.FAIL
    assert result.message.startswith("No .env.backup: a rollback has no environment to restore")
    assert result.actions == ("env.snapshot-backup",)


async def test_a_backup_with_a_broken_line_fails_by_line_number(make_context: MakeContext) -> None:
    ctx = make_context(RELEASED)
    write(ctx.config.env_backup_path, f"{PREVIOUS}BROKEN='{SECRET_THEN}\n")
    result = await run_check(ctx, "rollback.env-backup")
    assert result.status is Status.FAIL
    assert result.message == "Not restorable: .env.backup has malformed line(s) 5."
    assert_no_value_shows(ctx, result)


# -- env.restore-backup --------------------------------------------------------------------------


async def test_restore_previews_names_then_restores_keeping_a_private_copy(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(RELEASED + "ADDED_BY_RELEASE=1\n", mode=0o640)
    backup = write(ctx.config.env_backup_path, PREVIOUS.replace(SECRET_NOW, SECRET_THEN))
    lines, done = await fix(ctx, RESTORE)

    assert done.outcome == "ok", done.message
    assert lines[:4] == [
        "Restore " + str(ctx.config.env_file) + f" from {backup}: 3 variable(s) change:",
        "  ADDED_BY_RELEASE (removed)",
        "  APP_VERSION (changed)",
        "  JWT_SECRET_KEY (changed)",
    ]
    env = ctx.config.env_file
    assert env.read_bytes() == backup.read_bytes()
    assert env.stat().st_mode & 0o777 == 0o640  # its mode, not the backup's
    [kept] = sorted(tmp_path.glob(".env.before-restore-*"))
    assert kept.name == ".env.before-restore-20261128T120000Z"  # the context's clock
    assert kept.stat().st_mode & 0o777 == 0o600
    assert SECRET_NOW in kept.read_text()
    assert done.changes == (
        "replaced .env with .env.backup (3 variable(s) changed: ADDED_BY_RELEASE, APP_VERSION, "
        "JWT_SECRET_KEY); the previous .env is kept as .env.before-restore-20261128T120000Z",
    )
    assert_no_value_shows(ctx, *lines, done)


async def test_restore_has_nothing_to_do_when_the_values_are_the_same(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(RELEASED)
    write(ctx.config.env_backup_path, "# same values, other bytes\n" + RELEASED)
    planned = await build_plan(registry.actions[RESTORE], ctx)
    assert planned.already_done
    assert (
        planned.refusal
        == "Nothing to restore: .env already holds the same 4 values as .env.backup."
    )
    assert list(tmp_path.glob(".env.before-restore-*")) == []


async def test_restore_refuses_when_either_file_changed_since_the_preview(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(RELEASED)
    backup = write(ctx.config.env_backup_path, PREVIOUS)
    action = registry.actions[RESTORE]

    for changed, text in ((ctx.config.env_file, RELEASED + "X=1\n"), (backup, PREVIOUS + "Y=2\n")):
        planned = await build_plan(action, ctx)
        assert planned.refusal is None
        before = changed.read_text()
        write(changed, text)
        _, done = await fix(ctx, RESTORE, planned)
        assert done.outcome == "refused"
        assert done.message == (
            f"Refused: {changed.name} changed since the preview; nothing was written. "
            "Preview again."
        )
        write(changed, before)
    assert ctx.config.env_file.read_text() == RELEASED
    assert list(tmp_path.glob(".env.before-restore-*")) == []


async def test_restore_is_dangerous_and_refused_without_a_backup(
    make_context: MakeContext,
) -> None:
    ctx = make_context(RELEASED)
    assert registry.actions[RESTORE].dangerous
    _, done = await fix(ctx, RESTORE)
    assert done.outcome == "refused"
    assert done.message == "Refused: there is no .env.backup to restore; nothing can change."


async def test_restore_creates_a_missing_env_file_from_the_backup(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(RELEASED)
    backup = write(ctx.config.env_backup_path, PREVIOUS)
    env = ctx.config.env_file
    env.unlink()  # exactly when `cp .env.backup .env` is the fix
    lines, done = await fix(ctx, RESTORE)

    assert done.outcome == "ok", done.message
    assert lines[:2] == [
        f"Create {env} from {backup} (owner-only, 0600): there is no .env now; it gets the "
        "backup's 4 variable(s):",
        "  APP_NAME",
    ]
    assert env.read_bytes() == backup.read_bytes()
    assert env.stat().st_mode & 0o777 == 0o600
    assert done.message == (
        ".env created from .env.backup (0600): 4 variable(s) "
        "(APP_NAME, APP_VERSION, DEBUG, JWT_SECRET_KEY)."
    )
    assert done.changes == ("created .env from .env.backup (4 variable(s)); there was no .env",)
    assert list(tmp_path.glob(".env.before-restore-*")) == []
    assert_no_value_shows(ctx, *lines, done)


async def test_restore_refuses_when_the_env_file_appeared_since_the_preview(
    make_context: MakeContext,
) -> None:
    ctx = make_context(RELEASED)
    write(ctx.config.env_backup_path, PREVIOUS)
    ctx.config.env_file.unlink()
    planned = await build_plan(registry.actions[RESTORE], ctx)
    assert planned.refusal is None
    write(ctx.config.env_file, RELEASED)  # someone copied one by hand meanwhile
    _, done = await fix(ctx, RESTORE, planned)
    assert done.outcome == "refused"
    assert done.message == (
        "Refused: .env appeared since the preview; nothing was written. Preview again."
    )
    assert ctx.config.env_file.read_text() == RELEASED


async def test_restore_over_an_env_file_that_is_not_text_keeps_it_first(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(RELEASED)
    backup = write(ctx.config.env_backup_path, PREVIOUS)
    garbled = b"JWT_SECRET_KEY=\xff\xfe" + SECRET_NOW.encode()
    ctx.config.env_file.write_bytes(garbled)
    lines, done = await fix(ctx, RESTORE)

    assert done.outcome == "ok", done.message
    assert "does not read as an env file" in lines[0] and "is not UTF-8 text" in lines[0]
    assert ctx.config.env_file.read_bytes() == backup.read_bytes()
    [kept] = tmp_path.glob(".env.before-restore-*")
    assert kept.read_bytes() == garbled and kept.stat().st_mode & 0o777 == 0o600
    assert_no_value_shows(ctx, *lines, done)


async def test_restore_over_an_env_file_it_cannot_keep_says_to_restore_by_hand(
    make_context: MakeContext,
) -> None:
    huge = RELEASED + "# a log pasted in by mistake\n" * 100
    ctx = make_context(huge, max_env_bytes=1024)  # .env is over the limit, the backup is not
    backup = write(ctx.config.env_backup_path, PREVIOUS)
    _, done = await fix(ctx, RESTORE)
    assert done.outcome == "refused"
    assert done.message.endswith(
        f"so it cannot be kept before the restore; restore by hand: cp -p {backup} "
        f"{ctx.config.env_file}. Nothing was changed."
    )
    assert ctx.config.env_file.read_text() == huge


async def test_restore_never_keeps_the_env_file_through_a_symlink(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(RELEASED)
    write(ctx.config.env_backup_path, PREVIOUS)
    planned = await build_plan(registry.actions[RESTORE], ctx)
    keep = planned.payload["replacement"].keep
    elsewhere = tmp_path / "elsewhere"
    keep.symlink_to(elsewhere)  # dangling: it "does not exist", yet a write would follow it
    _, done = await fix(ctx, RESTORE, planned)

    assert done.outcome == "refused"
    assert done.message.startswith(f"Refused: {keep} is a symbolic link")
    assert not elsewhere.exists()
    assert ctx.config.env_file.read_text() == RELEASED


# -- env.apply-staged ----------------------------------------------------------------------------


async def test_apply_has_nothing_to_do_without_a_staged_file(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(PREVIOUS)
    planned = await build_plan(registry.actions[APPLY], ctx)
    assert planned.already_done
    assert planned.refusal == (
        f"Nothing to apply: there is no staged env file {tmp_path / '.env.next'} "
        "(TOOLBOX_NEXT_ENV_FILE); this release changes no variable."
    )


async def test_apply_is_refused_until_the_backup_holds_the_current_values(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(PREVIOUS)
    write(tmp_path / ".env.next", RELEASED)
    _, done = await fix(ctx, APPLY)
    assert done.outcome == "refused"
    assert done.message.startswith(
        "Refused: there is no .env.backup; snapshot first (env.snapshot-backup)"
    )
    assert ctx.config.env_file.read_text() == PREVIOUS

    write(ctx.config.env_backup_path, PREVIOUS + "STALE=1\n")  # an older snapshot
    _, done = await fix(ctx, APPLY)
    assert done.outcome == "refused" and "does not hold .env's current values" in done.message


async def test_apply_puts_the_staged_file_in_place_then_has_nothing_left(
    make_context: MakeContext, tmp_path: Path
) -> None:
    staged = tmp_path / "release" / "env.next"
    staged.parent.mkdir()
    ctx = make_context(PREVIOUS, mode=0o640, next_env_file=staged)
    write(staged, RELEASED.replace(SECRET_NOW, SECRET_NEXT))
    write(ctx.config.env_backup_path, PREVIOUS)

    lines, done = await fix(ctx, APPLY)

    assert done.outcome == "ok", done.message
    assert done.message == (
        ".env now holds env.next: 2 variable(s) changed (APP_VERSION, JWT_SECRET_KEY)."
    )
    assert ctx.config.env_file.read_bytes() == staged.read_bytes()
    assert ctx.config.env_file.stat().st_mode & 0o777 == 0o640
    assert ctx.config.env_backup_path.read_text() == PREVIOUS  # the rollback copy untouched
    [bak] = list(tmp_path.glob(".env.*.bak"))
    assert bak.stat().st_mode & 0o777 == 0o600
    assert_no_value_shows(ctx, *lines, done)
    assert SECRET_NEXT not in shown_text(ctx, *lines, done)

    again = await build_plan(registry.actions[APPLY], ctx)
    assert again.already_done and again.refusal is not None
    assert again.refusal.startswith("Nothing to apply: .env already holds the 4 values")


async def test_apply_refuses_when_the_staged_file_changed_since_the_preview(
    make_context: MakeContext, tmp_path: Path
) -> None:
    ctx = make_context(PREVIOUS)
    staged = write(tmp_path / ".env.next", RELEASED)
    write(ctx.config.env_backup_path, PREVIOUS)
    action = registry.actions[APPLY]
    planned = await build_plan(action, ctx)
    assert planned.refusal is None
    write(staged, RELEASED + "LATE_ADDITION=1\n")
    _, done = await fix(ctx, APPLY, planned)
    assert done.outcome == "refused"
    assert done.message.startswith("Refused: .env.next changed since the preview")
    assert ctx.config.env_file.read_text() == PREVIOUS


async def test_a_backup_that_is_a_fifo_is_refused_without_blocking(
    make_context: MakeContext,
) -> None:
    ctx = make_context(RELEASED)
    os.mkfifo(ctx.config.env_backup_path)  # reading it would wait forever
    result = await run_check(ctx, "rollback.env-backup")
    assert result.status is Status.FAIL
    assert (
        result.message
        == f"Not restorable: {ctx.config.env_backup_path} is a FIFO, not an env file."
    )
    _, done = await fix(ctx, RESTORE)
    assert done.outcome == "refused" and "is a FIFO" in done.message
    assert ctx.config.env_file.read_text() == RELEASED
