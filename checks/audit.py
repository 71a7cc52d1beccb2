"""The audit log: one JSON line per action attempt, whatever its outcome.

Lines are appended with ``O_APPEND`` in a single write, so concurrent runs never interleave
a record; the file is created 0600. Callers pass already-redacted text.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class AuditRecord:
    at: str
    action: str
    outcome: str  # "ok", "failed", "refused", "dry-run"
    message: str
    dangerous: bool
    env_file: str
    user: str = ""
    host: str = ""


def append(path: Path, record: AuditRecord) -> None:
    """Append ``record``; raises OSError when the log cannot be written."""
    filled = AuditRecord(
        **{**asdict(record), "user": record.user or _user(), "host": record.host or _host()}
    )
    line = json.dumps(asdict(filled), ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def ensure_writable(path: Path) -> None:
    """Raise OSError now, before an action runs, if its record could not be written later."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))


def read(path: Path) -> list[AuditRecord]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [AuditRecord(**json.loads(line)) for line in lines if line.strip()]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _host() -> str:
    return socket.gethostname()
