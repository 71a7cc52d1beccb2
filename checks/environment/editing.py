"""What every environment action shares: re-reading the env file, refusing, and writing it.

Actions read the file afresh rather than trusting the context's copy: another action (or a
person in an editor) may have changed it since the checks ran.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from checks import envfile
from checks.context import CheckContext
from checks.core import ActionFailed
from checks.settings import DeploymentEnv


def current_env(ctx: CheckContext) -> DeploymentEnv:
    """The env file as it is now; its secrets are taught to the redactor straight away."""
    env = DeploymentEnv.load(ctx.config.env_file)
    ctx.redactor.add(*env.secret_values())
    return env


def unreadable_preview(env: DeploymentEnv) -> str | None:
    """The preview's text when the env file cannot be read (then ``run`` refuses), else None."""
    if env.load_error is None:
        return None
    return f"Nothing can change: {env.load_error}."


def readable_env(ctx: CheckContext) -> DeploymentEnv:
    """The current env file, or :class:`ActionFailed` saying why it cannot be changed."""
    env = current_env(ctx)
    if env.load_error is not None:
        raise ActionFailed(f"Refused: {env.load_error}; nothing was changed.")
    return env


async def write_values(ctx: CheckContext, env: DeploymentEnv, updates: Mapping[str, str]) -> None:
    """Set ``updates`` in the env file (atomically, keeping a timestamped backup) and log it.

    Callers must have added any new secret to ``ctx.redactor`` before calling this.
    """
    names = ", ".join(updates)
    ctx.log(f"Writing {names} to {env.path} (every other line stays as it is)")
    try:
        backup = await asyncio.to_thread(envfile.set_values, env.path, updates)
    except OSError as exc:
        raise ActionFailed(
            f"Could not write {env.path}: {exc.strerror or exc}; nothing was changed."
        ) from exc
    if backup is not None:
        ctx.log(f"The previous file is kept as {backup}")
    ctx.log(f"Wrote {names}")
