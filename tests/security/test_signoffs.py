"""Manual checks and their sign-offs: MANUAL until a person signs off (saying what to review and
how), PASS with who, when and the note until it expires (the clock is injected), the audit log
as the one record, and the ``signoff`` command with its refusals."""

from __future__ import annotations

import dataclasses
import getpass
import json
from datetime import timedelta
from pathlib import Path

import pytest

from checks import audit, signoffs
from checks.context import CheckContext
from checks.core import Status, registry
from tests.conftest import FIXED_NOW, MakeContext
from tests.integrations.running import run
from tests.security.local_checks import everything_said
from toolbox_tui.cli import main

MANUAL = ("sec.sql-injection", "sec.xss", "sec.csrf", "sec.access-logs", "sec.pentest")
NOTE = "Reviewed every text() call and the sqlmap run on staging, see SEC-42"
# A secret of the env file: typed into a note by mistake, it must be masked in the log.
SECRET = "sk_live_PLANTEDsecretINaNOTE0123456789"


def at(ctx: CheckContext, days: float) -> CheckContext:
    """The same context, its clock ``days`` after FIXED_NOW."""
    return dataclasses.replace(ctx, clock=lambda: FIXED_NOW + timedelta(days=days))


async def status_of(ctx: CheckContext, check_id: str):  # type: ignore[no-untyped-def]
    return (await run(ctx, check_id))[check_id].result


def test_the_manual_checks_are_registered_as_manual() -> None:
    for check_id in MANUAL:
        spec = registry.checks[check_id]
        assert spec.manual and spec.pane == "security" and spec.checklist is not None


@pytest.mark.parametrize("check_id", MANUAL)
async def test_without_a_sign_off_it_says_what_to_review_and_how(
    make_context: MakeContext, check_id: str
) -> None:
    result = await status_of(make_context(), check_id)
    assert result.status is Status.MANUAL
    assert result.message.startswith("Not signed off yet. Review: ")
    assert signoffs.REVIEWS[check_id].what in result.message
    assert f"toolbox-tui signoff {check_id} --note" in result.hint
    assert "press s" in result.hint
    assert result.evidence["step 1"] == signoffs.REVIEWS[check_id].steps[0]


async def test_sign_off_passes_with_who_when_and_note(make_context: MakeContext) -> None:
    ctx = make_context()
    signed = signoffs.sign_off(ctx, registry, "sec.sql-injection", f"  {NOTE}\n")
    user = getpass.getuser()
    assert signed.text() == f"signed off by {user} on 2026-11-28: {NOTE} (until 2026-12-28)"
    # The audit log is the record: who, when, what, and that it is a sign-off.
    [record] = audit.read(ctx.config.audit_path)
    assert (record.action, record.outcome, record.user) == ("sec.sql-injection", "signed-off", user)
    assert (record.at, record.message, record.changes) == (FIXED_NOW.isoformat(), NOTE, [])
    # A later run reads it back.
    result = await status_of(at(ctx, 1), "sec.sql-injection")
    assert result.status is Status.PASS
    assert result.message == f"Signed off by {user} on 2026-11-28: {NOTE} (until 2026-12-28)."
    assert result.evidence["note"] == NOTE
    # Another manual check is not signed off by it.
    assert (await status_of(at(ctx, 1), "sec.xss")).status is Status.MANUAL


async def test_a_sign_off_expires_after_toolbox_signoff_days(make_context: MakeContext) -> None:
    ctx = make_context(signoff_days=7)
    signoffs.sign_off(ctx, registry, "sec.csrf", NOTE, by="Alice Admin")
    assert (await status_of(at(ctx, 6.9), "sec.csrf")).status is Status.PASS
    result = await status_of(at(ctx, 7), "sec.csrf")
    assert result.status is Status.MANUAL
    assert result.message.startswith(
        "The sign-off by Alice Admin on 2026-11-28 expired on 2026-12-05. Review: "
    )
    assert result.evidence["a sign-off lasts"] == "7 days (TOOLBOX_SIGNOFF_DAYS)"
    assert result.evidence["last sign-off"].startswith("signed off by Alice Admin")


