"""The audit log: one JSON line per action attempt, whatever its outcome.

Lines are appended with ``O_APPEND`` in a single write, so concurrent runs never interleave
a record; the file is created 0600, and a symlink or anything but a regular file in its place
is refused, for reading as for writing (a FIFO there must not hang a run). Callers pass
already-redacted text.

An action that runs writes two records with the same ``run_id``: ``started`` before it does
anything, and its end (``ok``, ``failed``, ``refused``, ``cancelled``). A ``started`` record
with no end is a run that was killed outright (kill -9, power loss): :func:`unfinished` finds
them, so the next run can say so.

A runbook (:mod:`checks.runbooks`) journals its progress here too: its records carry the
runbook's id, the step and the release, and are appended with ``sync=True`` (fsynced before
``append`` returns), so that a power loss cannot lose a step that was done. The actions a
step runs are tagged with the same fields (:func:`tagged`).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import stat
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
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
    runbook: str = ""
    """The id of the runbook run this record belongs to ('' outside a runbook)."""
    step: str = ""
    """The runbook step ('' for a runbook-level record or outside a runbook)."""
    release: str = ""
    """The move the runbook makes, "v1.4.0 -> v1.5.0"."""
    fail_level: str = ""
    """A runbook-level ``started`` record: the fail level its gate and verify steps use."""


_TAGS: ContextVar[dict[str, str] | None] = ContextVar("audit_tags", default=None)


@contextlib.contextmanager
def tagged(*, runbook: str, step: str, release: str) -> Iterator[None]:
    """Records appended meanwhile (in this task) that do not say which runbook, step and
    release they belong to get these: the runbook step an action ran for."""
    token = _TAGS.set({"runbook": runbook, "step": step, "release": release})
    try:
        yield
    finally:
        _TAGS.reset(token)


def append(path: Path, record: AuditRecord, *, sync: bool = False) -> None:
    """Append ``record``; raises OSError when the log cannot be written. ``sync``: the record
    is on disk (fsynced) when this returns."""
    tags = _TAGS.get() or {}
    filled = AuditRecord(
        **{
            **asdict(record),
            "user": record.user or os_user(),
            "host": record.host or _host(),
            "pid": record.pid or os.getpid(),
            "runbook": record.runbook or tags.get("runbook", ""),
            "step": record.step or tags.get("step", ""),
            "release": record.release or tags.get("release", ""),
        }
    )
    line = json.dumps(asdict(filled), ensure_ascii=False) + "\n"
    fd = _open_for_append(path)
    try:
        os.write(fd, line.encode("utf-8"))
        if sync:
            os.fsync(fd)
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


MAX_READ_BYTES = 64 * 1024 * 1024
"""The largest audit log read back: ~150,000 records, years of fixes and sign-offs. A bigger
one is refused (archive it and start a new one), not read into memory."""


class AuditLogUnreadable(OSError):
    """The audit log is there but cannot be read back; ``str()`` says why, for a person."""


@dataclass(frozen=True)
class AuditLog:
    """What :func:`read_log` found: the records, and how many lines were not records."""

    records: list[AuditRecord]
    skipped: int = 0
    """Lines that are not a record (a torn write, a hand edit): left out, not fatal."""


def read(path: Path) -> list[AuditRecord]:
    """Every record (see :func:`read_log`); none when there is no log yet."""
    return read_log(path).records


def read_log(path: Path) -> AuditLog:
    """Every record of the log at ``path``, and how many lines were skipped as not records.

    Never blocks and never follows a symlink, as the writer does not: anything but a regular
    file (a FIFO, a device, a link) raises :class:`AuditLogUnreadable`, and so does a log over
    :data:`MAX_READ_BYTES`; other failures (permissions) are ``OSError``. No log is no records.
    """
    try:
        data = _read_regular(path)
    except FileNotFoundError:
        return AuditLog([])
    records: list[AuditRecord] = []
    skipped = 0
    for line in data.decode("utf-8", errors="replace").splitlines():
        record = _record(line)
        if record is not None:
            records.append(record)
        elif line.strip():
            skipped += 1
    return AuditLog(records, skipped)


def _read_regular(path: Path) -> bytes:
    # lstat first, so that a device is never even opened (opening some has effects); then
    # again on the descriptor, in case the path was swapped in between. O_NONBLOCK keeps that
    # open from hanging on a FIFO; O_NOFOLLOW refuses a link planted in the log's place.
    _refuse_irregular(os.lstat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        st = os.fstat(fd)
        _refuse_irregular(st.st_mode)
        if st.st_size > MAX_READ_BYTES:
            raise _too_large()
        chunks: list[bytes] = []
        size = 0
        # Never more than one byte past the limit, even if it grew since fstat.
        while chunk := os.read(fd, min(1024 * 1024, MAX_READ_BYTES + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_READ_BYTES:
                raise _too_large()
        return b"".join(chunks)
    finally:
        os.close(fd)


def _too_large() -> AuditLogUnreadable:
    return AuditLogUnreadable(
        f"it is larger than {MAX_READ_BYTES // (1024 * 1024)} MiB, the most read back: "
        "archive it (keep it: it records who did what) and start a new one"
    )


_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
)


def _refuse_irregular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "a device or a socket")
        raise AuditLogUnreadable(f"it is {kind}, not a regular file")


_FIELDS = frozenset(f.name for f in fields(AuditRecord))
# The fields that are not text; every other field of a record is a str.
_NOT_TEXT: dict[str, type] = {"dangerous": bool, "pid": int, "changes": list}


def _record(line: str) -> AuditRecord | None:
    """The record on ``line``, or None for a line that is not one: not JSON, not a JSON
    object (a hand-edited ``[1]``), a field missing or of the wrong type."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    known = {k: v for k, v in data.items() if k in _FIELDS}
    for name, value in known.items():
        wanted = _NOT_TEXT.get(name, str)
        # bool is an int to isinstance: a pid of true is not a pid.
        if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
            return None
        if isinstance(value, list) and not all(isinstance(item, str) for item in value):
            return None
    try:
        return AuditRecord(**known)
    except TypeError:  # a required field is missing
        return None


def parse_at(raw: str) -> datetime | None:
    """A record's ``at`` as a time (UTC when it gives no offset), or None when it cannot be
    read (a hand edit)."""
    try:
        moment = datetime.fromisoformat(raw)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def endings(records: list[AuditRecord]) -> list[AuditRecord]:
    """The records that say how an attempt ended (every record but ``started``)."""
    return [r for r in records if r.outcome != STARTED]


def unfinished(records: list[AuditRecord]) -> list[AuditRecord]:
    """``started`` records whose run never wrote its end: the process died mid-action.

    A runbook's own ``started`` (``runbook`` set, ``step`` empty) is not one: a runbook waits
    between steps for as long as a person likes, and its steps' records say whether one was
    cut off."""
    ended = {r.run_id for r in records if r.run_id and r.outcome != STARTED}
    return [
        r
        for r in records
        if r.outcome == STARTED and r.run_id not in ended and not (r.runbook and not r.step)
    ]


def os_user() -> str:
    """The name of the user this process runs as (``uid 1000`` when it has none: a container
    without a passwd entry): who an audit record or a sign-off says did it."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _host() -> str:
    return socket.gethostname()
