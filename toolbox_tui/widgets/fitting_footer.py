"""A footer that shows only whole keys: on a narrow terminal it leaves keys out instead of
letting the last ones run off the edge or under the command-palette key as fragments.

Which keys go first is the screen's choice (``expendable``: actions the screen shows some
other way); then the palette key; then keys from the right.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.events import Resize
from textual.widget import Widget
from textual.widgets import Footer

# Not re-exported by textual.widgets; the footer's keys are these (pinned Textual series).
from textual.widgets._footer import FooterKey


class FittingFooter(Footer):
    def __init__(self, *, expendable: Sequence[str] = (), compact: bool = False) -> None:
        super().__init__(compact=compact)
        self.expendable = tuple(expendable)
        """Action names (``show_pane``, not ``app.show_pane('x')``) to leave out first."""

    async def recompose(self) -> None:
        # The keys are rebuilt whenever the bindings change (focus moved, a screen opened).
        await super().recompose()
        self.call_after_refresh(self.fit)

    def on_resize(self, event: Resize) -> None:
        self.fit()

    def fit(self) -> None:
        """Show as many keys as fit the footer's width, each whole."""
        width = self.size.width
        if not width:
            return  # not laid out yet: the resize that follows fits it
        children = list(self.children)
        cells = {child: _cells(child) for child in children}
        shown = set(children)
        for child in _leaving_order(children, self.expendable):
            if sum(cells[c] for c in shown) <= width:
                break
            shown.discard(child)
        for child in children:
            child.display = child in shown


def _cells(widget: Widget) -> int:
    """Columns ``widget`` takes in the footer, hidden or not: its text, padding, border and
    margin (a hidden widget has no size to read, so it is measured from what it renders)."""
    margin = widget.styles.margin.width
    if isinstance(widget, FooterKey):
        return widget.render().cell_len + widget.styles.gutter.width + margin
    return widget.outer_size.width + margin


def _leaving_order(children: list[Widget], expendable: tuple[str, ...]) -> list[Widget]:
    keys = [c for c in children if isinstance(c, FooterKey)]
    palette = [k for k in keys if k.has_class("-command-palette")]
    ordinary = [k for k in keys if k not in palette]
    first = [k for name in expendable for k in ordinary if _action_name(k.action) == name]
    rest = [k for k in reversed(ordinary) if k not in first]
    return [*first, *palette, *rest]


def _action_name(action: str) -> str:
    """``app.show_pane('health')`` -> ``show_pane``."""
    return action.split("(", 1)[0].rsplit(".", 1)[-1]