async def test_a_recurring_task_lasts_its_cadence(make_context: MakeContext) -> None:
    ctx = make_context(signoff_days=7)
    signoffs.sign_off(ctx, registry, "sec.pentest", "External test by ACME, report R-2026-11")
    assert (await status_of(at(ctx, 364), "sec.pentest")).status is Status.PASS
    assert (await status_of(at(ctx, 365), "sec.pentest")).status is Status.MANUAL
    signoffs.sign_off(ctx, registry, "sec.access-logs", "Read November's logs: no abuse")
    assert (await status_of(at(ctx, 30), "sec.access-logs")).status is Status.PASS
    result = await status_of(at(ctx, 31), "sec.access-logs")
    assert result.evidence["a sign-off lasts"] == "31 days (the checklist's cadence)"


async def test_the_newest_sign_off_decides(make_context: MakeContext) -> None:
    ctx = make_context()
    signoffs.sign_off(ctx, registry, "sec.xss", "first review")
    signoffs.sign_off(at(ctx, 20), registry, "sec.xss", "second review")
    result = await status_of(at(ctx, 35), "sec.xss")
    assert result.status is Status.PASS and "second review" in result.message


async def test_the_release_report_shows_the_sign_off_the_check_goes_by(
    make_context: MakeContext,
) -> None:
    from toolbox_tui.release_report import gather
    from toolbox_tui.reporters import Report

    ctx = make_context()
    # Log order is not time order here: the last one written decides, for both.
    signoffs.sign_off(at(ctx, 3), registry, "sec.xss", "from a host whose clock is wrong")
    signoffs.sign_off(ctx, registry, "sec.xss", "reviewed again from the right host")
    signoffs.sign_off(at(ctx, -40), registry, "sec.csrf", "long ago")
    result = await status_of(ctx, "sec.xss")
    assert result.status is Status.PASS and "reviewed again" in result.message

    report = await gather(ctx, Report(), None, registry.checks.keys())
    assert [(s.check, s.note, s.counts) for s in report.signoffs] == [
        ("sec.csrf", "long ago", False),
        ("sec.xss", "reviewed again from the right host", True),
    ]


async def test_a_sign_off_dated_in_the_future_does_not_count(make_context: MakeContext) -> None:
    ctx = make_context()
    signoffs.sign_off(at(ctx, 3), registry, "sec.xss", "from a host whose clock is wrong")
    result = await status_of(ctx, "sec.xss")
    assert result.status is Status.MANUAL
    assert "is dated in the future (2026-12-01)" in result.message


async def test_by_names_the_signer_and_keeps_the_os_account(make_context: MakeContext) -> None:
    ctx = make_context()
    signoffs.sign_off(ctx, registry, "sec.xss", NOTE, by="  Dana   Reviewer ")
    [record] = audit.read(ctx.config.audit_path)
    assert record.user == "Dana Reviewer"
    assert record.changes == [f"entered from the OS account {getpass.getuser()}"]


async def test_a_secret_in_the_note_is_masked_in_the_audit_log(make_context: MakeContext) -> None:
    ctx = make_context(f"STRIPE_SECRET_KEY={SECRET}\n")
    signed = signoffs.sign_off(ctx, registry, "sec.xss", f"checked with key {SECRET}")
    assert SECRET not in signed.text()
    assert SECRET not in ctx.config.audit_path.read_text()
    ran = (await run(ctx, "sec.xss"))["sec.xss"]
    assert ran.result.status is Status.PASS
    assert SECRET not in everything_said(ran.result, ran.logs)


@pytest.mark.parametrize(
    ("check_id", "note", "by", "said"),
    [
        ("sec.nope", NOTE, None, "no check 'sec.nope'; the manual checks are: sec.access-logs"),
        ("sec.keys-in-code", NOTE, None, "sec.keys-in-code is not a manual check"),
        ("sec.xss", " \n\t ", None, "a note is required"),
        ("sec.xss", "x" * 501, None, "keep it under 500"),
        ("sec.xss", NOTE, "  ", "--by is empty"),
    ],
)
def test_refusals_write_nothing(
    make_context: MakeContext, check_id: str, note: str, by: str | None, said: str
) -> None:
    ctx = make_context()
    with pytest.raises(signoffs.SignoffRefused, match=said.replace(".", r"\.")):
        signoffs.sign_off(ctx, registry, check_id, note, by)
    assert not ctx.config.audit_path.exists()


