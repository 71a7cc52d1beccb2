"""What this run of toolbox-tui has done so far, for actions that depend on each other.

The database upgrade, for one, refuses to run unless a backup was taken in this session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Session:
    backups: list[Path] = field(default_factory=list)
