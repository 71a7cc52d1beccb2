"""How a status looks: a word that reads without colour, and a colour where there is one.

Words first, because the dashboard must make sense with ``NO_COLOR`` and in 16 colours,
where the theme's colours are approximated; FAIL is also in reverse video, so it stands out
with no colour at all.
"""

from __future__ import annotations

from rich.text import Text

from checks.core import Status
from toolbox_tui.reporters import STATUS_LABELS

STATUS_STYLES: dict[Status, str] = {
    Status.PASS: "bold green",
    Status.WARN: "bold yellow",
    # Reverse video: FAIL must stand out with no colour at all (NO_COLOR, monochrome).
    Status.FAIL: "bold reverse red",
    Status.ERROR: "bold magenta",
    Status.SKIP: "dim",
    Status.MANUAL: "bold cyan",
}
RUNNING_LABEL = "RUN…"
PENDING_LABEL = "  ·"


def status_text(status: Status | None, running: bool = False) -> Text:
    if running:
        return Text(RUNNING_LABEL, style="bold blue")
    if status is None:
        return Text(PENDING_LABEL, style="dim")
    return Text(STATUS_LABELS[status], style=STATUS_STYLES[status])


def duration_text(duration_ms: float | None) -> str:
    if duration_ms is None:
        return ""
    if duration_ms < 1000:
        return f"{duration_ms:.0f}ms"
    return f"{duration_ms / 1000:.1f}s"
