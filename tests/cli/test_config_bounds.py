"""Numeric settings out of range are bad usage (exit 2, naming the setting), never a crash
deeper in: an overflowing timedelta, a 5000-digit integer, a check timeout of a century."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolbox_tui.cli import main
from toolbox_tui.sandbox.demo import Demo, write_demo


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Demo:
    for name in list(os.environ):
        if name.startswith("TOOLBOX_"):
            monkeypatch.delenv(name)
    return write_demo(tmp_path / "app")


def rotation_check(demo: Demo, *extra: str) -> int:
    argv = ["check", "--only", "env.key-rotation", "--env-file", str(demo.env_file), *extra]
    return main([*argv, "--app-dir", str(demo.app_dir)])


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("TOOLBOX_KEY_ROTATION_DAYS", "999999999999", "less than or equal to 3650"),
        ("TOOLBOX_KEY_ROTATION_DAYS", "9" * 5000, "TOOLBOX_KEY_ROTATION_DAYS"),
        ("TOOLBOX_KEY_ROTATION_DAYS", "0", "greater than 0"),
        ("TOOLBOX_CHECK_TIMEOUT", "3601", "less than or equal to 3600"),
        ("TOOLBOX_CHECK_TIMEOUT", "nan", "finite number"),
        ("TOOLBOX_CHECK_TIMEOUT", "inf", "finite number"),
        ("TOOLBOX_MAX_ENV_BYTES", "9" * 30, "less than or equal to"),
        ("TOOLBOX_BACKUP_MAX_AGE_MINUTES", "99999999", "less than or equal to"),
    ],
)
def test_out_of_range_setting_is_bad_usage_naming_it(
    demo: Demo,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    says: str,
) -> None:
    monkeypatch.setenv(variable, value)
    code = rotation_check(demo)
    err = capsys.readouterr().err
    assert code == 2, err
    assert variable in err and says in err and "Traceback" not in err


@pytest.mark.parametrize("seconds", ["nan", "1e400", "86400"])
def test_the_timeout_flag_is_bounded_too(
    demo: Demo, capsys: pytest.CaptureFixture[str], seconds: str
) -> None:
    assert rotation_check(demo, "--timeout", seconds) == 2
    assert "TOOLBOX_CHECK_TIMEOUT" in capsys.readouterr().err


def test_the_largest_allowed_values_work(
    demo: Demo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOOLBOX_KEY_ROTATION_DAYS", "3650")
    # The demo's key is 41 days old: well within ten years, so the check passes.
    assert rotation_check(demo, "--timeout", "3600") == 0, capsys.readouterr().err
