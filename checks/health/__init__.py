"""Health pane: the running services' vital signs from the checklist's monitoring section,
and the deployed app's post-deployment health endpoints over HTTPS."""

from checks.health import api, database, redis_cache

__all__ = ["api", "database", "redis_cache"]
