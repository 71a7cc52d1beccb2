"""Headless reports: fold finished results into text, JSON, JUnit XML or Markdown.

Imports no Textual: ``toolbox-tui check`` uses only this and the engine. The JSON shape is a
public interface (CI scripts parse it); change it only by bumping ``REPORT_VERSION``.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from checks.core import PANE_IDS, PANES, STATUS_ORDER, CheckResult, Status

REPORT_VERSION = 1

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

    def exit_code(self, fail_level: str = "fail") -> int:
        statuses = {r.status for r in self.results}
        if statuses & {Status.FAIL, Status.ERROR}:
            return EXIT_FAILED
        if fail_level == "warn" and Status.WARN in statuses:
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
    counts = ", ".join(f"{n} {status}" for status, n in report.summary().items() if n)
    lines.append("")
    lines.append(
        f"{len(report.results)} checks in {report.duration_ms / 1000:.1f} s: {counts or 'none'}"
        + _setup_note(report)
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
    document = {
        "version": REPORT_VERSION,
        "started_at": report.started_at.isoformat(timespec="seconds"),
        "duration_ms": round(report.duration_ms),
        "setup_ms": {name: round(ms) for name, ms in report.setup_ms.items()},
        "summary": report.summary(),
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
            }
            for r in report.ordered()
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """XML 1.0 cannot carry most control characters; a value from the env file might."""
    return _XML_ILLEGAL.sub("\ufffd", text)


def to_junit(report: Report) -> str:
    """One ``<testsuite>`` per pane, one ``<testcase>`` per check (fail/error/skip as such)."""
    summary = report.summary()
    root = ET.Element(
        "testsuites",
        name="toolbox-tui",
        tests=str(len(report.results)),
        failures=str(summary["fail"]),
        errors=str(summary["error"]),
        time=f"{report.duration_ms / 1000:.3f}",
    )
    for pane in PANES:
        results = [r for r in report.ordered() if r.pane == pane.id]
        if not results:
            continue
        counts = Counter(r.status for r in results)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=pane.title,
            tests=str(len(results)),
            failures=str(counts[Status.FAIL]),
            errors=str(counts[Status.ERROR]),
            skipped=str(counts[Status.SKIP] + counts[Status.MANUAL]),
            timestamp=report.started_at.isoformat(timespec="seconds"),
            time=f"{sum(r.duration_ms for r in results) / 1000:.3f}",
        )
        for result in results:
            _add_testcase(suite, result)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _add_testcase(suite: ET.Element, result: CheckResult) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"toolbox.{result.pane}",
        name=result.id,
        time=f"{result.duration_ms / 1000:.3f}",
    )
    details = _details(result)
    message = _xml_safe(result.message)
    if result.status is Status.FAIL:
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
    return _xml_safe("\n".join(parts))


def to_markdown(report: Report) -> str:
    rows = [
        "| status | check | message |",
        "| --- | --- | --- |",
        *(
            f"| {STATUS_LABELS[r.status]} | `{r.id}` | {_md_cell(r.message)} |"
            for r in report.ordered()
        ),
    ]
    counts = ", ".join(f"{n} {status}" for status, n in report.summary().items() if n)
    return f"**{len(report.results)} checks**: {counts or 'none'}\n\n" + "\n".join(rows) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


FORMATTERS: dict[str, Callable[[Report], str]] = {
    "text": to_text,
    "json": to_json,
    "junit": to_junit,
    "markdown": to_markdown,
}
