"""Rollback pane, the env file: the rollback copy (``cp .env.backup .env``) checked and
restored, and the release's staged env file put in place.

Provides check ``rollback.env-backup`` and actions ``env.restore-backup`` and
``env.apply-staged``. Env files are compared by value and shown by NAME only: plans, logs,
messages and the audit log never hold a value. Both actions replace the env file with the
bytes of another file, atomically, keeping the env file's mode, under the env file's lock, and
only if both files still have the digests their preview saw. A restore also works when the env
file is gone (it is created, 0600, unless one appeared since the preview) or does not read as
an env file (its bytes are kept first, as in every restore).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from checks import envfile
from checks.checklist import ROLLBACK
from checks.context import CheckContext
from checks.core import (
    ActionRefused,
    Outcome,
    Plan,
    action,
    check,
    failed,
    nothing_to_do,
    passed,
    plan,
    refused_plan,
)
from checks.environment.backup import SNAPSHOT, differing_names, names_text
from checks.environment.editing import current_env, locked_step, unreadable_plan
from checks.environment.values import ENV_FILE_CHECK
from checks.settings import DeploymentEnv, env_file_mode

PANE = "rollback"
RESTORE = "env.restore-backup"
APPLY = "env.apply-staged"
BEFORE_RESTORE = ".before-restore-"
"""``.env.before-restore-20261128T120000Z``: the env file as a restore found it."""


def _read(ctx: CheckContext, path: Path) -> DeploymentEnv:
    """Another env file (the backup, the staged one); its secrets masked from now on."""
    env = DeploymentEnv.load(path, max_bytes=ctx.config.max_env_bytes)
    ctx.redactor.add(*env.secret_values())
    return env


def _unusable(env: DeploymentEnv) -> str:
    """Why ``env`` cannot be put in place of the env file, or ''."""
    if env.load_error is not None:
        return env.load_error
    if env.malformed_lines:
        lines = ", ".join(str(n) for n in env.malformed_lines)
        return f"{env.path.name} has malformed line(s) {lines}"
    return ""


def _expected_names(ctx: CheckContext, backup: DeploymentEnv) -> set[str]:
    """The names a release may change on purpose: TOOLBOX_RELEASE_ENV_CHANGES, and the names
    the staged env file (which env.apply-staged puts in place) sets differently."""
    expected = set(ctx.config.release_env_names)
    staged_path = ctx.config.next_env_path
    if staged_path.exists():
        staged = _read(ctx, staged_path)
        if not _unusable(staged):
            expected |= set(differing_names(backup, staged))
    return expected


@check(
    id="rollback.env-backup",
    pane=PANE,
    title="Env backup restorable",
    needs=(ENV_FILE_CHECK,),
    checklist=(ROLLBACK, "Environment variables backup"),
)
async def env_backup_restorable(ctx: CheckContext) -> Outcome:
    path = ctx.config.env_backup_path
    name, env_name = path.name, ctx.env.path.name
    if not path.exists():
        return failed(
            f"No {name}: a rollback has no environment to restore ('cp {name} {env_name}').",
            f"Snapshot it before the release: 'Snapshot env backup' ({SNAPSHOT}).",
            [SNAPSHOT],
        )
    backup = _read(ctx, path)
    if problem := _unusable(backup):
        return failed(
            f"Not restorable: {problem}.",
            f"Fix {name} by hand (a restore copies it over {env_name} as it is).",
        )
    differing = differing_names(ctx.env, backup)
    expected = _expected_names(ctx, backup)
    unexpected = [n for n in differing if n not in expected]
    if unexpected:
        return failed(
            f"Differs beyond the release: {names_text(unexpected)}; a restore would change "
            f"those in {env_name} too.",
            "If this release changes them on purpose, list them in TOOLBOX_RELEASE_ENV_CHANGES "
            f"(or in the staged {ctx.config.next_env_path.name}). If the release has not gone "
            f"out yet, snapshot again ({SNAPSHOT}).",
            unexpected=", ".join(unexpected),
            expected=", ".join(sorted(expected)) or "(none)",
        )
    if differing:
        return passed(
            f"Restorable: {name} differs from {env_name} only in the release's "
            f"{names_text(differing)}.",
            differing=", ".join(differing),
            variables=len(backup.values),
        )
    return passed(
        f"Restorable: {name} holds the same {len(backup.values)} values as {env_name}.",
        path=path,
    )


# -- replacing the env file with another file -----------------------------------------------------


def _change_lines(now: DeploymentEnv, then: DeploymentEnv, names: list[str]) -> list[str]:
    """One line per name that changes when ``then`` replaces ``now``: names, never values."""

    def how(name: str) -> str:
        if name not in then.values:
            return "removed"
        if name not in now.values:
            return "added"
        return "changed"

    return [f"  {name} ({how(name)})" for name in names]


def _read_only_refusal(ctx: CheckContext, env: DeploymentEnv) -> Plan | None:
    mode = env_file_mode(env.path)
    try:
        envfile.require_writable(env.path, mode or 0o600, ctx.config.allow_read_only_env)
    except envfile.EnvFileReadOnly as exc:
        return refused_plan(f"Refused: {exc}")
    return None


@dataclass(frozen=True)
class Replacement:
    """What a plan replaces the env file with, and the files as the preview saw them."""

    env: Path
    env_digest: str
    """The env file's digest as the preview saw it; "" when there was no env file."""
    source: Path
    source_digest: str
    names: tuple[str, ...]
    keep: Path | None = None
    """Where the env file is first copied (a restore); None: the usual timestamped .bak."""
    backup_digest: str = ""
    """The digest .env.backup must still have (applying needs it to hold the env file)."""


