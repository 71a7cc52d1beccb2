"""Widgets of the dashboard; each only renders what it is given."""
