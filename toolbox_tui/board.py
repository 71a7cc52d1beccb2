"""What the dashboard knows about the checks: latest results, what is running, live logs.

Plain Python, no Textual: message handlers update the board, widgets render from it, and
tests can look at it directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from checks.core import STATUS_ORDER, CheckResult, CheckSpec, Status

MAX_LOG_LINES = 2000  # per check; a chatty check must not grow memory without bound


@dataclass(frozen=True)
class Row:
    """One line of a pane's table."""

    id: str
    title: str
    status: Status | None  # None: not run yet
    running: bool
    duration_ms: float | None
    message: str


@dataclass
class Board:
    specs: dict[str, CheckSpec]
    results: dict[str, CheckResult] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)
    logs: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def for_specs(cls, specs: Iterable[CheckSpec]) -> Board:
        return cls({spec.id: spec for spec in specs})

    def start(self, check_id: str) -> None:
        self.running.add(check_id)

    def finish(self, result: CheckResult) -> None:
        self.running.discard(result.id)
        self.results[result.id] = result

    def log(self, source: str, line: str) -> None:
        lines = self.logs.setdefault(source, [])
        lines.append(line)
        if len(lines) > MAX_LOG_LINES:
            del lines[: len(lines) - MAX_LOG_LINES]

    def counts(self) -> dict[Status, int]:
        tally = Counter(r.status for r in self.results.values())
        return {status: tally.get(status, 0) for status in STATUS_ORDER}

    def pane_status(self, pane: str) -> Status | None:
        """The worst status in ``pane``, or None when nothing there has finished."""
        statuses = [r.status for r in self.results.values() if r.pane == pane]
        return max(statuses, key=lambda s: s.rank) if statuses else None

    def rows(self, pane: str, needle: str = "") -> list[Row]:
        """A pane's rows, worst first, so failures show above the fold at 80x24.

        Ties keep registration order, so the table does not shuffle needlessly.
        """
        needle = needle.casefold()
        rows = [self._row(spec) for spec in self.specs.values() if spec.pane == pane]
        if needle:
            rows = [row for row in rows if _matches(row, needle)]
        return sorted(rows, key=_urgency, reverse=True)

    def _row(self, spec: CheckSpec) -> Row:
        result = self.results.get(spec.id)
        return Row(
            id=spec.id,
            title=spec.title,
            status=result.status if result else None,
            running=spec.id in self.running,
            duration_ms=result.duration_ms if result else None,
            message=result.message if result else "",
        )


# Between a warning and a manual sign-off: what is still running deserves a look.
_UNDECIDED_RANK = (Status.WARN.rank + Status.MANUAL.rank) / 2


def _urgency(row: Row) -> float:
    if row.running or row.status is None:
        return _UNDECIDED_RANK
    return row.status.rank


def _matches(row: Row, needle: str) -> bool:
    status = row.status.value if row.status else ""
    haystack = f"{row.id} {row.title} {status} {row.message}".casefold()
    return needle in haystack
