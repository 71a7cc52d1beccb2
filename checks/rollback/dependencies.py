"""The release's Python dependencies: ``pip install -r requirements.txt`` into the app's venv.

Provides action ``deps.install``. Its preview is pip's own answer to "what would you install"
(``pip install --dry-run --report -``), set against what the venv holds now (read from its
site-packages as env.dependencies reads them); the run installs exactly those versions (a
constraints file holds pip to them), refuses if requirements.txt or those packages changed since
the preview, and then reads the venv again to say what changed.

pip is the venv's own when it has one (``VENV/bin/python -m pip``), else this tool's, pointed at
the venv with ``--python`` (pip >= 22.3). pip reads its configuration as it would for a person
typing the command: the venv's ``pip.conf`` included (the sandbox's says ``no-index``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from checks.context import CheckContext
from checks.core import (
    ActionFailed,
    ActionRefused,
    CheckFailed,
    Plan,
    action,
    nothing_to_do,
    plan,
    refused_plan,
)
from checks.envfile import EnvFileTooLarge, EnvFileUnsafe, read_env_bytes
from checks.environment.dependencies import installed_versions, site_packages_dirs
from checks.subprocesses import run

PANE = "rollback"
INSTALL = "deps.install"
REQUIREMENTS = "requirements.txt"
REQUIREMENTS_MAX_BYTES = 16 * 1024 * 1024
"""Far beyond any requirements file; what is bigger is not one, and is not read whole."""
PIP_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "LC_ALL": "C"}
SHOWN_ERRORS = 3  # pip's last ERROR lines in a refusal


@dataclass(frozen=True)
class Install:
    """One distribution pip would install: its name as pip reports it, the version it would
    install, and the version the venv holds now (None: not installed)."""

    name: str
    version: str
    now: str | None

    @property
    def line(self) -> str:
        now = f"now {self.now}" if self.now else "not installed now"
        return f"would install {self.name} {self.version} ({now})"


def pip_argv(venv: Path, installed: Mapping[str, str]) -> list[str]:
    """How to run pip for ``venv``: its own when it has pip, else ours with ``--python``."""
    python = venv / "bin" / "python"
    if "pip" in installed:
        return [str(python), "-m", "pip"]
    return [sys.executable, "-m", "pip", "--python", str(python)]


def _read_venv(venv: Path) -> dict[str, str]:
    """Installed versions by normalised name; CheckFailed when ``venv`` is not a venv."""
    if not (venv / "bin" / "python").exists():
        raise CheckFailed(
            f"{venv} is not a virtualenv (no bin/python).",
            "Point TOOLBOX_APP_VENV (--app-venv) at the app's virtualenv, e.g. APP_DIR/venv.",
        )
    try:
        dirs = site_packages_dirs(venv)
        return {str(name): version for name, version in installed_versions(dirs).items()}
    except OSError as exc:
        raise CheckFailed(f"Cannot read the virtualenv {venv}: {exc.strerror or exc}.") from None


def _sha256(path: Path) -> str:
    # Read as the env file is read: a FIFO or a device in its place is refused, not waited
    # on (this runs in a thread, which nothing could stop), and the read has a bound.
    try:
        return hashlib.sha256(read_env_bytes(path, REQUIREMENTS_MAX_BYTES)).hexdigest()
    except FileNotFoundError:
        raise CheckFailed(
            f"There is no {path}: nothing says what the release needs.",
            "Check out a release (code.checkout) or point TOOLBOX_APP_DIR at the app's checkout.",
        ) from None
    except EnvFileUnsafe:
        raise CheckFailed(
            f"{path} is not a regular file (a directory, a FIFO, a device or a socket): "
            "nothing says what the release needs."
        ) from None
    except EnvFileTooLarge:
        raise CheckFailed(
            f"{path} is larger than {REQUIREMENTS_MAX_BYTES:,} bytes: not a requirements file."
        ) from None
    except OSError as exc:
        raise CheckFailed(f"Cannot read {path}: {exc.strerror or exc}.") from None


def parse_report(text: str, installed: Mapping[str, str]) -> list[Install]:
    """The ``install`` list of pip's ``--report`` JSON, each with the version there is now."""
    from packaging.utils import canonicalize_name

    try:
        report = json.loads(text)
        entries = report["install"]
        found = [(e["metadata"]["name"], e["metadata"]["version"]) for e in entries]
    except (ValueError, KeyError, TypeError):
        raise CheckFailed("pip's --report answer could not be read as its JSON report.") from None
    return [
        Install(name, version, installed.get(canonicalize_name(name))) for name, version in found
    ]


