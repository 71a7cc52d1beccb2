"""Watch mode's model: each check's recent statuses, run after run, and the status to show.

Watch mode re-runs checks every TOOLBOX_WATCH_INTERVAL seconds (the checklist's "Monitor all
metrics" on day 5). A single failure there is often a blip (a deploy restarting a service, a
slow answer), so the status shown is debounced: a FAIL or ERROR shows as a warning, "failing
1/3", until TOOLBOX_WATCH_DEBOUNCE failures in a row; only then does it show red. One result
that is not a failure clears it.

Watch never runs a check that writes to the app (:func:`watched` leaves those out) and
turns off the settings that would repeat a failed login (:func:`for_watch`).

Pure logic: no clock (callers pass the time), no I/O, no Textual. The headless
``toolbox-tui watch`` (:mod:`toolbox_tui.watching`) and the dashboard's ``w``
(:mod:`toolbox_tui.watch_mode`) both feed it finished :class:`CheckResult` s.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from checks.core import STATUS_ORDER, CheckResult, CheckSpec, Status, pane_rank

if TYPE_CHECKING:
    from checks.context import CheckContext

KEEP = 20
"""Statuses remembered per check: enough for a trend, bounded for a watch left on for days."""
TREND_WIDTH = 10
"""Marks in a trend by default: fits an 80-column line beside the id and the message."""
FAILURES = frozenset({Status.FAIL, Status.ERROR})
"""What counts towards the debounce: a verdict of failure, or no verdict at all."""
FAILING = "failing"
"""The word for a failure not yet confirmed, in counts and labels ("2 failing")."""

NOT_REPEATED: Mapping[str, object] = {"rate_limit_probe": False}
"""Settings watch mode turns off, whatever they say: with TOOLBOX_RATE_LIMIT_PROBE a run sends
failed logins (sec.cookies asks the login's cookies with one), and repeating that every
interval would lock this host out of the login (or page someone). Watch only looks; it never
repeats what a person opted into once."""


def for_watch(ctx: CheckContext) -> CheckContext:
    """``ctx`` with the settings of :data:`NOT_REPEATED` turned off, for a watch run."""
    # model_copy(update=...) skips validation: these values are valid by construction.
    return replace(ctx, config=ctx.config.model_copy(update=dict(NOT_REPEATED)))


@dataclass(frozen=True)
class Watched:
    """The checks a watch runs, and those it leaves out."""

    specs: list[CheckSpec]
    writing: list[CheckSpec]
    """Checks that write to the app (``writes=True``: a test record, a token, failed logins):
    repeated every interval, they would fill the app with test data or lock the login."""
    needing: list[CheckSpec]
    """Checks that need one of :attr:`writing`: without it they would run unguarded."""

    @property
    def left_out(self) -> list[CheckSpec]:
        return [*self.writing, *self.needing]

    def text(self) -> str:
        """``not watched: 5 checks that write to the app (smoke.upload-init, ...)``, or ''."""
        if not self.writing:
            return ""
        ids = ", ".join(spec.id for spec in self.writing)
        text = f"not watched: {_that(len(self.writing), 'write')} to the app ({ids})"
        if self.needing:
            ids = ", ".join(spec.id for spec in self.needing)
            them = "it" if len(self.writing) == 1 else "them"
            text += f", and {_that(len(self.needing), 'need')} {them} ({ids})"
        return text


def watched(specs: Iterable[CheckSpec]) -> Watched:
    """``specs`` less the checks that write to the app and those that need them: watch never
    runs those (``toolbox-tui check`` runs them once, when a person asks)."""
    specs = list(specs)
    writing = [spec for spec in specs if spec.writes]
    out = {spec.id for spec in writing}
    needing: list[CheckSpec] = []
    grew = True
    while grew:  # a check that needs one that needs a writing check is left out too
        grew = False
        for spec in specs:
            if spec.id not in out and out.intersection(spec.needs):
                out.add(spec.id)
                needing.append(spec)
                grew = True
    return Watched([spec for spec in specs if spec.id not in out], writing, needing)


def _that(n: int, verb: str) -> str:
    """``1 check that writes``, ``5 checks that write``."""
    return f"1 check that {verb}s" if n == 1 else f"{n} checks that {verb}"


@dataclass(frozen=True)
class Glyphs:
    """One mark per status for a trend, and one for a run that has not happened yet."""

    marks: Mapping[Status, str]
    none: str

    def mark(self, status: Status | None) -> str:
        return self.none if status is None else self.marks[status]


# One cell each, and a different shape per status, so a trend reads without colour. The
# dashboard shows a check not run yet as "·", which is also a trend's "no run yet".
UNICODE = Glyphs(
    {
        Status.PASS: "✓",
        Status.WARN: "!",
        Status.FAIL: "✗",
        Status.ERROR: "?",  # could not decide
        Status.SKIP: "-",
        Status.MANUAL: "m",
    },
    none="·",
)
ASCII = Glyphs({**UNICODE.marks, Status.PASS: "+", Status.FAIL: "X"}, none=".")
"""For a terminal or log that cannot take the marks above (LANG=C over SSH, say)."""


def glyphs_for(encoding: str | None) -> Glyphs:
    """:data:`UNICODE` when ``encoding`` (a stream's) can write its marks, else :data:`ASCII`."""
    text = "".join(UNICODE.marks.values()) + UNICODE.none
    try:
        text.encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return ASCII
    return UNICODE


@dataclass(frozen=True)
class Shown:
    """A check's debounced state: what watch mode shows for it."""

    status: Status
    failing: int = 0
    """Failures in a row not yet confirmed: shown as a warning, "failing 1/3". 0 otherwise."""

    @property
    def pending(self) -> bool:
        return self.failing > 0

    def label(self, debounce: int) -> str:
        """``fail``, ``pass``... or ``failing 1/3``."""
        return f"{FAILING} {self.failing}/{debounce}" if self.pending else self.status.value


@dataclass
class Trend:
    """What watch mode remembers of one check."""

    check_id: str
    keep: int = KEEP
    history: deque[Status] = field(init=False)
    """The last ``keep`` statuses as the checks reported them (not debounced), oldest first."""
    runs: int = 0
    """Results seen since watching began (the history keeps only the last ``keep``)."""
    counts: Counter[Status] = field(default_factory=Counter)
    """Results per status since watching began."""
    streak: int = 0
    """Failures (FAIL or ERROR) in a row, up to the latest result."""
    shown: Shown | None = None
    changed_at: datetime | None = None
    """When :attr:`shown` last changed (the first result counts as a change)."""
    last: CheckResult | None = None
    """The latest result, as the check reported it."""

    def __post_init__(self) -> None:
        self.history = deque(maxlen=self.keep)

    def text(self, width: int = TREND_WIDTH, glyphs: Glyphs = UNICODE) -> str:
        """The last ``width`` statuses as marks, newest on the right, padded on the left with
        :attr:`Glyphs.none` for the runs not made yet: ``·····✓✓✗✗✗``."""
        recent = list(self.history)[-width:] if width > 0 else []
        return glyphs.none * (width - len(recent)) + "".join(glyphs.mark(s) for s in recent)


@dataclass(frozen=True)
class Change:
    """A check's debounced state changed (or was first seen) with ``result``."""

    check_id: str
    before: Shown | None
    after: Shown
    result: CheckResult
    at: datetime
    streak: int
    """Failures in a row with this result (0 when it is not a failure)."""
    streak_before: int
    """Failures in a row before it: how long a recovered check had been failing."""
    debounce: int

    def describe(self) -> str:
        """The change in words, then the check's own message."""
        message = " ".join(self.result.message.split())
        if self.after.pending:
            label = self.after.label(self.debounce)
            return f"{label} (FAIL after {self.debounce} in a row): {message}"
        if self.after.status in FAILURES and self.debounce > 1:
            return f"{self.streak} failures in a row: {message}"
        if self.streak_before and self.before is not None:
            failures = "failure" if self.streak_before == 1 else "failures in a row"
            return f"no longer failing, after {self.streak_before} {failures}: {message}"
        return message


class Watch:
    """Every watched check's :class:`Trend`, fed one result (or one run) at a time."""

    def __init__(self, debounce: int, keep: int = KEEP) -> None:
        if debounce < 1:
            raise ValueError("debounce must be at least 1 failure")
        if keep < 1:
            raise ValueError("keep must be at least 1 status")
        self.debounce = debounce
        self.keep = keep
        self.trends: dict[str, Trend] = {}
        self.runs = 0
        """Whole runs recorded with :meth:`record_run`."""

    def observe(self, result: CheckResult, at: datetime) -> Change | None:
        """Take one finished result; the change of the check's debounced state, if any."""
        trend = self.trends.get(result.id)
        if trend is None:
            trend = self.trends[result.id] = Trend(result.id, self.keep)
        streak_before = trend.streak
        trend.history.append(result.status)
        trend.runs += 1
        trend.counts[result.status] += 1
        trend.last = result
        if result.status in FAILURES:
            trend.streak += 1
            confirmed = trend.streak >= self.debounce
            shown = Shown(result.status) if confirmed else Shown(Status.WARN, trend.streak)
        else:
            trend.streak = 0  # one result that is not a failure clears it
            shown = Shown(result.status)
        before = trend.shown
        if shown == before:
            return None
        trend.shown = shown
        trend.changed_at = at
        return Change(
            result.id, before, shown, result, at, trend.streak, streak_before, self.debounce
        )

    def record_run(self, results: Iterable[CheckResult], at: datetime) -> list[Change]:
        """Take a whole run's results; the changes, in pane order, then by id."""
        self.runs += 1
        changes = [c for r in results if (c := self.observe(r, at)) is not None]
        return sorted(changes, key=lambda c: (pane_rank(c.result.pane), c.check_id))

    def shown_result(self, check_id: str) -> CheckResult:
        """The latest result of ``check_id`` as watch mode shows it: a failure not yet
        confirmed becomes a warning saying "failing 1/3"; anything else is unchanged."""
        trend = self.trends[check_id]
        assert trend.last is not None and trend.shown is not None  # set by observe()
        result, shown = trend.last, trend.shown
        if not shown.pending:
            return result
        rule = (
            f"Watch shows it red after {self.debounce} failures in a row (TOOLBOX_WATCH_DEBOUNCE)."
        )
        hint = f"{result.hint} {rule}" if result.hint else rule
        return replace(
            result,
            status=Status.WARN,
            message=f"{shown.label(self.debounce)}: {result.message}",
            hint=hint,
        )

    def shown_results(self) -> list[CheckResult]:
        """Every watched check's :meth:`shown_result`, in the order first seen."""
        return [self.shown_result(check_id) for check_id in self.trends]

    def tally(self) -> dict[str, int]:
        """Checks per debounced state, worst first, failures not yet confirmed apart as
        ``failing`` (just above ``warn``); states no check is in are left out."""
        counts = Counter(
            FAILING if t.shown.pending else t.shown.status.value
            for t in self.trends.values()
            if t.shown is not None
        )
        order = [s.value for s in STATUS_ORDER]
        order.insert(order.index(Status.WARN.value), FAILING)
        return {state: counts[state] for state in order if counts[state]}


def tally_text(tally: Mapping[str, int]) -> str:
    """``1 fail, 2 failing, 38 pass``, or ``nothing yet``."""
    return ", ".join(f"{n} {state}" for state, n in tally.items()) or "nothing yet"
