"""Migrations pane: the checklist's "Database Migrations" section against the real database."""

from checks.migrations import actions, schema, state

__all__ = ["actions", "schema", "state"]
