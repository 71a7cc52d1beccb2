"""Health pane, the app host's disk: ``host.disk-usage``.

How full the file system holding TOOLBOX_APP_VOLUME (unset: TOOLBOX_APP_DIR) is, counted as
``df`` counts it (used / (used + available to users): the blocks reserved for root are not
space the app can use). WARN from 75 %, FAIL from 90 %: uploads, logs and backups then fail
at the first burst. A path that does not exist fails, naming the setting.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from checks.checklist import MONITORING
from checks.context import CheckContext
from checks.core import Outcome, check, failed, passed, warned
from checks.health import PANE
from checks.units import size_text

if TYPE_CHECKING:
    from checks.config import ToolboxConfig

WARN_PERCENT = 75.0
FAIL_PERCENT = 90.0


class Usage(Protocol):
    """What ``shutil.disk_usage`` returns (in bytes)."""

    @property
    def total(self) -> int: ...
    @property
    def used(self) -> int: ...
    @property
    def free(self) -> int: ...


UsageOf = Callable[[Path], Usage]


@check(
    id="host.disk-usage",
    pane=PANE,
    title="Disk usage of the app volume",
    checklist=(MONITORING, "Disk usage"),
)
async def disk_usage(ctx: CheckContext) -> Outcome:
    # statvfs on a network mount may block: on a thread, the dashboard keeps drawing.
    return await asyncio.to_thread(measure, ctx.config, shutil.disk_usage)


def measure(config: ToolboxConfig, usage_of: UsageOf) -> Outcome:
    """The verdict on the app volume's file system, as ``usage_of`` reports it."""
    path = config.app_volume_path
    setting = "TOOLBOX_APP_VOLUME" if config.app_volume is not None else "TOOLBOX_APP_DIR"
    try:
        usage = usage_of(path)
    except FileNotFoundError:
        return failed(
            f"Disk usage cannot be read: {path} ({setting}) does not exist.",
            f"Set {setting} to the app's data volume (where uploads, logs and backups go).",
        )
    except OSError as exc:
        return failed(
            f"The disk usage of {path} ({setting}) cannot be read: "
            f"{exc.strerror or type(exc).__name__}.",
            f"Check {setting} and this user's access to it.",
        )
    return judge(path, usage)


def judge(path: Path, usage: Usage) -> Outcome:
    usable = usage.used + usage.free
    if usable <= 0:
        return warned(
            f"The file system of {path} reports no size (total {size_text(usage.total)}).",
            "A pseudo file system? Set TOOLBOX_APP_VOLUME to the app's data volume.",
        )
    percent = 100 * usage.used / usable
    facts = {
        "path": str(path),
        "used": f"{percent:.1f} %",
        "used bytes": size_text(usage.used),
        "total": size_text(usage.total),
        "free": size_text(usage.free),
    }
    # The figure first, the path last: a narrow column shows only the start.
    full = f"{percent:.1f} % full"
    sizes = (
        f"{size_text(usage.used)} used of {size_text(usable)}, {size_text(usage.free)} free, "
        f"on {path}"
    )
    hint = (
        "Free space (old backups, rotated logs, Docker images: `du -xh -d1 "
        f"{path} | sort -h`) or grow the volume before the release."
    )
    if percent >= FAIL_PERCENT:
        return failed(f"{full} ({FAIL_PERCENT:g} % or more): {sizes}.", hint, **facts)
    if percent >= WARN_PERCENT:
        return warned(f"{full} ({WARN_PERCENT:g} % or more): {sizes}.", hint, **facts)
    return passed(f"{full}: {sizes}.", **facts)
