"""Reading and safely rewriting ``KEY=value`` env files.

Parsing uses python-dotenv's own parser (the format the app itself reads). Rewriting keeps
every unrelated line and comment byte for byte, writes atomically (temp file, fsync,
rename), keeps the file's permission bits and owner, and leaves a timestamped backup first.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dotenv.parser import parse_stream


@dataclass(frozen=True)
class ParsedEnv:
    values: dict[str, str] = field(default_factory=dict)
    malformed_lines: tuple[int, ...] = ()


def parse_env_text(text: str) -> ParsedEnv:
    """Values by name (last one wins, like the app) and the 1-based numbers of bad lines."""
    values: dict[str, str] = {}
    malformed: list[int] = []
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            # The parser's chunk starts at any blank lines before the bad one: skip them.
            chunk = binding.original.string
            blank = chunk[: len(chunk) - len(chunk.lstrip())]
            malformed.append(binding.original.line + blank.count("\n"))
        elif binding.key is not None:
            values[binding.key] = binding.value or ""
    return ParsedEnv(values, tuple(malformed))


def format_assignment(name: str, value: str) -> str:
    """``NAME=value``, quoted only when the value needs it."""
    if value and all(ch.isalnum() or ch in "_-.:/@+=%,~" for ch in value):
        return f"{name}={value}"
    if "'" not in value:
        return f"{name}={shlex.quote(value)}"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'


def updated_text(text: str, updates: Mapping[str, str]) -> str:
    """``text`` with each name in ``updates`` set; new names are appended at the end."""
    # Every line of a duplicated name is rewritten: the app reads the last one, a person may
    # read the first, and both must say the same.
    remaining = dict(updates)
    pieces: list[str] = []
    for binding in parse_stream(io.StringIO(text)):
        original = binding.original.string
        key = binding.key
        if not binding.error and key is not None and key in updates:
            newline = "\n" if original.endswith("\n") else ""
            export = "export " if original.lstrip().startswith("export ") else ""
            assignment = format_assignment(key, updates[key])
            remaining.pop(key, None)
            pieces.append(export + assignment + newline)
        else:
            pieces.append(original)
    result = "".join(pieces)
    if remaining:
        if result and not result.endswith("\n"):
            result += "\n"
        result += "".join(format_assignment(k, v) + "\n" for k, v in remaining.items())
    return result


def backup_path_for(path: Path, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return path.with_name(f"{path.name}.{stamp}.bak")


def atomic_write(path: Path, text: str, *, backup: bool = True) -> Path | None:
    """Replace ``path`` with ``text`` atomically; returns the backup's path when one was made.

    The new file gets the old file's mode and owner (0600 for a new file, since env files
    hold secrets). The backup is written the same careful way, but private (at most 0600):
    it holds the old secrets long after anyone looks at it. A symlink is followed, so the
    file it points to is the one updated, and the link stays a link.
    """
    path = path.resolve()
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    mode = (st.st_mode & 0o777) if st else 0o600
    saved: Path | None = None
    if backup and st is not None:
        saved = backup_path_for(path)
        _write_replace(saved, path.read_bytes(), mode & 0o600, st)
    _write_replace(path, text.encode("utf-8"), mode, st)
    return saved


def _write_replace(path: Path, data: bytes, mode: int, owner: os.stat_result | None) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            if owner is not None and os.geteuid() == 0:
                os.fchown(handle.fileno(), owner.st_uid, owner.st_gid)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # The rename is only durable once the directory entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def set_values(path: Path, updates: Mapping[str, str]) -> Path | None:
    """Set variables in an env file in place (atomically, with a backup)."""
    text = path.read_text(encoding="utf-8")
    return atomic_write(path, updated_text(text, updates))
