"""``check --output PATH`` writes like a careful tool run as root: never through another
user's symlink, never onto a device, FIFO or directory, and never changing a file's mode."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from toolbox_tui.cli import main
from toolbox_tui.report_file import ReportFileError, check_destination, write_report
from toolbox_tui.sandbox.demo import Demo, write_demo

NOBODY = 65534


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    return write_demo(tmp_path / "app")


@pytest.fixture
def sticky(tmp_path: Path) -> Path:
    """A shared directory like /tmp: anyone may create, only the owner may remove."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    return shared


def check_to(demo: Demo, output: str | Path) -> int:
    return main(
        [
            "check",
            "--only",
            "env.file",
            "--format",
            "json",
            "--output",
            str(output),
            "--env-file",
            str(demo.env_file),
            "--app-dir",
            str(demo.app_dir),
            "--audit-log",
            str(demo.app_dir / "audit.log"),
        ]
    )


def foreign_symlink(link: Path, target: Path | str) -> Path:
    os.symlink(target, link)
    os.lchown(link, NOBODY, NOBODY)
    return link


@pytest.fixture(autouse=True)
def _root_only() -> None:
    # Planting another user's symlink needs chown, and the tool's users run it as root.
    if os.geteuid() != 0:
        pytest.fail("these tests plant files owned by other users: run them as root")


@pytest.mark.parametrize("device", ["/dev/null", "made"])
def test_a_character_device_is_refused_and_stays_one(
    demo: Demo, tmp_path: Path, device: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = Path(device)
    if device == "made":
        path = tmp_path / "null"
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    before = os.lstat(path)
    assert check_to(demo, path) == 2
    err = capsys.readouterr().err
    assert f"--output {path} is a character device" in err and "Traceback" not in err
    after = os.lstat(path)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert after.st_ino == before.st_ino


def test_a_fifo_is_refused_without_blocking(demo: Demo, tmp_path: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    argv = [sys.executable, "-m", "toolbox_tui.cli", "check", "--only", "env.file"]
    argv += ["--output", str(fifo), "--env-file", str(demo.env_file)]
    argv += ["--app-dir", str(demo.app_dir)]
    # Opening a FIFO for writing waits for a reader: a blocked tool hits this timeout.
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "is a FIFO (named pipe)" in done.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_another_users_symlink_is_refused_and_its_target_untouched(
    demo: Demo, tmp_path: Path, sticky: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    precious = tmp_path / "root-owned.conf"
    precious.write_text("precious\n")
    link = foreign_symlink(sticky / "report.json", precious)
    assert check_to(demo, link) == 2
    err = capsys.readouterr().err
    assert "is a symlink owned by nobody (uid 65534)" in err or "owned by uid 65534" in err
    assert precious.read_text() == "precious\n"
    assert os.readlink(link) == str(precious)


def test_another_users_symlinked_directory_is_refused(
    demo: Demo, tmp_path: Path, sticky: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    link = foreign_symlink(sticky / "reports", elsewhere)
    assert check_to(demo, link / "passwd") == 2
    assert "symlink owned by" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []


def test_our_own_symlink_is_followed(demo: Demo, tmp_path: Path, sticky: Path) -> None:
    target = tmp_path / "reports" / "latest.json"
    target.parent.mkdir()
    link = sticky / "report.json"
    os.symlink(target, link)
    assert check_to(demo, link) == 0
    assert '"env.file"' in target.read_text()
    assert link.is_symlink()


def test_an_existing_file_keeps_its_mode_owner_and_inode(demo: Demo, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text("old report, longer than the new one will be" * 100)
    report.chmod(0o640)
    os.chown(report, NOBODY, NOBODY)
    before = os.stat(report)
    assert check_to(demo, report) == 0
    after = os.stat(report)
    assert (after.st_mode & 0o7777, after.st_uid, after.st_gid) == (0o640, NOBODY, NOBODY)
    assert after.st_ino == before.st_ino
    assert report.read_text().lstrip().startswith("{") and "old report" not in report.read_text()


def test_a_new_file_is_created_0644_under_the_umask(demo: Demo, tmp_path: Path) -> None:
    report = tmp_path / "new.json"
    old = os.umask(0o022)
    try:
        assert check_to(demo, report) == 0
    finally:
        os.umask(old)
    assert os.stat(report).st_mode & 0o7777 == 0o644


def test_dash_means_stdout(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert check_to(demo, "-") == 0
    assert '"env.file"' in capsys.readouterr().out
    assert not (tmp_path / "-").exists()


def test_a_directory_is_refused(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    assert check_to(demo, reports) == 2
    assert "is a directory" in capsys.readouterr().err
    assert list(reports.iterdir()) == []


def test_a_hard_linked_file_is_refused(demo: Demo, tmp_path: Path) -> None:
    original = tmp_path / "original.conf"
    original.write_text("keep\n")
    os.link(original, tmp_path / "report.json")
    assert check_to(demo, tmp_path / "report.json") == 2
    assert original.read_text() == "keep\n"


def test_a_path_that_changes_after_the_checks_is_checked_again(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text("")
    check_destination(report)
    report.unlink()
    os.mkfifo(report)  # planted while the checks ran
    with pytest.raises(ReportFileError, match="FIFO"):
        write_report(report, "{}")
    report.unlink()
    os.symlink(tmp_path / "elsewhere", report)
    os.lchown(report, NOBODY, NOBODY)
    with pytest.raises(ReportFileError, match="symlink owned by"):
        write_report(report, "{}")
    assert not (tmp_path / "elsewhere").exists()


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(ReportFileError, match=r"the directory .*/nowhere does not exist"):
        check_destination(tmp_path / "nowhere" / "report.json")
