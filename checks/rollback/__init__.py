"""Rollback pane: what a release engineer needs to trust before undoing or redoing anything.

Importing this package registers the pane's checks and actions: the code and its previous
release, the dependencies, the database's downgrades and backup, the env file's backup, the
services, fixes that never finished, and the waivers.
"""

from checks.rollback import (
    code,
    database,
    dependencies,
    env_restore,
    interrupted,
    services,
    waivers_check,
)

__all__ = [
    "code",
    "database",
    "dependencies",
    "env_restore",
    "interrupted",
    "services",
    "waivers_check",
]