async def _replace_env(ctx: CheckContext, r: Replacement) -> Path | None:
    """Put ``r.source``'s bytes in place of the env file, as planned; returns the copy of
    the env file as it was. ActionRefused (nothing written) if a file moved since."""
    max_bytes = ctx.config.max_env_bytes

    def unchanged(path: Path, digest: str) -> bytes:
        data = envfile.read_env_bytes(path, max_bytes)
        if envfile.digest_of(data) != digest:
            raise envfile.EnvFileChanged(
                f"{path.name} changed since the preview; nothing was written. Preview again."
            )
        return data

    def replace() -> Path | None:
        if not r.env_digest:
            # The preview saw no env file: create it, unless one appeared meanwhile.
            if os.path.lexists(r.env):
                raise envfile.EnvFileChanged(
                    f"{r.env.name} appeared since the preview; nothing was written. Preview again."
                )
            envfile.atomic_write(r.env, unchanged(r.source, r.source_digest), backup=False)
            return None
        current = unchanged(r.env, r.env_digest)
        data = unchanged(r.source, r.source_digest)
        if r.backup_digest:
            unchanged(ctx.config.env_backup_path, r.backup_digest)
        envfile.require_writable(
            r.env, env_file_mode(r.env) or 0o600, ctx.config.allow_read_only_env
        )
        if r.keep is None:
            return envfile.atomic_write(r.env, data)
        if os.path.islink(r.keep):
            # atomic_write follows a link: the old secrets would go wherever it points.
            raise ActionRefused(
                f"Refused: {r.keep} is a symbolic link, and the env file is never copied "
                "through one; nothing was written. Remove it, then preview again."
            )
        if os.path.lexists(r.keep):
            raise envfile.EnvFileChanged(
                f"{r.keep.name} appeared since the preview; nothing was written. Preview again."
            )
        envfile.atomic_write(r.keep, current, backup=False)  # new, so private: 0600
        envfile.atomic_write(r.env, data, backup=False)
        return r.keep

    def replaced(kept: Path | None) -> None:
        if not r.env_digest:
            ctx.changed(
                f"created {r.env.name} from {r.source.name} ({len(r.names)} variable(s)); "
                f"there was no {r.env.name}"
            )
            return
        note = f"; the previous {r.env.name} is kept as {kept.name}" if kept else ""
        ctx.changed(
            f"replaced {r.env.name} with {r.source.name} ({len(r.names)} variable(s) changed: "
            f"{', '.join(r.names)}){note}"
        )

    return await locked_step(ctx, r.env, replace, replaced)


