"""The Integrations pane: the services the app talks to, contacted live through their SDKs.

Importing this package registers every check and action of the pane; each module listed in
:data:`MODULES` provides one service and says which ids it registers.
"""

from __future__ import annotations

import importlib

PANE = "integrations"

# Registration order is the checklist's: email first, Vault last.
MODULES = (
    "email",
    "stripe_account",
    "stripe_webhook",
    "storage_checks",
    "pusher_checks",
    "vault",
    "vault_backup",
    "rotation_workflow",
)

for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")
