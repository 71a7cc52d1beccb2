"""Env fixes from the command line under the worst timing: SIGTERM while a fix waits for the
env file, and the secret-holding temporary copy a kill -9 can leave behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from checks import audit, envfile
from toolbox_tui.sandbox.demo import write_demo

TOOL = [sys.executable, "-m", "toolbox_tui.cli"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}


def test_sigterm_while_a_fix_waits_for_the_env_file_is_audited(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "app")
    before = demo.env_file.read_bytes()
    with envfile.lock_env_file(demo.env_file, wait=1):  # another fix holds the file
        fix = subprocess.Popen(
            [*TOOL, "fix", "env.rotate-fernet-key", "--yes"],
            cwd=demo.app_dir,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert fix.stdout is not None
        for line in fix.stdout:  # wait until it is at the write
            if "Writing DATA_ENCRYPTION_KEY" in line:
                break
        fix.send_signal(signal.SIGTERM)
        out, err = fix.communicate(timeout=60)
    assert fix.returncode == 130, out + err
    assert demo.env_file.read_bytes() == before
    [record] = audit.endings(audit.read(demo.app_dir / "toolbox-audit.log"))
    assert record.action == "env.rotate-fernet-key" and record.outcome == "cancelled"
    assert record.changes == []


def test_a_temporary_copy_left_by_a_killed_write_is_reported_and_then_removed(
    tmp_path: Path,
) -> None:
    demo = write_demo(tmp_path / "app")
    stale = demo.app_dir / "..env.k3xq9zab.tmp"  # the name a write in progress uses
    stale.write_bytes(demo.env_file.read_bytes())
    stale.chmod(0o600)
    looked = subprocess.run(
        [*TOOL, "check", "--only", "env.file", "--read-only"],
        cwd=demo.app_dir,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "..env.k3xq9zab.tmp" in looked.stdout, looked.stdout
    assert stale.exists()  # read-only: reported, not removed
    fixed = subprocess.run(
        [*TOOL, "fix", "env.snapshot-backup"],
        cwd=demo.app_dir,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "Removed ..env.k3xq9zab.tmp" in fixed.stdout
    assert not stale.exists()
