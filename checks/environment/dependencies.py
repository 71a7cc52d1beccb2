"""The app's virtualenv holds the checklist's Python dependencies at their minimum versions.

Provides check ``env.dependencies``. Installed distributions are read from the venv's
``site-packages`` metadata: no subprocess, and none of the app's code is imported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from checks.checklist import DEPENDENCIES
from checks.context import CheckContext
from checks.core import Outcome, check, failed, passed
from checks.environment.values import PANE

if TYPE_CHECKING:
    # packaging and importlib.metadata cost ~10 ms together: the check loads them when it
    # runs, so registering it (``list``, the dashboard) does not.
    from packaging.utils import NormalizedName

# The checklist's "Dependencies Check", as written there: each a package and its minimum.
REQUIREMENTS: tuple[str, ...] = (
    "fastapi>=0.104.0",
    "uvicorn[standard]>=0.24.0",
    "sqlalchemy>=2.0.0",
    "alembic>=1.12.0",
    "cryptography>=41.0.0",
    "jinja2>=3.1.0",
    "sendgrid>=6.10.0",
    "stripe>=7.0.0",
    "supabase>=2.0.0",
    "pusher>=3.3.0",
)


def site_packages_dirs(venv: Path) -> list[Path]:
    """POSIX ``lib/python3.X/site-packages`` (any version) and Windows ``Lib/site-packages``."""
    found = sorted(venv.glob("lib/python*/site-packages")) + sorted(
        venv.glob("lib64/python*/site-packages")
    )
    windows = venv / "Lib" / "site-packages"
    if windows.is_dir() and windows not in found:
        found.append(windows)
    # lib64 is often a symlink to lib: count each directory once.
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def installed_versions(dirs: Iterable[Path]) -> dict[NormalizedName, str]:
    """Every distribution's version by normalised name (the highest, if one is there twice)."""
    from importlib.metadata import distributions

    from packaging.utils import canonicalize_name

    versions: dict[NormalizedName, str] = {}
    for dist in distributions(path=[str(d) for d in dirs]):
        name, version = dist.metadata["Name"], dist.version
        if not name or not version:
            continue  # a half-written dist-info: pip would not see it either
        key = canonicalize_name(name)
        if key not in versions or _newer(version, versions[key]):
            versions[key] = version
    return versions


def _newer(candidate: str, current: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(candidate) > Version(current)
    except InvalidVersion:
        return False


def package_and_minimum(requirement: str) -> tuple[str, str]:
    """``uvicorn[standard]>=0.24.0`` as ``("uvicorn", "0.24.0")``: every line of the checklist's
    list names a package, perhaps its extras, and a minimum version (a test holds it to that).
    Read so, not as PEP 508: packaging's full parser costs the run ~10 ms to import."""
    package, _, minimum = requirement.partition(">=")
    return package.partition("[")[0].strip(), minimum.strip()


def shortfall(requirement: str, versions: Mapping[NormalizedName, str]) -> str | None:
    """``stripe 6.5.0 < 7.0.0`` or ``pusher missing`` when the installed ``versions`` (by
    normalised name) do not meet ``requirement``; else None."""
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    name, minimum = package_and_minimum(requirement)
    installed = versions.get(canonicalize_name(name))
    if installed is None:
        return f"{name} missing"
    try:
        version = Version(installed)
    except InvalidVersion:
        return f"{name} has an unreadable version {installed!r}"
    if version < Version(minimum):
        return f"{name} {installed} < {minimum}"
    return None


def _scan(venv: Path) -> tuple[list[Path], dict[NormalizedName, str]]:
    dirs = site_packages_dirs(venv)
    return dirs, installed_versions(dirs)


@check(
    id="env.dependencies",
    pane=PANE,
    title="App virtualenv has the required packages",
    checklist=(DEPENDENCIES, "Python dependencies at their minimum versions"),
)
async def dependencies(ctx: CheckContext) -> Outcome:
    venv = ctx.config.venv_path
    if not venv.is_dir():
        return failed(
            f"No virtualenv at {venv}; set TOOLBOX_APP_VENV.",
            "Point TOOLBOX_APP_VENV (or --app-venv) at the app's virtualenv, e.g. APP_DIR/venv.",
        )
    try:
        dirs, installed = await asyncio.to_thread(_scan, venv)
    except OSError as exc:
        return failed(
            f"Cannot read the virtualenv {venv}: {exc.strerror or exc}.",
            "Run toolbox-tui as a user who can read the app's virtualenv.",
        )
    if not dirs:
        return failed(
            f"{venv} has no site-packages: is it a virtualenv?",
            "Point TOOLBOX_APP_VENV at the directory made by 'python -m venv'.",
        )
    ctx.log(f"Read {len(installed)} installed distributions from {', '.join(map(str, dirs))}")
    problems = [(req, problem) for req in REQUIREMENTS if (problem := shortfall(req, installed))]
    evidence = {"site-packages": ", ".join(map(str, dirs))}
    if problems:
        install = " ".join(f"'{req}'" for req, _ in problems)
        return failed(
            "; ".join(problem for _, problem in problems) + ".",
            f"In the app's virtualenv: {venv}/bin/pip install {install}, then "
            "pip freeze > requirements.txt.",
            **evidence,
        )
    return passed(
        f"All {len(REQUIREMENTS)} checklist dependencies are installed at their minimum versions.",
        **evidence,
    )
