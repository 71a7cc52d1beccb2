"""Waivers: the file read strictly, applied by the runner on the context's clock, counted apart
by every reporter, and judged by check ``release.waivers``."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest

from checks import waivers
from checks.context import CheckContext
from checks.core import CheckResult, Registry, Status, failed, passed, registry, warned
from checks.events import Finished
from checks.rollback import waivers_check
from checks.runner import run_checks
from tests.conftest import MakeContext
from toolbox_tui import reporters
from toolbox_tui.reporters import Report

# The fixed clock of make_context is 2026-11-28 12:00 UTC.
GOOD = """\
[[waiver]]
check = "sec.pentest"
reason = "Scheduled for 2026-12-10 with Acme"
by = "alice"
expires = 2026-12-31
"""


def waiver_entry(check: str, expires: str = "2026-12-31", by: str = "alice") -> str:
    return (
        f'[[waiver]]\ncheck = "{check}"\nreason = "accepted for {check}"\n'
        f'by = "{by}"\nexpires = {expires}\n\n'
    )


def write_waivers(ctx: CheckContext, text: str) -> Path:
    path = ctx.config.waivers_path
    path.write_text(text, encoding="utf-8")
    return path


async def results_of(specs_registry: Registry, ctx: CheckContext) -> dict[str, CheckResult]:
    found = {}
    async for event in run_checks(specs_registry.select(), ctx):
        if isinstance(event, Finished):
            found[event.result.id] = event.result
    return found


def three_checks() -> Registry:
    reg = Registry()

    @reg.check(id="sec.pentest", pane="security", title="Pentest")
    async def pentest(ctx):  # type: ignore[no-untyped-def]
        return failed("No penetration test this year.")

    @reg.check(id="env.key-rotation", pane="environment", title="Rotation")
    async def rotation(ctx):  # type: ignore[no-untyped-def]
        return warned("Key rotation due.")

    @reg.check(id="env.file", pane="environment", title="File")
    async def fine(ctx):  # type: ignore[no-untyped-def]
        return passed("Fine.")

    return reg


# -- reading the file ------------------------------------------------------------------------


def test_a_well_formed_file_gives_its_waivers(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text(GOOD + "\n" + waiver_entry("env.pusher", '"2027-01-31"'))
    found = waivers.load(path)
    assert found.problems == ()
    first, second = found.waivers
    assert (first.check, first.by, first.expires, first.line) == (
        "sec.pentest",
        "alice",
        date(2026, 12, 31),
        1,
    )
    assert first.text() == "by alice until 2026-12-31: Scheduled for 2026-12-10 with Acme"
    assert second.expires == date(2027, 1, 31) and second.line == 7  # a quoted date is read too


def test_no_file_is_no_waivers(tmp_path: Path) -> None:
    found = waivers.load(tmp_path / "absent.toml")
    assert not found.exists and found.waivers == () and found.problems == ()


def test_a_file_that_is_not_toml_names_the_line_and_waives_nothing(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text(GOOD + "[[waiver]]\ncheck = sec.x\n")
    found = waivers.load(path)
    assert found.waivers == ()
    [problem] = found.problems
    assert problem.startswith("not valid TOML") and "line 7" in problem


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            'check = "a.b"\nby = "x"\nexpires = 2026-12-31\n',
            "line 1 (waiver 1): 'reason' is missing",
        ),
        (
            'check = "a.b"\nreason = "r"\nby = "x"\nexpires = "soon"\n',
            "line 5: 'expires' must be a date like 2026-12-31",
        ),
        (
            'check = "a.b"\nreason = "r"\nby = "x"\nexpires = 2026-12-31T10:00:00Z\n',
            "line 5: 'expires' must be a date",
        ),
        ('check = "a.b"\nreason = "  "\nby = "x"\nexpires = 2026-12-31\n', "line 3: 'reason' must"),
        ('check = 7\nreason = "r"\nby = "x"\nexpires = 2026-12-31\n', "line 2: 'check' must"),
        (
            'check = "a.b"\nreason = "r"\nby = "x"\nexpires = 2026-12-31\nticket = "T-1"\n',
            "line 6: 'ticket' is not a waiver key",
        ),
    ],
)
def test_a_malformed_entry_is_named_by_line_and_key_and_waives_nothing(
    tmp_path: Path, entry: str, expected: str
) -> None:
    path = tmp_path / "w.toml"
    path.write_text("[[waiver]]\n" + entry + "\n" + waiver_entry("env.file"))
    found = waivers.load(path)
    assert any(p.startswith(expected) for p in found.problems), found.problems
    # The well-formed entry after it still counts.
    assert [w.check for w in found.waivers] == ["env.file"]


def test_other_top_level_keys_and_shapes_are_named(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text('title = "ours"\nwaiver = "sec.pentest"\n')
    found = waivers.load(path)
    assert found.waivers == ()
    assert found.problems[0].startswith("line 1: 'title' is not a waiver table")
    assert found.problems[1].startswith("line 2: 'waiver' must be [[waiver]] tables")


def test_a_fifo_or_a_directory_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert "not a regular file" in waivers.load(fifo).problems[0]
    assert "not a regular file" in waivers.load(tmp_path).problems[0]


# -- applied by the runner --------------------------------------------------------------------


async def test_the_runner_marks_a_waived_result_and_keeps_its_status(
    make_context: MakeContext,
) -> None:
    ctx = make_context()
    write_waivers(
        ctx,
        GOOD
        + "\n"
        + waiver_entry("env.key-rotation", "2026-11-27")  # expired yesterday
        + waiver_entry("env.file"),
    )
    found = await results_of(three_checks(), ctx)
    pentest = found["sec.pentest"]
    assert pentest.status is Status.FAIL
    assert pentest.waiver == "by alice until 2026-12-31: Scheduled for 2026-12-10 with Acme"
    assert found["env.key-rotation"].waiver == ""  # expired: it no longer counts
    assert found["env.file"].waiver == ""  # a pass needs no waiver


async def test_a_waiver_counts_through_its_last_day(make_context: MakeContext) -> None:
    ctx = make_context()
    write_waivers(ctx, waiver_entry("sec.pentest", "2026-11-28"))
    assert (await results_of(three_checks(), ctx))["sec.pentest"].waived


async def test_a_broken_file_waives_nothing_and_the_run_completes(
    make_context: MakeContext,
) -> None:
    ctx = make_context()
    write_waivers(ctx, GOOD + "expires = [\n")
    found = await results_of(three_checks(), ctx)
    assert len(found) == 3
    assert not any(r.waived for r in found.values())


async def test_a_waiver_reason_is_redacted_like_every_event(make_context: MakeContext) -> None:
    secret = "sk_live_" + "Q" * 24 + "9f2c"
    ctx = make_context(f"STRIPE_SECRET_KEY={secret}\n")
    text = GOOD.replace("Scheduled for 2026-12-10 with Acme", f"key {secret} is rotated Monday")
    write_waivers(ctx, text)
    waiver = (await results_of(three_checks(), ctx))["sec.pentest"].waiver
    assert secret not in waiver and "sk_live_••••9f2c" in waiver


# -- reporters --------------------------------------------------------------------------------


def waived_report() -> Report:
    def result(check_id: str, status: Status, waiver: str = "") -> CheckResult:
        return CheckResult(
            check_id, "security", check_id, status, f"{check_id} says so", waiver=waiver
        )

    return Report(
        results=[
            result("sec.pentest", Status.FAIL, "by alice until 2026-12-31: Acme in December"),
            result("sec.csrf", Status.WARN, "by bob until 2026-12-01: reviewed"),
            result("sec.xss", Status.PASS),
        ]
    )


def test_exit_codes_leave_waived_results_out() -> None:
    report = waived_report()
    assert report.exit_code() == 0 and report.exit_code("warn") == 0
    report.results.append(CheckResult("sec.cors", "security", "CORS", Status.WARN, "x"))
    assert report.exit_code("warn") == 4
    report.results.append(CheckResult("sec.hsts", "security", "HSTS", Status.ERROR, "x"))
    assert report.exit_code() == 3


def test_every_format_shows_the_waiver_and_counts_it() -> None:
    report = waived_report()
    text = reporters.to_text(report)
    assert "waived by alice until 2026-12-31: Acme in December" in text
    assert "1 fail, 1 warn, 1 pass; 2 waived" in text

    doc = json.loads(reporters.to_json(report))
    assert doc["version"] == 2 and doc["waived"] == 2
    assert doc["summary"]["fail"] == 1  # the status stays
    by_id = {r["id"]: r for r in doc["results"]}
    assert by_id["sec.pentest"]["waiver"].startswith("by alice")
    assert by_id["sec.xss"]["waiver"] == ""

    markdown = reporters.to_markdown(report)
    assert "| FAIL (waived) | `sec.pentest` |" in markdown
    assert "(waived by alice until 2026-12-31: Acme in December)" in markdown

    root = ET.fromstring(reporters.to_junit(report).split("\n", 1)[1])
    assert (root.get("failures"), root.get("errors")) == ("0", "0")
    [suite] = root.findall("testsuite")
    assert suite.get("skipped") == "2"
    case = next(c for c in suite.findall("testcase") if c.get("name") == "sec.pentest")
    skipped = case.find("skipped")
    assert skipped is not None and case.find("failure") is None
    assert skipped.get("message", "").startswith("waived by alice until 2026-12-31")


# -- check release.waivers --------------------------------------------------------------------


async def judge(ctx: CheckContext) -> CheckResult:
    spec = registry.checks["release.waivers"]
    assert spec.func is waivers_check.waivers_valid
    results = [e.result async for e in run_checks([spec], ctx) if isinstance(e, Finished)]
    return results[0]


async def test_release_waivers_passes_listing_the_active_ones(make_context: MakeContext) -> None:
    ctx = make_context()
    write_waivers(ctx, GOOD + "\n" + waiver_entry("env.file-permissions", "2027-01-15", "bob"))
    result = await judge(ctx)
    assert result.status is Status.PASS
    assert result.message == (
        "2 waiver(s) active: sec.pentest until 2026-12-31, env.file-permissions until 2027-01-15."
    )
    assert result.evidence["sec.pentest (line 1)"].startswith("by alice until 2026-12-31")


async def test_release_waivers_passes_without_a_file(make_context: MakeContext) -> None:
    result = await judge(make_context())
    assert result.status is Status.PASS and "does not exist" in result.message


async def test_release_waivers_fails_naming_the_line_and_key(make_context: MakeContext) -> None:
    ctx = make_context()
    write_waivers(ctx, GOOD + '\n[[waiver]]\ncheck = "env.file"\nby = "bob"\nexpires = 1\n')
    result = await judge(ctx)
    assert result.status is Status.FAIL
    assert result.message == (
        "Waiver file invalid: line 7 (waiver 2): 'reason' is missing (and 1 more)."
    )
    assert result.evidence["problem 2"].startswith("line 10: 'expires' must be a date")
    assert "waive nothing" in result.hint


async def test_release_waivers_warns_about_expired_and_unknown_ones(
    make_context: MakeContext,
) -> None:
    ctx = make_context()
    write_waivers(
        ctx, GOOD + "\n" + waiver_entry("sec.pentest", "2026-11-01") + waiver_entry("sec.nope")
    )
    result = await judge(ctx)
    assert result.status is Status.WARN
    assert result.message == (
        "Waivers need attention: 1 expired: sec.pentest on 2026-11-01; "
        "1 for no known check: sec.nope."
    )
    assert "renew" in result.hint


async def test_a_waiver_of_release_waivers_itself_is_a_problem_never_applied(
    make_context: MakeContext,
) -> None:
    ctx = make_context()
    # It would hide the broken entry after it: it is refused, and the check still fails.
    write_waivers(ctx, waiver_entry("release.waivers") + '[[waiver]]\ncheck = "env.file"\n')
    result = await judge(ctx)
    assert result.status is Status.FAIL and not result.waived
    assert result.message == (
        "Waiver file invalid: line 2: release.waivers cannot be waived (it is the check that "
        "the waiver file is valid) (and 3 more)."
    )
    assert waivers.load(ctx.config.waivers_path).waivers == ()
