"""The audit log as people read it: what ``toolbox-tui audit`` prints and the release report's
timeline are made of.

Provides :class:`Entry` (one record, its time read) and :func:`read_entries`, which reads the
log without blocking (:func:`checks.audit.read_log`) and turns what goes wrong into a sentence,
never an exception. ``--since`` is read by :mod:`toolbox_tui.since`. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from checks import audit
from checks.audit import AuditRecord, parse_at


@dataclass(frozen=True)
class Entry:
    """One audit record as shown: its time read, who did it, and the runbook it was part of."""

    at: datetime | None
    raw_at: str
    action: str
    outcome: str
    who: str
    message: str
    runbook: str = ""
    step: str = ""
    release: str = ""

    @classmethod
    def of(cls, record: AuditRecord) -> Entry:
        who = f"{record.user}@{record.host}" if record.host else record.user
        return cls(
            at=parse_at(record.at),
            raw_at=record.at,
            action=record.action,
            outcome=record.outcome,
            who=who,
            message=record.message,
            runbook=record.runbook,
            step=record.step,
            release=record.release,
        )

    @property
    def when(self) -> str:
        """``2026-11-28 14:03:07`` (UTC), or the record's own text when it cannot be read."""
        if self.at is None:
            return self.raw_at or "(no time)"
        return self.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    @property
    def what(self) -> str:
        """``db.upgrade``, or ``runbook.release/migrations`` for a runbook step."""
        return f"{self.action}/{self.step}" if self.step else self.action

    def line(self) -> str:
        """One line of ``toolbox-tui audit``: time, outcome, action/step, user@host, message."""
        text = f"{self.when}  {self.outcome:<12} {self.what:<30} {self.who}  {self.message}"
        return " ".join(text.split("\n"))


@dataclass(frozen=True)
class AuditEntries:
    """The log's records in time order, and what could not be read of it."""

    path: Path
    entries: list[Entry]
    skipped: int = 0
    """Lines that are not records (a torn write, a hand edit)."""
    problem: str = ""
    """Why the log could not be read at all ("" when it could, or is simply not there yet)."""
    records: list[AuditRecord] = field(default_factory=list)
    """The records as read, in the order they were written (what the checks go by)."""

    def since(self, start: datetime | None) -> list[Entry]:
        """The entries at or after ``start`` (all when None); one whose time cannot be read
        is kept only when there is no ``start`` to compare with."""
        if start is None:
            return list(self.entries)
        return [e for e in self.entries if e.at is not None and e.at >= start]

    def notes(self) -> list[str]:
        """What a reader must know about the log itself, one sentence each."""
        notes = [self.problem] if self.problem else []
        if self.skipped:
            lines = "line is" if self.skipped == 1 else "lines are"
            notes.append(
                f"{self.skipped} {lines} not a record (a torn write or a hand edit) and left out"
            )
        return notes


def read_entries(path: Path) -> AuditEntries:
    """Every record of the audit log at ``path``, in time order (a record whose time cannot be
    read stays where it was written); never raises."""
    try:
        log = audit.read_log(path)
    except OSError as exc:
        why = str(exc) if isinstance(exc, audit.AuditLogUnreadable) else exc.strerror or str(exc)
        return AuditEntries(
            path,
            [],
            problem=f"the audit log {path} cannot be read ({why}); point TOOLBOX_AUDIT_LOG "
            "(--audit-log) at a regular file this user may read",
        )
    entries = [Entry.of(record) for record in log.records]
    return AuditEntries(path, _time_ordered(entries), log.skipped, records=log.records)


def _time_ordered(entries: list[Entry]) -> list[Entry]:
    # Appended in time order already, mostly; hosts' clocks and concurrent runs may disagree a
    # little. A stable sort on the times that can be read keeps the others in place.
    dated = sorted((e for e in entries if e.at is not None), key=lambda e: e.at or _EPOCH)
    out: list[Entry] = []
    it = iter(dated)
    for entry in entries:
        out.append(entry if entry.at is None else next(it))
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
