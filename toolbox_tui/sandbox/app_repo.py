"""The demo app's history: a git repository with three tagged releases, a wheelhouse of the
app's SDK, and the app's virtualenv installing from that wheelhouse, never from the network.

:func:`set_up_releases` runs after :func:`~toolbox_tui.sandbox.app_alembic.copy_alembic` (whose
copy of the release's migrations is v1.4.0's) and before the database is migrated:

- v1.3.0: alembic.ini and alembic/ with the baseline only; ``toolboxai-sdk==1.3.0``;
- v1.4.0: the release's migrations (0001 and 0002); ``toolboxai-sdk==1.4.0``; HEAD, detached;
- v1.5.0: adds 0003 (a nullable ``region`` on roblox_environments); ``toolboxai-sdk==1.5.0``;
  branch ``main`` points here.

One ``git fast-import`` writes the three commits and their tags in one process (a dozen
``git add``/``commit``/``tag`` would cost ten times more of the sandbox's start): author,
committer and dates are in the stream, so the commits, and their shas, are the same on every
machine, and no user's git config takes part (``GIT_CONFIG_GLOBAL=/dev/null``).

The SDK is installed by unpacking its wheel with the wheel's RECORD, as pip would (pip can
uninstall it), instead of running pip (a second per start); ``VENV/pip.conf`` points pip at the
wheelhouse with ``no-index``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from checks.subprocesses import die_with_parent
from toolbox_tui.sandbox.demo import ROTATION_WORKFLOW, site_packages
from toolbox_tui.sandbox.errors import SandboxError

SDK = "toolboxai-sdk"
SDK_PACKAGE = "toolboxai_sdk"
DEPLOYED = "v1.4.0"
IDENTITY = "ToolboxAI Release <release@toolboxai.com>"
GIT_TIMEOUT = 30.0
# Release 1.3.0 had only the baseline: 1.4.0 added this file.
ADDED_IN_1_4 = "alembic/versions/0002_roblox_environments_email_queue.py"
REGION_FILE = "alembic/versions/0003_roblox_environment_region.py"
REGION_REVISION = "0003_roblox_env_region"

GITIGNORE = """\
# Secrets and what the server makes: never in the repository.
.env
.env.*
venv/
.sandbox/
backups/
*.log
*.jsonl
sandbox-ca.pem
.toolbox-demo
toolbox-*
__pycache__/
"""

REGION_SOURCE = f'''"""Add a region to Roblox environments (where the environment's servers run).

Revision ID: {REGION_REVISION}
Revises: 0002_roblox_email_queue
Create Date: 2025-11-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "{REGION_REVISION}"
down_revision: str | Sequence[str] | None = "0002_roblox_email_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("roblox_environments", sa.Column("region", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("roblox_environments", "region")
'''


@dataclass(frozen=True)
class Release:
    tag: str
    when: int
    """Seconds since the epoch (UTC): author, committer and tagger date."""
    subject: str

    @property
    def version(self) -> str:
        return self.tag.removeprefix("v")


RELEASES = (
    Release("v1.3.0", 1759320000, "Release 1.3.0: users, tenants and the baseline schema"),
    Release("v1.4.0", 1760529600, "Release 1.4.0: Roblox environments and the email queue"),
    Release("v1.5.0", 1761998400, "Release 1.5.0: a region for each Roblox environment"),
)


def requirements_text(version: str) -> str:
    """The release's requirements.txt. Its index lines point pip at the sandbox's wheelhouse
    (relative paths in a requirements file are read from its own directory): unlike the venv's
    pip.conf, they hold even where the shell sets PIP_FIND_LINKS or PIP_INDEX_URL, which
    outrank every pip.conf."""
    return f"--no-index\n--find-links {WHEELHOUSE}\n{SDK}=={version}\n"


def _app_files(version: str) -> dict[str, bytes]:
    """What every release holds besides its migrations."""
    return {
        ".gitignore": GITIGNORE.encode(),
        ".github/workflows/vault-rotation.yml": ROTATION_WORKFLOW.encode(),
        "requirements.txt": requirements_text(version).encode(),
        "toolboxai/__init__.py": f'"""ToolboxAI."""\n\n__version__ = "{version}"\n'.encode(),
    }


def release_trees(app_dir: Path) -> dict[Release, dict[str, bytes]]:
    """Each release's files by path: v1.4.0's migrations are those in ``app_dir`` (copied
    there by copy_alembic); v1.3.0 lacks 0002, v1.5.0 adds 0003."""
    migrations: dict[str, bytes] = {"alembic.ini": (app_dir / "alembic.ini").read_bytes()}
    for path in sorted((app_dir / "alembic").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            migrations[path.relative_to(app_dir).as_posix()] = path.read_bytes()
    if ADDED_IN_1_4 not in migrations:
        raise SandboxError(f"{app_dir} has no {ADDED_IN_1_4}: copy the release's alembic first")
    v13, v14, v15 = RELEASES
    before = {p: data for p, data in migrations.items() if p != ADDED_IN_1_4}
    return {
        v13: {**before, **_app_files(v13.version)},
        v14: {**migrations, **_app_files(v14.version)},
        v15: {**migrations, REGION_FILE: REGION_SOURCE.encode(), **_app_files(v15.version)},
    }


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def fast_import_stream(trees: Mapping[Release, Mapping[str, bytes]]) -> bytes:
    """The ``git fast-import`` input: one commit per release on ``main`` (each with its whole
    tree), and an annotated tag for each."""
    chunks: list[bytes] = []
    for mark, (release, files) in enumerate(trees.items(), start=1):
        stamp = f"{IDENTITY} {release.when} +0000".encode()
        chunks.append(b"commit refs/heads/main\nmark :%d\n" % mark)
        chunks.append(b"author " + stamp + b"\ncommitter " + stamp + b"\n")
        chunks.append(_data(release.subject.encode() + b"\n"))
        if mark > 1:
            chunks.append(b"from :%d\n" % (mark - 1))
        chunks.append(b"deleteall\n")
        for path, content in sorted(files.items()):
            chunks.append(f"M 100644 inline {path}\n".encode() + _data(content))
        chunks.append(f"tag {release.tag}\nfrom :{mark}\n".encode())
        chunks.append(b"tagger " + stamp + b"\n" + _data(f"Release {release.version}\n".encode()))
    return b"".join(chunks)


def _git(app_dir: Path, *args: str, stdin: bytes | None = None) -> None:
    """``git ARGS`` in ``app_dir`` with nobody's git config; SandboxError if it fails."""
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }
    try:
        subprocess.run(
            ["git", *args],
            cwd=app_dir,
            env=env,
            input=stdin if stdin is not None else b"",
            capture_output=True,
            check=True,
            timeout=GIT_TIMEOUT,
            preexec_fn=die_with_parent(),
        )
    except FileNotFoundError:
        raise SandboxError("git is not installed: the demo app's releases need it") from None
    except subprocess.CalledProcessError as exc:
        said = exc.stderr.decode("utf-8", "replace").strip()
        raise SandboxError(f"git {args[0]} failed in {app_dir}: {said}") from None
    except subprocess.TimeoutExpired:  # run() has killed it
        raise SandboxError(
            f"git {args[0]} did not finish within {GIT_TIMEOUT:g} s in {app_dir}: "
            "is its disk or the machine very slow?"
        ) from None


def create_repository(app_dir: Path) -> None:
    """``app_dir`` becomes a git repository holding the three releases, HEAD detached at
    v1.4.0 (any repository of an earlier demo there is replaced)."""
    trees = release_trees(app_dir)
    shutil.rmtree(app_dir / ".git", ignore_errors=True)
    # No hook templates: a fresh repository with nothing to run.
    _git(app_dir, "init", "--quiet", "--template=", "--initial-branch=main")
    _git(app_dir, "fast-import", "--quiet", "--done", stdin=fast_import_stream(trees) + b"done\n")
    # -f: the work tree already holds v1.4.0's migrations (untracked until now), as it should.
    _git(app_dir, "checkout", "--quiet", "--force", "--detach", DEPLOYED)


# -- the wheelhouse and the venv ----------------------------------------------------------------


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def wheel_name(version: str) -> str:
    return f"{SDK_PACKAGE}-{version}-py3-none-any.whl"


def build_wheel(folder: Path, version: str) -> Path:
    """A real wheel of the app's SDK at ``version``: its package, METADATA, WHEEL and RECORD."""
    info = f"{SDK_PACKAGE}-{version}.dist-info"
    files = {
        f"{SDK_PACKAGE}/__init__.py": f'"""ToolboxAI SDK."""\n\n__version__ = "{version}"\n',
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {SDK}\nVersion: {version}\n"
            "Summary: ToolboxAI's client library (the sandbox's own build)\n"
        ),
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: toolbox-tui sandbox\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    contents = {path: text.encode() for path, text in files.items()}
    record = [f"{path},{_record_hash(data)},{len(data)}" for path, data in contents.items()]
    contents[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    wheel = folder / wheel_name(version)
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in contents.items():
            # A fixed date: the same wheel, byte for byte, on every start.
            archive.writestr(zipfile.ZipInfo(path, (2025, 11, 1, 0, 0, 0)), data)
    return wheel


def write_wheelhouse(folder: Path) -> dict[str, Path]:
    """The SDK's wheel of every release, by version."""
    folder.mkdir(parents=True, exist_ok=True)
    return {r.version: build_wheel(folder, r.version) for r in RELEASES}


def install_wheel(wheel: Path, venv: Path) -> None:
    """Unpack a pure-Python wheel into the venv's site-packages, as pip installs one: its
    RECORD comes along, so pip can uninstall it."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site_packages(venv))


def write_pip_conf(venv: Path, wheelhouse: Path) -> Path:
    """``VENV/pip.conf``: pip run for this venv finds packages in the wheelhouse only."""
    conf = venv / "pip.conf"
    conf.write_text(
        "# The demo app installs from its own wheelhouse, never from the network.\n"
        f"[global]\nno-index = true\nfind-links = {wheelhouse}\n",
        encoding="utf-8",
    )
    return conf


WHEELHOUSE = ".sandbox/wheelhouse"
"""Where the sandbox keeps the SDK's wheels, relative to the app directory: the stand-in for
the company's package index (ignored by git, like the rest of .sandbox/)."""


def wheelhouse_path(app_dir: Path) -> Path:
    return app_dir / WHEELHOUSE


def set_up_releases(app_dir: Path, venv: Path) -> None:
    """The repository of releases (HEAD at v1.4.0), the SDK's wheelhouse, and v1.4.0's SDK
    installed in ``venv`` with pip pointed at the wheelhouse."""
    create_repository(app_dir)
    wheels = write_wheelhouse(wheelhouse_path(app_dir))
    install_wheel(wheels[DEPLOYED.removeprefix("v")], venv)
    write_pip_conf(venv, wheelhouse_path(app_dir))
