"""The headless CLI on a demo deployment: exit codes, formats, fixes and bad input."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from checks import catalog
from checks.core import Registry
from toolbox_tui import cli, long_lived
from toolbox_tui.cli import main
from toolbox_tui.sandbox.demo import Demo, write_demo


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    return write_demo(tmp_path / "app")


def args_for(demo: Demo) -> list[str]:
    return [
        "--env-file",
        str(demo.env_file),
        "--app-dir",
        str(demo.app_dir),
        "--app-venv",
        str(demo.venv),
        "--audit-log",
        str(demo.app_dir / "audit.log"),
    ]


def test_check_json_reports_the_demo_mistakes(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", "--format", "json", *args_for(demo)])
    doc = json.loads(capsys.readouterr().out)
    statuses = {r["id"]: r["status"] for r in doc["results"]}
    assert code == 3
    assert statuses["env.file-permissions"] == "fail"
    assert statuses["env.backup-present"] == "fail"
    assert statuses["env.key-rotation"] == "warn"
    assert statuses["env.file"] == "pass"
    assert doc["summary"]["fail"] >= 2
    # What it cost before the first check started, so a slow start is visible in CI logs.
    assert set(doc["setup_ms"]) == {"start", "env_file"}
    assert all(ms >= 0 for ms in doc["setup_ms"].values())


def test_check_freezes_start_up_objects_before_its_run(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So that the full collections its checks' imports set off do not walk them. The
    collector, paused by the command's entry point, is back on for the run."""
    calls: list[object] = []
    collect, load_config = cli.collect, cli.load_config

    def collecting(*args: Any) -> Any:
        calls.append(("run", gc.isenabled()))
        return collect(*args)

    def loading(*args: Any) -> Any:
        calls.append(("settings", gc.isenabled()))
        return load_config(*args)

    monkeypatch.setattr(long_lived.gc, "freeze", partial(calls.append, "freeze"))
    monkeypatch.setattr(cli, "collect", collecting)
    monkeypatch.setattr(cli, "load_config", loading)
    gc.disable()  # as toolbox_tui.launch leaves it
    assert main(["check", "--only", "env.file", *args_for(demo)]) == 0
    assert calls == [("settings", False), "freeze", ("run", True)]


