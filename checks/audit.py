"""The audit log: one JSON line per action attempt, whatever its outcome.

Lines are appended with ``O_APPEND`` in a single write, so concurrent runs never interleave
a record; the file is created 0600, and a symlink or anything but a regular file in its place
is refused. Callers pass already-redacted text.

An action that runs writes two records with the same ``run_id``: ``started`` before it does
anything, and its end (``ok``, ``failed``, ``refused``, ``cancelled``). A ``started`` record
with no end is a run that was killed outright (kill -9, power loss): :func:`unfinished` finds
them, so the next run can say so.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import stat
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

STARTED = "started"
ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True)
class AuditRecord:
    at: str
    action: str
    outcome: str  # "started", "ok", "failed", "refused", "cancelled", "acknowledged"
    message: str
    dangerous: bool
    env_file: str
    user: str = ""
    host: str = ""
    run_id: str = ""
    plan: str = ""
    """The digest of the plan as it was shown (see ``checks.core.Plan.digest``)."""
    changes: list[str] = field(default_factory=list)
    pid: int = 0


def append(path: Path, record: AuditRecord) -> None:
    """Append ``record``; raises OSError when the log cannot be written."""
    filled = AuditRecord(
        **{
            **asdict(record),
            "user": record.user or _user(),
            "host": record.host or _host(),
            "pid": record.pid or os.getpid(),
        }
    )
    line = json.dumps(asdict(filled), ensure_ascii=False) + "\n"
    fd = _open_for_append(path)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def ensure_writable(path: Path) -> None:
    """Raise OSError now, before an action runs, if its record could not be written later."""
    os.close(_open_for_append(path))


def _open_for_append(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW: a link planted where the log goes must not make root append elsewhere.
    fd = os.open(
        path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600
    )
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    return fd


def read(path: Path) -> list[AuditRecord]:
    """Every record; a line that is not a record (a torn write, a hand edit) is skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    known = {f.name for f in fields(AuditRecord)}
    records = []
    for line in text.splitlines():
        try:
            data = json.loads(line)
            records.append(AuditRecord(**{k: v for k, v in data.items() if k in known}))
        except (ValueError, TypeError):
            continue
    return records


def endings(records: list[AuditRecord]) -> list[AuditRecord]:
    """The records that say how an attempt ended (every record but ``started``)."""
    return [r for r in records if r.outcome != STARTED]


def unfinished(records: list[AuditRecord]) -> list[AuditRecord]:
    """``started`` records whose run never wrote its end: the process died mid-action."""
    ended = {r.run_id for r in records if r.run_id and r.outcome != STARTED}
    return [r for r in records if r.outcome == STARTED and r.run_id not in ended]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _host() -> str:
    return socket.gethostname()
