"""What actually reaches the terminal: the app's screen as styled segments, after Textual's own
filters (its ANSI-to-RGB conversion, its NO_COLOR greys), and the colours a 16-colour
terminal gets from them; plus a dashboard holding one check of every status."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence

from rich.color import Color, ColorSystem
from rich.console import Console
from rich.segment import Segment
from rich.style import Style

from checks.context import CheckContext
from checks.core import CheckResult, CheckSpec, Registry, Status, passed
from checks.events import Event, Finished, Started
from toolbox_tui.app import ToolboxApp

# ANSI colour numbers, bright or not: what a 16-colour terminal is told to draw.
BLACK, RED, GREEN, YELLOW, BLUE, MAGENTA, CYAN, WHITE = range(8)


def segments(app: ToolboxApp) -> list[Segment]:
    """The whole screen as the terminal would be sent it (before any colour downgrade)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
        safe_box=False,
    )
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return [s for s in console.render(update) if not s.control and s.text.strip()]


def style_of(app: ToolboxApp, word: str, nth: int = 0) -> Style:
    """The style of the ``nth`` piece of screen text that is exactly ``word``."""
    found = [s.style for s in segments(app) if s.text.strip() == word and s.style]
    assert len(found) > nth, f"{word!r} is not on the screen"
    return found[nth]  # type: ignore[return-value]


def ansi16(color: Color | None) -> int | None:
    """The hue a 16-colour terminal draws for ``color`` (bright or not), None for default."""
    if color is None or color.is_default:
        return None
    number = color.downgrade(ColorSystem.STANDARD).number
    assert number is not None
    return number % 8


def _luminance(color: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = color.get_truecolor()
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(style: Style) -> float:
    """The WCAG contrast ratio between the text and its background in ``style``."""
    assert style.color is not None and style.bgcolor is not None
    lighter, darker = sorted((_luminance(style.color), _luminance(style.bgcolor)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


STATUS_MESSAGES = {status: f"a {status.value} result" for status in Status}


def every_status_registry() -> Registry:
    """One environment check per status, so every status word is on the first screen."""
    registry = Registry()
    for status in Status:

        @registry.check(id=f"env.{status.value}", pane="environment", title=f"{status} check")
        async def check(ctx):  # type: ignore[no-untyped-def]
            return passed("unused: the runner below reports the results")

    return registry


async def every_status_runner(
    specs: Sequence[CheckSpec], ctx: CheckContext
) -> AsyncIterator[Event]:
    for spec in specs:
        status = Status(spec.id.removeprefix("env."))
        yield Started(spec.id)
        yield Finished(CheckResult(spec.id, spec.pane, spec.title, status, STATUS_MESSAGES[status]))
