"""Speed and memory figures for toolbox-tui, printed by ``make bench`` (never asserted)."""
