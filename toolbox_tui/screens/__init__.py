"""Screens pushed over the dashboard: check detail, typed confirmation, action picker, help."""
