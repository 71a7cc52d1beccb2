"""The rollback copy of the env file (``cp .env.backup .env`` in the checklist's rollback plan).

Provides check ``env.backup-present`` and action ``env.snapshot-backup``.
"""

from __future__ import annotations

import asyncio
import os

from checks import envfile
from checks.checklist import ROLLBACK
from checks.context import CheckContext
from checks.core import ActionFailed, Outcome, action, check, failed, passed, warned
from checks.environment.editing import current_env, readable_env, unreadable_preview
from checks.environment.values import ENV_FILE_CHECK, PANE
from checks.settings import DeploymentEnv, env_file_mode

SNAPSHOT = "env.snapshot-backup"
SHOWN_NAMES = 6  # the evidence lists them all


@check(
    id="env.backup-present",
    pane=PANE,
    title="Env file has an up-to-date .backup copy",
    needs=(ENV_FILE_CHECK,),
    checklist=(ROLLBACK, "Environment variables backup"),
)
async def env_backup_present(ctx: CheckContext) -> Outcome:
    path = ctx.config.env_backup_path
    name, env_name = path.name, ctx.env.path.name
    if not path.exists():
        return failed(
            f"There is no {name}: the rollback plan's 'cp {name} {env_name}' has nothing to "
            "restore.",
            f"Run 'Snapshot env backup' (or cp -p {env_name} {name}) before you deploy.",
            [SNAPSHOT],
        )
    backup = DeploymentEnv.load(path)
    if backup.load_error is not None:
        return failed(
            f"{backup.load_error}.",
            f"Fix the file, or run 'Snapshot env backup' to write a fresh {name}.",
            [SNAPSHOT],
        )
    # Compare values, not bytes: a reworded comment does not make the backup stale.
    names = sorted(
        key
        for key in ctx.env.values.keys() | backup.values.keys()
        if ctx.env.values.get(key) != backup.values.get(key)
    )
    if names:
        shown = ", ".join(names[:SHOWN_NAMES])
        if len(names) > SHOWN_NAMES:
            shown += f" and {len(names) - SHOWN_NAMES} more"
        return warned(
            f"The backup differs from {env_name} ({shown}): snapshot again after your last change.",
            f"Run 'Snapshot env backup' once {env_name} is final, so a rollback restores it.",
            [SNAPSHOT],
            differing=", ".join(names),
        )
    return passed(f"{name} holds the same {len(backup.values)} values as {env_name}.", path=path)


async def _preview_snapshot(ctx: CheckContext) -> str:
    env = current_env(ctx)
    refusal = unreadable_preview(env)
    if refusal:
        return refusal
    target = ctx.config.env_backup_path
    lines = [f"Copy {env.path} ({len(env.values)} variables) to {target}."]
    if target.exists():
        lines.append(f"The current {target.name} is first kept as a timestamped .bak file.")
    else:
        lines.append(f"{target.name} is new; it is created with mode 0600.")
    return "\n".join(lines)


@action(
    id=SNAPSHOT,
    title="Snapshot env backup",
    pane=PANE,
    key="b",
    preview=_preview_snapshot,
    description="Copy the env file to its .backup, the copy the rollback plan restores.",
)
async def snapshot_backup(ctx: CheckContext) -> str:
    env = readable_env(ctx)
    target = ctx.config.env_backup_path
    mode = env_file_mode(env.path)
    try:
        text = env.path.read_text(encoding="utf-8")
        kept = await asyncio.to_thread(envfile.atomic_write, target, text)
        if mode is not None:
            # The copy holds the same secrets; never let it be more open than owner-only.
            os.chmod(target, mode & 0o700)
    except OSError as exc:
        raise ActionFailed(f"Could not copy to {target}: {exc.strerror or exc}.") from exc
    if kept is not None:
        ctx.log(f"The previous {target.name} is kept as {kept}")
    ctx.log(f"Copied {env.path} to {target}")
    return f"{target.name} now matches {env.path.name} ({len(env.values)} variables)."
