"""Command-palette entries: every key binding, named "area: verb", plus one per action."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from checks.core import PANES, Registry


@dataclass(frozen=True)
class PaletteCommand:
    title: str
    help: str
    action: str  # a Textual action string run on the app


def palette_commands(registry: Registry) -> Iterator[PaletteCommand]:
    for pane in PANES:
        yield PaletteCommand(
            f"pane: show {pane.title}", f"Key {pane.key}", f"show_pane('{pane.id}')"
        )
    yield PaletteCommand("checks: re-run selected", "Key r", "rerun")
    yield PaletteCommand("checks: re-run all", "Key R", "rerun_all")
    yield PaletteCommand("checks: watch this pane (again: stop)", "Key w", "toggle_watch")
    yield PaletteCommand("checks: open detail", "Key enter", "detail")
    yield PaletteCommand("checks: filter", "Key /", "filter")
    yield PaletteCommand("checks: fix selected", "Key f", "fix")
    yield PaletteCommand("report: write the release report to APP_DIR", "Key p", "report")
    yield PaletteCommand("app: help", "Key ?", "help")
    yield PaletteCommand("app: quit", "Key q", "quit")
    for action in registry.actions_in_pane_order():
        danger = " (dangerous: asks you to type its id)" if action.dangerous else ""
        yield PaletteCommand(
            f"fix: {action.title}", f"{action.id}{danger}", f"fix_with('{action.id}')"
        )
