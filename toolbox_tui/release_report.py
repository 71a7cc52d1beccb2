"""The release report (``toolbox-tui report``, and ``p`` on the dashboard): ready to paste into
a release ticket.

Every check's final state pane by pane (with its waiver, if one applies), then what people
did about the release: the waivers in force, the manual sign-offs, the fixes run and the
runbook steps taken, and a timeline of the audit log. Markdown or JSON. Everything in it passes
the context's redactor, field by field and once more as a whole: no secret of the env file
reaches a ticket. Provides :func:`gather`, :func:`to_markdown` and :func:`to_json`. No Textual.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from checks.core import PANES, Status
from checks.verdicts import blocks
from toolbox_tui.audit_view import Entry, read_entries
from toolbox_tui.reporters import Report, document, md_cell, md_message, md_status
from toolbox_tui.since import Since

if TYPE_CHECKING:
    from checks.audit import AuditRecord
    from checks.config import ToolboxConfig
    from checks.context import CheckContext
    from checks.core import Registry
    from checks.signoffs import SignOff

RELEASE_REPORT_VERSION = 1
REPORT_MODE = 0o600
"""A report file's permissions: it quotes the audit log (who did what, and when), so it is
for its reader only (``toolbox-tui report --output`` and the dashboard's ``p``)."""
MAX_TIMELINE = 200
"""The newest records the timeline keeps; ``toolbox-tui audit`` shows them all."""
RUNBOOK_PREFIX = "runbook."
DEFAULT_SINCE = Since(span=timedelta(days=7), text="7d")
"""How far back the report reads the audit log unless ``--since`` says."""


@dataclass(frozen=True)
class WaiverRow:
    check: str
    by: str
    expires: str
    reason: str
    state: str  # "active", "expired", "no such check"


@dataclass(frozen=True)
class SignOffRow:
    check: str
    by: str
    at: datetime
    until: datetime
    note: str
    counts: bool


@dataclass
class ReleaseReport:
    generated_at: datetime
    app_dir: str
    checks: Report
    since: datetime | None
    waiver_file: str
    waivers: list[WaiverRow] = field(default_factory=list)
    waiver_problems: list[str] = field(default_factory=list)
    signoffs: list[SignOffRow] = field(default_factory=list)
    fixes: list[Entry] = field(default_factory=list)
    runbooks: list[Entry] = field(default_factory=list)
    timeline: list[Entry] = field(default_factory=list)
    timeline_left_out: int = 0
    audit_notes: list[str] = field(default_factory=list)

    @property
    def unwaived_failures(self) -> int:
        return sum(blocks(r) for r in self.checks.results)

    @property
    def verdict(self) -> str:
        return "ready" if self.unwaived_failures == 0 else "not ready"


async def build(
    ctx: CheckContext, checks: Report, registry: Registry, since: Since | None = None
) -> ReleaseReport:
    """The release report of ``checks``, with the audit log since ``since`` (7 days)."""
    start = (since or DEFAULT_SINCE).start(ctx.clock())
    return await gather(ctx, checks, start, registry.checks.keys())


async def gather(
    ctx: CheckContext, checks: Report, since: datetime | None, known_checks: Collection[str]
) -> ReleaseReport:
    """The report of ``checks`` (finished results) and of the audit log since ``since`` (all of
    it when None), redacted. ``known_checks``: every check id, to tell a mistyped waiver."""
    from checks import signoffs, waivers

    config = ctx.config
    now = ctx.clock()
    log = await asyncio.to_thread(read_entries, config.audit_path)
    found = await asyncio.to_thread(waivers.load, config.waivers_path)
    on = waivers.today(ctx)
    window = log.since(since)
    report = ReleaseReport(
        generated_at=now,
        app_dir=str(config.app_dir),
        checks=checks,
        since=since,
        waiver_file=str(found.path) if found.exists else "",
        waivers=[
            WaiverRow(
                w.check,
                w.by,
                w.expires.isoformat(),
                w.reason,
                "no such check"
                if w.check not in known_checks
                else ("active" if w.active(on) else "expired"),
            )
            for w in found.waivers
        ],
        waiver_problems=list(found.problems),
        signoffs=[
            SignOffRow(s.check_id, s.by, s.at, s.until, s.note, s.counts(now))
            for s in _newest_signoffs(log.records, config)
        ],
        fixes=[
            e
            for e in window
            if not e.action.startswith(RUNBOOK_PREFIX)
            and e.outcome not in ("started", signoffs.SIGNED_OFF)
        ],
        runbooks=[e for e in window if e.action.startswith(RUNBOOK_PREFIX)],
        timeline=window[-MAX_TIMELINE:],
        timeline_left_out=max(0, len(window) - MAX_TIMELINE),
        audit_notes=log.notes(),
    )
    return ctx.redactor.value(report)


def _newest_signoffs(records: Sequence[AuditRecord], config: ToolboxConfig) -> list[SignOff]:
    """The sign-off each manual check goes by (:func:`checks.signoffs.newest`), whenever it
    was made: a yearly penetration test's counts long after any report window."""
    from checks import signoffs

    signed = sorted({r.action for r in records if r.outcome == signoffs.SIGNED_OFF})
    found = (signoffs.newest(records, c, signoffs.lasts_days(c, config)) for c in signed)
    return [s for s in found if s is not None]


# -- Markdown ---------------------------------------------------------------------------------


Redact = Callable[[str], str]


def _same(text: str) -> str:
    return text


def to_markdown(report: ReleaseReport, redact: Redact = _same) -> str:
    """The report as Markdown; ``redact`` (the context's ``redactor.text``) passes over the
    whole once more, for what a field-by-field pass could miss."""
    out = ["# Release report", ""]
    since = f" Audit records since {_utc(report.since)}." if report.since else ""
    out.append(f"Generated {_utc(report.generated_at)} for `{report.app_dir}`.{since}")
    out.append("")
    out.append(_verdict_line(report))
    out.append(f"**{len(report.checks.results)} checks**: {report.checks.counts_text()}")
    for pane in PANES:
        results = [r for r in report.checks.ordered() if r.pane == pane.id]
        if not results:
            continue
        out += ["", f"## {pane.title}", "", "| status | check | message |", "| --- | --- | --- |"]
        out += [f"| {md_status(r)} | `{r.id}` | {md_cell(md_message(r))} |" for r in results]
    out += ["", "## Waivers", ""]
    out += _waivers_md(report)
    out += ["", "## Manual sign-offs", ""]
    out += _table(
        ("check", "by", "on", "until", "counts", "note"),
        [
            (f"`{s.check}`", s.by, _day(s.at), _day(s.until), "yes" if s.counts else "no", s.note)
            for s in report.signoffs
        ],
        "None recorded.",
    )
    out += ["", "## Fixes run", ""]
    out += _table(
        ("time (UTC)", "fix", "outcome", "by", "message"),
        [(e.when, f"`{e.action}`", e.outcome, e.who, e.message) for e in report.fixes],
        "None in this period.",
    )
    out += ["", "## Runbook steps", ""]
    out += _table(
        ("time (UTC)", "runbook", "release", "step", "outcome", "message"),
        [
            (e.when, f"`{e.action}`", e.release, e.step or "(runbook)", e.outcome, e.message)
            for e in report.runbooks
        ],
        "None in this period.",
    )
    out += ["", "## Timeline", ""]
    if report.timeline_left_out:
        out += [
            f"The {report.timeline_left_out} earlier records are left out; "
            "`toolbox-tui audit --since ...` shows every one.",
            "",
        ]
    out += [f"- {note[:1].upper()}{note[1:]}." for note in report.audit_notes]
    if report.audit_notes:
        out.append("")
    out += _table(
        ("time (UTC)", "outcome", "what", "by", "message"),
        [(e.when, e.outcome, f"`{e.what}`", e.who, e.message) for e in report.timeline],
        "No audit records in this period.",
    )
    return redact("\n".join(out) + "\n")


def _verdict_line(report: ReleaseReport) -> str:
    failing = report.unwaived_failures
    if failing:
        checks = "check fails" if failing == 1 else "checks fail"
        return f"**Not ready: {failing} {checks} or could not decide (not waived).**"
    warnings = sum(1 for r in report.checks.results if r.status is Status.WARN and not r.waived)
    also = f", {warnings} warning(s) to look at" if warnings else ""
    return f"**Ready: no check fails that is not waived{also}.**"


def _waivers_md(report: ReleaseReport) -> list[str]:
    out = []
    if report.waiver_problems:
        out.append("**The waiver file is invalid**; its malformed entries waive nothing:")
        out += [f"- {md_cell(problem)}" for problem in report.waiver_problems]
        out.append("")
    if not report.waiver_file:
        return [*out, "No waiver file."]
    out.append(f"From `{report.waiver_file}`:")
    out.append("")
    out += _table(
        ("check", "by", "until", "state", "reason"),
        [(f"`{w.check}`", w.by, w.expires, w.state, w.reason) for w in report.waivers],
        "No waivers in it.",
    )
    return out


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]], empty: str) -> list[str]:
    if not rows:
        return [empty]
    return [
        "| " + " | ".join(head) + " |",
        "| " + " | ".join("---" for _ in head) + " |",
        *("| " + " | ".join(md_cell(cell) for cell in row) + " |" for row in rows),
    ]


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


