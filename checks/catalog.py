"""Imports the built-in check modules so their ``@check`` / ``@action`` decorators register.

Front ends call :func:`load`: with no panes for everything (the dashboard, ``list``, the
README's catalogue), or with the panes a headless run selected, so ``check --pane environment``
imports only what that pane needs. Adding a pane package to :data:`PANE_MODULES` is all it takes
for its checks to appear everywhere.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping

from checks.core import PANE_IDS, Registry, registry

PANE_MODULES: Mapping[str, tuple[str, ...]] = {
    "environment": ("checks.environment",),
    "migrations": ("checks.migrations",),
    # The database's vital signs need db.reachable, which the migrations pane registers.
    "health": ("checks.migrations", "checks.health"),
    # Its checks need env.vault and env.fernet-key, which the environment pane registers.
    "integrations": ("checks.environment", "checks.integrations"),
    # Its encryption round trip needs env.fernet-key, which the environment pane registers.
    "security": ("checks.environment", "checks.security"),
    # Its database checks need db.reachable, and the env backup's check env.file.
    "rollback": ("checks.environment", "checks.migrations", "checks.rollback"),
}
"""The packages that register each pane's checks, and the checks they ``need``."""

BUILTIN_MODULES: tuple[str, ...] = tuple(
    dict.fromkeys(module for pane in PANE_IDS for module in PANE_MODULES.get(pane, ()))
)


def modules_for(panes: Iterable[str] = ()) -> tuple[str, ...]:
    """The modules :func:`load` imports for ``panes``: all of them when ``panes`` is empty."""
    wanted = set(panes)
    if not wanted:
        return BUILTIN_MODULES
    unknown = wanted - set(PANE_IDS)
    if unknown:
        raise ValueError(f"unknown pane(s): {', '.join(sorted(unknown))}")
    return tuple(
        dict.fromkeys(
            module for pane in PANE_IDS if pane in wanted for module in PANE_MODULES.get(pane, ())
        )
    )


def load(panes: Iterable[str] = ()) -> Registry:
    """Register the checks and actions of ``panes`` (of every pane when empty), and of the
    checks they need; the registry may also hold those of panes loaded before."""
    for name in modules_for(panes):
        importlib.import_module(name)
    return registry
