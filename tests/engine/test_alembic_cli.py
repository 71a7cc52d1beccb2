"""checks.migrations.alembic_cli: the Python that runs several alembic steps in one process is
the one the app's own alembic script would run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from checks.migrations.alembic_cli import _alembic_python


def app_venv(root: Path, shebang: str | None) -> Path:
    """A venv directory whose bin/alembic starts with ``shebang`` (none: no alembic there)."""
    bin_dir = root / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    if shebang is not None:
        script = bin_dir / "alembic"
        script.write_text(f"{shebang}\nfrom alembic.config import main\nmain()\n")
        script.chmod(0o755)
    return root / "venv"


def test_the_interpreter_on_the_app_alembic_s_first_line(tmp_path: Path) -> None:
    venv = app_venv(tmp_path, f"#!{sys.executable}")
    assert _alembic_python(venv) == sys.executable
    elsewhere = tmp_path / "python3.11"
    os.symlink(sys.executable, elsewhere)
    venv = app_venv(tmp_path / "other", f"#!{elsewhere}")
    assert _alembic_python(venv) == str(elsewhere)


def test_an_env_line_falls_back_to_the_venv_s_python(tmp_path: Path) -> None:
    venv = app_venv(tmp_path, "#!/usr/bin/env python3")
    python = venv / "bin" / "python"
    os.symlink(sys.executable, python)
    assert _alembic_python(venv) == str(python)


def test_without_an_app_alembic_this_tool_s_python_runs_it(tmp_path: Path) -> None:
    assert _alembic_python(app_venv(tmp_path, None)) == sys.executable
