"""Security pane: the checklist's security items, checked against the running app over HTTPS,
its repository and its keys; the items no program can judge are a person's signed-off checks.

Importing this package registers every check of the pane; each module listed in
:data:`MODULES` says which ids it registers.
"""

from __future__ import annotations

import importlib

PANE = "security"

# Registration order is the order a person reads the pane in: what the browser is told
# (headers, cookies, CORS), what the API enforces (rate limit, webhook signatures, token
# revocation), the keys, then the items a person signs off.
MODULES = (
    "headers",
    "cookies",
    "cors",
    "rate_limit",
    "webhook",
    "tokens",
    "encryption",
    "keys_in_code",
    "manual",
)

for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")