def _keep_path(env: Path, ctx: CheckContext) -> Path:
    stamp = ctx.clock().strftime("%Y%m%dT%H%M%SZ")
    candidate = env.with_name(f"{env.name}{BEFORE_RESTORE}{stamp}")
    n = 1
    while os.path.lexists(candidate):  # a dangling link there is taken too
        n += 1
        candidate = env.with_name(f"{env.name}{BEFORE_RESTORE}{stamp}-{n}")
    return candidate


# -- env.restore-backup ---------------------------------------------------------------------------


async def _plan_restore(ctx: CheckContext) -> Plan:
    path = ctx.config.env_backup_path
    if not path.exists():
        return refused_plan(f"Refused: there is no {path.name} to restore; nothing can change.")
    backup = _read(ctx, path)
    if problem := _unusable(backup):
        return refused_plan(f"Refused: {problem}; fix it by hand first. Nothing was changed.")
    env_path = ctx.config.env_file
    if not os.path.lexists(env_path):
        return _plan_create(env_path, backup)
    env = current_env(ctx)
    if env.load_error is not None:
        return _plan_over_unreadable(ctx, env, backup)
    names = differing_names(env, backup)
    if not names:
        return nothing_to_do(
            f"Nothing to restore: {env.path.name} already holds the same "
            f"{len(backup.values)} values as {path.name}."
        )
    if (refusal := _read_only_refusal(ctx, env)) is not None:
        return refusal
    keep = _keep_path(env.path, ctx)
    return plan(
        f"Restore {env.path} from {path}: {len(names)} variable(s) change:",
        *_change_lines(env, backup, names),
        f"{env.path.name} is first kept as {keep.name} (owner-only, 0600); the restore "
        f"replaces it atomically and keeps its mode.",
        replacement=Replacement(env.path, env.digest, path, backup.digest, tuple(names), keep=keep),
    )


def _plan_create(env_path: Path, backup: DeploymentEnv) -> Plan:
    """There is no env file (the case ``cp .env.backup .env`` is for): create it."""
    names = tuple(sorted(backup.values))
    return plan(
        f"Create {env_path} from {backup.path} (owner-only, 0600): there is no "
        f"{env_path.name} now; it gets the backup's {len(names)} variable(s):",
        *(f"  {name}" for name in names),
        f"If a {env_path.name} appears before this runs, nothing is written.",
        replacement=Replacement(env_path, "", backup.path, backup.digest, names),
    )


def _plan_over_unreadable(ctx: CheckContext, env: DeploymentEnv, backup: DeploymentEnv) -> Plan:
    """The env file is there but does not read as one (not UTF-8, say): restorable all the
    same, once its bytes are kept; a file that cannot be kept is restored by hand."""
    try:
        data = envfile.read_env_bytes(env.path, ctx.config.max_env_bytes)
    except envfile.EnvFileUnsafe:
        return refused_plan(f"Refused: {env.load_error}; nothing can change.")
    except (OSError, envfile.EnvFileError):
        return refused_plan(
            f"Refused: {env.load_error}, so it cannot be kept before the restore; restore by "
            f"hand: cp -p {backup.path} {env.path}. Nothing was changed."
        )
    if (refusal := _read_only_refusal(ctx, env)) is not None:
        return refusal
    names = tuple(sorted(backup.values))
    keep = _keep_path(env.path, ctx)
    return plan(
        f"Restore {env.path} from {backup.path}: {env.path.name} does not read as an env file "
        f"({env.load_error}), so all of the backup's {len(names)} variable(s) are put in place.",
        f"{env.path.name} is first kept as {keep.name} (owner-only, 0600); the restore "
        "replaces it atomically and keeps its mode.",
        replacement=Replacement(
            env.path, envfile.digest_of(data), backup.path, backup.digest, names, keep=keep
        ),
    )


