"""A password that SQLAlchemy accepts unencoded (``/`` first, ``?`` and ``#`` inside) never
shows in any report format or preview, and every message names where the URL points."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from toolbox_tui.sandbox.demo import Demo, write_demo

DB_PASSWORD = "/Zq8xK2pL9vB4nM7qW1eR5tY3uI6oP0aS"
DB_URL = f"postgresql://toolboxai:{DB_PASSWORD}@db.internal:5432/toolboxai_prod"
REDIS_PASSWORD = "Kd9?mW2#xR7/vT4pL8qZ"
REDIS_URL = f"redis://:{REDIS_PASSWORD}@cache.internal:6379/0"
TOOL = str(Path(sys.executable).with_name("toolbox-tui"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    demo = write_demo(tmp_path_factory.mktemp("slash") / "app")
    text = demo.env_file.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^DATABASE_URL=.*$", f"DATABASE_URL={DB_URL}", text)
    text = re.sub(r"(?m)^REDIS_URL=.*$", f"REDIS_URL={REDIS_URL}", text)
    demo.env_file.write_text(text, encoding="utf-8")
    return demo


def run(demo: Demo, *args: str) -> str:
    done = subprocess.run(
        [TOOL, *args, "--env-file", str(demo.env_file), "--app-dir", str(demo.app_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 3), done.stderr
    return done.stdout + done.stderr


def assert_no_password(out: str) -> None:
    # Any eight characters in a row would be a leak worth a rotation.
    for password in (DB_PASSWORD, REDIS_PASSWORD):
        for start in range(len(password) - 7):
            assert password[start : start + 8] not in out


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "markdown"])
def test_check_reports_never_show_the_password(demo: Demo, fmt: str) -> None:
    out = run(demo, "check", "--format", fmt)
    assert_no_password(out)
    assert "db.internal:5432/toolboxai_prod" in out  # db.reachable names the real server
    assert "REDIS_URL&#x27;s password must be percent-encoded" in out or (
        "REDIS_URL's password must be percent-encoded" in out
    )


def test_backup_preview_names_the_database_not_the_password(demo: Demo) -> None:
    out = run(demo, "fix", "db.backup", "--dry-run")
    assert_no_password(out)
    assert "db.internal:5432/toolboxai_prod" in out
