"""Running the app's alembic against a chosen database: upgrade, downgrade, offline SQL.

The app's own ``alembic`` (from its virtualenv) runs when there is one, because its
env.py may import the app; otherwise this tool's. The target database is handed over as
``DATABASE_URL`` in the environment — what the checklist's env.py reads — and, for an
ini that names ``sqlalchemy.url`` itself, through a private copy of the ini in a private
temporary directory.

Nothing is written into the app's directory: no ini copy, and no ``__pycache__`` for its
env.py and revision files (PYTHONDONTWRITEBYTECODE), so a read-only run leaves it as it was,
and an app directory this user cannot write still works.
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from checks.postgres import DatabaseTarget
from checks.subprocesses import Completed, run


def alembic_argv(venv: Path) -> list[str]:
    app_alembic = venv / "bin" / "alembic"
    if app_alembic.is_file() and os.access(app_alembic, os.X_OK):
        return [str(app_alembic)]
    return [sys.executable, "-m", "alembic"]


def _alembic_python(venv: Path) -> str:
    """The Python whose alembic :func:`alembic_argv` runs: the one the app's ``alembic``
    script names on its ``#!`` line (a venv's python, or another it was made with)."""
    script = alembic_argv(venv)[0]
    if script == sys.executable:
        return sys.executable
    try:
        with open(script, "rb") as handle:
            first = handle.readline(4096)
    except OSError:
        first = b""
    named = first[2:].decode("utf-8", "replace").strip() if first.startswith(b"#!") else ""
    # A plain path; "/usr/bin/env python3" and the like name no interpreter by themselves.
    if named and " " not in named and os.access(named, os.X_OK):
        return named
    app_python = venv / "bin" / "python"
    return str(app_python) if os.access(app_python, os.X_OK) else sys.executable


STEP_MARK = "toolbox-tui: alembic step "
"""What :data:`_STEPS_DRIVER` prints to stderr before each step, then the step's number."""

# Several alembic commands in one process: starting Python and importing alembic and
# SQLAlchemy costs ~0.5 s, once instead of once per command, and while the caller still
# prepares the database: the process imports first, then reads its steps from stdin (none
# when stdin closes empty). alembic's own main() runs each one, exactly as the alembic script
# would, and exits at the first that fails; the mark before each says which one that was.
# ``python -c`` puts the working directory (the app's) first on sys.path, where the alembic
# script would not: the app's own alembic/ or json.py must not stand in for the real ones.
# stdout is flushed before each mark so that a step's printed lines stay before the next's.
_STEPS_DRIVER = f"""
import sys
del sys.path[0]
import json
from alembic.config import main
given = sys.stdin.readline()
for number, argv in enumerate(json.loads(given) if given else []):
    sys.stdout.flush()
    print({STEP_MARK!r} + str(number), file=sys.stderr, flush=True)
    main(argv=argv, prog="alembic")
"""


@contextlib.contextmanager
def ini_for(ini: Path, target: DatabaseTarget) -> Iterator[Path]:
    """The ini to run with: the original, or a private copy whose sqlalchemy.url is ``target``.

    The copy lives in a fresh 0700 temporary directory (it holds the password) and is removed
    afterwards. ``%(here)s`` in it is replaced by the original's directory, so paths the ini
    builds from it mean what they meant.
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ini, encoding="utf-8")
    if not parser.get("alembic", "sqlalchemy.url", fallback="").strip():
        yield ini
        return
    here = str(ini.resolve().parent).replace("%", "%%")
    for section in parser.sections():
        for key, value in parser.items(section, raw=True):
            if "%(here)s" in value:
                parser.set(section, key, value.replace("%(here)s", here))
    parser.set("alembic", "sqlalchemy.url", target.dsn.replace("%", "%%"))
    directory = tempfile.mkdtemp(prefix="toolbox-alembic-")
    try:
        path = Path(directory) / ini.name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            parser.write(handle)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def alembic(
    ini: Path,
    venv: Path,
    target: DatabaseTarget,
    args: Sequence[str],
    log: Callable[[str], None] | None = None,
    capture_stdout: bool = False,
) -> Completed:
    with _alembic_env(ini, target) as (run_ini, env):
        return await run(
            [*alembic_argv(venv), "-c", str(run_ini), *args],
            env=env,
            cwd=ini.parent,
            log=log,
            capture_stdout=capture_stdout,
        )


@contextlib.contextmanager
def _alembic_env(ini: Path, target: DatabaseTarget) -> Iterator[tuple[Path, dict[str, str]]]:
    """The ini (:func:`ini_for`) and the environment that point alembic at ``target``."""
    env = target.libpq_env()
    env["DATABASE_URL"] = target.dsn
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in the app's alembic directory
    with ini_for(ini, target) as run_ini:
        yield run_ini, env


async def alembic_steps(
    ini: Path,
    venv: Path,
    target: DatabaseTarget,
    steps: Sequence[Sequence[str]],
    log: Callable[[str], None] | None = None,
    after: Sequence[asyncio.Future[None]] = (),
) -> Completed:
    """``alembic -c INI STEP`` for each of ``steps`` in turn, in one process, stopping at the
    first that fails; each step's output follows a line ``STEP_MARK + number``.

    The process starts at once and imports alembic while the work in ``after`` (the database
    being made ready) goes on; it is given the steps once all of that is done. If one of them
    fails, the process is killed before it has run anything, and that is raised."""
    with _alembic_env(ini, target) as (run_ini, env):

        async def given() -> bytes:
            for awaited in after:
                await asyncio.shield(awaited)  # whoever started it ends it, not this process
            argvs = [["-c", str(run_ini), *step] for step in steps]
            return json.dumps(argvs).encode("utf-8") + b"\n"

        return await run(
            [_alembic_python(venv), "-c", _STEPS_DRIVER],
            env=env,
            cwd=ini.parent,
            log=log,
            stdin=given(),
        )


def upgrade_range(current: set[str]) -> str:
    """The ``--sql`` range from what the database has to the heads."""
    if not current:
        return "heads"
    if len(current) == 1:
        return f"{next(iter(current))}:heads"
    raise ValueError("offline SQL needs a single current revision")


def downgrade_range(current: set[str], target: str) -> str:
    """The ``--sql`` range from the database's one revision down to ``target``."""
    if len(current) != 1:
        raise ValueError("offline SQL needs a single current revision")
    return f"{next(iter(current))}:{target}"


_RUNNING = re.compile(r"Running (?:upgrade|downgrade) (?P<start>\S*) -> (?P<end>\S*)")


def failing_revision(lines: Sequence[str]) -> str:
    """The revision alembic was running when it stopped: of its last ``Running downgrade A ->
    B`` line, A for a downgrade, B for an upgrade ("" when it ran none)."""
    for line in reversed(lines):
        if match := _RUNNING.search(line):
            downgrade = "Running downgrade" in line
            return match["start" if downgrade else "end"].rstrip(",")
    return ""


def failing_statement(lines: Sequence[str]) -> str:
    """The SQL alembic was running when it failed, from its ``[SQL: ...]`` line."""
    for line in lines:
        if line.strip().startswith("[SQL:"):
            return line.strip()[len("[SQL:") :].rstrip("]").strip()
    for line in reversed(lines):
        if "Error" in line:
            return line.strip()
    return lines[-1].strip() if lines else "(alembic printed nothing)"
