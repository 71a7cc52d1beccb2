"""Rollback pane: what a release engineer needs to trust before undoing or redoing anything."""

from checks.rollback import interrupted

__all__ = ["interrupted"]
