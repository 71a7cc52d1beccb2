"""The engine runs without Textual, and the headless CLI never imports it."""

from __future__ import annotations

import subprocess
import sys
import textwrap


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