@action(
    id=RESTORE,
    title="Restore the env file from its backup",
    pane=PANE,
    key="e",
    dangerous=True,
    plan=_plan_restore,
    description="cp .env.backup .env, atomically, after keeping the current file as a private "
    ".env.before-restore-<time> copy.",
)
async def restore_backup(ctx: CheckContext, planned: Plan) -> str:
    r: Replacement = planned.payload["replacement"]
    await _replace_env(ctx, r)
    if not r.env_digest:
        return (
            f"{r.env.name} created from {r.source.name} (0600): {len(r.names)} variable(s) "
            f"({names_text(list(r.names))})."
        )
    return (
        f"{r.env.name} restored from {r.source.name}: {len(r.names)} variable(s) changed "
        f"({names_text(list(r.names))})."
    )


# -- env.apply-staged -----------------------------------------------------------------------------


async def _plan_apply(ctx: CheckContext) -> Plan:
    env = current_env(ctx)
    if (refusal := unreadable_plan(env)) is not None:
        return refusal
    staged_path = ctx.config.next_env_path
    if not staged_path.exists():
        return nothing_to_do(
            f"Nothing to apply: there is no staged env file {staged_path} "
            "(TOOLBOX_NEXT_ENV_FILE); this release changes no variable."
        )
    staged = _read(ctx, staged_path)
    if problem := _unusable(staged):
        return refused_plan(f"Refused: {problem}; fix it first. Nothing was changed.")
    names = differing_names(env, staged)
    if not names:
        return nothing_to_do(
            f"Nothing to apply: {env.path.name} already holds the {len(staged.values)} values "
            f"of {staged_path.name}."
        )
    backup_path = ctx.config.env_backup_path
    if not os.path.lexists(backup_path):
        return refused_plan(
            f"Refused: there is no {backup_path.name}; snapshot first ({SNAPSHOT}), so that a "
            f"rollback can restore {env.path.name}'s current values. Nothing was changed."
        )
    backup = _read(ctx, backup_path)
    if backup.load_error is not None or differing_names(env, backup):
        return refused_plan(
            f"Refused: {backup_path.name} does not hold {env.path.name}'s current values, so a "
            f"rollback could not restore them; snapshot first ({SNAPSHOT}). Nothing was changed."
        )
    if (refusal := _read_only_refusal(ctx, env)) is not None:
        return refusal
    return plan(
        f"Put {staged_path} in place of {env.path}: {len(names)} variable(s) change:",
        *_change_lines(env, staged, names),
        f"{backup_path.name} holds the current values for a rollback; {env.path.name} is "
        "also kept as a timestamped .bak (0600). The write is atomic and keeps its mode.",
        replacement=Replacement(
            env.path,
            env.digest,
            staged_path,
            staged.digest,
            tuple(names),
            backup_digest=backup.digest,
        ),
    )


@action(
    id=APPLY,
    title="Apply the release's staged env file",
    pane=PANE,
    key="n",
    dangerous=True,
    plan=_plan_apply,
    description="Put the staged env file (TOOLBOX_NEXT_ENV_FILE, default .env.next) in place of "
    "the env file, once .env.backup holds the current values.",
)
async def apply_staged(ctx: CheckContext, planned: Plan) -> str:
    r: Replacement = planned.payload["replacement"]
    await _replace_env(ctx, r)
    return (
        f"{r.env.name} now holds {r.source.name}: {len(r.names)} variable(s) changed "
        f"({names_text(list(r.names))})."
    )