def _pip_errors(lines: Sequence[str], returncode: int) -> str:
    errors = [line.removeprefix("ERROR: ").strip() for line in lines if line.startswith("ERROR")]
    return " ".join(errors[-SHOWN_ERRORS:]) or (
        lines[-1].strip() if lines else f"exit {returncode}"
    )


async def _pip(
    ctx: CheckContext, argv: Sequence[str], args: Sequence[str], *, capture: bool
) -> tuple[int, str, tuple[str, ...]]:
    result = await run(
        [*argv, *args],
        env={**os.environ, **PIP_ENV},
        cwd=ctx.config.app_dir,
        log=ctx.log,
        capture_stdout=capture,
    )
    return result.returncode, result.stdout, result.stderr_lines


async def _plan_install(ctx: CheckContext) -> Plan:
    venv, requirements = ctx.config.venv_path, ctx.config.app_dir / REQUIREMENTS
    digest = await asyncio.to_thread(_sha256, requirements)
    installed = await asyncio.to_thread(_read_venv, venv)
    argv = pip_argv(venv, installed)
    ctx.log(f"pip install --dry-run -r {requirements}")
    code, out, said = await _pip(
        ctx,
        argv,
        ["install", "--dry-run", "--report", "-", "--quiet", "-r", REQUIREMENTS],
        capture=True,
    )
    if code != 0:
        return refused_plan(
            f"Refused: pip cannot resolve {requirements}: {_pip_errors(said, code)}"
        )
    installs = parse_report(out, installed)
    if not installs:
        return nothing_to_do(
            f"Nothing to install: {venv} already has everything {requirements} asks for."
        )
    return plan(
        f"pip install -r {REQUIREMENTS} into {venv}:",
        *(f"  {i.line}" for i in installs),
        f"Held to those versions (a constraints file); {REQUIREMENTS} sha256 {digest[:12]}.",
        f"pip: {' '.join(argv)}",
        argv=argv,
        digest=digest,
        installs=installs,
    )


@action(
    id=INSTALL,
    title="Install the release's dependencies (pip)",
    pane=PANE,
    key="d",
    dangerous=True,
    plan=_plan_install,
    description="pip install -r requirements.txt into the app's virtualenv, as previewed.",
)
async def install(ctx: CheckContext, planned: Plan) -> str:
    argv: list[str] = planned.payload["argv"]
    installs: list[Install] = planned.payload["installs"]
    venv, requirements = ctx.config.venv_path, ctx.config.app_dir / REQUIREMENTS
    if await asyncio.to_thread(_sha256, requirements) != planned.payload["digest"]:
        raise ActionRefused(
            f"Refused: {requirements} changed since the preview; nothing was installed. "
            "Preview again."
        )
    before = await asyncio.to_thread(_read_venv, venv)
    moved = [i.name for i in installs if _now(before, i.name) != i.now]
    if moved:
        raise ActionRefused(
            f"Refused: {', '.join(moved)} changed in {venv} since the preview; nothing was "
            "installed. Preview again."
        )
    # pip may pick other versions than the preview's (a new upload to the index meanwhile):
    # a constraints file holds it to exactly those.
    with tempfile.TemporaryDirectory(prefix="toolbox-pip-") as folder:
        constraints = Path(folder) / "constraints.txt"
        constraints.write_text("".join(f"{i.name}=={i.version}\n" for i in installs))
        ctx.log(f"pip install -r {requirements}")
        try:
            code, _, said = await _pip(
                ctx, argv, ["install", "-r", REQUIREMENTS, "-c", str(constraints)], capture=False
            )
        except asyncio.CancelledError:
            await _say_what_changed(ctx, venv, before)
            raise
    changed = await _say_what_changed(ctx, venv, before)
    if code != 0:
        raise ActionFailed(f"pip install failed: {_pip_errors(said, code)}")
    return f"Installed into {venv}: " + ("; ".join(changed) or "nothing changed") + "."


def _now(installed: Mapping[str, str], name: str) -> str | None:
    from packaging.utils import canonicalize_name

    return installed.get(canonicalize_name(name))


async def _say_what_changed(ctx: CheckContext, venv: Path, before: Mapping[str, str]) -> list[str]:
    """Read the venv again; each package that changed goes to ``ctx.changed``."""
    after = await asyncio.to_thread(_read_venv, venv)
    changed = []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        if was is None:
            what = f"installed {name} {now}"
        elif now is None:
            what = f"removed {name} {was}"
        else:
            what = f"{name} {was} -> {now}"
        ctx.changed(what)
        changed.append(what)
    return changed
