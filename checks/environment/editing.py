"""What every environment action shares: a plan over the env file as it is now, and the write
that carries out exactly that plan.

A plan records the file's digest when it was built; the write happens under the env file's
lock (one toolbox-tui fix of a file at a time, across processes) and only if the file still
has that digest. Otherwise nothing is written and the action is refused: someone (another
fix, a person in an editor) changed the file since the preview.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from checks import envfile
from checks.context import CheckContext
from checks.core import ActionFailed, ActionRefused, Plan, plan, refused_plan
from checks.interrupts import finish_then_cancel
from checks.settings import DeploymentEnv

LOCK_WAIT_SECONDS = 5.0
"""How long a fix waits for another fix of the same env file before it refuses."""

T = TypeVar("T")


def current_env(ctx: CheckContext) -> DeploymentEnv:
    """The env file as it is now; its secrets are taught to the redactor straight away."""
    env = DeploymentEnv.load(ctx.config.env_file, max_bytes=ctx.config.max_env_bytes)
    ctx.redactor.add(*env.secret_values())
    return env


def unreadable_plan(env: DeploymentEnv) -> Plan | None:
    """A plan that refuses when the env file cannot be read, else None."""
    if env.load_error is None:
        return None
    return refused_plan(f"Refused: {env.load_error}; nothing can change.")


def update_plan(env: DeploymentEnv, updates: Mapping[str, str], *lines: str) -> Plan:
    """A plan that sets ``updates`` in ``env``'s file, as the file is now."""
    return plan(*lines, path=env.path, digest=env.digest, updates=dict(updates))


async def write_planned(ctx: CheckContext, planned: Plan) -> None:
    """Write the plan's updates, atomically and with a timestamped backup, if the env file is
    still the one the plan was built from; otherwise refuse and write nothing."""
    path: Path = planned.payload["path"]
    updates: Mapping[str, str] = planned.payload["updates"]
    names = ", ".join(updates)
    ctx.log(f"Writing {names} to {path} (every other byte stays as it is)")

    def write() -> Path | None:
        return envfile.set_values(
            path,
            updates,
            expected_digest=planned.payload["digest"],
            allow_read_only=ctx.config.allow_read_only_env,
            max_bytes=ctx.config.max_env_bytes,
        )

    def wrote(backup: Path | None) -> None:
        kept = f" (the previous file is kept as {backup.name})" if backup else ""
        ctx.changed(f"wrote {names} to {path.name}{kept}")

    await locked_step(ctx, path, write, wrote)


async def locked_step(
    ctx: CheckContext, path: Path, step: Callable[[], T], done: Callable[[T], None]
) -> T:
    """Run ``step`` (blocking: it reads and writes files) in a thread, holding the lock of the
    env file at ``path``; stale temporary copies left by a killed write are removed first.

    Once it has started it completes even if the action is interrupted, and ``done`` reports
    it, so that the audit log says the change was made. Problems become ActionRefused (the
    file changed, another fix holds the lock) or ActionFailed, each saying nothing changed.
    """

    def locked() -> T:
        with envfile.lock_env_file(path, wait=LOCK_WAIT_SECONDS):
            for stale in envfile.remove_stale_temp_files(path):
                ctx.log(f"Removed {stale.name}, a temporary copy left by an interrupted write")
            return step()

    try:
        return await finish_then_cancel(locked, done)
    except (envfile.EnvFileChanged, envfile.EnvFileBusy) as exc:
        raise ActionRefused(f"Refused: {exc}") from None
    except envfile.EnvFileError as exc:
        raise ActionFailed(f"{exc} Nothing was changed.") from None
    except OSError as exc:
        raise ActionFailed(
            f"Could not write {path}: {exc.strerror or exc}; nothing was changed."
        ) from None
