"""The rollback copy of the env file (``cp .env.backup .env`` in the checklist's rollback plan).

Provides check ``env.backup-present`` and action ``env.snapshot-backup``, and the comparison
of two env files by name (:func:`differing_names`) that the rollback's checks share.
"""

from __future__ import annotations

import os
from pathlib import Path

from checks import envfile
from checks.checklist import ROLLBACK
from checks.context import CheckContext
from checks.core import Outcome, Plan, action, check, failed, passed, plan, warned
from checks.environment.editing import current_env, locked_step, unreadable_plan
from checks.environment.values import ENV_FILE_CHECK, PANE
from checks.settings import DeploymentEnv, env_file_mode

SNAPSHOT = "env.snapshot-backup"
SHOWN_NAMES = 6  # the evidence lists them all


@check(
    id="env.backup-present",
    pane=PANE,
    title="Env .backup up to date",
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
    backup = DeploymentEnv.load(path, max_bytes=ctx.config.max_env_bytes)
    if backup.load_error is not None:
        return failed(
            f"{backup.load_error}.",
            f"Fix the file, or run 'Snapshot env backup' to write a fresh {name}.",
            [SNAPSHOT],
        )
    names = differing_names(ctx.env, backup)
    if names:
        return warned(
            f"The backup differs from {env_name} ({names_text(names)}): snapshot again after "
            "your last change.",
            f"Run 'Snapshot env backup' once {env_name} is final, so a rollback restores it.",
            [SNAPSHOT],
            differing=", ".join(names),
        )
    return passed(f"{name} holds the same {len(backup.values)} values as {env_name}.", path=path)


def differing_names(one: DeploymentEnv, other: DeploymentEnv) -> list[str]:
    """The names whose values differ between two env files (set in one only counts), sorted.

    Values, not bytes, are compared: a reworded comment changes nothing. Only names come out:
    the values are secrets.
    """
    return sorted(
        key
        for key in one.values.keys() | other.values.keys()
        if one.values.get(key) != other.values.get(key)
    )


def names_text(names: list[str], shown: int = SHOWN_NAMES) -> str:
    """``A, B, C and 4 more``: the first ``shown`` names for a message (evidence lists all)."""
    text = ", ".join(names[:shown])
    if len(names) > shown:
        text += f" and {len(names) - shown} more"
    return text


async def _plan_snapshot(ctx: CheckContext) -> Plan:
    env = current_env(ctx)
    if (refusal := unreadable_plan(env)) is not None:
        return refusal
    target = ctx.config.env_backup_path
    lines = [f"Copy {env.path} ({len(env.values)} variables) to {target}."]
    if target.exists():
        lines.append(f"The current {target.name} is first kept as a timestamped .bak file.")
    else:
        lines.append(f"{target.name} is new; it is created owner-only (0600).")
    return plan(*lines, path=env.path, digest=env.digest, count=len(env.values))


@action(
    id=SNAPSHOT,
    title="Snapshot env backup",
    pane=PANE,
    key="b",
    plan=_plan_snapshot,
    description="Copy the env file to its .backup, the copy the rollback plan restores.",
)
async def snapshot_backup(ctx: CheckContext, planned: Plan) -> str:
    source: Path = planned.payload["path"]
    target = ctx.config.env_backup_path

    def copy() -> Path | None:
        data = envfile.read_env_bytes(source, ctx.config.max_env_bytes)
        if envfile.digest_of(data) != planned.payload["digest"]:
            raise envfile.EnvFileChanged(
                f"{source.name} changed since the preview; nothing was copied. Preview again."
            )
        kept = envfile.atomic_write(target, data)
        # The copy holds the same secrets; never let it be more open than owner-only.
        os.chmod(target, (env_file_mode(source) or 0o600) & 0o700)
        return kept

    def copied(kept: Path | None) -> None:
        note = f" (the previous {target.name} is kept as {kept.name})" if kept else ""
        ctx.changed(f"copied {source.name} to {target.name}{note}")

    await locked_step(ctx, source, copy, copied)
    return f"{target.name} now matches {source.name} ({planned.payload['count']} variables)."
