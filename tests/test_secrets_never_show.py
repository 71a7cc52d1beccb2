"""Planted secret values never reach a screen, a report, a log or the audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks import catalog
from checks.context import CheckContext
from checks.settings import DeploymentEnv, ToolboxConfig
from tests.tui.conftest import settle
from toolbox_tui.app import make_app
from toolbox_tui.cli import main
from toolbox_tui.sandbox.demo import Demo, write_demo

# A line the parser rejects, carrying a secret it therefore never learns: only its number
# may be reported.
MALFORMED_SECRET = "sk_live_PLANTEDinAbrokenLINE0000"


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    demo = write_demo(tmp_path / "app")
    with demo.env_file.open("a") as handle:
        handle.write(f"STRIPE_OLD_KEY {MALFORMED_SECRET}\n")
    return demo


def planted(demo: Demo) -> list[str]:
    values = [*DeploymentEnv.load(demo.env_file).secret_values(), MALFORMED_SECRET]
    assert len(values) > 10
    return values


def assert_clean(text: str, secrets: list[str], where: str) -> None:
    for secret in secrets:
        # The middle too, in case a renderer splits a value across spans.
        for piece in {secret, secret[4:-4] if len(secret) > 16 else secret}:
            assert piece not in text, f"a secret value reached {where}"


def cli_args(demo: Demo) -> list[str]:
    return [
        "--env-file",
        str(demo.env_file),
        "--app-dir",
        str(demo.app_dir),
        "--app-venv",
        str(demo.venv),
    ]


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "markdown"])
def test_reports(demo: Demo, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    secrets = planted(demo)
    main(["check", "--format", fmt, *cli_args(demo)])
    out = capsys.readouterr()
    assert "env.file-syntax" in out.out
    assert_clean(out.out + out.err, secrets, f"the {fmt} report")


def test_fixes_and_audit_log(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    secrets = planted(demo)
    for action in ("env.rotate-fernet-key", "env.generate-secret-key", "env.snapshot-backup"):
        main(["fix", action, "--yes", *cli_args(demo)])
    new_values = [v for v in DeploymentEnv.load(demo.env_file).secret_values() if v not in secrets]
    assert new_values, "the fixes should have made new secrets"
    out = capsys.readouterr()
    audit_text = (demo.app_dir / "toolbox-audit.log").read_text()
    assert_clean(out.out + out.err, secrets + new_values, "the fix output")
    assert_clean(audit_text, secrets + new_values, "the audit log")


async def test_dashboard_screens_and_logs(demo: Demo) -> None:
    secrets = planted(demo)
    ctx = CheckContext.create(ToolboxConfig(**demo.config_overrides()))  # type: ignore[arg-type]
    registry = catalog.load()
    app = make_app(ctx, registry)
    screens: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screens.append(app.export_screenshot())
        for _ in range(len(app.board.rows("environment"))):
            await pilot.press("enter")
            await pilot.pause()
            screens.append(app.export_screenshot())
            await pilot.press("escape", "down")
    logs = "\n".join("\n".join(lines) for lines in app.board.logs.values())
    assert_clean("\n".join(screens), secrets, "a dashboard screen")
    assert_clean(logs, secrets, "a check's log")
    assert_clean(repr(app.board.results), secrets, "the results")


def test_helper_would_catch_a_leak() -> None:
    with pytest.raises(AssertionError):
        assert_clean("token=sk_live_0123456789abcdefXYZ", ["sk_live_0123456789abcdefXYZ"], "x")
