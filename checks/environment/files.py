"""The env file itself: readable, every line parseable, and private to its owner.

Provides checks ``env.file``, ``env.file-syntax`` and ``env.file-permissions`` and the action
``env.tighten-permissions``.
"""

from __future__ import annotations

import os
from pathlib import Path

from checks import envfile
from checks.checklist import ENVIRONMENT, SECURITY
from checks.context import CheckContext
from checks.core import (
    ActionFailed,
    ActionRefused,
    Outcome,
    Plan,
    action,
    check,
    failed,
    passed,
    plan,
    warned,
)
from checks.environment.editing import current_env, locked_step, unreadable_plan
from checks.environment.values import ENV_FILE_CHECK, PANE
from checks.findings import Findings
from checks.settings import env_file_mode

TIGHTEN = "env.tighten-permissions"
PRIVATE_MODE = 0o600


@check(
    id=ENV_FILE_CHECK,
    pane=PANE,
    title="Env file readable",
    checklist=(ENVIRONMENT, "Env file readable and well-formed"),
)
async def env_file(ctx: CheckContext) -> Outcome:
    if ctx.env.load_error is not None:
        return failed(
            f"{ctx.env.load_error}.",
            "Point TOOLBOX_ENV_FILE (or --env-file) at the app's env file, and check that this "
            "user may read it.",
        )
    count = len(ctx.env.values)
    try:
        leftovers = envfile.stale_temp_files(ctx.env.path)
    except OSError:
        leftovers = []  # the directory cannot be listed; the file itself was read
    if leftovers:
        names = ", ".join(p.name for p in leftovers)
        return warned(
            f"{ctx.env.path.name} has {count} variables, and beside it lies {names}: the "
            "temporary copy of an interrupted write, holding every secret.",
            "The next fix of the env file removes it; or delete it by hand.",
            variables=count,
            leftovers=names,
        )
    return passed(f"{ctx.env.path.name} has {count} variables.", variables=count, path=ctx.env.path)


@check(
    id="env.file-syntax",
    pane=PANE,
    title="Env file syntax",
    needs=(ENV_FILE_CHECK,),
    checklist=(ENVIRONMENT, "Env file readable and well-formed"),
)
async def env_file_syntax(ctx: CheckContext) -> Outcome:
    # Line numbers only: a broken line may well be half of a secret.
    lines = ctx.env.malformed_lines
    if lines:
        numbers = ", ".join(str(n) for n in lines)
        noun = "Line" if len(lines) == 1 else "Lines"
        return failed(
            f"{noun} {numbers} of {ctx.env.path.name} cannot be parsed; the app ignores them.",
            "Each line must be NAME=value or a # comment; quote values containing spaces or #, "
            "and close every quote.",
            lines=numbers,
        )
    return passed(f"Every line of {ctx.env.path.name} parses.")


def _private_files(ctx: CheckContext) -> list[Path]:
    """The env file and its rollback copy, which holds the same secrets."""
    backup = ctx.config.env_backup_path
    return [ctx.config.env_file, *([backup] if backup.exists() else [])]


def describe_access(mode: int) -> str:
    """``readable by group and others`` for 0644: who else may do what."""
    who = [name for name, shift in (("group", 3), ("others", 0)) if mode >> shift & 0o7]
    what = [
        verb
        for verb, bit in (("readable", 0o4), ("writable", 0o2), ("executable", 0o1))
        if mode & (bit << 3 | bit)
    ]
    return f"{'/'.join(what)} by {' and '.join(who)}"


@check(
    id="env.file-permissions",
    pane=PANE,
    title="Env file private (0600)",
    needs=(ENV_FILE_CHECK,),
    checklist=(SECURITY, "API keys in environment, not in code"),
    partial="that no key is written in the code",
)
async def env_file_permissions(ctx: CheckContext) -> Outcome:
    findings = Findings()
    evidence: dict[str, str] = {}
    for path in _private_files(ctx):
        mode = env_file_mode(path)
        if mode is None:
            findings.fail(f"the permissions of {path.name} cannot be read")
            continue
        evidence[path.name] = f"{mode:04o}"
        if mode & 0o077:
            findings.fail(
                f"{path.name} is {describe_access(mode)} (mode {mode:04o})",
                "Its keys are only as private as the file: run 'Tighten permissions' or "
                f"chmod 600 {path.name}.",
                TIGHTEN,
            )
    return findings.outcome("Only the owner can read the env file (mode 0600).", **evidence)


async def _plan_tighten(ctx: CheckContext) -> Plan:
    env = current_env(ctx)
    if (refusal := unreadable_plan(env)) is not None:
        return refusal
    lines, modes = [], {}
    for path in _private_files(ctx):
        mode = env_file_mode(path)
        if mode is None:
            lines.append(f"{path}: cannot be read; nothing will change.")
        elif mode == PRIVATE_MODE:
            lines.append(f"{path}: already 0600; unchanged.")
        else:
            lines.append(f"{path}: chmod {mode:04o} -> 0600 (owner read/write only).")
            modes[path] = mode
    return plan(*lines, modes=modes)


@action(
    id=TIGHTEN,
    title="Tighten env file permissions",
    pane=PANE,
    key="p",
    plan=_plan_tighten,
    description="chmod 600 the env file and its .backup copy, so only the owner can read them.",
)
async def tighten_permissions(ctx: CheckContext, planned: Plan) -> str:
    modes: dict[Path, int] = planned.payload["modes"]
    if not modes:
        return "Nothing to change: the env files were already 0600."

    def chmod_all() -> tuple[list[str], str]:
        done: list[str] = []
        for path, planned_mode in modes.items():
            try:
                mode = os.stat(path).st_mode & 0o777
                if mode not in (planned_mode, PRIVATE_MODE):
                    return done, (
                        f"Refused: {path.name} changed to {mode:04o} since the preview "
                        f"(it was {planned_mode:04o}); preview again."
                    )
                if mode != PRIVATE_MODE:
                    os.chmod(path, PRIVATE_MODE)
                    done.append(f"chmod {mode:04o} -> 0600 {path.name}")
            except OSError as exc:
                return done, f"Could not chmod {path}: {exc.strerror or exc}."
        return done, ""

    def report(outcome: tuple[list[str], str]) -> None:
        for change in outcome[0]:
            ctx.changed(change)

    done, problem = await locked_step(ctx, ctx.config.env_file, chmod_all, report)
    if problem:
        raise (ActionRefused if problem.startswith("Refused") else ActionFailed)(problem)
    if not done:
        return "Nothing to change: the env files were already 0600."
    return f"{', '.join(sorted(p.name for p in modes))} now 0600 (owner read/write only)."
