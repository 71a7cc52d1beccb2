"""The demo app's releases: a git repository with v1.3.0, v1.4.0 (HEAD) and v1.5.0 made the
same on every machine, secrets kept out of it, v1.5.0's migration working on PostgreSQL, and a
real venv holding the SDK from a wheelhouse of real wheels."""

from __future__ import annotations

import base64
import configparser
import hashlib
import os
import subprocess
import zipfile
from pathlib import Path

import asyncpg
import pytest

from checks.core import Status
from checks.environment.dependencies import installed_versions, site_packages_dirs
from tests.integrations.running import check
from tests.rollback.repos import context, git, release_app
from toolbox_tui.sandbox import app_repo
from toolbox_tui.sandbox.app_alembic import copy_alembic
from toolbox_tui.sandbox.app_repo import REGION_REVISION, wheelhouse_path
from toolbox_tui.sandbox.demo import write_demo
from toolbox_tui.sandbox.errors import SandboxError
from toolbox_tui.sandbox.stack import migrate

V14_MIGRATION = "alembic/versions/0002_roblox_environments_email_queue.py"
V15_MIGRATION = "alembic/versions/0003_roblox_environment_region.py"


def tree(app: Path, rev: str) -> set[str]:
    return set(git(app, "ls-tree", "-r", "--name-only", rev).splitlines())


def test_three_releases_head_detached_at_v1_4_0_and_main_at_v1_5_0(tmp_path: Path) -> None:
    app = release_app(tmp_path / "app").app_dir
    assert git(app, "tag", "--list").split() == ["v1.3.0", "v1.4.0", "v1.5.0"]
    assert git(app, "rev-parse", "HEAD") == git(app, "rev-parse", "v1.4.0^{commit}")
    assert git(app, "symbolic-ref", "-q", "HEAD", check=False) == ""  # detached
    assert git(app, "rev-parse", "main") == git(app, "rev-parse", "v1.5.0^{commit}")
    assert git(app, "status", "--porcelain") == ""  # nothing changed, nothing untracked shown
    assert V14_MIGRATION not in tree(app, "v1.3.0")
    assert V14_MIGRATION in tree(app, "v1.4.0") and V15_MIGRATION not in tree(app, "v1.4.0")
    assert V15_MIGRATION in tree(app, "v1.5.0")
    for tag, version in (("v1.3.0", "1.3.0"), ("v1.4.0", "1.4.0"), ("v1.5.0", "1.5.0")):
        requirements = git(app, "show", f"{tag}:requirements.txt").splitlines()
        assert requirements[-1] == f"toolboxai-sdk=={version}"
        assert f'__version__ = "{version}"' in git(app, "show", f"{tag}:toolboxai/__init__.py")
    assert git(app, "log", "-1", "--format=%an <%ae> %aI", "v1.5.0") == (
        "ToolboxAI Release <release@toolboxai.com> 2025-11-01T12:00:00+00:00"
    )


def test_the_history_is_the_same_on_every_start(tmp_path: Path) -> None:
    first = release_app(tmp_path / "one").app_dir
    second = release_app(tmp_path / "two").app_dir
    assert git(first, "show-ref") == git(second, "show-ref")
    # A demo started again in the same directory starts from the same history.
    again = release_app(first).app_dir
    assert git(again, "show-ref") == git(second, "show-ref")
    assert git(again, "status", "--porcelain") == ""


def test_a_git_that_hangs_is_stopped_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    hanging = bin_dir / "git"
    hanging.write_text("#!/bin/sh\nexec sleep 60\n")
    hanging.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(app_repo, "GIT_TIMEOUT", 0.5)
    demo = write_demo(tmp_path / "app")
    copy_alembic(demo.app_dir)
    with pytest.raises(SandboxError, match=r"^git init did not finish within 0\.5 s in "):
        app_repo.create_repository(demo.app_dir)


def test_secrets_and_what_the_server_makes_stay_untracked(tmp_path: Path) -> None:
    app = release_app(tmp_path / "app").app_dir
    tracked = tree(app, "HEAD")
    assert not {p for p in tracked if p.startswith((".env", "venv/", ".sandbox/"))}
    for made in (".env", ".env.backup", "venv/pip.conf", ".sandbox/api-token", "backups/x.dump"):
        assert git(app, "check-ignore", made) == made, made


async def test_keys_in_code_passes_on_the_demo_repository(tmp_path: Path) -> None:
    app = release_app(tmp_path / "app").app_dir
    (app / ".env.backup").write_bytes((app / ".env").read_bytes())
    result = await check(context(app), "sec.keys-in-code")
    assert result.status is Status.PASS, result.message


async def test_v1_5_0s_migration_adds_and_drops_the_region_column(
    tmp_path: Path, database: str
) -> None:
    app = release_app(tmp_path / "app").app_dir
    git(app, "checkout", "-q", "--detach", "v1.5.0")
    ini = app / "alembic.ini"
    region = (
        "SELECT data_type, character_maximum_length, is_nullable FROM information_schema.columns"
        " WHERE table_name = 'roblox_environments' AND column_name = 'region'"
    )
    migrate(ini, database, "heads")
    conn = await asyncpg.connect(database)
    try:
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == REGION_REVISION
        assert tuple(await conn.fetchrow(region)) == ("character varying", 32, "YES")
        migrate_down(ini, database)
        assert await conn.fetchrow(region) is None
    finally:
        await conn.close()


def migrate_down(ini: Path, database: str) -> None:
    """alembic downgrade -1, as the sandbox runs alembic."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from checks.migrations.alembic_cli import alembic
    from checks.postgres import parse_database_url

    with ThreadPoolExecutor(max_workers=1) as pool:
        run = alembic(ini, ini.parent / "venv", parse_database_url(database), ["downgrade", "-1"])
        result = pool.submit(asyncio.run, run).result()
    assert result.ok, result.stderr_lines


def test_the_wheelhouse_holds_real_wheels_and_the_venv_has_v1_4_0(tmp_path: Path) -> None:
    demo = release_app(tmp_path / "app")
    wheels = sorted(p.name for p in wheelhouse_path(demo.app_dir).iterdir())
    assert wheels == [f"toolboxai_sdk-{v}-py3-none-any.whl" for v in ("1.3.0", "1.4.0", "1.5.0")]
    for wheel in wheelhouse_path(demo.app_dir).iterdir():
        with zipfile.ZipFile(wheel) as archive:
            record = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
            for line in archive.read(record).decode().splitlines():
                path, digest, _ = line.split(",")
                if digest:  # every file's hash in RECORD is the file's
                    data = archive.read(path)
                    expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
                    assert digest == "sha256=" + expected.rstrip(b"=").decode(), path
    versions = installed_versions(site_packages_dirs(demo.venv))
    assert versions["toolboxai-sdk"] == "1.4.0"  # type: ignore[index]
    assert versions["stripe"] == "6.7.0"  # type: ignore[index]  # the demo's packages stay
    # A real venv: its python imports the installed SDK.
    out = subprocess.run(
        [
            str(demo.venv / "bin/python"),
            "-c",
            "import toolboxai_sdk; print(toolboxai_sdk.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "1.4.0"
    conf = configparser.ConfigParser()
    conf.read(demo.venv / "pip.conf")
    assert conf["global"]["no-index"] == "true"
    assert conf["global"]["find-links"] == str(wheelhouse_path(demo.app_dir))