@pytest.mark.parametrize(
    "argv", [["list"], ["fix", "no.such-action"], ["audit"]], ids=["list", "fix", "audit"]
)
def test_other_commands_resume_the_collector_once_their_arguments_are_read(
    argv: list[str], demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    gc.disable()  # as toolbox_tui.launch leaves it
    main([*argv, *args_for(demo)])
    assert gc.isenabled()


def test_the_command_starts_with_the_collector_paused() -> None:
    """The console script's entry point pauses it before importing any module of the command
    line; the command then runs as ever (and resumes it: see the tests above)."""
    code = """
        import gc, sys

        class Watch:  # notes the collector's state when the command line is imported
            def find_spec(self, name, path=None, target=None):
                if name == "toolbox_tui.cli":
                    print("collector", "on" if gc.isenabled() else "off", flush=True)

        sys.meta_path.insert(0, Watch())
        sys.argv = ["toolbox-tui", "list"]
        from toolbox_tui.launch import run
        run()
        """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    first, *listing = out.stdout.splitlines()
    assert first == "collector off"
    assert any("env.file" in line for line in listing)


def test_only_and_fail_level(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--only", "env.key-rotation", *args_for(demo)]) == 0
    assert (
        main(["check", "--only", "env.key-rotation", "--fail-level", "warn", *args_for(demo)]) == 4
    )
    assert main(["check", "--only", "env.file", *args_for(demo)]) == 0


def test_output_file_and_junit(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "report.xml"
    main(
        [
            "check",
            "--pane",
            "environment",
            "--format",
            "junit",
            "--output",
            str(out),
            *args_for(demo),
        ]
    )
    assert out.read_text().startswith("<?xml")


def test_unknown_check_is_bad_usage(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--only", "env.nope", *args_for(demo)]) == 2
    assert "env.nope" in capsys.readouterr().err


def test_bad_configuration_is_bad_usage(
    demo: Demo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLBOX_CHECK_TIMEOUT", "soon")
    assert main(["check", *args_for(demo)]) == 2
    err = capsys.readouterr().err
    assert "TOOLBOX_CHECK_TIMEOUT" in err and "Traceback" not in err


def test_missing_env_file_fails_the_check_not_the_tool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", "--only", "env.file", "--env-file", str(tmp_path / "nope.env")])
    assert code == 3
    assert "does not exist" in capsys.readouterr().out


def test_fix_safe_action(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix", "env.tighten-permissions", *args_for(demo)]) == 0
    assert os.stat(demo.env_file).st_mode & 0o777 == 0o600
    assert main(["check", "--only", "env.file-permissions", *args_for(demo)]) == 0


def test_dangerous_fix_needs_yes_and_dry_run_changes_nothing(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    before = demo.env_file.read_text()
    assert main(["fix", "env.rotate-fernet-key", *args_for(demo)]) == 3
    assert "--yes" in capsys.readouterr().err
    assert main(["fix", "env.rotate-fernet-key", "--dry-run", *args_for(demo)]) == 0
    assert demo.env_file.read_text() == before
    assert main(["fix", "env.rotate-fernet-key", "--yes", "--read-only", *args_for(demo)]) == 3
    assert demo.env_file.read_text() == before
    assert main(["fix", "env.rotate-fernet-key", "--yes", *args_for(demo)]) == 0
    assert demo.env_file.read_text() != before
    assert (
        main(["check", "--only", "env.key-rotation", "--fail-level", "warn", *args_for(demo)]) == 0
    )


def test_unknown_action_is_bad_usage(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix", "env.make-coffee", *args_for(demo)]) == 2
    assert "known actions" in capsys.readouterr().err


def test_list_shows_checks_actions_and_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "env.fernet-key" in out and "env.rotate-fernet-key" in out
    assert "automated" in out and "not covered" in out


def test_without_a_terminal_the_dashboard_says_how_to_go_headless(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "toolbox_tui.cli", "--env-file", str(tmp_path / ".env")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "toolbox-tui check" in proc.stderr
    assert proc.stdout == ""


def test_a_pane_without_checks_is_not_a_pass(
    demo: Demo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every built-in pane has checks: an empty registry stands in for a pane that has none yet.
    monkeypatch.setattr(catalog, "load", lambda panes=(): Registry())
    assert main(["check", "--pane", "security", *args_for(demo)]) == 2
    assert "nothing to gate on" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["missing-dir/report.json", "."])
def test_unwritable_output_is_bad_usage_before_running(
    demo: Demo, tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / where
    assert main(["check", "--output", str(target), *args_for(demo)]) == 2
    err = capsys.readouterr().err
    assert "--output" in err and "Traceback" not in err


def test_demo_refuses_a_directory_it_did_not_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = tmp_path / "real-app"
    app.mkdir()
    (app / ".env").write_text("SECRET_KEY=precious\n")
    assert main(["demo", "--dir", str(app)]) == 2
    assert "not made by `toolbox-tui demo`" in capsys.readouterr().err
    assert (app / ".env").read_text() == "SECRET_KEY=precious\n"


def test_the_test_email_recipient_comes_from_its_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolbox_tui.cli import build_parser, load_config

    monkeypatch.delenv("TOOLBOX_TEST_EMAIL_TO", raising=False)
    args = build_parser().parse_args(["fix", "email.send-test", "--test-email-to", "ops@x.io"])
    assert load_config(args).test_email_to == "ops@x.io"
    monkeypatch.setenv("TOOLBOX_TEST_EMAIL_TO", "oncall@x.io")
    assert load_config(build_parser().parse_args(["fix", "email.send-test"])).test_email_to == (
        "oncall@x.io"
    )


def test_the_dashboard_is_handed_the_work_it_does_after_its_first_frame(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The settings and the checks' registration reach the dashboard as functions it calls
    once its first frame is drawn, not as their results."""
    from toolbox_tui import cli

    handed: list[object] = []

    def dashboard(config: object, registry: object) -> int:
        handed.extend([config, registry])
        return 0

    def register_now(panes: object = ()) -> Registry:
        raise AssertionError("the checks were registered before the dashboard's first frame")

    monkeypatch.setattr(cli, "cmd_tui", dashboard)
    monkeypatch.setattr(catalog, "load", register_now)
    assert main(["--env-file", str(tmp_path / ".env")]) == 0
    config, registry = handed
    assert callable(config) and callable(registry)
