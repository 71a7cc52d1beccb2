"""``host.disk-usage``: the thresholds with an injected usage function (75 % warns, 90 %
fails, counted as df counts), the setting named when the path is missing, and one real call
through the runner."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NamedTuple

import pytest

from checks.core import Status
from checks.health.disk import judge, measure
from checks.settings import ToolboxConfig
from checks.units import size_text
from tests.checks.db_helpers import run_check
from tests.conftest import MakeContext

GIB = 1024**3


class DiskUsage(NamedTuple):
    """What ``shutil.disk_usage`` returns, made up."""

    total: int
    used: int
    free: int


@pytest.mark.parametrize(
    ("used", "free", "status"),
    [
        (0, 100, Status.PASS),
        (749, 251, Status.PASS),
        (750, 250, Status.WARN),
        (899, 101, Status.WARN),
        (900, 100, Status.FAIL),
        (1000, 0, Status.FAIL),
    ],
)
def test_warns_from_75_and_fails_from_90_percent(used: int, free: int, status: Status) -> None:
    outcome = judge(Path("/srv/app"), DiskUsage(total=1000, used=used, free=free))
    assert outcome.status is status, outcome.message
    assert outcome.message.startswith(f"{used / 10:.1f} % full"), outcome.message
    assert outcome.message.endswith(" free, on /srv/app."), outcome.message
    if status is not Status.PASS:
        assert "or grow the volume" in outcome.hint


def test_counts_as_df_does_without_the_blocks_reserved_for_root() -> None:
    # 100 GiB, 5 GiB reserved for root: 85 used and 10 free is 89.5 % full, not 85 %.
    outcome = judge(Path("/srv"), DiskUsage(100 * GIB, 85 * GIB, 10 * GIB))
    assert outcome.status is Status.WARN
    assert outcome.message == (
        "89.5 % full (75 % or more): 85.0 GiB used of 95.0 GiB, 10.0 GiB free, on /srv."
    )
    assert outcome.evidence["total"] == "100.0 GiB"


def test_a_file_system_without_a_size_warns() -> None:
    outcome = judge(Path("/proc"), DiskUsage(0, 0, 0))
    assert outcome.status is Status.WARN and "reports no size" in outcome.message


def test_asks_about_the_volume_or_else_the_app_dir(tmp_path: Path) -> None:
    asked: list[Path] = []

    def usage_of(path: Path) -> DiskUsage:
        asked.append(path)
        return DiskUsage(10, 1, 9)

    volume = tmp_path / "data"
    measure(ToolboxConfig(app_dir=tmp_path, app_volume=volume), usage_of)
    measure(ToolboxConfig(app_dir=tmp_path), usage_of)
    assert asked == [volume, tmp_path]


@pytest.mark.parametrize("volume", [True, False])
def test_a_missing_path_fails_naming_its_setting(tmp_path: Path, volume: bool) -> None:
    missing = tmp_path / "gone"
    config = (
        ToolboxConfig(app_dir=tmp_path, app_volume=missing)
        if volume
        else ToolboxConfig(app_dir=missing)
    )
    setting = "TOOLBOX_APP_VOLUME" if volume else "TOOLBOX_APP_DIR"
    outcome = measure(config, shutil.disk_usage)
    assert outcome.status is Status.FAIL
    assert f"{missing} ({setting}) does not exist" in outcome.message
    assert f"Set {setting} to the app's data volume" in outcome.hint


def test_another_failure_is_said_plainly(tmp_path: Path) -> None:
    def refused(path: Path) -> DiskUsage:
        raise PermissionError(13, "Permission denied")

    outcome = measure(ToolboxConfig(app_dir=tmp_path), refused)
    assert outcome.status is Status.FAIL
    assert "cannot be read: Permission denied" in outcome.message


async def test_a_real_call_through_the_runner(make_context: MakeContext, tmp_path: Path) -> None:
    result = await run_check(make_context("", app_volume=tmp_path), "host.disk-usage")
    # This machine's disk decides the verdict; the check must reach one.
    assert result.status in (Status.PASS, Status.WARN, Status.FAIL), result.message
    assert "% full" in result.message and result.message.endswith(f" free, on {tmp_path}.")
    assert result.evidence["total"].endswith("iB")


def test_sizes_read_as_a_person_reads_them() -> None:
    assert [size_text(n) for n in (0, 1023, 1024, 5 * 1024**2, 3 * 1024**4)] == [
        "0 bytes",
        "1023 bytes",
        "1.0 KiB",
        "5.0 MiB",
        "3.0 TiB",
    ]