# -- the command line ------------------------------------------------------------------------


@pytest.fixture
def cli_args(tmp_path: Path) -> list[str]:
    env_file = tmp_path / ".env"
    env_file.write_text(f"APP_ENV=production\nSTRIPE_SECRET_KEY={SECRET}\n")
    env_file.chmod(0o600)
    return ["--env-file", str(env_file), "--app-dir", str(tmp_path)]


def test_signoff_command_records_and_a_second_run_shows_it(
    cli_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["signoff", "sec.csrf", "--note", f"{NOTE} {SECRET}", "--by", "Sam", *cli_args])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert out.out.startswith("sec.csrf signed off by Sam on ")
    assert f"recorded in {tmp_path / 'toolbox-audit.log'}." in out.out
    assert NOTE in out.out and SECRET not in out.out
    [record] = audit.read(tmp_path / "toolbox-audit.log")
    assert (record.action, record.outcome, record.user) == ("sec.csrf", "signed-off", "Sam")
    assert record.message.startswith(NOTE) and SECRET not in record.message

    code = main(["check", "--only", "sec.csrf", "--format", "json", *cli_args])
    [result] = json.loads(capsys.readouterr().out)["results"]
    assert (code, result["status"]) == (0, "pass")
    assert result["message"].startswith("Signed off by Sam on ") and NOTE in result["message"]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["signoff", "sec.nope", "--note", NOTE], "no check 'sec.nope'"),
        (["signoff", "sec.keys-in-code", "--note", NOTE], "is not a manual check"),
        (["signoff", "sec.xss", "--note", "   "], "a note is required"),
        (["signoff", "sec.xss", "--note", NOTE, "--read-only"], "read-only mode"),
    ],
)
def test_signoff_command_refuses_with_exit_2(
    cli_args: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    said: str,
) -> None:
    assert main([*argv, *cli_args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("toolbox-tui: signoff: ") and said in err
    assert not (tmp_path / "toolbox-audit.log").exists()


def test_signoff_command_needs_a_note(cli_args: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["signoff", "sec.xss", *cli_args])
    assert exited.value.code == 2


def test_an_unwritable_audit_log_is_refused(
    cli_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "audit-is-a-directory"
    directory.mkdir()
    assert (
        main(["signoff", "sec.xss", "--note", NOTE, "--audit-log", str(directory), *cli_args]) == 2
    )
    err = capsys.readouterr().err
    assert f"the audit log {directory} cannot be written" in err
    assert "TOOLBOX_AUDIT_LOG" in err


async def test_a_fifo_as_the_audit_log_warns_instead_of_hanging(
    make_context: MakeContext, tmp_path: Path
) -> None:
    import os

    fifo = tmp_path / "audit-fifo"
    os.mkfifo(fifo)  # nothing ever writes to it: a plain read would wait for ever
    ctx = make_context(audit_log=fifo)
    found = await run(ctx, *MANUAL)
    for check_id in MANUAL:
        result = found[check_id].result
        assert result.status is Status.WARN
        assert f"The audit log {fifo} cannot be read (it is a FIFO, not a regular file)" in (
            result.message
        )
        assert "TOOLBOX_AUDIT_LOG" in result.hint


async def test_a_hand_edited_line_is_skipped_and_counted_not_a_crash(
    make_context: MakeContext,
) -> None:
    ctx = make_context()
    log = ctx.config.audit_path
    log.write_text('[1]\n"a note"\n{"action": "sec.xss", "outcome": "signed-off"\n')
    signoffs.sign_off(ctx, registry, "sec.xss", NOTE)
    result = await status_of(at(ctx, 1), "sec.xss")
    assert result.status is Status.PASS
    assert result.evidence["unreadable audit lines"] == "3 (skipped)"
    other = await status_of(at(ctx, 1), "sec.csrf")
    assert other.status is Status.MANUAL
    assert other.evidence["unreadable audit lines"] == "3 (skipped)"
