"""Imports every built-in check module so their ``@check`` / ``@action`` decorators register.

Front ends call :func:`load` once; adding a module here is all it takes for its checks to
appear in the dashboard, the CLI and the README's catalogue.
"""

from __future__ import annotations

import importlib

from checks.core import Registry, registry

BUILTIN_MODULES = (
    "checks.environment",
    "checks.migrations",
    "checks.health",
    "checks.rollback",
)


def load() -> Registry:
    for name in BUILTIN_MODULES:
        importlib.import_module(name)
    return registry
