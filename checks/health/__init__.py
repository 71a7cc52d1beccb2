"""Health pane: the running services' vital signs from the checklist's monitoring section,
and the deployed app's post-deployment health endpoints over HTTPS.

Importing this package registers every check and action of the pane; each module listed in
:data:`MODULES` says which ids it registers.
"""

from __future__ import annotations

import importlib

PANE = "health"

# Registration order is the order a person reads the pane in: the app's endpoints and how
# fast and how safely it answers, the database and Redis behind it, the services and the
# host, then the feature smoke tests that write to the app.
MODULES = (
    "api",
    "latency",
    "certificate",
    "database",
    "redis_cache",
    "services",
    "disk",
    "logs",
    "smoke",
)

for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")
