"""Finding PostgreSQL's client programs (pg_dump, psql) of a version that fits the server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


class ToolMissing(Exception):
    """The message names the program and how to install it."""


def find(program: str) -> str:
    """``program`` from TOOLBOX_PG_BIN, the newest /usr/lib/postgresql/*/bin, or PATH.

    The newest version first: pg_dump refuses servers newer than itself.
    """
    candidates: list[Path] = []
    if configured := os.environ.get("TOOLBOX_PG_BIN"):
        candidates.append(Path(configured) / program)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(v / program for v in versions)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which(program)
    if on_path:
        return on_path
    raise ToolMissing(
        f"{program} is not installed: apt-get install -y postgresql-client "
        "(or set TOOLBOX_PG_BIN to the directory that has it)."
    )
