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
    waiver: str = ""
    """Who accepted its result, until when and why ("" when it is not waived)."""


@dataclass
class RunningAction:
    """The fix in progress: the dashboard shows it, its elapsed time and its latest log line,
    until it ends."""

    action_id: str
    title: str
    dangerous: bool
    started: float  # time.monotonic()
    log_to: str  # the check whose log it writes to
    last_line: str = ""


@dataclass
class Board:
    specs: dict[str, CheckSpec]
    results: dict[str, CheckResult] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)
    logs: dict[str, list[str]] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)
    """Per check, the run (numbered in order of starting) whose state the board shows."""
    action: RunningAction | None = None

    @classmethod
    def for_specs(cls, specs: Iterable[CheckSpec]) -> Board:
        return cls({spec.id: spec for spec in specs})

    def _current(self, check_id: str, generation: int) -> bool:
        """Whether news from run ``generation`` is as new as what the board shows; an older
        run's late result (started before a fix, say) must not replace a newer one."""
        if generation < self.generations.get(check_id, 0):
            return False
        self.generations[check_id] = generation
        return True

    def start(self, check_id: str, generation: int = 0) -> bool:
        """Mark a check running; False (and nothing changes) for a stale run."""
        if not self._current(check_id, generation):
            return False
        self.running.add(check_id)
        return True

    def finish(self, result: CheckResult, generation: int = 0) -> bool:
        """Show ``result``; False (and nothing changes) when a newer run already reported."""
        if not self._current(result.id, generation):
            return False
        self.running.discard(result.id)
        self.results[result.id] = result
        return True

    def stop(self, check_id: str, generation: int = 0) -> None:
        """Run ``generation`` ended before ``check_id`` finished (cancelled or replaced)."""
        if self.generations.get(check_id, 0) == generation:
            self.running.discard(check_id)

    def log(self, source: str, line: str) -> None:
        lines = self.logs.setdefault(source, [])
        lines.append(line)
        if len(lines) > MAX_LOG_LINES:
            del lines[: len(lines) - MAX_LOG_LINES]

    def counts(self) -> dict[Status, int]:
        tally = Counter(r.status for r in self.results.values())
        return {status: tally.get(status, 0) for status in STATUS_ORDER}

    def waived(self) -> int:
        """How many of the results are waived (each is also counted under its status)."""
        return sum(1 for r in self.results.values() if r.waived)

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
            waiver=result.waiver if result else "",
        )


# Between a warning and a manual sign-off: what is still running deserves a look.
_UNDECIDED_RANK = (Status.WARN.rank + Status.MANUAL.rank) / 2


def _urgency(row: Row) -> float:
    # A check run again keeps its place until its new result comes: rows do not jump about
    # while a re-run is under way (and the table need not be laid out again).
    if row.status is None:
        return _UNDECIDED_RANK
    return row.status.rank


def _matches(row: Row, needle: str) -> bool:
    status = row.status.value if row.status else ""
    haystack = f"{row.id} {row.title} {status} {row.message}".casefold()
    return needle in haystack
