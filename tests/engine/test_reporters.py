"""Reports: JSON shape, JUnit that CI viewers load, text, Markdown, exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from checks.core import CheckResult, Status
from toolbox_tui import reporters
from toolbox_tui.reporters import Report


def result(check_id: str, status: Status, pane: str = "environment") -> CheckResult:
    return CheckResult(
        id=check_id,
        pane=pane,
        title=check_id.title(),
        status=status,
        message=f"{check_id} is {status.value}",
        hint="do the thing",
        evidence={"mode": "0644"},
        duration_ms=12.5,
        actions=("env.fix-it",),
    )


def report(*statuses: Status) -> Report:
    return Report(
        results=[result(f"env.c{i}", s) for i, s in enumerate(statuses)],
        started_at=datetime(2026, 11, 28, tzinfo=UTC),
        duration_ms=1234,
    )


def test_json_has_the_documented_shape() -> None:
    doc = json.loads(reporters.to_json(report(Status.PASS, Status.FAIL)))
    assert set(doc) == {
        "version",
        "started_at",
        "duration_ms",
        "setup_ms",
        "summary",
        "waived",
        "results",
    }
    assert doc["summary"]["fail"] == 1 and doc["summary"]["pass"] == 1
    assert set(doc["results"][0]) == {
        "id",
        "pane",
        "title",
        "status",
        "message",
        "hint",
        "evidence",
        "duration_ms",
        "actions",
        "waiver",
    }


def test_junit_counts_fail_and_error_as_such() -> None:
    xml = reporters.to_junit(
        report(Status.PASS, Status.FAIL, Status.ERROR, Status.SKIP, Status.WARN)
    )
    root = ET.fromstring(xml.split("\n", 1)[1])
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "1")
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "Environment" and suite.get("skipped") == "1"
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert cases["env.c1"].find("failure").get("message") == "env.c1 is fail"  # type: ignore[union-attr]
    assert cases["env.c2"].find("error") is not None
    assert cases["env.c3"].find("skipped") is not None
    assert cases["env.c0"].find("failure") is None


def test_text_groups_by_pane_and_names_the_fix() -> None:
    text = reporters.to_text(report(Status.FAIL))
    assert text.startswith("Environment\n")
    assert "FAIL   env.c0" in text and "toolbox-tui fix env.fix-it" in text


def test_setup_cost_is_reported_in_text_and_json() -> None:
    timed = report(Status.PASS)
    timed.setup_ms = {"start": 204.4, "env_file": 12.6}
    assert "(before them: 0.20 s starting, 0.01 s reading the env file)" in reporters.to_text(timed)
    assert json.loads(reporters.to_json(timed))["setup_ms"] == {"start": 204, "env_file": 13}
    assert "before them" not in reporters.to_text(report(Status.PASS))


def test_markdown_escapes_pipes() -> None:
    r = report(Status.PASS)
    r.results[0] = CheckResult(**{**r.results[0].__dict__, "message": "a | b"})
    assert "a \\| b" in reporters.to_markdown(r)


@pytest.mark.parametrize(
    ("statuses", "level", "code"),
    [
        ((Status.PASS, Status.SKIP), "fail", 0),
        ((Status.PASS, Status.WARN), "fail", 0),
        ((Status.PASS, Status.WARN), "warn", 4),
        ((Status.WARN, Status.FAIL), "warn", 3),
        ((Status.ERROR,), "fail", 3),
    ],
)
def test_exit_codes(statuses: tuple[Status, ...], level: str, code: int) -> None:
    assert report(*statuses).exit_code(level) == code


def test_junit_stays_well_formed_with_control_characters() -> None:
    r = report(Status.FAIL)
    r.results[0] = CheckResult(**{**r.results[0].__dict__, "message": "bad \x08 value"})
    xml = reporters.to_junit(r)
    ET.fromstring(xml.split("\n", 1)[1])  # parses
