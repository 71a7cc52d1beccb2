"""How a status looks: a word that reads without colour, and a colour where there is one.

Words first, because the dashboard must make sense with ``NO_COLOR`` and in 16 colours.
Each look has a plain style that reads alone (FAIL in reverse video, the alarms bold) and a
coloured one. Colours are exact RGB values, never ANSI names: Textual turns ANSI names into
its own theme's RGB (its red comes out magenta and its yellow bright red in 16 colours),
while an RGB value is approximated by the 16 colours predictably. Each one below was picked
so that it lands on the ANSI colour named beside it. A block (FAIL) names its text colour
too, so it reads on any background (the summary bar's grey, the table's black).

Under ``NO_COLOR`` Textual turns every colour into a grey of the same brightness, so a red
FAIL block would be grey on grey: there, the plain style is used (a reverse FAIL is then
the screen's own text colour, swapped).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from checks.core import Status
from toolbox_tui.reporters import STATUS_LABELS


@dataclass(frozen=True)
class Look:
    plain: str
    """Attributes only (``bold``, ``reverse`` or nothing): what reads without colour."""
    coloured: str

    def style(self, colour: bool = True) -> str:
        return self.coloured if colour else self.plain


# In order of alarm. The "dim" attribute is never used: Textual draws it as a blend towards
# the background, which in a muted place (an inactive tab) ends up grey on grey.
STATUS_LOOKS: dict[Status, Look] = {
    Status.FAIL: Look("bold reverse", "bold #000000 on #ff5555"),  # black on bright red
    Status.ERROR: Look("bold", "bold #d75fd7"),  # bright magenta
    Status.WARN: Look("bold", "bold #ffd75f"),  # bright yellow
    Status.MANUAL: Look("bold", "bold #5fd7d7"),  # bright cyan
    Status.PASS: Look("", "#5fd75f"),  # bright green
    Status.SKIP: Look("", "#a8a8a8"),  # white, i.e. light grey: quieter than the text
}
RUNNING_LOOK = Look("bold", "bold #5f87ff")  # bright blue
BUSY_LOOK = Look("bold reverse", "bold #ffffff on #0055b3")  # bright white on blue
"""For a fix in progress: a block, like FAIL, but calm."""
QUIET_LOOK = STATUS_LOOKS[Status.SKIP]
"""For what matters least on a line (an id, a duration, "not run"): legible, not loud."""
DANGER_LOOK = STATUS_LOOKS[Status.FAIL]
"""For the DANGEROUS badge of an action: as loud as a failure."""

RUNNING_LABEL = "RUN…"
PENDING_LABEL = "  ·"


def status_style(status: Status, colour: bool = True) -> str:
    return STATUS_LOOKS[status].style(colour)


def status_text(status: Status | None, running: bool = False, colour: bool = True) -> Text:
    """The status word, styled; ``colour`` is False under ``NO_COLOR`` (``app.no_color``)."""
    if running:
        return Text(RUNNING_LABEL, style=RUNNING_LOOK.style(colour))
    if status is None:
        return Text(PENDING_LABEL, style=QUIET_LOOK.style(colour))
    return Text(STATUS_LABELS[status], style=status_style(status, colour))


def styled(markup: str, style: str) -> str:
    """``markup`` in ``style``; unchanged for an empty style (a look without colour may
    have no attribute at all, and ``[]`` is not markup)."""
    return f"[{style}]{markup}[/]" if style else markup


def duration_text(duration_ms: float | None) -> str:
    if duration_ms is None:
        return ""
    if duration_ms < 1000:
        return f"{duration_ms:.0f}ms"
    return f"{duration_ms / 1000:.1f}s"
