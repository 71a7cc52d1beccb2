"""The Environment pane: the deployment's env file, its values, its backup and the app's venv.

Importing this package registers every ``env.*`` check and action; each module listed in
:data:`MODULES` provides one area and says which ids it registers.
"""

from __future__ import annotations

import importlib

# Registration order is the order the pane and the reports list the checks: the file first,
# then its values group by group as the checklist has them, then rollback and dependencies.
MODULES = (
    "files",
    "required",
    "app",
    "signing",
    "database",
    "mail",
    "payments",
    "encryption",
    "storage",
    "realtime",
    "backup",
    "dependencies",
)

for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")
