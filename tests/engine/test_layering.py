"""The engine runs without Textual, the headless CLI never imports it, and every command
imports only what it uses, when it uses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest

from toolbox_tui.sandbox.demo import write_demo


def run_python(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_checks_package_imports_no_ui() -> None:
    out = run_python(
        """
        import sys
        from checks import catalog
        catalog.load()
        import checks.runner, checks.context
        ui = ('textual', 'rich', 'toolbox_tui')
        print(sorted(m for m in sys.modules if m.split('.')[0] in ui))
        """
    )
    assert out.strip() == "[]"


def test_checks_run_with_textual_unimportable() -> None:
    # A meta-path hook makes "import textual" fail, as if it were not installed.
    out = run_python(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('textual', 'rich'):
                    raise ImportError('blocked: ' + name)
        sys.meta_path.insert(0, Block())
        from checks import catalog
        print(len(catalog.load().checks) > 0)
        """
    )
    assert out.strip() == "True"


def test_headless_check_runs_with_textual_unimportable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = tmp_path / ".env"
    env.write_text("APP_ENV=production\n")
    out = run_python(
        f"""
        import sys, io, contextlib
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] == 'textual':
                    raise ImportError('blocked: ' + name)
        sys.meta_path.insert(0, Block())
        from toolbox_tui import cli
        with contextlib.redirect_stdout(io.StringIO()) as report:
            code = cli.main(['check', '--pane', 'environment', '--env-file', {str(env)!r}])
        print(code, 'env.file' in report.getvalue(), 'textual' in sys.modules)
        """
    )
    assert out.strip() == "3 True False"


# -- what each command imports, and when ----------------------------------------------------

SDKS = ("redis", "asyncpg", "sqlalchemy", "alembic", "httpx", "cryptography", "jwt")
UI = ("textual", "rich")
CONFIG = ("pydantic", "pydantic_settings", "pydantic_core")
SECONDARY_SCREENS = tuple(
    f"toolbox_tui.screens.{name}"
    for name in ("detail", "help", "confirm", "pick_action", "quit_while_fixing")
)


def modules_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """Every module ``code`` left imported, in a fresh interpreter (the last line it prints)."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + "\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def families(modules: set[str], roots: Iterable[str]) -> set[str]:
    """The ``roots`` (top-level packages) that ``modules`` hold some module of."""
    return {m.split(".")[0] for m in modules} & set(roots)


def run_cli(*argv: str) -> str:
    """Python that runs the command line as the console script does, its output swallowed."""
    return f"""
        import contextlib, io, json, sys
        from toolbox_tui import cli
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                code = cli.main({list(argv)!r})
            except SystemExit as exc:  # --help
                code = exc.code
        print(code)
    """


def clean_env() -> dict[str, str]:
    """This environment without the developer's own TOOLBOX_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}


def test_registering_every_check_imports_no_sdk_no_ui_and_no_pydantic() -> None:
    # Registration is what `list`, the README and the dashboard's first frame pay for.
    loaded = modules_after("import json, sys\nfrom checks import catalog\ncatalog.load()")
    assert families(loaded, (*SDKS, *UI, *CONFIG, "packaging")) == set()


def test_check_of_the_environment_pane_imports_only_what_its_checks_use(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "app")
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in demo.config_overrides().items()]
    loaded = modules_after(run_cli("check", "--pane", "environment", *flags), clean_env())
    # Not even cryptography or PyJWT: the pane reads Fernet keys and JWT claims itself.
    assert families(loaded, (*SDKS, *UI)) == set()
    assert not {m for m in loaded if m.startswith(("checks.migrations", "checks.health"))}
    # The argument parser's table of demo scenarios is all of the sandbox a check may load.
    assert {m for m in loaded if m.startswith("toolbox_tui.sandbox")} <= {
        "toolbox_tui.sandbox",
        "toolbox_tui.sandbox.scenarios",
    }


@pytest.mark.parametrize("argv", [("--help",), ("list",), ("check", "--help")])
def test_help_and_list_read_no_configuration(argv: tuple[str, ...]) -> None:
    loaded = modules_after(run_cli(*argv), clean_env())
    assert families(loaded, (*CONFIG, *SDKS, *UI)) == set()
    assert "checks.config" not in loaded
    # The watch model is loaded by `watch` and the dashboard only.
    assert "checks.watch" not in loaded
    if argv[0] != "list":  # `list` registers every check, and some checks use these
        # The subcommands' parsers need neither the event loop (with ssl, sockets and
        # subprocesses) nor the audit log's reader: the commands import them when they run.
        assert {"asyncio", "checks.audit"} & loaded == set()


def test_the_app_imports_no_secondary_screen_until_one_opens() -> None:
    loaded = modules_after("import json, sys\nimport toolbox_tui.app")
    assert set(SECONDARY_SCREENS) & loaded == set()
    assert "toolbox_tui.screens.dashboard" in loaded


def test_the_first_frame_waits_for_neither_the_engine_nor_the_settings() -> None:
    # What the command line has imported when it runs the dashboard: the engine and the
    # settings' modules load with the first run, after the first frame.
    loaded = modules_after(
        """
        import json, os, sys
        import toolbox_tui.app
        from toolbox_tui import cli

        class Dashboard:
            def run(self):  # what is there when the dashboard would draw, printed last
                print(json.dumps(sorted(sys.modules)), flush=True)
                os._exit(0)

        cli._require_terminal = lambda: None
        toolbox_tui.app.make_app = lambda *args, **kwargs: Dashboard()
        cli.main([])  # the dashboard, as `toolbox-tui` alone opens it
        """
    )
    assert "toolbox_tui.screens.dashboard" in loaded
    later = {"checks.runner", "checks.context", "checks.settings", "checks.envfile", "checks.watch"}
    # A run's events, the palette's commands, the footer (mounted just after the frame), and
    # what only other commands use: `list`'s coverage, the report's file, the audit log.
    later |= {"checks.events", "toolbox_tui.commands", "toolbox_tui.widgets.fitting_footer"}
    later |= {"checks.checklist", "toolbox_tui.listing", "toolbox_tui.report_file"}
    later |= {"toolbox_tui.audit_view", "checks.audit"}  # `audit` and `report`
    assert later & loaded == set()
    assert families(loaded, ("dotenv", *CONFIG)) == set()


def test_a_secondary_screen_is_imported_when_first_opened(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("APP_ENV=production\n")
    out = run_python(
        f"""
        import asyncio, json, sys
        from pathlib import Path
        from checks.config import ToolboxConfig
        from checks.context import CheckContext
        from checks.core import Registry
        from toolbox_tui.app import make_app

        def screens():
            return sorted(m for m in sys.modules if m.startswith('toolbox_tui.screens.'))

        async def main():
            config = ToolboxConfig(env_file=Path({str(env)!r}), app_dir=Path({str(tmp_path)!r}))
            app = make_app(CheckContext.create(config), Registry(), autorun=False)
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.pause()
                drawn = screens()
                await pilot.press('question_mark')
                opened = type(app.screen).__name__
                await pilot.press('question_mark')  # the same key closes it
                closed = type(app.screen).__name__
            print(json.dumps([drawn, opened, closed, screens()]))

        asyncio.run(main())
        """
    )
    drawn, opened, closed, after = json.loads(out.strip().splitlines()[-1])
    assert drawn == ["toolbox_tui.screens.dashboard"]
    assert (opened, closed) == ("HelpScreen", "DashboardScreen")
    assert after == ["toolbox_tui.screens.dashboard", "toolbox_tui.screens.help"]
