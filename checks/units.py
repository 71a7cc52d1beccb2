"""Quantities as a person reads them, for any pane's messages: :func:`size_text` (bytes)."""

from __future__ import annotations


def size_text(count: int) -> str:
    """``3.5 GiB``: a byte count as a person reads it (binary units, one decimal)."""
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
