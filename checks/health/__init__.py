"""Health pane: the running services' vital signs from the checklist's monitoring section."""

from checks.health import database, redis_cache

__all__ = ["database", "redis_cache"]