# -- JSON -------------------------------------------------------------------------------------


def to_json(report: ReleaseReport, redact: Redact = _same) -> str:
    """The report as JSON (``version`` 1); ``checks`` is ``check --format json``'s document."""

    def entries(items: list[Entry]) -> list[dict[str, str]]:
        return [
            {
                "at": e.at.isoformat(timespec="seconds") if e.at else e.raw_at,
                "action": e.action,
                "step": e.step,
                "runbook": e.runbook,
                "release": e.release,
                "outcome": e.outcome,
                "by": e.who,
                "message": e.message,
            }
            for e in items
        ]

    doc = {
        "version": RELEASE_REPORT_VERSION,
        "generated_at": report.generated_at.isoformat(timespec="seconds"),
        "app_dir": report.app_dir,
        "since": report.since.isoformat(timespec="seconds") if report.since else None,
        "verdict": report.verdict,
        "checks": document(report.checks),
        "waivers": {
            "file": report.waiver_file or None,
            "problems": report.waiver_problems,
            "entries": [asdict(w) for w in report.waivers],
        },
        "signoffs": [
            {
                "check": s.check,
                "by": s.by,
                "at": s.at.isoformat(timespec="seconds"),
                "until": s.until.isoformat(timespec="seconds"),
                "counts": s.counts,
                "note": s.note,
            }
            for s in report.signoffs
        ],
        "fixes": entries(report.fixes),
        "runbooks": entries(report.runbooks),
        "timeline": entries(report.timeline),
        "timeline_left_out": report.timeline_left_out,
        "audit_notes": report.audit_notes,
    }
    return redact(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


FORMATTERS: dict[str, Callable[[ReleaseReport, Redact], str]] = {
    "markdown": to_markdown,
    "json": to_json,
}
