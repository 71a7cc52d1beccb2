"""Migrations pane: the checklist's "Database Migrations" section against the real database."""

from checks.migrations import actions, backup_state, schema, state

__all__ = ["actions", "backup_state", "schema", "state"]
