"""Env files: tolerant parsing and atomic, backed-up, mode-keeping rewrites."""

from __future__ import annotations

import os
from pathlib import Path

from checks.envfile import atomic_write, parse_env_text, set_values
from checks.settings import DeploymentEnv

SAMPLE = """\
# production settings
APP_ENV=production
 this line is broken
export DEBUG=false
QUOTED="two words"  # trailing comment

LOG_LEVEL=INFO
"""


def test_malformed_lines_are_reported_by_number() -> None:
    parsed = parse_env_text(SAMPLE)
    assert parsed.malformed_lines == (3,)
    assert parsed.values["QUOTED"] == "two words"
    assert parsed.values["DEBUG"] == "false"


def test_set_values_keeps_everything_else_byte_for_byte(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(SAMPLE, encoding="utf-8")
    env.chmod(0o640)
    backup = set_values(env, {"LOG_LEVEL": "WARNING", "DEBUG": "true", "NEW_ONE": "a b"})
    text = env.read_text(encoding="utf-8")
    assert text.splitlines()[:3] == SAMPLE.splitlines()[:3]
    assert "export DEBUG=true" in text
    assert "LOG_LEVEL=WARNING" in text
    assert 'QUOTED="two words"  # trailing comment' in text
    assert parse_env_text(text).values["NEW_ONE"] == "a b"
    assert os.stat(env).st_mode & 0o777 == 0o640
    assert backup is not None and backup.read_text(encoding="utf-8") == SAMPLE
    assert os.stat(backup).st_mode & 0o777 == 0o600  # old secrets: private, whatever the file


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write(target, "one\n")
    atomic_write(target, "two\n")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert target.read_text() == "two\n"
    assert len(names) == 2 and names[0] == "out.txt" and names[1].endswith(".bak")


def test_new_file_is_private(tmp_path: Path) -> None:
    target = tmp_path / "fresh.env"
    assert atomic_write(target, "A=1\n") is None
    assert os.stat(target).st_mode & 0o777 == 0o600


def test_loading_problems_become_messages_not_exceptions(tmp_path: Path) -> None:
    assert "does not exist" in (DeploymentEnv.load(tmp_path / "missing").load_error or "")
    assert "directory" in (DeploymentEnv.load(tmp_path).load_error or "")
    binary = tmp_path / "binary.env"
    binary.write_bytes(b"\xff\xfe\x00A=1")
    assert "UTF-8" in (DeploymentEnv.load(binary).load_error or "")


def test_duplicated_name_is_rewritten_everywhere(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("KEY=old\nOTHER=1\nKEY=older\n", encoding="utf-8")
    set_values(env, {"KEY": "new"})
    assert env.read_text(encoding="utf-8") == "KEY=new\nOTHER=1\nKEY=new\n"


def test_symlinked_env_file_updates_its_target(tmp_path: Path) -> None:
    real = tmp_path / "shared.env"
    real.write_text("KEY=old\n", encoding="utf-8")
    link = tmp_path / ".env"
    link.symlink_to(real)
    set_values(link, {"KEY": "new"})
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == "KEY=new\n"


def test_values_with_both_quotes_round_trip(tmp_path: Path) -> None:
    value = """it's "quoted" \\ here"""
    env = tmp_path / ".env"
    env.write_text("", encoding="utf-8")
    set_values(env, {"KEY": value})
    assert parse_env_text(env.read_text(encoding="utf-8")).values["KEY"] == value
