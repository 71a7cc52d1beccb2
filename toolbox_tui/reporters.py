"""Headless reports: fold finished results into text, JSON, JUnit XML or Markdown.

Imports no Textual: ``toolbox-tui check`` uses only this and the engine. The JSON shape is a
public interface (CI scripts parse it); change it only by bumping ``REPORT_VERSION``.

A waived result (:mod:`checks.waivers`) keeps its status everywhere, says who accepted it and
until when, is counted apart as waived, and is left out of the exit code (JUnit lists it as
skipped, so CI viewers agree with the exit code).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from checks.core import PANE_IDS, PANES, STATUS_ORDER, CheckResult, Status
from checks.verdicts import blocks

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

REPORT_VERSION = 2  # 2: "waived" (a count) and each result's "waiver"

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_WARNINGS = 4
EXIT_INTERRUPTED = 130  # the shell's convention for Ctrl-C

STATUS_LABELS: dict[Status, str] = {
    Status.PASS: "PASS",
    Status.WARN: "WARN",
    Status.FAIL: "FAIL",
    Status.ERROR: "ERROR",
    Status.SKIP: "SKIP",
    Status.MANUAL: "MANUAL",
}


@dataclass
class Report:
    """The results of one run, in pane order, with when it started and how long it took."""

    results: list[CheckResult] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    duration_ms: float = 0.0
    setup_ms: dict[str, float] = field(default_factory=dict)
    """What it cost before the first check started: ``start`` (loading the tool, its checks
    and its settings) and ``env_file`` (reading the env file and learning its secrets)."""

    def ordered(self) -> list[CheckResult]:
        pane_rank = {pane: i for i, pane in enumerate(PANE_IDS)}
        return sorted(self.results, key=lambda r: (pane_rank.get(r.pane, 99), r.id))

    def summary(self) -> dict[str, int]:
        counts = Counter(r.status for r in self.results)
        return {status.value: counts.get(status, 0) for status in STATUS_ORDER}

    def waived(self) -> int:
        return sum(1 for r in self.results if r.waived)

    def counts_text(self) -> str:
        """``2 fail, 30 pass; 1 waived``, or ``none``."""
        counts = ", ".join(f"{n} {status}" for status, n in self.summary().items() if n)
        waived = f"; {self.waived()} waived" if self.waived() else ""
        return (counts or "none") + waived

    def exit_code(self, fail_level: str = "fail") -> int:
        """0, or 3 for a failure or error, or 4 for a warning with ``fail_level`` warn; a
        waived result counts for nothing."""
        if any(blocks(r, "fail") for r in self.results):
            return EXIT_FAILED
        if fail_level == "warn" and any(blocks(r, "warn") for r in self.results):
            return EXIT_WARNINGS
        return EXIT_OK


def to_text(report: Report) -> str:
    lines: list[str] = []
    by_pane = {pane.id: pane.title for pane in PANES}
    current = None
    for result in report.ordered():
        if result.pane != current:
            current = result.pane
            if lines:
                lines.append("")
            lines.append(by_pane.get(result.pane, result.pane))
        lines.append(f"  {STATUS_LABELS[result.status]:<6} {result.id:<28} {result.message}")
        if result.hint and result.status not in (Status.PASS, Status.SKIP):
            lines.append(f"  {'':<6} {'':<28} hint: {result.hint}")
        if result.actions and result.status not in (Status.PASS,):
            lines.append(f"  {'':<6} {'':<28} fix:  toolbox-tui fix {' | '.join(result.actions)}")
        if result.waived:
            lines.append(f"  {'':<6} {'':<28} waived {result.waiver}")
    lines.append("")
    lines.append(
        f"{len(report.results)} checks in {report.duration_ms / 1000:.1f} s: "
        f"{report.counts_text()}" + _setup_note(report)
    )
    return "\n".join(lines) + "\n"


_SETUP_WORDS = {"start": "starting", "env_file": "reading the env file"}


def _setup_note(report: Report) -> str:
    """`` (before them: 0.2 s starting, 0.01 s reading the env file)``, or ""."""
    parts = [
        f"{ms / 1000:.2f} s {_SETUP_WORDS.get(name, name)}" for name, ms in report.setup_ms.items()
    ]
    return f" (before them: {', '.join(parts)})" if parts else ""


def to_json(report: Report) -> str:
    import json  # here, as JUnit's below: the dashboard imports this module, never JSON

    return json.dumps(document(report), indent=2, ensure_ascii=False) + "\n"


def document(report: Report) -> dict[str, object]:
    """The JSON report as a dict (the release report embeds it)."""
    return {
        "version": REPORT_VERSION,
        "started_at": report.started_at.isoformat(timespec="seconds"),
        "duration_ms": round(report.duration_ms),
        "setup_ms": {name: round(ms) for name, ms in report.setup_ms.items()},
        "summary": report.summary(),
        "waived": report.waived(),
        "results": [
            {
                "id": r.id,
                "pane": r.pane,
                "title": r.title,
                "status": r.status.value,
                "message": r.message,
                "hint": r.hint,
                "evidence": dict(r.evidence),
                "duration_ms": round(r.duration_ms, 1),
                "actions": list(r.actions),
                "waiver": r.waiver,
            }
            for r in report.ordered()
        ],
    }


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """XML 1.0 cannot carry most control characters; a value from the env file might."""
    return _XML_ILLEGAL.sub("\ufffd", text)


def to_junit(report: Report) -> str:
    """One ``<testsuite>`` per pane, one ``<testcase>`` per check (fail/error/skip as such)."""
    # Imported here: every command, the dashboard too, imports this module; JUnit is rare.
    import xml.etree.ElementTree as ET

    counted = Counter(r.status for r in report.results if not r.waived)
    root = ET.Element(
        "testsuites",
        name="toolbox-tui",
        tests=str(len(report.results)),
        failures=str(counted[Status.FAIL]),
        errors=str(counted[Status.ERROR]),
        time=f"{report.duration_ms / 1000:.3f}",
    )
    for pane in PANES:
        results = [r for r in report.ordered() if r.pane == pane.id]
        if not results:
            continue
        counts = Counter(r.status for r in results if not r.waived)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=pane.title,
            tests=str(len(results)),
            failures=str(counts[Status.FAIL]),
            errors=str(counts[Status.ERROR]),
            skipped=str(
                counts[Status.SKIP] + counts[Status.MANUAL] + sum(r.waived for r in results)
            ),
            timestamp=report.started_at.isoformat(timespec="seconds"),
            time=f"{sum(r.duration_ms for r in results) / 1000:.3f}",
        )
        for result in results:
            _add_testcase(suite, result)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _add_testcase(suite: ET.Element, result: CheckResult) -> None:
    import xml.etree.ElementTree as ET

    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"toolbox.{result.pane}",
        name=result.id,
        time=f"{result.duration_ms / 1000:.3f}",
    )
    details = _details(result)
    message = _xml_safe(result.message)
    if result.waived and result.status is not Status.PASS:
        waived = f"waived {result.waiver} ({result.status.value}: {result.message})"
        ET.SubElement(case, "skipped", message=_xml_safe(waived)).text = details
    elif result.status is Status.FAIL:
        ET.SubElement(case, "failure", message=message, type="fail").text = details
    elif result.status is Status.ERROR:
        ET.SubElement(case, "error", message=message, type="error").text = details
    elif result.status in (Status.SKIP, Status.MANUAL):
        ET.SubElement(case, "skipped", message=f"{result.status.value}: {message}")
    elif result.status is Status.WARN:
        ET.SubElement(case, "system-out").text = f"WARNING: {details}"


def _details(result: CheckResult) -> str:
    parts = [result.message]
    if result.hint:
        parts.append(f"hint: {result.hint}")
    parts.extend(f"{key}: {value}" for key, value in result.evidence.items())
    if result.actions:
        parts.append("fix: " + ", ".join(result.actions))
    if result.waived:
        parts.append(f"waived {result.waiver}")
    return _xml_safe("\n".join(parts))


def to_markdown(report: Report) -> str:
    rows = [
        "| status | check | message |",
        "| --- | --- | --- |",
        *(f"| {md_status(r)} | `{r.id}` | {md_cell(md_message(r))} |" for r in report.ordered()),
    ]
    return f"**{len(report.results)} checks**: {report.counts_text()}\n\n" + "\n".join(rows) + "\n"


def md_status(result: CheckResult) -> str:
    """``FAIL``, or ``FAIL (waived)``."""
    label = STATUS_LABELS[result.status]
    return f"{label} (waived)" if result.waived else label


def md_message(result: CheckResult) -> str:
    """The message, and who waived it until when, and why."""
    return f"{result.message} (waived {result.waiver})" if result.waived else result.message


def md_cell(text: str) -> str:
    """``text`` fit for a Markdown table cell: one line, pipes escaped."""
    return text.replace("|", "\\|").replace("\n", " ")


FORMATTERS: dict[str, Callable[[Report], str]] = {
    "text": to_text,
    "json": to_json,
    "junit": to_junit,
    "markdown": to_markdown,
}
